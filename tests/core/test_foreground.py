"""Background imports give way to foreground work, boundedly, and never wait for a thread that waits for them."""

from __future__ import annotations

import importlib
import sys
import threading
import time

import pytest

from superintendent_core import foreground


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A factory of fresh, importable module names (never imported before in this process)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(foreground, "_probe", None)  # the app's, if an app test in this process set it
    made = []

    def make() -> str:
        name = f"fg_probe_module_{len(made)}_{time.monotonic_ns()}"
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
        made.append(name)
        return name

    importlib.invalidate_caches()
    yield make
    for name in made:
        sys.modules.pop(name, None)
    foreground.set_probe(None)


class Busy:
    """A foreground thread running Python code until stopped."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        x = 0
        while not self.stop.is_set():
            x = (x + 1) % 1000

    def __enter__(self) -> Busy:
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def timed_import(name: str, budget: float = foreground.BUDGET_S) -> tuple[float, float]:
    """Seconds an import took inside ``background`` (in this thread), and what ``waited`` reported for it."""
    with foreground.background(budget):
        before = foreground.waited()
        start = time.monotonic()
        importlib.import_module(name)
        return time.monotonic() - start, foreground.waited() - before


def test_without_a_probe_or_outside_background_nothing_waits(modules):
    with Busy():
        seconds, waited = timed_import(modules())  # no probe registered
        assert waited == 0.0 and seconds < 0.2
    with Busy() as busy:
        foreground.set_probe(lambda: [busy.thread.ident])
        start = time.monotonic()
        importlib.import_module(modules())  # not inside background(): an ordinary import
        assert time.monotonic() - start < 0.2


def test_an_import_waits_while_a_foreground_thread_runs_and_goes_on_when_it_ends(modules):
    with Busy() as busy:
        foreground.set_probe(lambda: [busy.thread.ident])
        seconds, waited = timed_import(modules())
    # it waited, and at most MAX_WAIT_S for one module (a slow machine may stop it earlier: a
    # spinning thread not scheduled for one poll looks stalled)
    assert 0.0 < waited <= foreground.MAX_WAIT_S + 0.1
    assert seconds >= waited

    done = threading.Event()
    result = {}

    def background_import() -> None:
        result["timing"] = timed_import(modules())

    worker = threading.Thread(target=background_import)
    with Busy() as busy:
        foreground.set_probe(lambda: [] if done.is_set() else [busy.thread.ident])
        worker.start()
        time.sleep(0.05)
        done.set()  # the page run ends: the import goes on at once
        worker.join(5)
    assert not worker.is_alive() and result["timing"][1] < foreground.MAX_WAIT_S


def test_the_budget_bounds_the_waiting_of_a_block(modules):
    names = [modules() for _ in range(6)]
    with Busy() as busy:
        foreground.set_probe(lambda: [busy.thread.ident])
        with foreground.background(budget=0.2):
            before = foreground.waited()
            start = time.monotonic()
            for name in names:
                importlib.import_module(name)
            assert foreground.waited() - before <= 0.2 + 0.05
            assert time.monotonic() - start < 1.0


def test_an_import_never_waits_for_a_foreground_thread_that_waits_for_it(modules):
    """The measured stall: a page blocked on the store's lock, held by a background import waiting for the page."""
    lock = threading.Lock()
    reached = threading.Event()

    def page() -> None:
        reached.set()
        with lock:  # blocks: the background thread holds it
            pass

    names = [modules() for _ in range(20)]
    with lock:
        blocked = threading.Thread(target=page, daemon=True)
        blocked.start()
        reached.wait(5)
        time.sleep(0.02)
        foreground.set_probe(lambda: [blocked.ident])
        with foreground.background():
            before = foreground.waited()
            for name in names:  # as the warm-up importing pandas inside a store call
                importlib.import_module(name)
            waited = foreground.waited() - before
    blocked.join(5)
    assert waited < 0.1, f"waited {waited:.3f} s for a thread that waited for this one"


def test_a_failing_probe_never_breaks_an_import(modules):
    def broken():
        raise RuntimeError("probe")

    foreground.set_probe(broken)
    seconds, waited = timed_import(modules())
    assert waited < 0.01 and seconds < 0.2
    assert foreground.preload(["json", "no_such_module_here_at_all"]) == ["no_such_module_here_at_all"]


def test_the_warm_up_preloads_what_the_cold_start_and_first_retrain_import():
    """The list names modules that exist; the learner module is what pulls scikit-learn and SciPy."""
    from superintendent_core.learning import training

    assert "superintendent_core.learning.learner" in training.WARM_UP_MODULES
    assert foreground.preload(training.WARM_UP_MODULES) == []


def test_preload_gives_way_inside_a_long_module_too(tmp_path, modules, monkeypatch):
    """A module that runs 0.3 s of Python between two imports (as SciPy's distributions do) still gives way."""
    monkeypatch.setattr(foreground, "MAX_WAIT_S", 0.01)  # each wait short: only many of them add up
    name = modules()
    (tmp_path / f"{name}.py").write_text(
        "import time\nend = time.monotonic() + 0.3\nx = 0\nwhile time.monotonic() < end:\n    x += 1\n"
    )
    importlib.invalidate_caches()
    with Busy() as busy:
        foreground.set_probe(lambda: [busy.thread.ident])
        with foreground.background():
            before = foreground.waited()
            assert foreground.preload([name]) == []
            waited = foreground.waited() - before
    assert waited > 0.05  # before the module: at most 0.01 s; the rest in the middle of its loop
    assert sys.getprofile() is None  # the hook is gone afterwards
