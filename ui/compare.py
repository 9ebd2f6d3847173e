"""The Model page's "Compare strategies on my labels" section: start, progress, curves, advice, switch.

The work is :class:`superintendent_core.service.compare.ComparisonRunner` (a
separate, low-priority process); this module keeps one runner per open project
in the process registry (:mod:`ui.runtime`, out of any client's reach), polls
it with a fragment while it runs, and draws its result. ``pages/model.py``
calls :func:`render` with one line.
"""

from __future__ import annotations

import threading

import altair as alt
import streamlit as st

from superintendent_core.auth import Capability
from superintendent_core.service.compare import ComparisonRunner, JobStatus, display_name
from superintendent_core.store import StoreError
from superintendent_core.strategies import DEFAULT_STRATEGY

from . import runtime
from . import state as S
from .auth import current_access
from .project import Project
from .widgets import rerun_keeping_notices, say, text_label

__all__ = ["comparison_runner", "render"]

#: Seconds between two looks at a running comparison.
POLL_SECONDS = 2.0

INTRO = (
    "Replays the items you have labelled as if they were a fresh pool, once per strategy: the default, margin, "
    "random and your current one, and draws how fast each one's model improves. The accuracies are measured on "
    "a held-out part of *your labelled items*, which were chosen because the model found them hard: they read "
    "lower than the model's accuracy on new items. Compare the curves with each other, not with other numbers. "
    "It runs in the background, in its own process; labelling goes on meanwhile."
)


@runtime.process_wide()
def _slots() -> threading.Semaphore:
    """At most one comparison worker per app process (the machine's other core stays for labelling)."""
    return threading.Semaphore(1)


@runtime.process_wide(close=lambda runner: runner.close())
def _runner(path: str, store) -> ComparisonRunner:
    return ComparisonRunner(store, slots=_slots())


#: The store each project path's runner was made for (to close a runner whose project was reopened).
_LATEST: dict[str, object] = {}
_LATEST_LOCK = threading.Lock()


def comparison_runner(project: Project) -> ComparisonRunner:
    """The project's runner, one per process and open store.

    Keyed by the store object itself (hashed by identity): a project reopened
    after a restore gets a new runner, and the old one is closed (its job cancelled).
    """
    with _LATEST_LOCK:
        old = _LATEST.get(project.path)
        _LATEST[project.path] = project.store
    if old is not None and old is not project.store:
        _runner.clear(project.path, old)
    return _runner(project.path, project.store)


def _may_manage() -> bool:
    access = current_access()
    return access.error is None and access.role is not None and access.role.may(Capability.MANAGE)


def _label(name: str, current: str) -> str:
    return display_name(name) + (" — current" if name == current else "")


def chart(status: JobStatus) -> alt.Chart:
    """One chart: each strategy's mean accuracy against labels, with the band of its runs."""
    result = status.result
    data = result.curves.assign(strategy=[_label(n, result.current) for n in result.curves["strategy"]])
    order = [_label(n, result.current) for n in dict.fromkeys(result.curves["strategy"])]
    colour = alt.Color(
        "strategy:N", sort=order, title="strategy", scale=alt.Scale(scheme="category10"),
        legend=alt.Legend(orient="bottom", labelLimit=400),
    )
    span = [int(data["n_labels"].min()), int(data["n_labels"].max())]
    x = alt.X("n_labels:Q", title="labels", scale=alt.Scale(domain=span, nice=False),
              axis=alt.Axis(format="d", tickMinStep=1))
    low = float(data["accuracy_low"].min())
    scale = alt.Scale(domain=[max(0.0, round(low - 0.05, 1)), 1.0])
    band = alt.Chart(data).mark_area(opacity=0.15).encode(
        x=x, y=alt.Y("accuracy_low:Q", scale=scale), y2="accuracy_high:Q", color=colour
    )
    line = alt.Chart(data).mark_line(point=True).encode(
        x=x,
        y=alt.Y("accuracy:Q", title="accuracy on held-out labelled items", scale=scale),
        color=colour,
        tooltip=[
            "strategy", "n_labels", alt.Tooltip("accuracy:Q", format=".3f", title="mean"),
            alt.Tooltip("accuracy_low:Q", format=".3f", title="lowest run"),
            alt.Tooltip("accuracy_high:Q", format=".3f", title="highest run"),
        ],
    )
    return band + line


def _switch(project: Project, name: str) -> None:
    """Make ``name`` the project's strategy, as the settings form does (None stands for the default)."""
    settings = project.store.settings
    wanted = None if name == DEFAULT_STRATEGY else name
    if settings.strategy == name or (wanted is None and settings.strategy is None):
        return
    try:
        project.store.update_settings(strategy=wanted)
    except (StoreError, ValueError) as exc:
        S.notify(st.session_state, "error", str(exc))
        return
    # The settings form's strategy box is a keyed widget: it would keep showing (and, on its next
    # save, write back) the old strategy. Dropping its state makes it read the project's again.
    st.session_state.pop(S.MODEL_STRATEGY, None)
    S.notify(st.session_state, "success", f"Strategy switched to {display_name(name)}; it applies from the next retrain.")


def _result(project: Project, runner: ComparisonRunner, status: JobStatus) -> None:
    result = status.result
    labelled_now = project.store.progress().labelled
    if status.key != runner.key():
        st.caption(text_label(
            f"Compared on {result.n_labelled:,} labels; the project has {labelled_now:,} now (or other settings): "
            "press the button again to compare on the current ones."
        ))
    if result.recommended is not None:
        say("success", result.advice)
    else:
        say("info", result.advice)
    st.altair_chart(chart(status), width="stretch")
    st.caption(text_label(
        "Lines: mean over the runs; shaded: the lowest to the highest run. " + result.parameters_text
    ))
    for note in result.notes:
        st.caption(f"ℹ️ {text_label(note)}")
    current = project.store.settings.strategy or DEFAULT_STRATEGY
    if result.recommended is not None and result.recommended != current:
        label = text_label(f"Switch to {display_name(result.recommended)}")
        if st.button(label, key=S.COMPARE_SWITCH, on_click=_switch, args=(project, result.recommended)):
            st.rerun()  # the whole page (a click inside the fragment reruns only the fragment)


def _live(project: Project, runner: ComparisonRunner, was_active: bool) -> None:
    """The section's changing part: progress while the job runs, then its outcome."""
    status = runner.status()
    if was_active and not status.active:
        rerun_keeping_notices()  # the whole page once more: stop polling, draw the outcome
    if status.active:
        st.progress(min(1.0, max(0.0, status.fraction)), text=text_label(status.message or "Comparing…"))
        if st.button("Cancel the comparison", key=S.COMPARE_CANCEL):
            runner.cancel()
        return
    if status.state == "failed":
        say("warning", status.error or "The comparison failed.")
    elif status.state == "cancelled":
        st.caption("The last comparison was cancelled.")
    elif status.state == "done" and status.result is not None:
        _result(project, runner, status)


def render(project: Project) -> None:
    """The section, for a role that may train and change settings; nothing for the others."""
    if not _may_manage():
        return
    st.subheader("Compare strategies on my labels")
    st.caption(INTRO)
    runner = comparison_runner(project)
    if st.button("Compare strategies on my labels", key=S.COMPARE_START, disabled=runner.status().active):
        try:
            started = runner.start()
        except ValueError as exc:  # too few labels, one class, multi-label: the reason, no chart
            say("warning", exc)
        except RuntimeError as exc:
            say("error", exc)
        else:
            if started.active:
                st.rerun()  # draw the running state (the button above was drawn before it started)
    active = runner.status().active
    st.fragment(_live, run_every=POLL_SECONDS if active else None)(project, runner, active)
