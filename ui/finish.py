"""The Model page's "Finish with the model" section: every item, labelled by a person or by the model.

The engine (:mod:`superintendent_core.data.finish`) decides what the table holds
and says what its accuracy is; this section shows that summary, a format choice
and a download. The file is made only when asked ("Prepare the download"), never
on a rerun, and kept in the session until the next one. The summary it is made
from (the plan) is computed once per change of labels or model and shared by
every session of the process. Like every download of labels it needs
:attr:`ui.auth.Access.may_download` (admins; everyone in single-user mode):
without it the section draws nothing.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from superintendent_core.data.finish import (
    FORMATS,
    MIME,
    FinishPlan,
    FinishSummary,
    plan_finish,
    write_finish,
)
from superintendent_core.store import StoreError

from . import runtime
from . import state as S
from .auth import current_access
from .project import Project
from .widgets import say, text_label

FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet"}
#: The process registry's key of a project's latest plan (:func:`_plan`).
_PLAN_KEY = "ui.finish.plan"


@dataclass(frozen=True)
class PreparedFile:
    """A file made on request: its bytes, what it holds, and the state it was made from."""

    key: tuple
    fmt: str
    data: bytes
    summary: FinishSummary
    made: float


def _model(project: Project) -> Any:
    """The newest model's predictions: this process's snapshot or the store's saved suggestions."""
    return project.scheduler.suggestions()


def _key(project: Project, model: Any) -> tuple:
    """Changes whenever the table or its summary would: labels, items, the model, the history."""
    store = project.store
    revision = store.revision()
    if model is None:
        which: tuple = ("none",)
    elif hasattr(model, "pool_ids"):
        which = ("snapshot", model.version, model.stored_version)
    else:
        which = ("saved", model.version)
    return (project.path, revision.items, revision.events, which, len(store.history()))


class _LatestPlan:
    """A project's latest plan and its key, shared by every session of the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.plan: FinishPlan | None = None


def _plan(project: Project, model: Any, key: tuple) -> FinishPlan:
    """The plan of the current labels and model, read once per change (not on every rerun).

    Kept once per open project in the process registry (:mod:`ui.runtime`), not in each
    session's state: a plan holds the model's prediction for every item (1M items: about
    24 MB), and a session kept its plan, and with it an old model's arrays, for as long as
    the session lived, whatever retrains came since. The plan depends only on the project
    and its model, so every session may share it.
    """
    latest = runtime.registry().get((_PLAN_KEY, project.path, id(project.store)), _LatestPlan)
    with latest.lock:
        if latest.plan is not None and latest.key == key:
            return latest.plan
    plan = plan_finish(project.store, model)
    with latest.lock:
        latest.key, latest.plan = key, plan  # the previous plan (and its arrays) is dropped here
    return plan


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def _file_name(project: Project, fmt: str) -> str:
    return f"{Path(project.path).name or 'project'}-finished.{fmt}"


def _prepare(plan: FinishPlan, key: tuple, fmt: str) -> PreparedFile:
    sink = io.BytesIO()
    write_finish(plan, sink, fmt)
    return PreparedFile(key, fmt, sink.getvalue(), plan.summary, time.time())


def render(project: Project) -> None:
    """Draw the section (nothing at all for a role that may not download labels)."""
    if not current_access().may_download:
        return
    st.subheader("Finish with the model")
    st.caption(
        "Download every item: the human label where there is one, otherwise the model's prediction with its "
        "probability; the `source` column says which (`human`, `model`, or `none` when there is neither)."
    )
    try:
        model = _model(project)
        key = _key(project, model)
        plan = _plan(project, model, key)
    except (StoreError, ValueError) as exc:
        say("error", exc)
        return
    summary = plan.summary
    st.markdown(text_label(summary.headline()))
    say("info", summary.accuracy)
    if summary.stale:
        say("warning", summary.stale)
    fmt = st.radio("Format", FORMATS, format_func=FORMAT_LABELS.get, horizontal=True, key=S.FINISH_FORMAT)
    if st.button("Prepare the download", key=S.FINISH_PREPARE,
                 help="Writes the file now, from the labels and the model as they are."):
        try:
            with st.spinner(f"Writing {summary.n_items:,} items…"):
                st.session_state[S.FINISH_FILE] = _prepare(plan, key, fmt)
        except (StoreError, ValueError, OSError) as exc:
            say("error", exc)
    prepared: PreparedFile | None = st.session_state.get(S.FINISH_FILE)
    if prepared is None or prepared.fmt != fmt:
        st.caption("The file is written when you press *Prepare the download*.")
        return
    when = time.strftime("%H:%M:%S UTC", time.gmtime(prepared.made))
    st.download_button(
        f"Download ({FORMAT_LABELS[fmt]}, {_size(len(prepared.data))})", prepared.data,
        _file_name(project, fmt), MIME[fmt], key=S.FINISH_DOWNLOAD, on_click="ignore", type="primary",
    )
    changed = "" if prepared.key == key else " The labels or the model have changed since: prepare it again for the latest."
    st.caption(text_label(f"Prepared at {when}: {prepared.summary.headline()}") + changed)
