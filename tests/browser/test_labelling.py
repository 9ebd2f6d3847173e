"""The whole labelling loop in a real Chromium against ``streamlit run app.py``.

Label 20 digits with the keyboard, undo one, retrain, see the chart, download
the CSV and check its rows, refresh and continue where it was.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from playwright.sync_api import expect

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

    # The demo serves digits 0,1,...,9,0,1,... before any model: press each digit's own key.
    seen = [image_src(page)]
    for i in range(20):
        seen.append(press(page, str(i % 10)))
    wait_progress(page, 20)
    assert len(set(seen)) == 21  # a new image after every key

    # Undo brings the last item back; label it again.
    press(page, "Backspace")
    wait_progress(page, 19)
    press(page, "9")
    wait_progress(page, 20)

    # Retrain on the Model page; the accuracy chart appears.
    goto_page(page, "Model")
    page.locator(".st-key-model_retrain button").click()
    page.get_by_text("Retrained on 20 labels").wait_for(timeout=60_000)
    # The page draws piece by piece: wait until all three charts are there, not just the first.
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(3, timeout=TIMEOUT)
    assert "labeller=me" in page.url  # navigation kept the identity in the URL

    # Download the labels as CSV and check the rows.
    goto_page(page, "Review & export")
    page.locator(".st-key-review_csv button").wait_for(timeout=TIMEOUT)
    with page.expect_download(timeout=TIMEOUT) as download:
        page.locator(".st-key-review_csv button").click()
    csv = pd.read_csv(io.BytesIO(open(download.value.path(), "rb").read()))
    assert len(csv) == 20
    assert sorted(csv["item_id"]) == list(range(20))
    assert (csv.sort_values("item_id")["label"].astype(str) == [str(i % 10) for i in range(20)]).all()
    assert set(csv["labeller"]) == {"me"}

    # Back to labelling; a refresh resumes where it was (same labeller, same count, next item).
    goto_page(page, "Label")
    page.wait_for_selector(IMAGE, timeout=TIMEOUT)
    before = image_src(page)
    page.reload()
    page.wait_for_selector(IMAGE, timeout=60_000)
    wait_progress(page, 20)
    assert "labeller=me" in page.url
    assert page.locator(".st-key-label_class_0 button").is_visible()
    # the same item as before the refresh: it stays leased to "me" (media URLs hash the image bytes)
    assert image_src(page) == before
    # Continue: the model's suggestion is highlighted now that a model exists.
    page.get_by_text("Model suggests").wait_for(timeout=TIMEOUT)
    assert page.locator('.stButton button[kind="primary"]').count() == 1
    press(page, "5")
    wait_progress(page, 21)


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
