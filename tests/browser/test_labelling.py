"""The whole labelling loop in a real Chromium against ``streamlit run app.py``.

Label 20 digits (or more, until every class has two) with the keyboard, undo one, retrain, see the chart, download
the CSV and check its rows, refresh and continue where it was.
"""

from __future__ import annotations

import io
from collections import Counter

import pandas as pd
import pytest
from playwright.sync_api import expect

from superintendent_core.data.demo import digits_batch

pytestmark = pytest.mark.browser

IMAGE = '[data-testid="stImage"] img'
TIMEOUT = 30_000


def image_src(page) -> str:
    return page.locator(IMAGE).first.get_attribute("src") or ""


def wait_new_image(page, old_src: str) -> str:
    """Wait until the displayed image is a different one and has loaded."""
    page.wait_for_function(
        """([sel, old]) => {
            const img = document.querySelector(sel);
            return img && img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0;
        }""",
        arg=[IMAGE, old_src],
        timeout=TIMEOUT,
    )
    return image_src(page)


def shown_item(page) -> int:
    """Id of the item on screen, from its caption (``digit-0042`` is item 42 of the demo)."""
    caption = page.locator('[data-testid="stImage"]').first.inner_text().strip()
    assert caption.startswith("digit-"), caption
    return int(caption.removeprefix("digit-"))


def progress_text(page) -> str:
    return page.locator('[data-testid="stProgress"]').first.inner_text()


def wait_progress(page, labelled: int) -> None:
    page.get_by_text(f"{labelled:,} / 1,797 labelled").first.wait_for(timeout=TIMEOUT)


def press(page, key: str) -> str:
    """Press a shortcut on the page (not inside a text field) and wait for the next image."""
    old = image_src(page)
    page.locator("body").press(key)
    return wait_new_image(page, old)


def goto_page(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()


def test_label_undo_retrain_download_refresh(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(server)
    page.wait_for_selector(IMAGE, timeout=60_000)
    wait_progress(page, 0)
    assert "labeller=me" in page.url

    # Label each digit with its true class by its own key. Which digits come is the project's
    # business (its cold-start order arrives in the background): read each one's name.
    # At least 20, and on until every class has 2 labels (so that the retrain can
    # cross-validate and draw all three charts), whatever the order.
    truth = digits_batch().true_labels
    seen, labelled = [image_src(page)], []
    while len(labelled) < 20 or min(Counter(truth[i] for i in labelled).get(str(d), 0) for d in range(10)) < 2:
        assert len(labelled) < 100, "the first 100 items do not hold two of every digit"
        item = shown_item(page)
        labelled.append(item)
        seen.append(press(page, truth[item]))
    n = len(labelled)
    wait_progress(page, n)
    assert len(set(seen)) == n + 1 and len(set(labelled)) == n  # a new item after every key

    # Undo brings the last item back; label it again.
    press(page, "Backspace")
    wait_progress(page, n - 1)
    assert shown_item(page) == labelled[-1]
    press(page, truth[labelled[-1]])
    wait_progress(page, n)

    # Retrain on the Model page; the accuracy chart appears.
    goto_page(page, "Model")
    page.locator(".st-key-model_retrain button").click()
    page.get_by_text(f"Retrained on {n} labels").wait_for(timeout=60_000)
    # The page draws piece by piece: wait until all three charts are there, not just the first.
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(3, timeout=TIMEOUT)
    assert "labeller=me" in page.url  # navigation kept the identity in the URL

    # Download the labels as CSV and check the rows.
    goto_page(page, "Review & export")
    page.locator(".st-key-review_csv button").wait_for(timeout=TIMEOUT)
    with page.expect_download(timeout=TIMEOUT) as download:
        page.locator(".st-key-review_csv button").click()
    assert download.value.suggested_filename.endswith("-labels.csv")  # written on the click (deferred)
    csv = pd.read_csv(io.BytesIO(open(download.value.path(), "rb").read()))
    assert len(csv) == n
    assert sorted(csv["item_id"]) == sorted(labelled)
    assert all(str(label) == truth[item] for item, label in zip(csv["item_id"], csv["label"], strict=True))
    assert set(csv["labeller"]) == {"me"}

    # Back to labelling; a refresh resumes where it was (same labeller, same count, next item).
    goto_page(page, "Label")
    page.wait_for_selector(IMAGE, timeout=TIMEOUT)
    before = image_src(page)
    page.reload()
    page.wait_for_selector(IMAGE, timeout=60_000)
    wait_progress(page, n)
    assert "labeller=me" in page.url
    # the page draws piece by piece after a reload: wait for the buttons, do not sample them once
    expect(page.locator(".st-key-label_class_0 button")).to_be_visible(timeout=TIMEOUT)
    # the same item as before the refresh: it stays leased to "me" (media URLs hash the image bytes)
    assert image_src(page) == before
    # Continue: the model's suggestion is highlighted now that a model exists.
    page.get_by_text("Model suggests").wait_for(timeout=TIMEOUT)
    assert page.locator('.stButton button[kind="primary"]').count() == 1
    press(page, "5")
    wait_progress(page, n + 1)


def test_a_name_in_the_url_labels_as_that_person(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/?labeller=alice")
    page.wait_for_selector(IMAGE, timeout=60_000)
    assert page.locator('[data-testid="stSidebar"] input').input_value() == "alice"
    press(page, "0")
    wait_progress(page, 1)
    goto_page(page, "Review & export")
    page.get_by_text("1 label(s) shown").wait_for(timeout=TIMEOUT)
    assert "labeller=alice" in page.url
