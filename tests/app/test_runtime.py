"""The process's long-lived objects (ui/runtime.py): out of reach of a client's "Clear cache", closed on purpose.

The real attack (a raw websocket message against ``streamlit run``) is in
tests/browser/test_runtime_browser.py; here the same effect in-process
(Streamlit's handler calls ``caching.cache_resource.clear()``), the registry's
thread safety and the explicit lifetime.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from fresh_python import run_fresh
from streamlit.runtime import caching

from superintendent_core.store import open_store
from ui import auth as A
from ui import runtime
from ui.project import forget_project, open_project

from .conftest import exceptions


def test_streamlits_clear_cache_keeps_the_open_project_and_the_limiters_count(app, project, project_dir):
    limiter = A.attempt_limiter()
    for _ in range(limiter.free + 1):
        limiter.failed("ip:203.0.113.9")
    assert limiter.retry_after("ip:203.0.113.9") > 0

    # What AppSession._handle_clear_cache_request does for a BackMsg(clear_cache=True) from any client.
    caching.cache_data.clear()
    caching.cache_resource.clear()

    assert open_project(project_dir) is project
    assert A.attempt_limiter() is limiter and limiter.retry_after("ip:203.0.113.9") > 0
    app.run()
    assert exceptions(app) == []
    project.label(project.store.next_item("zoe"), project.store.settings.classes[0], "zoe")
    assert open_project(project_dir).store.labels()["labeller"].tolist() == ["zoe"]


def test_forget_project_closes_it_and_releases_the_folder_lock(app, project, project_dir):
    forget_project(project_dir)
    with open_store(project_dir) as store:  # the folder lock is free: the same process opens it again
        assert len(store) == 1797
    reopened = open_project(project_dir)
    assert reopened is not project and len(reopened.store) == 1797


def test_sessions_opening_one_key_at_once_get_one_object():
    registry = runtime.Registry()
    made = []

    def create():
        time.sleep(0.05)  # a slow open: the other threads arrive while it runs
        made.append(object())
        return made[-1]

    got = []
    together = threading.Barrier(8)  # every thread is running before any asks: they do overlap

    def session():
        together.wait(timeout=10)
        got.append(registry.get("p", create))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(g is made[0] for g in got) and len(got) == 8


def test_a_failed_open_is_not_remembered_and_a_discard_closes_once():
    registry = runtime.Registry()
    closed = []

    def broken():
        raise OSError("disk gone")

    with pytest.raises(OSError):
        registry.get("p", broken)
    assert registry.keys() == []
    assert registry.get("p", lambda: "store", closed.append) == "store"
    assert registry.discard("p") and not registry.discard("p")
    assert closed == ["store"] and registry.peek("p") is None


def test_close_all_closes_every_object_and_refuses_new_ones_at_exit():
    registry = runtime.Registry()
    closed = []

    def failing_close(_):
        raise RuntimeError("close failed")

    registry.get("a", lambda: "a", closed.append)
    registry.get("b", lambda: "b", failing_close)  # logged; the others still close
    registry.get("c", lambda: "c", closed.append)
    registry.close_all()
    assert closed == ["c", "a"] and registry.keys() == []
    with pytest.raises(RuntimeError, match="shutting down"):
        registry.get("d", lambda: "d")


def test_the_process_closes_its_projects_at_exit(tmp_path):
    folder = tmp_path / "p"
    run_fresh(
        "import os, sys; os.environ['SUPERINTENDENT_PROJECT_DIR'] = " + repr(str(folder)) + "\n"
        "from ui.project import open_project\n"
        "project = open_project(" + repr(str(folder)) + ")\n"
        "project.store.submit(project.store.next_item('zoe'), project.store.settings.classes[0], 'zoe')\n"
        "assert os.path.exists(" + repr(str(folder / ".lock.info")) + ")\n"
    )
    assert not os.path.exists(folder / ".lock.info")  # closed at exit, not just dropped by the dying process
    with open_store(str(folder)) as store:
        assert store.labels()["labeller"].tolist() == ["zoe"]
