"""Who a sign-in attempt counts against: the connection's address, never a header anyone can send.

Streamlit's server (uvicorn) replaces a loopback peer by the ``X-Forwarded-For``
address before the app sees it; these tests give a session a fake connection
(``streamlit.runtime.context._get_client_context``, what ``st.context`` reads) and
check that a spoofed header cannot lock a real client out, and that clients whose
address is unknown are not put into one shared count.
"""

from __future__ import annotations

import logging

import pytest
from streamlit.runtime import context as st_context
from streamlit.testing.v1 import AppTest

from ui import auth as A
from ui import state as S

from .conftest import APP, errors
from .test_roles import ADMIN_CODE, SECRETS, _close, sign_in


class FakeClient:
    """What Streamlit's server captured from a websocket handshake."""

    def __init__(self, remote_ip, headers=()):
        self.remote_ip = remote_ip
        self.headers = list(headers)
        self.cookies = {}


class Ctx:
    """The script run context, with another session id (AppTest gives every session the same)."""

    def __init__(self, real, session_id):
        self._real, self.session_id = real, session_id

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def connect(monkeypatch, project_dir):
    """``connect(remote_ip, headers, session=...)`` → a fresh AppTest session arriving that way."""
    current = {}
    monkeypatch.setattr(st_context, "_get_client_context", lambda: current.get("client"))
    real_ctx = A.get_script_run_ctx
    monkeypatch.setattr(A, "get_script_run_ctx", lambda: Ctx(real_ctx(), current.get("session", "s0")))
    A.attempt_limiter.clear()

    def make(remote_ip, headers=(), *, session="s0", secrets=SECRETS):
        current["client"], current["session"] = FakeClient(remote_ip, headers), session
        at = AppTest.from_file(APP, default_timeout=60)
        at.secrets.update(secrets)
        return at.run()

    def use(remote_ip, headers=(), *, session="s0"):
        current["client"], current["session"] = FakeClient(remote_ip, headers), session

    make.use = use
    yield make
    _close(project_dir)
    A.attempt_limiter.clear()


def _fail_until_waiting(at, connect, *how, session="s0"):
    for _ in range(A.attempt_limiter().free + 1):
        connect.use(*how, session=session)
        sign_in(at, "not-the-passcode", role="admin")
    assert "Too many wrong attempts" in errors(at)[0]


def test_a_spoofed_forwarded_header_cannot_lock_out_the_address_it_names(connect):
    victim = "198.51.100.23"
    # The attacker connects through a local proxy that passes its header on: Streamlit reports
    # the header's address as the peer.
    spoofed = (victim, [("X-Forwarded-For", victim)])
    attacker = connect(*spoofed, session="attacker")
    _fail_until_waiting(attacker, connect, *spoofed, session="attacker")
    at = connect(victim, session="victim")  # the real client at that address
    sign_in(at, ADMIN_CODE, role="admin")
    assert at.session_state[S.ROLE] == "admin", errors(at)


def test_a_forwarded_header_from_a_trusted_proxy_names_the_client(connect):
    secrets = {"auth": {**SECRETS["auth"], "trusted_proxies": ["127.0.0.1", "::1"]}}
    via_proxy = ("198.51.100.23", [("X-Forwarded-For", "198.51.100.23")])
    at = connect(*via_proxy, session="a", secrets=secrets)
    _fail_until_waiting(at, connect, *via_proxy, session="a")
    other_tab = connect(*via_proxy, session="b", secrets=secrets)  # the same client, another tab: waits too
    sign_in(other_tab, ADMIN_CODE, role="admin")
    assert other_tab.session_state[S.ROLE] is None and "Too many wrong attempts" in errors(other_tab)[0]
    someone_else = ("198.51.100.99", [("X-Forwarded-For", "198.51.100.99")])
    at2 = connect(*someone_else, session="c", secrets=secrets)
    sign_in(at2, ADMIN_CODE, role="admin")
    assert at2.session_state[S.ROLE] == "admin", errors(at2)


@pytest.mark.parametrize("peer", [None, "127.0.0.1"])
def test_clients_of_unknown_address_are_not_one_shared_count(connect, peer):
    attacker = connect(peer, session="attacker")
    _fail_until_waiting(attacker, connect, peer, session="attacker")
    at = connect(peer, session="someone-else")
    sign_in(at, ADMIN_CODE, role="admin")
    assert at.session_state[S.ROLE] == "admin", errors(at)


def test_a_wrong_shared_passcode_from_one_address_never_delays_another(connect):
    attacker = connect("203.0.113.5", session="a")
    _fail_until_waiting(attacker, connect, "203.0.113.5", session="a")
    at = connect("203.0.113.6", session="b")
    sign_in(at, ADMIN_CODE, role="admin")
    assert at.session_state[S.ROLE] == "admin", errors(at)


def test_a_broken_trusted_proxies_entry_opens_nothing(connect, caplog):
    """Refused like any broken [auth] entry: one sentence on the page, the key named in the server log."""
    with caplog.at_level(logging.ERROR, logger="superintendent.app"):
        at = connect("203.0.113.6", secrets={"auth": {**SECRETS["auth"], "trusted_proxies": ["proxy.local"]}})
    assert errors(at) == [A.MISCONFIGURED]
    assert any("trusted_proxies" in r.getMessage() for r in caplog.records)
    assert at.session_state[S.ROLE] is None
