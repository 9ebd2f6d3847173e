"""Nothing about the configuration before sign-in: misconfigured ``[auth]`` secrets show one generic sentence.

The detailed message (which names people, e-mail addresses and keys of the
secrets) goes to the server log, where the admin reads it.
"""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

from ui import auth as A
from ui import runtime

from .conftest import APP, PAGES, errors, exceptions

NAME = "alicemartin"
EMAIL = "alice.martin@corp.example"
TOKEN = "alice-invitation-token-abcdefghij"
BROKEN = [
    # An e-mail address typed where the role goes.
    {"auth": {"admin_passcode": "admin-phrase-0123", "people": {NAME: {"role": EMAIL, "token": TOKEN}}}},
    # A person's e-mail that is not a text; an admin e-mail list with a number in it.
    {"auth": {"admin_emails": [EMAIL, 42], "people": {NAME: {"role": "labeller", "token": TOKEN}}}},
    {"auth": {"admin_passcode": "admin-phrase-0123", "people": {NAME: {"role": "admin", "email": 42}}}},
]


def rendered(at: AppTest) -> str:
    """Every element of the page, sidebar included, as its protobuf text (what travels to the browser)."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    parts += [f"{k}={v}" for k, v in at.query_params.items()]
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _fresh_registry():
    runtime.reset_for_tests()
    yield
    runtime.reset_for_tests()


@pytest.mark.parametrize("secrets", BROKEN)
@pytest.mark.parametrize("page", PAGES)
def test_a_visitor_sees_no_name_email_or_token_of_broken_auth_secrets(secrets, page, caplog):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(secrets)
    with caplog.at_level(logging.ERROR, logger="superintendent.app"):
        at.switch_page(page).run()
    assert exceptions(at) == []
    assert errors(at) == [A.MISCONFIGURED]
    page_text = rendered(at)
    for private in (NAME, EMAIL, TOKEN, "auth.people", "admin-phrase-0123"):
        assert private not in page_text
    # The admin finds the details in the server log (and no secret there either).
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert NAME in logged or EMAIL in logged or "admin_emails" in logged
    assert TOKEN not in logged and "admin-phrase-0123" not in logged
