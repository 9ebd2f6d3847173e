"""A hostile client's "Clear cache" message against a real ``streamlit run app.py``.

Any client, signed in or not, can open Streamlit's websocket and send
``BackMsg(clear_cache=True)`` (what the "Clear cache" menu item sends). It must
change nothing but caches: the passcode limiter still remembers failed attempts,
and the project stays open for everyone (a dropped store would keep its folder
lock, and every session would be told the project is "open in another process").
When the server stops, the project is closed (its lock released).
"""

from __future__ import annotations

import pytest
from conftest import chromium_available, require

from .conftest import ROOT, streamlit_server

pytestmark = pytest.mark.browser

ADMIN_CODE = "runtime-admin-code-1"
LABELLER_CODE = "runtime-labeller-code-2"
SECRETS = f"""
[auth]
admin_passcode = "{ADMIN_CODE}"
labeller_passcode = "{LABELLER_CODE}"
"""
IMAGE = '[data-testid="stImage"] img'
TIMEOUT = 30_000
SLOW_DOWN = "Too many wrong attempts"
LOCKED = "open in another process"


def raw_clear_cache(url: str) -> None:
    """What an attacker's script does: open the websocket, send ``clear_cache``, nothing else.

    A ``rerun_script`` follows, and its ``script_finished`` answer proves the server
    handled the messages (it handles one session's messages in order).
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(ws_url, subprotocols=["streamlit"], proxy=None, open_timeout=30, max_size=None) as ws:
        clear = BackMsg()
        clear.clear_cache = True
        ws.send(clear.SerializeToString())
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        rerun.rerun_script.page_script_hash = ""
        ws.send(rerun.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=60))
            if msg.WhichOneof("type") == "script_finished":
                return


def submit(page, passcode: str, role: str, name: str = "zoe") -> None:
    page.locator(".st-key-signin_name input").fill(name)
    page.locator(".st-key-signin_as").get_by_text(role.capitalize(), exact=True).click()
    page.locator(".st-key-signin_passcode input").fill(passcode)
    page.locator(".st-key-signin_submit button").click()


def refused(page, passcode: str) -> str:
    """Guess ``passcode`` as admin; the refusal the page shows once the server answered."""
    from playwright.sync_api import expect

    submit(page, passcode, "admin", name="eve")
    expect(page.locator(".st-key-signin_passcode input")).to_have_value("", timeout=TIMEOUT)  # the server emptied it
    alert = page.locator('[data-testid="stAlert"]')
    expect(alert).to_have_count(1, timeout=TIMEOUT)
    return alert.inner_text()


def test_a_raw_clear_cache_message_changes_nothing_but_caches(tmp_path, browser):
    require(chromium_available(), "chromium")
    cwd = tmp_path / "cwd"
    (cwd / ".streamlit").mkdir(parents=True)
    (cwd / ".streamlit" / "secrets.toml").write_text(SECRETS)
    project_dir = tmp_path / "labelling-project"
    with streamlit_server(project_dir, app=str(ROOT / "app.py"), cwd=cwd) as (url, _process):
        # A labeller works on the project (it is now open in the server process).
        worker = browser.new_page(viewport={"width": 1280, "height": 900})
        worker.goto(url)
        worker.locator(".st-key-signin_passcode input").wait_for(timeout=60_000)
        submit(worker, LABELLER_CODE, "labeller", name="zoe")
        worker.wait_for_selector(IMAGE, timeout=60_000)
        worker.get_by_text("0 / 1,797 labelled").wait_for(timeout=TIMEOUT)

        # Someone guesses the admin passcode until the limiter makes them wait.
        guesser = browser.new_page()
        guesser.goto(url)
        guesser.locator(".st-key-signin_passcode input").wait_for(timeout=60_000)
        from playwright.sync_api import expect

        assert SLOW_DOWN not in refused(guesser, "guess-0")
        for attempt in range(1, 6):  # the limiter's 5 free attempts, then one more
            refused(guesser, f"guess-{attempt}")
        expect(guesser.locator('[data-testid="stAlert"]')).to_contain_text(SLOW_DOWN, timeout=TIMEOUT)

        # The attack: Streamlit's own "Clear cache" message over a raw websocket.
        raw_clear_cache(url)

        # The limiter still remembers: the guesser's next try is still slowed down. (From 127.0.0.1 the
        # client's address is unknown to the app, so the limiter counts per browser session: the same
        # session guesses again. Before the registry, the clear dropped the limiter with its counts.)
        answer = refused(guesser, "one-more-guess")
        assert SLOW_DOWN in answer, answer

        # The project is still open for the labeller: a label is recorded, nothing is "locked".
        worker.locator(".st-key-label_class_0 button").click()
        worker.get_by_text("1 / 1,797 labelled").wait_for(timeout=TIMEOUT)
        assert LOCKED not in worker.content()
        worker.locator(".st-key-label_class_1 button").click()
        worker.get_by_text("2 / 1,797 labelled").wait_for(timeout=TIMEOUT)
        assert LOCKED not in worker.content()

    # The server stopped: the project was closed at exit (its lock's owner note is gone) and kept both labels.
    assert not (project_dir / ".lock.info").exists()
    from superintendent_core.store import open_store

    with open_store(str(project_dir)) as store:
        assert store.labels()["labeller"].tolist() == ["zoe", "zoe"]
