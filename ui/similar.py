""""Show similar" and bulk labels, shared by the Label and Review pages.

The nearest items (:func:`superintendent_core.learning.similar.neighbours_table`)
as a grid with a checkbox each (unlabelled ones first and ticked; labelled ones
are not ticked and say by whom and how only to those who see everyone's labels,
else just "labelled"; the labeller's own, any labelled one for a user who does
not manage the project, and any with ``overlap`` labellers cannot be chosen: a
bulk label never replaces a label nor reveals others' work), a class, "Label N chosen items"
(``store.bulk_label``) and "Undo bulk label" (``store.undo``, which removes a
bulk as one step). The list is computed once per (item, store revision) and
kept in the session; a tick only redraws it.
"""

from __future__ import annotations

import streamlit as st

from superintendent_core.auth import Capability
from superintendent_core.kinds import Picture, Rows, Text, display_of
from superintendent_core.learning.similar import neighbours_table
from superintendent_core.store import StoreError

from . import state as S
from .auth import current_access
from .project import Project
from .widgets import text_label

#: Neighbours listed.
K = 24
#: Columns of the grid.
COLUMNS = 4
#: Longest side of a picture in the grid, in pixels.
THUMB = 96
#: Characters of a text shown in the grid.
TEXT_CHARS = 160


def _table(project: Project, where: str, item_id: int, labeller: str):
    store = project.store
    key = (where, int(item_id), labeller, store.revision())
    cached = st.session_state.get(S.SIMILAR_CACHE)
    if cached is not None and cached[0] == key:
        return cached[1]
    table = neighbours_table(store, int(item_id), labeller, K)
    st.session_state[S.SIMILAR_CACHE] = (key, table)
    return table


def _rights() -> tuple[bool, bool]:
    """(sees everyone's labels, manages the project) for this session."""
    access = current_access()
    role = access.role if access.error is None else None
    if role is None:
        return False, False
    return role.sees_everyone, role.may(Capability.MANAGE)


def _blocked(table, manages: bool, overlap: int) -> list[bool]:
    """Rows that cannot be chosen: the labeller's own; any labelled one unless the user manages
    the project; any with ``overlap`` labellers already."""
    return [bool(mine) or (bool(labelled) and not manages) or int(n) >= overlap
            for mine, labelled, n in zip(table["mine"], table["labelled"], table["n_labellers"], strict=True)]


def _chosen(where: str, item_id: int, table, manages: bool, overlap: int) -> list[int]:
    return [int(i) for i, blocked in zip(table["item_id"], _blocked(table, manages, overlap), strict=True)
            if not blocked and st.session_state.get(S.similar_pick_key(where, item_id, int(i)))]


def _label_chosen(project: Project, where: str, item_id: int, labeller: str) -> None:
    _, manages = _rights()  # decided again when the click arrives, not trusted from the drawing run
    overlap = int(project.store.settings.overlap)
    table = (st.session_state.get(S.SIMILAR_CACHE) or (None, None))[1]
    label = st.session_state.get(S.similar_label_key(where))
    if table is None:
        return
    chosen = _chosen(where, item_id, table, manages, overlap)
    if not chosen:
        S.notify(st.session_state, "info", "No item is ticked: tick the items to label first.")
        return
    if label is None or label == []:
        S.notify(st.session_state, "info", "Choose the label to give them first.")
        return
    try:
        n = project.store.bulk_label(chosen, label, labeller)
    except StoreError as exc:  # InvalidInput / UnknownItem included: the message names what is wrong
        S.notify(st.session_state, "error", str(exc))
        return
    for i in chosen:  # now labelled (by this labeller): shown unticked, and they cannot be chosen
        st.session_state[S.similar_pick_key(where, item_id, i)] = False
    shown = label if isinstance(label, str) else "|".join(label)
    S.notify(st.session_state, "success",
             f"Labelled {n} item(s) as {shown} in one step. \"Undo bulk label\" removes all {n}.")


def _undo_bulk(project: Project, labeller: str) -> None:
    try:
        n = project.store.last_bulk(labeller)
        if not n:
            S.notify(st.session_state, "info", "Your last label is not a bulk label; nothing was undone.")
            return
        project.store.undo(labeller)
    except StoreError as exc:
        S.notify(st.session_state, "error", str(exc))
        return
    S.notify(st.session_state, "success", f"Undid your bulk label: {n} label(s) removed.")


def _cell(project: Project, row) -> None:
    try:
        item = project.store.item(int(row.item_id))
        view = display_of(item, THUMB)
    except (StoreError, ValueError):
        st.text("(cannot be shown)")
        return
    if isinstance(view, Picture):
        st.image(view.png, output_format="PNG", width=THUMB)
    elif isinstance(view, Text):
        text = view.text if len(view.text) <= TEXT_CHARS else view.text[:TEXT_CHARS] + "…"
        st.text(text)
    elif isinstance(view, Rows):
        st.text("\n".join(f"{c}: {v}" for c, v in view.rows[:6]))


def similar_panel(project: Project, where: str, item_id: int | None, labeller: str) -> None:
    """The "Show similar" toggle and, when on, the grid, the label choice and the two actions.

    ``where``: ``"label"`` or ``"review"`` (widget keys differ per page).
    """
    store = project.store
    n_bulk = 0
    try:
        n_bulk = store.last_bulk(labeller)
    except StoreError:
        pass
    if n_bulk:
        st.button(f"Undo bulk label ({n_bulk} item{'s' if n_bulk != 1 else ''})", key=S.similar_undo_key(where),
                  on_click=_undo_bulk, args=(project, labeller))
    if item_id is None or not st.toggle("Show similar", key=S.similar_show_key(where),
                                        help="The items nearest to this one in the model's features (cosine)."):
        return
    try:
        with st.spinner("Finding similar items…"):  # the first time: the pool's features are read once
            table = _table(project, where, item_id, labeller)
    except (StoreError, ValueError) as exc:
        st.error(text_label(f"Similar items cannot be found: {exc}"))
        return
    if not len(table):
        st.info("No other items to compare with.")
        return
    sees_everyone, manages = _rights()
    settings = store.settings
    blocked = _blocked(table, manages, int(settings.overlap))
    n_open = int((~table["labelled"]).sum())
    why = "yours cannot be chosen" if manages else "they cannot be chosen"
    st.caption(f"The {len(table)} nearest items: {n_open} unlabelled (ticked), "
               f"{len(table) - n_open} labelled (not ticked; {why}).")
    for start in range(0, len(table), COLUMNS):
        cols = st.columns(COLUMNS)
        rows = table.iloc[start : start + COLUMNS].itertuples()
        for col, row, off in zip(cols, rows, blocked[start : start + COLUMNS], strict=False):
            with col.container(border=True):
                _cell(project, row)
                st.text(f"{row.name}\nsimilarity {row.similarity:.2f}")
                if row.labelled:  # who labelled it and how: only for those who may see everyone's labels
                    st.text(f"labelled — {row.labels}" if sees_everyone else "labelled")
                st.checkbox("choose", key=S.similar_pick_key(where, item_id, int(row.item_id)),
                            value=not row.labelled and not off, disabled=off)
    options = list(settings.classes)
    left, right = st.columns([2, 2], vertical_alignment="bottom")
    if settings.multi_label:
        left.multiselect("Label for the chosen items", options, key=S.similar_label_key(where),
                         format_func=text_label)
    else:
        left.selectbox("Label for the chosen items", options, key=S.similar_label_key(where), index=None,
                       format_func=text_label, placeholder="Choose a class")
    chosen = _chosen(where, item_id, table, manages, int(settings.overlap))
    right.button(f"Label {len(chosen)} chosen item{'s' if len(chosen) != 1 else ''}",
                 key=S.similar_apply_key(where), type="primary", disabled=not chosen,
                 on_click=_label_chosen, args=(project, where, item_id, labeller))
