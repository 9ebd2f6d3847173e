"""Roles, passcodes and invitation tokens from a secrets mapping."""

from __future__ import annotations

import hmac
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superintendent_core.auth import (
    AuthConfig,
    AuthError,
    Capability,
    Role,
    check_labeller_name,
    new_token,
)

ADMIN_PC = "correct horse battery"
LAB_PC = "labelling team phrase"
ALICE_TOKEN = "alice-token-0123456789abcdef"
BOB_TOKEN = "bob-token-0123456789abcdef00"


def full_secrets() -> dict:
    return {
        "DATABASE_URL": "postgresql+psycopg://x@y/z",
        "auth": {
            "admin_passcode": ADMIN_PC,
            "labeller_passcode": LAB_PC,
            "admin_emails": ["Lead@Example.org"],
            "labeller_emails": ["team@example.org"],
            "people": {
                "alice": {"role": "labeller", "token": ALICE_TOKEN, "passcode": "alice's own code"},
                "bob": {"role": "admin", "token": BOB_TOKEN, "email": "bob@example.org"},
            },
        },
    }


# --------------------------------------------------------------------------- single-user mode


@pytest.mark.parametrize("secrets", [None, {}, {"DATABASE_URL": "sqlite://"}, {"auth": {}}])
def test_nothing_configured_is_single_user(secrets):
    config = AuthConfig.from_secrets(secrets)
    assert config.single_user
    assert config.anonymous_role is Role.ADMIN
    # Nothing unlocks anything: there is nothing to unlock.
    assert config.check_passcode("admin", "anything at all") is None
    assert config.role_for_token("anything-anything-anything") is None


def test_configured_is_not_single_user():
    config = AuthConfig.from_secrets(full_secrets())
    assert not config.single_user
    assert config.anonymous_role is None
    assert config.uses_passcodes and config.uses_tokens and config.uses_emails
    assert config.names() == ("alice", "bob")


# --------------------------------------------------------------------------- roles


def test_role_capabilities():
    assert Role.ADMIN.capabilities == frozenset(Capability)
    assert Role.LABELLER.capabilities == frozenset({Capability.LABEL})
    for capability in (Capability.MANAGE, Capability.DOWNLOAD, Capability.SEE_EVERYONE):
        assert not Role.LABELLER.may(capability)
        assert Role.ADMIN.may(capability)
    assert Role.LABELLER.may(Capability.LABEL) and Role.ADMIN.may(Capability.LABEL)
    assert Role.ADMIN.may_download and not Role.LABELLER.may_download
    assert Role.ADMIN.sees_everyone and not Role.LABELLER.sees_everyone


@pytest.mark.parametrize(
    "text, role", [("admin", Role.ADMIN), (" Labeller ", Role.LABELLER), ("labeler", Role.LABELLER)]
)
def test_role_parse(text, role):
    assert Role.parse(text) is role


def test_role_parse_rejects_unknown():
    with pytest.raises(AuthError, match="not a role"):
        Role.parse("superuser")


# --------------------------------------------------------------------------- passcodes


def test_role_passcodes():
    config = AuthConfig.from_secrets(full_secrets())
    assert config.check_passcode("admin", ADMIN_PC) is Role.ADMIN
    assert config.check_passcode(Role.ADMIN, ADMIN_PC) is Role.ADMIN
    assert config.check_passcode("labeller", LAB_PC) is Role.LABELLER
    # The labeller passcode does not open admin, nor the other way round.
    assert config.check_passcode("admin", LAB_PC) is None
    assert config.check_passcode("labeller", ADMIN_PC) is None


@pytest.mark.parametrize(
    "given", ["", ADMIN_PC + " ", ADMIN_PC[:-1], ADMIN_PC.upper(), None, 12345678, "ü" * 20]
)
def test_wrong_passcodes_are_refused(given):
    config = AuthConfig.from_secrets(full_secrets())
    assert config.check_passcode("admin", given) is None


def test_personal_passcode():
    config = AuthConfig.from_secrets(full_secrets())
    assert config.check_passcode("alice", "alice's own code") is Role.LABELLER
    assert config.check_passcode(" alice ", "alice's own code") is Role.LABELLER
    assert config.check_passcode("alice", ADMIN_PC) is None
    assert config.check_passcode("bob", "") is None  # bob has no passcode
    assert config.check_passcode("mallory", "alice's own code") is None


def test_non_ascii_passcode():
    config = AuthConfig.from_secrets({"auth": {"admin_passcode": "Grüße aus Köln"}})
    assert config.check_passcode("admin", "Grüße aus Köln") is Role.ADMIN
    assert config.check_passcode("admin", "Grusse aus Koln") is None


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    config = AuthConfig.from_secrets(full_secrets())
    config.check_passcode("admin", "wrong wrong")
    config.check_passcode("mallory", "wrong wrong")  # unknown name still costs a comparison
    config.role_for_token("x" * 30)
    assert len(calls) == 2 + 2  # one per passcode check, one per configured token
    assert all(a is bytes and b is bytes for a, b in calls)


# --------------------------------------------------------------------------- tokens and e-mails


def test_tokens():
    config = AuthConfig.from_secrets(full_secrets())
    assert config.role_for_token(ALICE_TOKEN) == ("alice", Role.LABELLER)
    assert config.role_for_token(BOB_TOKEN) == ("bob", Role.ADMIN)
    for wrong in (None, "", ALICE_TOKEN[:-1], ALICE_TOKEN + "x", ADMIN_PC):
        assert config.role_for_token(wrong) is None


def test_emails():
    config = AuthConfig.from_secrets(full_secrets())
    assert config.role_for_email("lead@example.org") == ("lead@example.org", Role.ADMIN)
    assert config.role_for_email("LEAD@example.org ") == ("lead@example.org", Role.ADMIN)
    assert config.role_for_email("bob@example.org") == ("bob", Role.ADMIN)
    assert config.role_for_email("team@example.org") == ("team@example.org", Role.LABELLER)
    assert config.role_for_email("stranger@example.org") is None
    assert config.role_for_email(None) is None
    assert config.role_for_email("not-an-address") is None


def test_star_admits_any_logged_in_user_as_labeller():
    config = AuthConfig.from_secrets(
        {"auth": {"admin_passcode": ADMIN_PC, "labeller_emails": ["*"]}}
    )
    assert config.role_for_email("anyone@example.org") == ("anyone@example.org", Role.LABELLER)


def test_new_token_is_long_and_url_safe():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 16
        assert all(c.isalnum() or c in "-_" for c in token)
    config = AuthConfig.from_secrets(
        {"auth": {"people": {"z": {"role": "admin", "token": next(iter(tokens))}}}}
    )
    assert config.role_for_token(next(iter(tokens))) == ("z", Role.ADMIN)


# --------------------------------------------------------------------------- secrets never leak


def test_repr_and_errors_hide_secrets(caplog):
    caplog.set_level(logging.DEBUG)
    config = AuthConfig.from_secrets(full_secrets())
    text = repr(config) + str(config) + repr(config.people)
    for secret in (ADMIN_PC, LAB_PC, ALICE_TOKEN, BOB_TOKEN, "alice's own code"):
        assert secret not in text
        assert secret.encode() not in text.encode()
    assert "alice" in text and "labeller" in text.lower()
    assert caplog.text == ""


@pytest.mark.parametrize(
    "auth, fragment",
    [
        ({"admin_passcode": "Qz7!"}, "shorter than 8"),
        ({"admin_passcode": 12345678}, "text value"),
        ({"admin_passcode": " padded passcode "}, "spaces"),
        ({"admin_pascode": "a typo here!!"}, "unknown key"),
        ({"labeller_passcode": LAB_PC}, "nobody can sign in as admin"),
        ({"admin_passcode": LAB_PC, "labeller_passcode": LAB_PC}, "the same"),
        ({"admin_passcode": ADMIN_PC, "admin_emails": ["*"]}, "every logged-in visitor"),
        ({"admin_passcode": ADMIN_PC, "people": {"a": {"token": ALICE_TOKEN}}}, "role is missing"),
        (
            {"admin_passcode": ADMIN_PC, "people": {"a": {"role": "boss", "token": ALICE_TOKEN}}},
            "not a role",
        ),
        (
            {
                "admin_passcode": ADMIN_PC,
                "people": {"a": {"role": "labeller", "token": "Qz7!Qz7!Xy"}},
            },
            "shorter than 16",
        ),
        (
            {
                "admin_passcode": ADMIN_PC,
                "people": {"a": {"role": "labeller", "tokn": ALICE_TOKEN}},
            },
            "unknown key",
        ),
        (
            {
                "admin_passcode": ADMIN_PC,
                "people": {
                    "a": {"role": "labeller", "token": ALICE_TOKEN},
                    "b": {"role": "labeller", "token": ALICE_TOKEN},
                },
            },
            "same token",
        ),
        ({"admin_passcode": ADMIN_PC, "people": ["alice"]}, "one sub-section per person"),
        ({"admin_passcode": ADMIN_PC, "people": {"a": "labeller"}}, "must be a section"),
        ({"admin_passcode": ADMIN_PC, "people": {"  ": {"role": "labeller"}}}, "empty"),
        (
            {"admin_passcode": ADMIN_PC, "people": {"a": {"role": "labeller", "email": "nope"}}},
            "e-mail",
        ),
        ({"admin_passcode": ADMIN_PC, "admin_emails": 5}, "list of e-mail"),
    ],
)
def test_bad_configuration_is_refused_readably(auth, fragment):
    with pytest.raises(AuthError, match=fragment) as info:
        AuthConfig.from_secrets({"auth": auth})
    message = str(info.value)
    for secret in (ADMIN_PC, LAB_PC, ALICE_TOKEN, "a typo here!!", "Qz7!", " padded passcode "):
        assert secret not in message


def test_auth_must_be_a_section():
    with pytest.raises(AuthError, match="section"):
        AuthConfig.from_secrets({"auth": "admin"})


# --------------------------------------------------------------------------- labeller names


@pytest.mark.parametrize("raw, clean", [("  Ann ", "Ann"), ("Zoe\u0308", "Zoë"), ("李", "李")])
def test_labeller_names_are_normalised(raw, clean):
    assert check_labeller_name(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "a" * 65, "tab\there", None, 3])
def test_bad_labeller_names(raw):
    with pytest.raises(ValueError, match="Labeller name"):
        check_labeller_name(raw)


@given(st.text(min_size=8, max_size=40).filter(lambda s: s == s.strip()), st.text(max_size=40))
def test_only_the_exact_passcode_unlocks(passcode, other):
    config = AuthConfig.from_secrets({"auth": {"admin_passcode": passcode}})
    assert config.check_passcode("admin", passcode) is Role.ADMIN
    expected = Role.ADMIN if other == passcode else None
    assert config.check_passcode("admin", other) is expected


def test_the_engine_knows_no_pages():
    import superintendent_core.auth as engine

    assert not hasattr(engine, "ALL_PAGES")
    assert not hasattr(Role, "pages") and not hasattr(Role, "may_open")


def test_cli_prints_tokens(capsys):
    from superintendent_core.auth import _main

    assert _main(["-n", "3"]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 3 and len(set(lines)) == 3


class _StreamlitLikeSecrets(dict):
    """Behaves like ``st.secrets`` when its file is missing or broken (raises on first access)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def __len__(self) -> int:
        raise FileNotFoundError(self.message)

    def get(self, key, default=None):
        raise FileNotFoundError(self.message)


def test_no_secrets_file_is_single_user():
    config = AuthConfig.from_secrets(
        _StreamlitLikeSecrets("No secrets found. Valid paths for a secrets.toml ...")
    )
    assert config.single_user


def test_broken_secrets_file_fails_closed():
    broken = _StreamlitLikeSecrets(
        "Error parsing secrets file at /app/.streamlit/secrets.toml: Expected ']'"
    )
    with pytest.raises(AuthError, match="cannot be read"):
        AuthConfig.from_secrets(broken)


def test_trusted_proxies_are_read_and_checked():
    from superintendent_core.auth import AuthConfig, AuthError

    config = AuthConfig.from_secrets({"auth": {"admin_passcode": "x" * 12, "trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}})
    assert [str(n) for n in config.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    with pytest.raises(AuthError, match=r"\[auth\] trusted_proxies: 'proxy.local' is not an IP address"):
        AuthConfig.from_secrets({"auth": {"admin_passcode": "x" * 12, "trusted_proxies": ["proxy.local"]}})
