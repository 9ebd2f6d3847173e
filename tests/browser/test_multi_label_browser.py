"""Multi-label labelling in a real Chromium: Enter after a click on a class, each class's key, "None of these".

In the browser a click moves the focus to the clicked class; Enter must still submit (a Streamlit button's
``shortcut="Enter"`` is global), not flip that class again. Enter with nothing on saves nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from superintendent_core.store import ItemBatch, ProjectSettings, open_store
from superintendent_core.store.folder import FolderStore
from ui import state as S

from .conftest import streamlit_server

pytestmark = pytest.mark.browser

TIMEOUT = 30_000
CLASSES = ("red", "round", "big")


def _project(path) -> None:
    settings = ProjectSettings(name="multi", kind="text", classes=CLASSES, multi_label=True)
    with FolderStore(path, settings=settings) as store:
        store.add_items(ItemBatch(names=tuple(f"item-{i}" for i in range(4)), kind="text",
                                  features=np.eye(4, dtype=np.float32), payloads=[f"text {i}" for i in range(4)]))


def _labels(path) -> list[str]:
    with open_store(str(path)) as store:
        return store.labels().sort_values("time", kind="stable")["label"].tolist()


def _idle(page) -> None:
    """Wait until the rerun a key press started has finished (the app says notRunning, nothing is stale).

    A key pressed while a rerun is still drawing the buttons can be lost, for a person too; people do not
    press the next key within milliseconds of the page changing, the test must wait.
    """
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
        " && document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=TIMEOUT,
    )


def _wait_labels(page, n: int, counts: str) -> None:
    """Wait for ``n`` labels in the progress bar and the per-class counts (the project is locked by the app)."""
    page.get_by_text(f"{n:,} / 4 labelled").first.wait_for(timeout=TIMEOUT)
    page.get_by_text(counts).first.wait_for(timeout=TIMEOUT)


def _wait_on(page, index: int, on: bool) -> None:
    kind = "primary" if on else "secondary"
    page.locator(f'.st-key-{S.label_toggle_key(index)} button[kind="{kind}"]').wait_for(timeout=TIMEOUT)


def test_enter_after_a_click_submits_keys_toggle_and_none_of_these_needs_its_key(browser, tmp_path):
    path = tmp_path / "labelling-project"
    _project(path)
    with streamlit_server(path) as (url, _process):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, timeout=TIMEOUT)
        page.get_by_text("0 / 4 labelled").first.wait_for(timeout=60_000)

        # Click "red" with the mouse (the focus is on it now), then Enter: saved as "red".
        page.locator(f".st-key-{S.label_toggle_key(0)} button").click()
        _wait_on(page, 0, True)
        page.keyboard.press("Enter")
        _wait_labels(page, 1, "red: 1 · round: 0 · big: 0")
        _wait_on(page, 0, False)  # the next item starts with nothing on

        # Keys: "2" turns "round" on, "3" turns "big" on, "3" again turns it off; Enter saves "round".
        for key, index, on in (("2", 1, True), ("3", 2, True), ("3", 2, False)):
            page.locator("body").press(key)
            _wait_on(page, index, on)
        page.keyboard.press("Enter")
        _wait_labels(page, 2, "red: 1 · round: 1 · big: 0")

        # Enter with nothing on: a hint, nothing saved.
        page.locator("body").press("Enter")
        page.get_by_text("Nothing is toggled on").first.wait_for(timeout=TIMEOUT)
        _idle(page)
        assert "2 / 4 labelled" in page.locator('[data-testid="stProgress"]').first.inner_text()

        # "None of these" by its key N: the empty label, on purpose.
        page.locator("body").press("n")
        _wait_labels(page, 3, "red: 1 · round: 1 · big: 0")
    assert _labels(path) == ["red", "round", ""]  # the app has stopped: the project is free to open
