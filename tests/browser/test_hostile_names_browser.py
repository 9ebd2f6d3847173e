"""In a real Chromium: a project whose names and texts are Markdown / HTML shows them as text, and the
remote image they name is never requested (a socket on 127.0.0.1 counts connections)."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
from conftest import chromium_available, require

from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore

from .conftest import streamlit_server

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


class Listener:
    """A TCP socket on 127.0.0.1 that accepts and counts connections (a stand-in for a remote host)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def remote():
    listener = Listener()
    yield listener
    listener.close()


def test_hostile_names_are_text_and_load_nothing(browser, tmp_path, remote):
    require(chromium_available(), "chromium")
    base = f"http://127.0.0.1:{remote.port}"
    classes = (f"![cls]({base}/class.png)", "**bold**", "<img src=x onerror=alert(1)>", ":red[x]")
    item_name = f"![name]({base}/name.png)"
    item_text = f"![text]({base}/text.png) [click](javascript:alert(1)) $x^2$"
    project_name = f"**P** ![p]({base}/project.png)"
    path = tmp_path / "labelling-project"
    with FolderStore(path, settings=ProjectSettings(name=project_name, kind="text", classes=classes)) as store:
        store.add_items(ItemBatch(names=(item_name,), kind="text", features=np.ones((1, 2), np.float32),
                                  payloads=[item_text]))

    requests: list[str] = []
    with streamlit_server(path) as (url, _process):
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url, timeout=TIMEOUT)
        first = page.locator(".st-key-label_class_0 button")
        first.wait_for(timeout=TIMEOUT)
        page.get_by_text(item_text).first.wait_for(timeout=TIMEOUT)  # the item's text, literally
        page.wait_for_load_state("networkidle", timeout=TIMEOUT)

        for i, name in enumerate(classes):  # every class button reads its name literally (then its shortcut)
            assert page.locator(f".st-key-label_class_{i} button").inner_text().strip().startswith(name)
        assert page.get_by_text(item_name).count() >= 1
        assert page.get_by_text(project_name, exact=False).count() >= 1
        images = page.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src') || '')")
        assert not [src for src in images if str(remote.port) in src or src == "x"]
        assert page.locator("strong:has-text('bold'), em, a[href^='javascript']").count() == 0
        page.close()

    assert not [r for r in requests if f":{remote.port}" in r]
    assert remote.connections == 0
    assert dialogs == []
