"""Labeller names against hostile input, and which names a shared passcode may take (issue 13)."""

from __future__ import annotations

import pytest

from superintendent_core.auth import AuthConfig, AuthError, check_labeller_name, labeller_key

SECRETS = {
    "auth": {
        "admin_passcode": "admin-phrase-0123",
        "labeller_passcode": "labeller-phrase-4567",
        "admin_emails": ["lead@example.org"],
        "labeller_emails": ["*"],
        "people": {
            "alice": {"role": "labeller", "token": "alice-invitation-token-abcdefghij"},
            "Carol Ann": {"role": "labeller", "passcode": "carols-own-passcode"},
            "dan": {"role": "admin", "email": "dan@example.org"},
        },
    }
}


@pytest.mark.parametrize(
    "raw",
    [
        "ann\u202eevil",  # right-to-left override
        "\u2066ann\u2069",  # isolates
        "ann\u200e",  # left-to-right mark
        "al\u200bice",  # zero-width space
        "al\u200dice",  # zero-width joiner
        "\ufeffalice",  # byte order mark
        "an\u0085n",  # C1 control (next line)
        "ann\u2028bob",  # line separator
        "ann\ue000",  # private use
        "ann\U000e0041",  # tag character
        "a\u0301\u0302\u0303\u0304\u0305",  # zalgo: combining marks piled up
        "---",  # no letter or digit
        "\u3000\u3000",  # ideographic spaces only
        "x" * 65,
    ],
)
def test_hostile_names_are_refused_with_a_plain_message(raw):
    with pytest.raises(ValueError, match=r"^Labeller name: .*\.$"):
        check_labeller_name(raw)


@pytest.mark.parametrize("raw, clean", [("Ann Lee", "Ann Lee"), ("José", "José"), ("Nguyễn", "Nguyễn"),
                                        ("李小龙", "李小龙"), ("x" * 64, "x" * 64), ("R2-D2", "R2-D2")])
def test_ordinary_names_are_kept(raw, clean):
    assert check_labeller_name(raw) == clean


def test_names_differing_only_by_case_width_or_form_share_a_key():
    forms = ["Alice", "ALICE", "alice", "\uff21\uff4c\uff49\uff43\uff45", " alice "]
    assert {labeller_key(check_labeller_name(f)) for f in forms} == {"alice"}
    assert labeller_key("Carol\u00a0Ann") == labeller_key("carol  ann") == "carol ann"
    assert labeller_key("Zoe\u0308") == labeller_key("zoë")
    assert labeller_key("alice") != labeller_key("alicia")


def test_a_configured_person_is_found_whatever_the_case_or_width():
    config = AuthConfig.from_secrets(SECRETS)
    assert config.person("ALICE").name == "alice"
    assert config.person("\uff41\uff4c\uff49\uff43\uff45").name == "alice"
    assert config.person("carol ann").name == "Carol Ann"
    assert config.person("alicia") is None


@pytest.mark.parametrize(
    "taken",
    ["alice", "Alice", "\uff21lice", "CAROL ANN", "carol\u00a0ann", "dan", "lead@example.org",
     "dan@example.org", "someone@anywhere.org", "mallory\uff20example.org"],
)
def test_a_shared_passcode_cannot_take_a_personal_identitys_name(taken):
    config = AuthConfig.from_secrets(SECRETS)
    with pytest.raises(ValueError, match="^Labeller name: .*(own sign-in|without @)") as info:
        config.check_shared_name(taken)
    assert taken not in str(info.value)


@pytest.mark.parametrize("free", ["zoe", "Alicia", "carol", "Ann"])
def test_a_shared_passcode_may_choose_any_other_name(free):
    assert AuthConfig.from_secrets(SECRETS).check_shared_name(free) == free


def test_two_people_whose_names_differ_only_by_case_are_refused():
    secrets = {"auth": {"admin_passcode": "admin-phrase-0123",
                        "people": {"alice": {"role": "labeller"}, "ALICE": {"role": "admin"}}}}
    with pytest.raises(AuthError, match="same labeller"):
        AuthConfig.from_secrets(secrets)
