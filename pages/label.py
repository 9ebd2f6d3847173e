"""Label page: one item, one button per class (multi-label: one on/off button per class), the next item at once.

A click runs only a store call (in the button's callback) and the redraw of the
fragment: no refit, no pool reload, no re-rank. The model's suggestion comes
from the newest retrain, in this process or another (``orchestrate``) that saved
its suggestions in the project (a binary search; the stored ones are read once
per version), so nothing here imports scikit-learn.
"""

import time

import streamlit as st

from superintendent_core.labels import split_labels
from superintendent_core.store import StoreError
from ui import state as S
from ui.auth import guard
from ui.errors import reported_failures
from ui.project import Project
from ui.shortcuts import (
    ACCEPT_KEY,
    MULTI_RESERVED_SHORTCUTS,
    NONE_KEY,
    RESERVED_SHORTCUTS,
    SKIP_KEY,
    shortcut_keys,
)
from ui.similar import similar_panel
from ui.widgets import (
    current_labeller,
    draw_item,
    require_project,
    say,
    show_notices,
    text_label,
)

UNDO_KEY = "Backspace"
NO_ITEMS = "This project has no items yet: ask your project's admin to add some, then come back."
NO_CLASSES = "This project has no classes yet: ask your project's admin to define them, then come back."
SUBMIT_KEY = "Enter"
NOTHING_TOGGLED = (
    'Nothing is toggled on: turn on the classes that apply, or press "None of these" if none does.'
)
#: How a multi-label class button shows that it is on / off.
TOGGLE_ON = ":material/check_box:"
TOGGLE_OFF = ":material/check_box_outline_blank:"


def _seconds(item_id: int) -> float | None:
    shown = st.session_state.get(S.SHOWN)
    if shown and shown[0] == item_id:
        return time.monotonic() - shown[1]
    return None


def _submit(project: Project, item_id: int, label, labeller: str) -> None:
    try:
        retraining = project.label(item_id, label, labeller, seconds=_seconds(item_id))
    except StoreError as exc:
        S.notify(st.session_state, "error", str(exc))
        return
    st.session_state[S.LAST_LABELLED] = item_id
    if retraining:
        S.notify(st.session_state, "info", "Retraining in the background…")


def _chosen(item_id: int) -> frozenset[int]:
    """Indices of the classes toggled on for ``item_id`` (none for any other item)."""
    chosen = st.session_state.get(S.LABEL_CHOSEN)
    return chosen[1] if chosen and chosen[0] == item_id else frozenset()


def _flip(item_id: int, index: int) -> None:
    st.session_state[S.LABEL_CHOSEN] = (item_id, _chosen(item_id) ^ {index})


def _submit_toggles(project: Project, item_id: int, classes: tuple[str, ...], labeller: str) -> None:
    """Enter / Submit: save the classes toggled on; with none on, a hint (the empty label needs "None of these")."""
    chosen = _chosen(item_id)
    if not chosen:
        S.notify(st.session_state, "info", NOTHING_TOGGLED)
        return
    _submit(project, item_id, [c for i, c in enumerate(classes) if i in chosen], labeller)
    st.session_state[S.LABEL_CHOSEN] = None


def _submit_none(project: Project, item_id: int, labeller: str) -> None:
    _submit(project, item_id, [], labeller)
    st.session_state[S.LABEL_CHOSEN] = None


def _skip(project: Project, item_id: int, labeller: str) -> None:
    try:
        project.store.skip(item_id, labeller)
    except StoreError as exc:
        S.notify(st.session_state, "error", str(exc))


def _undo(project: Project, labeller: str) -> None:
    try:
        undone = project.store.undo(labeller)
    except StoreError as exc:
        S.notify(st.session_state, "error", str(exc))
        return
    if undone is None:
        S.notify(st.session_state, "info", "Nothing to undo: you have no labels in this project yet.")
    else:
        st.session_state[S.SHOWN] = None


def _progress(project: Project, labeller: str):
    progress = project.store.progress()
    st.progress(progress.fraction, text=f"{progress.labelled:,} / {progress.total:,} labelled")
    mine = progress.per_labeller.get(labeller, 0)
    parts = [f"you: {mine:,}"] if len(progress.per_labeller) > 1 or project.store.settings.overlap > 1 else []
    parts += [f"{text_label(c)}: {n:,}" for c, n in progress.per_class.items()]
    if parts:
        st.caption(" · ".join(parts))
    return progress


def _suggestion(project: Project, item_id: int) -> tuple[str, float] | None:
    # this process's latest retrain, or what another process (orchestrate) saved in the project
    return project.scheduler.suggestion(item_id)


def _preannotation(project: Project, item_id: int, labeller: str, multi_label: bool) -> None:
    """The item's pre-annotation (a label another model made), highlighted, with a one-key accept."""
    try:
        found = project.store.preannotation(item_id)
    except StoreError:
        return
    if found is None:
        return
    text, score = found
    shown = text_label(text if text else "(none of the classes)")
    score_text = "" if score != score else f" · score {score:.2f}"  # NaN: no score given
    with st.container(border=True, key=S.LABEL_PRE_BOX):
        st.markdown(f":material/assistant: Pre-annotation: **:blue-background[{shown}]**{score_text}")
        st.button(
            "Accept pre-annotation",
            key=S.LABEL_ACCEPT,
            shortcut=ACCEPT_KEY,
            type="primary",
            on_click=_submit,
            args=(project, item_id, list(split_labels(text)) if multi_label else text, labeller),
            help="Saves it as your label for this item (like clicking its class).",
        )


def _class_buttons(project, item_id, classes, labeller, suggested):
    keys = shortcut_keys(classes, reserved=RESERVED_SHORTCUTS)
    per_row = 5 if len(classes) <= 10 else 6
    for start in range(0, len(classes), per_row):
        columns = st.columns(per_row)
        for offset, name in enumerate(classes[start : start + per_row]):
            i = start + offset
            columns[offset].button(
                text_label(name),  # every labeller sees these: a class name is text, never Markdown
                key=S.label_class_key(i),
                shortcut=keys[i],
                type="primary" if name == suggested else "secondary",
                width="stretch",
                on_click=_submit,
                args=(project, item_id, name, labeller),
            )


def _class_toggles(project, item_id, classes, labeller, suggested):
    """One button per class that flips it on/off (a button can carry a shortcut; a toggle cannot), then
    Submit (Enter, global: it works wherever the focus is) and "None of these" (the empty label, on purpose)."""
    keys = shortcut_keys(classes, reserved=MULTI_RESERVED_SHORTCUTS)
    suggested_classes = set(split_labels(suggested)) if suggested else set()
    chosen = _chosen(item_id)
    columns = st.columns(min(4, max(1, len(classes))))
    for i, name in enumerate(classes):
        label = text_label(name)  # a class name is text, never Markdown
        columns[i % len(columns)].button(
            f"**{label}**" if name in suggested_classes else label,
            key=S.label_toggle_key(i),
            shortcut=keys[i],
            icon=TOGGLE_ON if i in chosen else TOGGLE_OFF,
            type="primary" if i in chosen else "secondary",
            width="stretch",
            on_click=_flip,
            args=(item_id, i),
        )
    submit, none = st.columns(2)
    submit.button(
        "Submit",
        key=S.LABEL_SUBMIT,
        shortcut=SUBMIT_KEY,
        type="primary",
        width="stretch",
        on_click=_submit_toggles,
        args=(project, item_id, classes, labeller),
    )
    none.button(
        "None of these",
        key=S.LABEL_NONE,
        shortcut=NONE_KEY,
        width="stretch",
        on_click=_submit_none,
        args=(project, item_id, labeller),
    )


@st.fragment
def labelling(project: Project, labeller: str, manages: bool) -> None:
    """The part a click redraws: progress, the item, the buttons.

    A click inside reruns only this function, not app.py's wrapper of the page:
    failures here are reported here too (a sentence with an error id).
    """
    with reported_failures("Label"):
        _labelling(project, labeller, manages)


def _labelling(project: Project, labeller: str, manages: bool) -> None:
    show_notices()
    store = project.store
    settings = store.settings
    try:
        item_id = store.next_item(labeller)
        progress = _progress(project, labeller)
    except StoreError as exc:
        say("error", exc)
        return
    if item_id is None:
        if progress.total == 0:
            if manages:
                st.info("This project has no items yet. Add some on the Data page.")
                st.page_link("pages/data.py", label="Data page", icon=":material/folder_open:",
                             query_params=st.query_params.to_dict())
            else:  # the Data page is not theirs: a link to it would lead to "page not found"
                st.info(NO_ITEMS)
        elif progress.labelled >= progress.total:
            st.success(f"Done: all {progress.total:,} items are labelled. Retrain or export your labels.")
        else:
            st.success(
                "Nothing left for you right now: the remaining items are being labelled by others "
                "(they come back if not finished in time)."
            )
        st.button("Undo my last label", key=S.LABEL_UNDO, shortcut=UNDO_KEY, on_click=_undo, args=(project, labeller))
        return

    shown = st.session_state.get(S.SHOWN)
    if not shown or shown[0] != item_id:
        st.session_state[S.SHOWN] = (item_id, time.monotonic())
    try:
        item = store.item(item_id)
    except StoreError as exc:
        say("error", exc)
        return

    suggestion = _suggestion(project, item_id)
    left, right = st.columns([2, 3], vertical_alignment="top")
    with left:
        draw_item(item)
    with right:
        if suggestion is not None:
            label, probability = suggestion
            st.caption(f"Model suggests **{text_label(label) if label else '(none)'}** ({probability:.0%})")
        else:
            st.caption("No model yet: the suggestion appears after the first retrain.")
        _preannotation(project, item_id, labeller, settings.multi_label)
        if settings.multi_label:
            _class_toggles(project, item_id, settings.classes, labeller, suggestion and suggestion[0])
        else:
            _class_buttons(project, item_id, settings.classes, labeller, suggestion and suggestion[0])
        skip, undo = st.columns(2)
        skip.button(
            "Skip", key=S.LABEL_SKIP, shortcut=SKIP_KEY, width="stretch", on_click=_skip, args=(project, item_id, labeller)
        )
        undo.button("Undo", key=S.LABEL_UNDO, shortcut=UNDO_KEY, width="stretch", on_click=_undo, args=(project, labeller))
        scheduler = project.scheduler
        if scheduler.running:
            st.caption("Retraining in the background…")
        elif scheduler.error and settings.retrain_every:
            st.caption(text_label(f"Last automatic retrain failed: {scheduler.error}"))
    similar_panel(project, "label", item_id, labeller)


manages = guard("label").may_open("data")  # only then may the page link to the Data page
project = require_project()
labeller = current_labeller()
if not project.store.settings.classes:
    if manages:
        st.warning("This project has no classes yet: define them on the Data page before labelling.")
        st.page_link("pages/data.py", label="Data page", icon=":material/folder_open:",
                     query_params=st.query_params.to_dict())
    else:
        st.warning(NO_CLASSES)
    st.stop()
labelling(project, labeller, manages)
