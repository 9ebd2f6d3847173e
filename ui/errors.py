"""Unexpected failures: a plain message with a short error id in the browser, the traceback in the server log.

Streamlit's own error display would send the exception's type, message and
traceback (server paths included) to whoever has the link; ``.streamlit/config.toml``
turns that off (``client.showErrorDetails = "none"``) and :func:`reported_failures`
replaces it with a sentence a person can act on. The error id ties the sentence
to the server log's full record, so the admin can find it.

Streamlit's control flow (``st.rerun``, ``st.stop``, ``st.switch_page`` raise
``RerunException`` / ``StopException``) passes through untouched. A fragment's
rerun (a click inside ``@st.fragment``) does not pass through ``app.py``, so a
fragment wraps its own body.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

__all__ = ["FAILED", "new_error_id", "reported_failures"]

log = logging.getLogger("superintendent.app")

FAILED = (
    "Something went wrong on this page (error {error_id}). Labels already recorded are kept. "
    "Reload the page to continue; if it happens again, give your project's admin the error id "
    "{error_id}: the details are in the server log."
)


def new_error_id() -> str:
    """Eight random hex characters: short enough to read out, unique enough to find in a log."""
    return secrets.token_hex(4)


@contextmanager
def reported_failures(where: str) -> Iterator[None]:
    """Run a page: an unexpected exception is logged with an error id and shown as :data:`FAILED`.

    Parameters
    ----------
    where : str
        What was running (a page's title), for the log line.
    """
    try:
        yield
    except (ScriptControlException, FragmentHandledException):
        # st.rerun / st.stop / st.switch_page are Streamlit's control flow, not failures; a fragment
        # reports its own failures (and already did when it raises FragmentHandledException).
        raise
    except Exception:
        error_id = new_error_id()
        log.exception("Unexpected error %s on page %r", error_id, where)
        st.error(FAILED.format(error_id=error_id), icon=":material/error:")
