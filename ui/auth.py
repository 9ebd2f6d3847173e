"""Who may see what: roles from the secrets, the sign-in form, invitation links, OIDC, page guards.

The rules live in :mod:`superintendent_core.auth` (what a role may do: its
capabilities); this module reads ``st.secrets`` / ``st.query_params`` /
``st.user``, draws the sign-in form and wires pages to capabilities
(:data:`PAGE_CAPABILITIES`).

* No ``[auth]`` roles in the secrets: **single-user mode**, everything open.
* Otherwise the session's role (``st.session_state``) decides which pages
  ``app.py`` registers in ``st.navigation``, and every page calls :func:`guard`
  first, so a page never draws anything for the wrong role even when Streamlit
  runs it directly (the first run of a fresh process uses the ``pages/`` folder
  before ``app.py`` has called ``st.navigation`` once).
* An invitation token (``?invite=...``) is removed from the URL before anything
  else happens, then exchanged for the person's name and role.
* Nothing secret is logged, shown or put back into the URL; a wrong passcode
  gives one refusal message and nothing else.

Streamlit's own OIDC settings (``st.login``) share the ``[auth]`` section with
ours; they are set aside before the section is handed to
:meth:`AuthConfig.from_secrets`.
"""

from __future__ import annotations

import logging
import os
import runpy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit import config as _st_config
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from superintendent_core.attempts import SERVER_TRUSTS, Attempt, AttemptLimiter, client_key
from superintendent_core.auth import AuthConfig, AuthError, Capability, Role, check_labeller_name
from superintendent_core.kinds.formatting import escape_markdown

from . import runtime
from . import state as S

#: Page key (as in ``app.py``'s ``PAGES``) → what a role must be able to do to open the page.
PAGE_CAPABILITIES: dict[str, Capability] = {
    "label": Capability.LABEL,
    "model": Capability.MANAGE,
    "data": Capability.MANAGE,
    "review": Capability.MANAGE,  # its downloads also need Capability.DOWNLOAD (Access.may_download)
}
#: Every page key, in the app's order.
ALL_PAGES: tuple[str, ...] = tuple(PAGE_CAPABILITIES)

#: Page file → page key of :data:`ALL_PAGES`.
PAGE_KEYS: dict[str, str] = {
    "pages/label.py": "label",
    "pages/model.py": "model",
    "pages/data.py": "data",
    "pages/review.py": "review",
}

#: Keys Streamlit's ``st.login`` reads from ``[auth]`` (not ours: set aside before parsing roles).
OIDC_KEYS = frozenset(
    {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url", "client_kwargs",
     "expose_tokens"}
)
#: Our keys in ``[auth]`` (anything else that is a table is taken for an OIDC provider, e.g. ``[auth.google]``).
ROLE_KEYS = frozenset(
    {"admin_passcode", "labeller_passcode", "admin_emails", "labeller_emails", "people", "trusted_proxies"}
)


def pages_for(role: Role) -> frozenset[str]:
    """Page keys (of :data:`ALL_PAGES`) ``role`` may open."""
    return frozenset(page for page, needs in PAGE_CAPABILITIES.items() if role.may(needs))


REFUSED = "Wrong passcode (or name): nothing was opened. Check it with your project's admin."
BAD_INVITE = "This invitation link is not valid (any more): ask your project's admin for a new one."
SLOW_DOWN = "Too many wrong attempts from here: wait {wait}, then try again."
MISCONFIGURED = (
    "The app's sign-in is misconfigured, so nobody can sign in for now. "
    "The admin can see the details in the server log."
)
OIDC_UNAVAILABLE = (
    "Account sign-in is not available right now: its configuration does not work. "
    "Tell your project's admin; the details are in the server log."
)

log = logging.getLogger("superintendent.app")


def _log_config_error(message: str) -> None:
    """Log a configuration error for the admin (each time a visitor meets it, until it is fixed)."""
    log.error("The [auth] secrets cannot be used: %s", message)


@runtime.process_wide()
def attempt_limiter() -> AttemptLimiter:
    """Failed sign-ins per client, shared by every session of the process (thread-safe).

    It lives in the process registry (:mod:`ui.runtime`), not in ``st.cache_resource``:
    a client's "Clear cache" message must not wipe the count of failed attempts.
    """
    return AttemptLimiter()


def _connection() -> tuple[str | None, list[str], str | None]:
    """``(peer, X-Forwarded-For values, session id)`` of this session's connection.

    The peer is the address Streamlit's server reports for the websocket (not
    ``st.context.ip_address``, which turns loopback into None); Streamlit's uvicorn
    has already replaced it by a forwarded hop when the connection came from
    ``$FORWARDED_ALLOW_IPS`` (default loopback) — :func:`client_key` accounts for that.
    """
    try:
        from streamlit.runtime import context as st_context

        client_context = st_context._get_client_context()
        peer = getattr(client_context, "remote_ip", None) if client_context is not None else None
    except Exception:  # noqa: BLE001 — no runtime (bare mode) or Streamlit moved it
        peer = None
    try:
        forwarded = [v for v in st.context.headers.get_all("X-Forwarded-For") if isinstance(v, str)]
    except Exception:  # noqa: BLE001 — no request context
        forwarded = []
    ctx = get_script_run_ctx()
    return (peer if isinstance(peer, str) else None), forwarded, (ctx.session_id if ctx is not None else None)


def _server_trusts() -> tuple[str, ...]:
    """Whose X-Forwarded-For Streamlit's server itself applies (uvicorn's ``$FORWARDED_ALLOW_IPS``)."""
    value = os.environ.get("FORWARDED_ALLOW_IPS")
    if value is None:
        return SERVER_TRUSTS
    return tuple(h.strip() for h in value.split(",") if h.strip())


def _client() -> str:
    """Who is trying: see :func:`superintendent_core.attempts.client_key`.

    The address of the connection; a forwarded address only from ``[auth]
    trusted_proxies``; when the address cannot be known, this session (and the
    limiter's shared ceiling for such sessions), never one key for everybody.
    """
    peer, forwarded, session_id = _connection()
    config, _ = load_config()
    return client_key(
        peer, forwarded, session_id=session_id,
        trusted_proxies=config.trusted_proxies if config is not None else (),
        server_trusts=_server_trusts(),
    )


def _refusal(attempt: Attempt, message: str) -> str:
    """What a refused try is told: only to wait, or why it failed (and the wait, once there is one)."""
    slow = SLOW_DOWN.format(wait=AttemptLimiter.describe(attempt.wait))
    if not attempt.checked:
        return slow
    return message if attempt.wait <= 0 else f"{message} {slow}"


@dataclass(frozen=True)
class Access:
    """This session's rights for the current run.

    Attributes
    ----------
    role : Role or None
        None: not signed in (team mode) or the secrets cannot be used.
    name : str or None
        The name the sign-in fixes for the session (invitation, personal
        passcode, OIDC, or the display name chosen with a shared passcode);
        None in single-user mode (a free name field) or before signing in.
    single_user : bool
        No roles configured: everything is open.
    error : str or None
        Why the ``[auth]`` secrets cannot be used (then nothing opens).
    config : AuthConfig or None
    """

    role: Role | None
    name: str | None
    single_user: bool
    error: str | None = None
    config: AuthConfig | None = None

    def may_open(self, page_key: str) -> bool:
        return self.error is None and self.role is not None and page_key in pages_for(self.role)

    @property
    def may_download(self) -> bool:
        return self.error is None and self.role is not None and self.role.may_download

    @property
    def is_admin(self) -> bool:
        return self.error is None and self.role is Role.ADMIN


# --------------------------------------------------------------------------- reading the secrets


def _secrets() -> dict[str, Any]:
    """``st.secrets`` as a plain dict; ``{}`` when there is no secrets file.

    Raises
    ------
    AuthError
        A secrets file exists but cannot be read (fail closed: a typo must not open everything).
    """
    try:
        return st.secrets.to_dict()
    except FileNotFoundError as exc:  # StreamlitSecretNotFoundError: missing *or* unreadable
        files = _st_config.get_option("secrets.files") or []
        if any(os.path.isfile(f) for f in files):
            raise AuthError(
                "The secrets file cannot be read, so nobody can sign in. Fix its TOML syntax "
                f"({type(exc).__name__}); see the README, 'Team mode: roles and passcodes'."
            ) from None
        return {}


def roles_section(secrets: Mapping[str, Any]) -> dict[str, Any]:
    """The secrets with Streamlit's OIDC keys and provider tables removed from ``[auth]``."""
    out = dict(secrets)
    section = secrets.get("auth")
    if isinstance(section, Mapping):
        out["auth"] = {
            k: v for k, v in section.items()
            if k not in OIDC_KEYS and (k in ROLE_KEYS or not isinstance(v, Mapping))
        }
    return out


def oidc_configured(secrets: Mapping[str, Any]) -> bool:
    """Whether the host configured ``st.login`` (``[auth]`` has redirect_uri and cookie_secret)."""
    section = secrets.get("auth")
    return isinstance(section, Mapping) and "redirect_uri" in section and "cookie_secret" in section


def load_config() -> tuple[AuthConfig | None, str | None]:
    """``(config, None)``, or ``(None, message)`` when the ``[auth]`` secrets cannot be used."""
    try:
        return AuthConfig.from_secrets(roles_section(_secrets())), None
    except AuthError as exc:
        return None, str(exc)


def oidc_email() -> str | None:
    """The e-mail of the user signed in with ``st.login``, or None (also when OIDC is not set up)."""
    try:
        info = st.user.to_dict()
    except Exception:  # st.user unavailable (no auth configured, bare mode): nobody is logged in
        return None
    if not info.get("is_logged_in"):
        return None
    email = info.get("email")
    return email if isinstance(email, str) else None


# --------------------------------------------------------------------------- the session's role


def _role_in_session() -> Role | None:
    value = st.session_state.get(S.ROLE)
    try:
        return Role.parse(value) if value else None
    except AuthError:
        return None


def _grant(name: str | None, role: Role) -> None:
    st.session_state[S.ROLE] = role.value
    st.session_state[S.AUTH_NAME] = name
    st.session_state[S.AUTH_REFUSED] = None
    if name:
        st.session_state[S.LABELLER] = name
        st.query_params[S.QP_LABELLER] = name
    st.session_state[S.SHOWN] = None


def sign_out() -> None:
    """Forget this session's role (and log out of OIDC when signed in that way)."""
    st.session_state[S.ROLE] = None
    st.session_state[S.AUTH_NAME] = None
    st.session_state[S.SHOWN] = None
    st.query_params.pop(S.QP_PROJECT, None)
    st.session_state[S.PROJECT] = None
    if oidc_email() is not None:
        try:
            st.logout()
        except Exception:  # noqa: BLE001 — nothing to log out of
            pass


def consume_invite(config: AuthConfig | None) -> None:
    """Take ``?invite=...`` out of the URL at once; exchange it for a name and role."""
    if S.QP_INVITE not in st.query_params:
        return
    token = st.query_params.get(S.QP_INVITE)
    del st.query_params[S.QP_INVITE]
    if config is None or config.single_user:
        return
    attempt = attempt_limiter().attempt(_client(), lambda: config.role_for_token(token))
    if not attempt.ok:
        S.notify(st.session_state, "error", _refusal(attempt, BAD_INVITE))
        return
    name, role = attempt.result
    _grant(name, role)
    S.notify(st.session_state, "success", f"Welcome, {name}: you are signed in as {role.value}.")


def current_access() -> Access:
    """This session's rights, from the secrets and the session (no side effects)."""
    config, error = load_config()
    if error is not None:
        return Access(None, None, False, error, None)
    if config.single_user:
        return Access(config.anonymous_role, None, True, None, config)
    role = _role_in_session()
    name = st.session_state.get(S.AUTH_NAME) if role is not None else None
    return Access(role, name, False, None, config)


def resolve() -> Access:
    """Called once per run by ``app.py``: consume an invitation, honour OIDC, return the access."""
    config, error = load_config()
    consume_invite(config)  # even when the config is broken: the token must leave the URL
    if error is None and not config.single_user and _role_in_session() is None:
        match = config.role_for_email(oidc_email())
        if match is not None:
            _grant(*match)
    return current_access()


# --------------------------------------------------------------------------- drawing


def _check_sign_in() -> None:
    """Callback of the sign-in form: compare in constant time, then forget the typed passcode."""
    given = st.session_state.get(S.SIGNIN_PASSCODE) or ""
    st.session_state[S.SIGNIN_PASSCODE] = ""
    typed_name = st.session_state.get(S.SIGNIN_NAME) or ""
    wanted = st.session_state.get(S.SIGNIN_AS) or Role.LABELLER.value
    config, error = load_config()
    if error is not None or config is None or config.single_user:
        return
    try:
        name = check_labeller_name(typed_name)
    except ValueError as exc:
        st.session_state[S.AUTH_REFUSED] = str(exc)
        return
    person = config.person(name)
    # A configured person signs in with their own passcode (or link), never a shared one.
    attempt = attempt_limiter().attempt(
        _client(), lambda: config.check_passcode(person.name if person is not None else wanted, given)
    )
    if not attempt.ok:
        st.session_state[S.AUTH_REFUSED] = _refusal(attempt, REFUSED)
        return
    if person is not None:
        _grant(person.name, attempt.result)
        return
    # A shared passcode: the person chooses a display name, but not a personal identity's
    # (checked only after the passcode, so a visitor without it learns nothing about names).
    try:
        name = config.check_shared_name(name)
    except ValueError as exc:
        st.session_state[S.AUTH_REFUSED] = str(exc)
        return
    _grant(name, attempt.result)  # fixed for this session, like a personal sign-in


def sign_in_form(access: Access) -> None:
    """The only thing a visitor without a role sees (team mode)."""
    st.title("Sign in")
    config = access.config
    if access.error is not None:
        # The details name people, e-mail addresses and keys of the secrets: for the server log only.
        _log_config_error(access.error)
        st.error(MISCONFIGURED)
        return
    refused = st.session_state.get(S.AUTH_REFUSED)
    if refused:
        st.error(refused)
    email = oidc_email()
    if email is not None:
        st.warning(f"You are signed in as {escape_markdown(email)}, which has no role in this project. Ask its admin.")
    if config is not None and config.uses_passcodes:
        roles = [r.value for r in (Role.LABELLER, Role.ADMIN)
                 if (config.labeller_passcode if r is Role.LABELLER else config.admin_passcode) is not None]
        named = any(p.passcode is not None for p in config.people)
        with st.form("sign_in", border=True, enter_to_submit=True):
            if st.session_state.get(S.SIGNIN_NAME) is None:
                url_name = st.query_params.get(S.QP_LABELLER)
                st.session_state[S.SIGNIN_NAME] = "" if url_name in (None, S.DEFAULT_LABELLER) else url_name
            st.text_input("Your name", key=S.SIGNIN_NAME, max_chars=64,
                          help="Recorded with every label you make.")
            if len(roles) > 1:
                st.radio("Sign in as", roles, key=S.SIGNIN_AS, horizontal=True, format_func=str.capitalize)
            elif roles:
                st.session_state[S.SIGNIN_AS] = roles[0]
            st.text_input("Passcode", type="password", key=S.SIGNIN_PASSCODE, autocomplete="current-password",
                          help="Your personal passcode, or your team's." if named else "Your team's passcode.")
            st.form_submit_button("Sign in", key=S.SIGNIN_SUBMIT, type="primary", on_click=_check_sign_in)
    if config is not None and config.uses_tokens:
        st.caption("Have an invitation link? Open it: it signs you in.")
    if config is not None and config.uses_emails:
        if oidc_configured(_secrets()):
            if st.button("Sign in with your account", key=S.SIGNIN_OIDC):
                try:
                    st.login()
                except Exception as exc:  # noqa: BLE001 — e.g. Authlib missing, provider misconfigured
                    _log_config_error(f"st.login() failed: {type(exc).__name__}: {exc}")
                    st.error(OIDC_UNAVAILABLE)
    st.caption("Signing in lasts for this browser tab: a refresh asks again (an invitation link signs you in again).")


def guard(page_key: str) -> Access:
    """First call of every page: stop here unless this session may open ``page_key``.

    Also repairs a run that Streamlit started without ``app.py`` (the first run
    of a fresh server process, and every AppTest run, routes by the ``pages/``
    folder): it switches the process to ``st.navigation`` routing and runs
    ``app.py`` in its place, which registers only the role's pages and runs this
    page again (then with the checks below).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - Streamlit moved it: the checks below still hold
        PagesManager = None
    if PagesManager is not None and PagesManager.uses_pages_directory:
        # Streamlit ran this page straight from the pages/ folder: route this very run
        # through app.py instead (a rerun would drop the click that started it).
        PagesManager.uses_pages_directory = False
        ctx = get_script_run_ctx()
        if ctx is not None:
            runpy.run_path(ctx.pages_manager.main_script_path, run_name="__main__")
            st.stop()
    access = current_access()
    if access.may_open(page_key):
        return access
    if access.role is None:
        sign_in_form(access)
    else:
        st.error("This page is for admins. Your role opens: "
                 + ", ".join(sorted(pages_for(access.role))) + ".")
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover


def sidebar(access: Access) -> None:
    """The sidebar's line about the mode and the person; a sign-out button in team mode."""
    if access.error is not None:
        st.caption("Sign-in is not possible: the secrets cannot be used (see the page).")
    elif access.single_user:
        st.caption("Single-user mode: every page is open. Add passcodes to the secrets to share with a team.")
    elif access.role is None:
        st.caption("Team mode: sign in to see the project.")
    else:
        who = access.name or st.session_state.get(S.LABELLER) or ""
        st.caption(f"Team mode · signed in as **{escape_markdown(who)}** ({access.role.value})")
        st.button("Sign out", key=S.SIGN_OUT, on_click=sign_out)
