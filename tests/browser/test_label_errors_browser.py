"""The Review page's list of likely label errors in a real Chromium.

The finder computes in the background; the page must show its list without anyone
touching it (a fragment that looks every 2 s), and a correction made from the list
must take the item off it. AppTest cannot check either: it never reruns by itself.
"""

from __future__ import annotations

import pytest

from superintendent_core.learning.label_errors import project_label_errors
from superintendent_core.service import open_project
from superintendent_core.store import open_store
from ui import state as S

from .conftest import streamlit_server

pytestmark = pytest.mark.browser

TIMEOUT = 60_000


def _project(path) -> tuple[list[int], dict[int, str]]:
    """The digits demo with 100 labels, 3 of them wrong.

    Returns the first two entries the finder lists (computed here, the server computes the same: same
    labels, same seed) and their true labels.
    """
    with open_project(str(path), is_default=True) as project:
        store = project.store
        for k in range(100):
            item = store.next_item("me")
            true = store.true_labels([item])[0]
            store.submit(item, str((int(true) + 3) % 10) if k in (11, 42, 77) else true, "me")
        top = project_label_errors(store).candidates["item_id"].head(2).tolist()
        return top, dict(zip(top, store.true_labels(top), strict=True))


def _idle(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
        " && document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=TIMEOUT,
    )


def test_the_list_appears_by_itself_and_a_correction_takes_the_item_off(browser, tmp_path):
    path = tmp_path / "labelling-project"
    wrong, truth = _project(path)
    with streamlit_server(path) as (url, _):
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.goto(f"{url}/review")
        _idle(page)
        # no click, no reload: the page redraws once the background computation is done
        page.get_by_text("Labels most likely wrong").wait_for(timeout=TIMEOUT)
        for item in wrong:
            page.locator(f".st-key-{S.review_error_fix_key(item)}").wait_for(timeout=TIMEOUT)
        item = wrong[0]
        select = page.locator(f".st-key-{S.review_error_label_key(item)}")
        select.click()
        page.get_by_role("option", name=truth[item], exact=True).click()
        _idle(page)
        # a button with a tooltip is drawn twice by Streamlit 1.67 (one copy hidden): click the first
        page.locator(f".st-key-{S.review_error_fix_key(item)} button").first.click()
        page.locator(f".st-key-{S.review_error_fix_key(item)}").wait_for(state="detached", timeout=TIMEOUT)
        _idle(page)
        assert page.locator(f".st-key-{S.review_error_fix_key(wrong[1])}").count() == 1
        page.close()
    with open_store(str(path)) as store:
        labels = store.labels()
    assert labels[labels["item_id"] == item]["label"].iloc[-1] == truth[item]
