"""Roles, passcodes and invitation links — the engine side of access control.

Nothing here imports Streamlit: the app reads ``st.secrets`` (a mapping), hands
it to :meth:`AuthConfig.from_secrets`, and asks the result who may do what.

Secrets layout (``.streamlit/secrets.toml`` or Community Cloud's secrets box)::

    [auth]
    admin_passcode = "a long phrase only the admins know"
    labeller_passcode = "another phrase for the labelling team"   # optional
    admin_emails = ["lead@example.org"]       # optional: OIDC (st.login) users
    labeller_emails = ["*"]                   # optional: "*" = anyone who logged in
    trusted_proxies = ["127.0.0.1"]           # optional: proxies whose X-Forwarded-For counts

    [auth.people.alice]                       # optional: one block per person
    role = "labeller"                         # "admin" or "labeller"
    token = "kq3...(from python -m superintendent_core.auth)"   # invitation link ?invite=<token>
    passcode = "alice's own passcode"         # optional

With no ``[auth]`` section (or an empty one) the project is in **single-user
mode**: everything is open, as on one's own laptop.

Secrets are compared with :func:`hmac.compare_digest` (constant time), never
appear in ``repr``, in an exception message or in a log line.
"""

from __future__ import annotations

import argparse
import enum
import hmac
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .attempts import parse_networks
from .names import check_labeller_name, labeller_key

__all__ = [
    "AuthConfig",
    "AuthError",
    "Capability",
    "MIN_PASSCODE_LENGTH",
    "MIN_TOKEN_LENGTH",
    "Person",
    "Role",
    "check_labeller_name",
    "labeller_key",
    "new_token",
]

#: Shortest passcode accepted (shorter ones are guessable through the login form).
MIN_PASSCODE_LENGTH = 8
#: Shortest invitation token accepted (it is the whole credential, so it must be unguessable).
MIN_TOKEN_LENGTH = 16

_SECTION = "auth"
_TOP_KEYS = frozenset(
    {"admin_passcode", "labeller_passcode", "admin_emails", "labeller_emails", "people", "trusted_proxies"}
)
_PERSON_KEYS = frozenset({"role", "token", "passcode", "email"})


class AuthError(ValueError):
    """The ``[auth]`` secrets cannot be used; the message names the key and the fix (never a secret)."""


class Capability(enum.Enum):
    """Something a role may do in a project (the app decides which pages need which)."""

    #: Label items and see one's own progress.
    LABEL = "label"
    #: Change the project: its data, classes, overlap, model settings, retrains, corrections.
    MANAGE = "manage"
    #: Download the labels or the whole project (and restore one).
    DOWNLOAD = "download"
    #: See other labellers' labels and progress.
    SEE_EVERYONE = "see_everyone"


class Role(enum.Enum):
    """What a signed-in person may do.

    ``ADMIN`` may do everything (every :class:`Capability`); ``LABELLER`` may
    label (and sees their own progress), nothing else.
    """

    ADMIN = "admin"
    LABELLER = "labeller"

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this role may do."""
        if self is Role.ADMIN:
            return frozenset(Capability)
        return frozenset({Capability.LABEL})

    def may(self, capability: Capability) -> bool:
        """Whether this role has ``capability``."""
        return capability in self.capabilities

    @property
    def may_download(self) -> bool:
        """Whether this role may download labels or the project (admins only)."""
        return self.may(Capability.DOWNLOAD)

    @property
    def sees_everyone(self) -> bool:
        """Whether this role sees other labellers' labels and progress (admins only)."""
        return self.may(Capability.SEE_EVERYONE)

    @classmethod
    def parse(cls, value: Any, *, where: str = "role") -> Role:
        """``"admin"`` / ``"labeller"`` (any case; ``"labeler"`` accepted) → :class:`Role`."""
        if isinstance(value, Role):
            return value
        text = str(value).strip().lower()
        if text == "labeler":
            text = "labeller"
        try:
            return cls(text)
        except ValueError:
            raise AuthError(
                f'{where}: {value!r} is not a role; use "admin" or "labeller".'
            ) from None


@dataclass(frozen=True)
class Person:
    """One person configured under ``[auth.people.<name>]`` (secrets hidden from ``repr``)."""

    name: str
    role: Role
    token: bytes | None = field(default=None, repr=False)
    passcode: bytes | None = field(default=None, repr=False)
    email: str | None = None


def _equal(secret: bytes | None, given: bytes) -> bool:
    """Constant-time comparison; a missing secret still costs one comparison."""
    if secret is None:
        hmac.compare_digest(given, given)
        return False
    return hmac.compare_digest(secret, given)


def _encode(given: Any) -> bytes | None:
    if not isinstance(given, str) or not given:
        return None
    return given.encode("utf-8")


def _secret(value: Any, where: str, minimum: int) -> bytes:
    if not isinstance(value, str):
        raise AuthError(f"{where} must be a text value in quotes; fix it in the secrets.")
    if value != value.strip():
        raise AuthError(
            f"{where} starts or ends with spaces, which nobody would type; remove them in the secrets."
        )
    if len(value) < minimum:
        raise AuthError(
            f"{where} is shorter than {minimum} characters; use a longer one "
            "(python -m superintendent_core.auth prints a good random one)."
        )
    return value.encode("utf-8")


def _emails(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise AuthError(f'{where} must be a list of e-mail addresses (or ["*"]).')
    out = set()
    for entry in value:
        if not isinstance(entry, str) or not entry.strip():
            raise AuthError(f'{where} must be a list of e-mail addresses (or ["*"]).')
        out.add(entry.strip().lower())
    return frozenset(out)


def _check_keys(section: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in section if k not in allowed)
    if unknown:
        raise AuthError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the known keys are "
            f"{', '.join(sorted(allowed))} (a typo would otherwise leave a door open)."
        )


def new_token(nbytes: int = 24) -> str:
    """A random, URL-safe invitation token (``nbytes`` of randomness; 32 characters by default)."""
    return _secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class AuthConfig:
    """Who may do what, parsed from the secrets.

    Build it with :meth:`from_secrets`. ``repr`` shows names and roles, never a secret.

    Attributes
    ----------
    admin_passcode, labeller_passcode : bytes or None
        Shared passcodes per role (UTF-8), hidden from ``repr``.
    people : tuple of Person
        Per-person tokens / passcodes / e-mails.
    admin_emails, labeller_emails : frozenset of str
        Lower-cased e-mail addresses of OIDC users per role; ``"*"`` = anyone.
    trusted_proxies : tuple of ip networks
        The proxies in front of the app: only their ``X-Forwarded-For`` says who a
        client is (see :func:`superintendent_core.attempts.client_key`).
    """

    admin_passcode: bytes | None = field(default=None, repr=False)
    labeller_passcode: bytes | None = field(default=None, repr=False)
    people: tuple[Person, ...] = ()
    admin_emails: frozenset[str] = frozenset()
    labeller_emails: frozenset[str] = frozenset()
    trusted_proxies: tuple[Any, ...] = ()

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any] | None) -> AuthConfig:
        """Parse the whole secrets mapping (``st.secrets`` or a dict); reads its ``[auth]`` section.

        Parameters
        ----------
        secrets : mapping or None
            The secrets. None, no ``auth`` key or an empty section gives the
            single-user configuration.

        Raises
        ------
        AuthError
            An unknown key, a wrong role, a short or non-text secret, a token
            shared by two people, a configuration in which nobody can become admin,
            or a secrets file Streamlit cannot parse (never single-user mode then).
        """
        try:
            if not secrets:
                return cls()
            section = secrets.get(_SECTION) if isinstance(secrets, Mapping) else None
        except FileNotFoundError as exc:  # st.secrets without a file, or with a broken one
            if str(exc).startswith("No secrets found"):
                return cls()
            # Fail closed: a secrets file that exists but cannot be read must not open everything.
            raise AuthError(
                "The secrets cannot be read, so access control cannot start; fix the secrets file "
                f"({str(exc).splitlines()[0][:200]})."
            ) from None
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise AuthError(
                "[auth] in the secrets must be a section (a table of keys), not a value."
            )
        if not section:
            return cls()
        _check_keys(section, _TOP_KEYS, "[auth]")

        def opt(key: str, minimum: int) -> bytes | None:
            value = section.get(key)
            return None if value is None else _secret(value, f"[auth] {key}", minimum)

        admin_passcode = opt("admin_passcode", MIN_PASSCODE_LENGTH)
        labeller_passcode = opt("labeller_passcode", MIN_PASSCODE_LENGTH)
        admin_emails = _emails(section.get("admin_emails"), "[auth] admin_emails")
        labeller_emails = _emails(section.get("labeller_emails"), "[auth] labeller_emails")
        if "*" in admin_emails:
            raise AuthError(
                '[auth] admin_emails: "*" would make every logged-in visitor an admin; '
                "list the admins' addresses instead."
            )
        people = cls._parse_people(section.get("people"))
        try:
            trusted_proxies = parse_networks(section.get("trusted_proxies"), "[auth] trusted_proxies")
        except ValueError as exc:
            raise AuthError(str(exc)) from None

        if admin_passcode is not None and admin_passcode == labeller_passcode:
            raise AuthError(
                "[auth] admin_passcode and labeller_passcode are the same, so every labeller "
                "would be an admin; make them different."
            )
        tokens = [p.token for p in people if p.token is not None]
        if len(tokens) != len(set(tokens)):
            raise AuthError(
                "[auth.people]: two people have the same token; give each person their own "
                "(python -m superintendent_core.auth prints new ones)."
            )
        config = cls(
            admin_passcode=admin_passcode,
            labeller_passcode=labeller_passcode,
            people=people,
            admin_emails=admin_emails,
            labeller_emails=labeller_emails,
            trusted_proxies=trusted_proxies,
        )
        if config.single_user:
            return config
        has_admin = (
            admin_passcode is not None
            or bool(admin_emails)
            or any(p.role is Role.ADMIN and (p.token or p.passcode or p.email) for p in people)
        )
        if not has_admin:
            raise AuthError(
                "[auth] is configured but nobody can sign in as admin; add admin_passcode "
                "(or an admin in [auth.people] / admin_emails)."
            )
        return config

    @staticmethod
    def _parse_people(value: Any) -> tuple[Person, ...]:
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            raise AuthError(
                "[auth.people] must be a section with one sub-section per person, "
                "e.g. [auth.people.alice]."
            )
        people = []
        keys: dict[str, str] = {}
        for raw_name, entry in value.items():
            try:
                name = check_labeller_name(raw_name)
            except ValueError as exc:
                raise AuthError(f"[auth.people]: {exc}") from None
            where = f"[auth.people.{name}]"
            key = labeller_key(name)
            if key in keys:
                raise AuthError(
                    f"[auth.people]: {keys[key]} and {name} would be the same labeller (names are "
                    "compared ignoring case and width); rename one of them."
                )
            keys[key] = name
            if not isinstance(entry, Mapping):
                raise AuthError(f"{where} must be a section with role = ... and token = ...")
            _check_keys(entry, _PERSON_KEYS, where)
            if "role" not in entry:
                raise AuthError(f'{where}: role is missing; add role = "labeller" or "admin".')
            role = Role.parse(entry["role"], where=f"{where} role")
            token = entry.get("token")
            passcode = entry.get("passcode")
            email = entry.get("email")
            if email is not None and (not isinstance(email, str) or "@" not in email):
                raise AuthError(f"{where} email must be an e-mail address in quotes.")
            people.append(
                Person(
                    name=name,
                    role=role,
                    token=None
                    if token is None
                    else _secret(token, f"{where} token", MIN_TOKEN_LENGTH),
                    passcode=None
                    if passcode is None
                    else _secret(passcode, f"{where} passcode", MIN_PASSCODE_LENGTH),
                    email=None if email is None else email.strip().lower(),
                )
            )
        return tuple(people)

    # ------------------------------------------------------------------ queries
    @property
    def single_user(self) -> bool:
        """True when nothing is configured: everything is open (the sidebar should say so)."""
        return (
            self.admin_passcode is None
            and self.labeller_passcode is None
            and not self.people
            and not self.admin_emails
            and not self.labeller_emails
        )

    @property
    def anonymous_role(self) -> Role | None:
        """The role of someone who has not signed in: ADMIN in single-user mode, else None."""
        return Role.ADMIN if self.single_user else None

    @property
    def uses_passcodes(self) -> bool:
        """Whether a passcode form makes sense (some role or person has a passcode)."""
        return (
            self.admin_passcode is not None
            or self.labeller_passcode is not None
            or any(p.passcode is not None for p in self.people)
        )

    @property
    def uses_tokens(self) -> bool:
        """Whether invitation links are configured."""
        return any(p.token is not None for p in self.people)

    @property
    def uses_emails(self) -> bool:
        """Whether OIDC users (``st.user.email``) are mapped to roles."""
        return bool(self.admin_emails or self.labeller_emails) or any(p.email for p in self.people)

    def person(self, name: str) -> Person | None:
        """The configured person called ``name`` (compared by :func:`labeller_key`), or None."""
        try:
            key = labeller_key(check_labeller_name(name))
        except ValueError:
            return None
        for p in self.people:
            if labeller_key(p.name) == key:
                return p
        return None

    def check_shared_name(self, name: Any) -> str:
        """The display name someone signing in with a *shared* passcode may use.

        A personal identity fixes its own name, so a shared-passcode user may not
        take one: not a configured person's name (``[auth.people.X]``, which also
        covers people who sign in with a link, their own passcode or an account
        e-mail), and not an e-mail-shaped name (names with ``@`` are the names of
        account sign-ins, ``admin_emails`` / ``labeller_emails``). Names are
        compared by :func:`labeller_key` (case, width and Unicode form ignored).

        Returns
        -------
        str
            The name, as :func:`check_labeller_name` returns it.

        Raises
        ------
        ValueError
            The name is invalid or belongs to a personal identity; the message
            says to choose another (it does not repeat the name).
        """
        text = check_labeller_name(name)
        if "@" in labeller_key(text):
            raise ValueError(
                "Labeller name: names with @ are kept for people who sign in with their account; "
                "choose a name without @."
            )
        if self.person(text) is not None:
            raise ValueError(
                "Labeller name: that name belongs to someone with their own sign-in; "
                "choose another name."
            )
        return text

    def check_passcode(self, role_or_name: str | Role, given: str) -> Role | None:
        """The role ``given`` unlocks, or None.

        Parameters
        ----------
        role_or_name : str or Role
            ``"admin"`` / ``"labeller"`` (the shared passcode of that role) or a
            configured person's name (their own passcode).
        given : str
            What was typed. Compared in constant time; an empty value never matches.

        Returns
        -------
        Role or None
            The matching role; None for a wrong passcode, an unknown role or name,
            or in single-user mode (where nothing needs unlocking: use
            :attr:`anonymous_role`).
        """
        candidate = _encode(given)
        probe = candidate if candidate is not None else b"\x00"
        secret: bytes | None = None
        role: Role | None = None
        try:
            role = Role.parse(role_or_name)
            secret = self.admin_passcode if role is Role.ADMIN else self.labeller_passcode
        except AuthError:
            person = self.person(str(role_or_name))
            if person is not None:
                role, secret = person.role, person.passcode
        ok = _equal(secret, probe)
        return role if ok and candidate is not None else None

    def role_for_token(self, token: str | None) -> tuple[str, Role] | None:
        """``(name, role)`` of the person whose invitation token this is, or None.

        Every configured token is compared (constant time each, no early exit),
        so the time taken does not reveal which person nearly matched.
        """
        candidate = _encode(token)
        probe = candidate if candidate is not None else b"\x00"
        found: tuple[str, Role] | None = None
        for p in self.people:
            if p.token is None:
                continue
            if _equal(p.token, probe) and candidate is not None and found is None:
                found = (p.name, p.role)
        return found

    def role_for_email(self, email: str | None) -> tuple[str, Role] | None:
        """``(name, role)`` for an OIDC-signed-in user's e-mail (``st.user.email``), or None.

        A person configured with that ``email`` keeps their name and role; otherwise
        ``admin_emails`` wins over ``labeller_emails`` (where ``"*"`` admits anyone)
        and the name is the e-mail address.
        """
        if not isinstance(email, str) or "@" not in email:
            return None
        key = email.strip().lower()
        for p in self.people:
            if p.email == key:
                return (p.name, p.role)
        if key in self.admin_emails:
            return (key, Role.ADMIN)
        if key in self.labeller_emails or "*" in self.labeller_emails:
            return (key, Role.LABELLER)
        return None

    def names(self) -> Sequence[str]:
        """Configured people's names (for a sign-in drop-down); no secrets."""
        return tuple(p.name for p in self.people)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m superintendent_core.auth",
        description="Print new random invitation tokens / passcodes to paste into the secrets.",
    )
    parser.add_argument("-n", type=int, default=1, help="how many (default 1)")
    args = parser.parse_args(argv)
    for _ in range(max(1, args.n)):
        print(new_token())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
