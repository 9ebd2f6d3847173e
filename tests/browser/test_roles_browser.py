"""Team mode in a real Chromium against ``streamlit run app.py`` with a secrets file.

The server runs from a temporary folder whose ``.streamlit/secrets.toml`` holds
the roles (Streamlit reads the secrets of the working directory). The very
first request of the fresh process asks for /review directly: Streamlit routes
that run by the ``pages/`` folder, before app.py ever ran — it must be refused.
"""

from __future__ import annotations

import pytest
from conftest import chromium_available, require

from .conftest import ROOT, streamlit_server

pytestmark = pytest.mark.browser

ADMIN_CODE = "browser-admin-code-1"
LABELLER_CODE = "browser-labeller-code-2"
ALICE_TOKEN = "alice-browser-invite-token-3456"
SECRETS = f"""
[auth]
admin_passcode = "{ADMIN_CODE}"
labeller_passcode = "{LABELLER_CODE}"

[auth.people.alice]
role = "labeller"
token = "{ALICE_TOKEN}"
"""
IMAGE = '[data-testid="stImage"] img'
TIMEOUT = 30_000
REFUSED = "Wrong passcode (or name): nothing was opened."


@pytest.fixture
def team_server(tmp_path):
    require(chromium_available(), "chromium")
    cwd = tmp_path / "cwd"
    (cwd / ".streamlit").mkdir(parents=True)
    (cwd / ".streamlit" / "secrets.toml").write_text(SECRETS)
    with streamlit_server(tmp_path / "labelling-project", app=str(ROOT / "app.py"), cwd=cwd) as (url, process):
        yield url


def sign_in_form(page, *, not_found: bool = False) -> None:
    """Wait for the sign-in form; ``not_found``: Streamlit first says the page asked for is not registered."""
    page.get_by_role("heading", name="Sign in").wait_for(timeout=60_000)
    page.locator(".st-key-signin_passcode input").wait_for(timeout=TIMEOUT)
    if not_found:
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Page not found").wait_for(timeout=TIMEOUT)
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden", timeout=TIMEOUT)


def assert_nothing_open(page) -> None:
    assert page.locator(IMAGE).count() == 0
    assert page.get_by_text("Review & export").count() == 0
    assert page.locator('[data-testid="stDownloadButton"]').count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    assert page.locator(".st-key-label_class_0").count() == 0
    assert page.get_by_text("Digits demo").count() == 0


def submit(page, name: str, passcode: str, role: str) -> None:
    page.locator(".st-key-signin_name input").fill(name)
    page.locator(".st-key-signin_as").get_by_text(role.capitalize(), exact=True).click()
    page.locator(".st-key-signin_passcode input").fill(passcode)
    page.locator(".st-key-signin_submit button").click()


def test_review_and_label_refused_until_the_right_passcode(team_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)

    # The first request of the fresh process: /review, directly.
    page.goto(f"{team_server}/review")
    sign_in_form(page, not_found=True)
    assert_nothing_open(page)
    page.screenshot(path=str(tmp_path / "sign-in.png"))

    # A wrong passcode: one refusal, nothing else.
    submit(page, "eve", "not-the-passcode", "admin")
    page.get_by_text(REFUSED).wait_for(timeout=TIMEOUT)
    sign_in_form(page)
    assert_nothing_open(page)
    assert "not-the-passcode" not in page.content()
    assert page.locator(".st-key-signin_passcode input").input_value() == ""

    # The Label page's URL, then /review again: still only the sign-in form.
    for path in ("/", "/label", "/review", "/model", "/data"):
        page.goto(f"{team_server}{path}")
        sign_in_form(page, not_found=path not in ("/", "/label"))
        assert_nothing_open(page)

    # The labeller passcode opens the Label page and nothing else.
    submit(page, "zoe", LABELLER_CODE, "labeller")
    page.wait_for_selector(IMAGE, timeout=60_000)
    assert "labeller=zoe" in page.url
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.count() == 0 or nav.get_by_text("Review & export").count() == 0
    assert LABELLER_CODE not in page.url and LABELLER_CODE not in page.content()

    # The admin passcode (a new session: a reload asks again) opens /review and its downloads.
    page.goto(f"{team_server}/review")
    sign_in_form(page, not_found=True)
    submit(page, "lead", ADMIN_CODE, "admin")
    page.wait_for_selector(IMAGE, timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Review & export", exact=True).click()
    page.get_by_role("heading", name="Review & export").wait_for(timeout=TIMEOUT)
    page.locator(".st-key-review_csv button").wait_for(timeout=TIMEOUT)
    assert ADMIN_CODE not in page.url and ADMIN_CODE not in page.content()


def test_an_invitation_link_signs_in_and_leaves_the_address_bar(team_server, browser):
    page = browser.new_page()
    page.goto(f"{team_server}/?invite={ALICE_TOKEN}")
    page.wait_for_selector(IMAGE, timeout=60_000)
    page.wait_for_function("() => !window.location.search.includes('invite')", timeout=TIMEOUT)
    assert ALICE_TOKEN not in page.url
    assert "labeller=alice" in page.url
    assert page.get_by_text("Welcome, alice").count() == 1
    # A made-up token opens nothing and leaves the address bar too.
    page.goto(f"{team_server}/review?invite=made-up-token-0000000000")
    sign_in_form(page, not_found=True)
    page.wait_for_function("() => !window.location.search.includes('invite')", timeout=TIMEOUT)
    assert_nothing_open(page)
