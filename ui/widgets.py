"""Small drawing helpers shared by the pages (messages, the labeller, items)."""

from __future__ import annotations

import logging

import streamlit as st

from superintendent_core.auth import check_labeller_name
from superintendent_core.kinds import Picture, Rows, Text, display_of
from superintendent_core.kinds.formatting import escape_markdown
from superintendent_core.kinds.image import DISPLAY_SIZE, data_url
from superintendent_core.store import Item

from . import auth
from . import state as S
from .project import Project, current_project

#: Images up to this size (PNG bytes) are sent inline with the page update.
INLINE_IMAGE_BYTES = 64_000

log = logging.getLogger("superintendent.app")


def text_label(text: object) -> str:
    """A user's text (a project, class, item, file or labeller name, an item's text, a message that
    echoes one) for any place Streamlit reads Markdown — ``st.markdown``, captions, messages, widget
    labels and tooltips, radio options: shown literally, never as a link, an image, HTML or a colour."""
    return escape_markdown(str(text))


def say(kind: str, text: object) -> None:
    """``st.error`` / ``warning`` / ``info`` / ``success`` of a message shown literally (see :func:`text_label`)."""
    getattr(st, kind, st.info)(text_label(text))


def show_notices() -> None:
    """Draw (once) the messages queued with :func:`ui.state.notify`."""
    notices = st.session_state.get(S.NOTICES) or []
    st.session_state[S.NOTICES_SHOWN] = list(notices)
    if not notices:
        return
    st.session_state[S.NOTICES] = []
    for kind, text, *_ in notices:
        say(kind, text)  # notices echo names (a project, a label, a labeller): always literal


def rerun_keeping_notices() -> None:
    """``st.rerun()`` for a rerun the page starts by itself (a poll saw news): the notices this run drew
    (e.g. "Item 3 settled as '7'") are drawn again, not lost to a rerun the person did not ask for."""
    shown = [n for n in st.session_state.get(S.NOTICES_SHOWN) or [] if not _requeued(n)]
    # marked, so that a page polling again and again shows a message twice at most, not for ever
    st.session_state[S.NOTICES] = [*(_mark(n) for n in shown), *(st.session_state.get(S.NOTICES) or [])]
    st.session_state[S.NOTICES_SHOWN] = []
    st.rerun()


_AGAIN = "again"


def _mark(notice: tuple) -> tuple:
    return (*notice[:2], _AGAIN)


def _requeued(notice: tuple) -> bool:
    return len(notice) > 2 and notice[2] == _AGAIN


#: What someone who may not open the Data page is told when the project cannot be opened.
PROJECT_UNAVAILABLE = (
    "The project cannot be opened right now. Try again in a minute; if it persists, "
    "tell your project's admin (the details are in the server log)."
)


def require_project() -> Project:
    """The session's project; otherwise a message and the page stops.

    Whoever may open the Data page (single-user mode, an admin) reads why and
    gets a link there; anyone else gets a plain sentence: no link to a page
    they do not have, no server path (the reason goes to the server log).
    """
    project, error = current_project()
    if project is None:
        if auth.current_access().may_open("data"):
            say("error", error or "No project is open.")
            st.page_link(
                "pages/data.py", label="Open or create a project on the Data page", icon=":material/folder_open:",
                query_params=st.query_params.to_dict(),
            )
        else:
            log.warning("The project cannot be opened for a non-admin session: %s", error)
            st.error(PROJECT_UNAVAILABLE)
        st.stop()
    return project


# --------------------------------------------------------------------------- the labeller


def sync_labeller(fixed: str | None = None, *, from_url: bool = True) -> str:
    """Keep the labeller's name in the session and in the URL; return it.

    The URL wins (a bookmark or shared link names the labeller); otherwise the
    session's name is written back (page navigation clears query parameters);
    in single-user mode a new visitor is ``"me"`` until they type a name.
    ``fixed`` (the name the sign-in gave) wins over both. ``from_url=False``
    (a signed-in session in team mode) ignores the URL's name: it is
    overwritten with the session's.
    """
    name = fixed or (st.query_params.get(S.QP_LABELLER) if from_url else None)
    try:
        name = check_labeller_name(name) if name else None
    except ValueError:
        name = None
    name = name or st.session_state.get(S.LABELLER) or S.DEFAULT_LABELLER
    st.session_state[S.LABELLER] = name
    if st.query_params.get(S.QP_LABELLER) != name:
        st.query_params[S.QP_LABELLER] = name
    return name


def current_labeller() -> str:
    """The labeller's name (set by :func:`sync_labeller` at the start of every run)."""
    return st.session_state.get(S.LABELLER) or sync_labeller()


def go(page: str) -> None:
    """Switch page, keeping the URL's labeller and project."""
    st.switch_page(page, query_params=st.query_params.to_dict())


def _rename(locked: bool = False) -> None:
    if locked:
        # A disabled field can still be sent a value by a hostile client: the sign-in's name stays.
        st.session_state[S.LABELLER_INPUT] = st.session_state.get(S.LABELLER) or S.DEFAULT_LABELLER
        return
    typed = st.session_state.get(S.LABELLER_INPUT, "")
    try:
        name = check_labeller_name(typed)
    except ValueError as exc:
        S.notify(st.session_state, "error", str(exc))
        st.session_state[S.LABELLER_INPUT] = st.session_state.get(S.LABELLER) or S.DEFAULT_LABELLER
        return
    st.session_state[S.LABELLER] = name
    st.query_params[S.QP_LABELLER] = name
    st.session_state[S.SHOWN] = None


def labeller_input(labeller: str, *, locked: bool = False) -> None:
    """Sidebar field showing (and changing) who is labelling; ``locked`` when the sign-in fixed the name."""
    if st.session_state.get(S.LABELLER_INPUT) != labeller:
        st.session_state[S.LABELLER_INPUT] = labeller
    st.text_input(
        "Labelling as",
        key=S.LABELLER_INPUT,
        on_change=_rename,
        args=(locked,),
        disabled=locked,
        help="Your sign-in gives your name; sign out to use another." if locked else
        "Recorded with every label. Kept in the page's address, so a refresh or a bookmark resumes.",
    )


# --------------------------------------------------------------------------- items


def draw_item(item: Item, *, size: int = DISPLAY_SIZE) -> None:
    """Draw an item large and readable, as its data kind says: crisp image, wrapped text or a small table."""
    try:
        view = display_of(item, size)
    except ValueError as exc:
        say("error", f"Item {item.name}: {exc}")
        return
    if isinstance(view, Picture):
        # Small images travel inside the page update as a data: URL, so the browser shows them
        # without a second request to the media endpoint; big ones go through the media store.
        png = view.png
        st.image(data_url(png) if len(png) <= INLINE_IMAGE_BYTES else png, caption=text_label(view.caption),
                 output_format="PNG")
    elif isinstance(view, Text):
        with st.container(border=True):
            st.markdown(text_label(view.text))
        st.caption(text_label(view.caption))
    elif isinstance(view, Rows):
        st.markdown(
            "| column | value |\n| --- | --- |\n"
            + "\n".join(f"| {text_label(c)} | {text_label(v)} |" for c, v in view.rows)
        )
        st.caption(text_label(view.caption))
    else:
        say("error", f"Item {item.name}: its data kind {item.kind!r} returned {type(view).__name__}, "
            "not a Picture, Text or Rows.")
