"""Review & export page: labels most likely wrong, every label, filters, corrections in place, downloads, restore."""

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from superintendent_core.data.export import (
    export_project_zip,
    import_project_zip,
    labels_csv,
    labels_parquet,
)
from superintendent_core.data.formats import EXPORT_FORMATS, export_formats, prepare_export
from superintendent_core.kinds import get_kind, preview_of
from superintendent_core.labels import SEPARATOR, split_labels
from superintendent_core.learning.label_errors import LabelErrorFinder, LabelErrors, disagreeing
from superintendent_core.service import agreement, disagreements, progress_table
from superintendent_core.store import StoreError
from ui import state as S
from ui.auth import guard
from ui.label_errors import finder_for
from ui.project import (
    Project,
    default_path,
    forget_project,
    new_folder,
    new_projects_folder,
    open_project,
    set_current_path,
)
from ui.similar import similar_panel
from ui.widgets import (
    current_labeller,
    draw_item,
    go,
    require_project,
    rerun_keeping_notices,
    say,
    text_label,
)

ROWS_PER_PAGE = 50
NO_OPINION = "—"
#: Pixels of an item's picture in the list of likely label errors.
ERROR_ITEM_SIZE = 96
#: How many more likely label errors "Show more" lists.
ERRORS_STEP = 10


def _preview(project: Project, item_id: int) -> str:
    try:
        item = project.store.item(int(item_id))
    except StoreError:
        return ""
    return preview_of(item)  # a thumbnail's data: URL, or a line of text, as the item's data kind says


def filtered_labels(project: Project, labels: pd.DataFrame, errors: LabelErrors | None) -> pd.DataFrame:
    """All labels with the out-of-fold model's opinion, filtered by the widgets drawn here.

    The opinion of a label comes only from a model fitted without it (the label-error
    finder's folds), never from the model trained on it: "—" where there is none yet.
    """
    settings = project.store.settings
    df = labels.copy()
    known = errors is not None and errors.ran
    df["model"] = errors.opinion_of(df["item_id"].to_numpy()) if known and len(df) else None
    cols = st.columns([2, 2, 1])
    classes = cols[0].multiselect("Class", list(settings.classes), key=S.REVIEW_CLASSES)
    labellers = cols[1].multiselect("Labeller", sorted(df["labeller"].unique()), key=S.REVIEW_LABELLERS)
    disagree = cols[2].toggle(
        "Model disagrees", key=S.REVIEW_DISAGREE, disabled=not known,
        help="Labels that a model fitted without them (out-of-fold, as in the list above) would give "
        "differently. Never the opinion of a model trained on the label itself.",
    )
    if classes:
        if settings.multi_label:
            keep = df["label"].map(lambda v: bool(set(split_labels(v)) & set(classes)))
        else:
            keep = df["label"].isin(classes)
        df = df[keep]
    if labellers:
        df = df[df["labeller"].isin(labellers)]
    if disagree and known:
        df = df[disagreeing(df["model"].tolist(), df["label"].tolist(), bool(settings.multi_label))]
    return df


def _fix_error(project: Project, item_id: int, labeller: str) -> None:
    label = st.session_state.get(S.review_error_label_key(item_id))
    if label is None or (not project.store.settings.multi_label and label == ""):
        return
    _apply_relabel(project, int(item_id), label, labeller)


def _apply_relabel(project: Project, item_id: int, label, labeller: str) -> None:
    """Relabel one item; the outcome is a notice at the top of the next run."""
    try:
        project.store.relabel(item_id, label, labeller)
    except (StoreError, ValueError) as exc:
        S.notify(st.session_state, "error", f"Item {item_id}: {exc}")
    else:
        S.notify(st.session_state, "success", f"Item {item_id} is now labelled {label!r}.")
        st.session_state.pop(S.REVIEW_EDITOR, None)


def _keep_label(finder: LabelErrorFinder, item_id: int, label: str) -> None:
    finder.dismiss(item_id, label)
    S.notify(st.session_state, "info", f"Item {item_id} keeps {label!r}; it leaves the list while it has that label.")


def _more_errors() -> None:
    st.session_state[S.REVIEW_ERRORS_SHOWN] = int(st.session_state.get(S.REVIEW_ERRORS_SHOWN) or ERRORS_STEP) + ERRORS_STEP


def _one_error(project: Project, finder: LabelErrorFinder, row, rank: int, labeller: str) -> None:
    settings = project.store.settings
    item_id = int(row.item_id)
    with st.container(border=True):
        cols = st.columns([1, 3, 2], vertical_alignment="center")
        name = str(item_id)
        with cols[0]:
            try:
                item = project.store.item(item_id)
            except StoreError as exc:
                say("error", f"Item {item_id}: {exc}")
            else:
                name = item.name
                draw_item(item, size=ERROR_ITEM_SIZE)
        with cols[1]:
            st.markdown(
                f"**{rank}.** {text_label(name)} · labelled **{text_label(row.given)}** · the model thinks "
                f"**{text_label(row.suggested or 'none of the classes')}**"
            )
            st.caption(text_label(row.evidence))
        with cols[2]:
            key = S.review_error_label_key(item_id)
            classes = list(settings.classes)
            if settings.multi_label:
                S.propose(st.session_state, key, [c for c in split_labels(row.suggested) if c in classes])
                st.multiselect("New label", classes, key=key, label_visibility="collapsed")
            else:
                S.propose(st.session_state, key, row.suggested if row.suggested in classes else classes[0])
                st.selectbox("New label", classes, key=key, label_visibility="collapsed")
            buttons = st.columns(2)
            buttons[0].button("Correct", key=S.review_error_fix_key(item_id), type="primary",
                              on_click=_fix_error, args=(project, item_id, labeller),
                              help=f"Relabels the item with the label chosen above, as yours ({text_label(labeller)}).")
            buttons[1].button("Label is right", key=S.review_error_keep_key(item_id),
                              on_click=_keep_label, args=(finder, item_id, str(row.given)),
                              help="Takes it off the list while it keeps this label.")


def label_errors_section(project: Project, all_labels: pd.DataFrame, labeller: str) -> LabelErrors | None:
    """The labels most likely wrong, ranked, each correctable in place; returns the finder's result."""
    finder = finder_for(project)
    result, fresh = finder.current()
    st.subheader("Labels most likely wrong")
    failed = finder.failed()
    if failed:
        say("error", f"Looking for label errors failed: {finder.error}")
    elif not fresh:
        _poll(finder)
    if result is None:
        if not failed:
            st.info("Checking every label with a model fitted without it… (in the background; labelling goes on).")
        return None
    if not result.ran:
        say("info", result.reason)
        return result
    shown = finder.shown(result, all_labels)
    note = "" if fresh else " Updating for the newest labels…"
    st.caption(text_label(result.reason + note))
    if shown.empty:
        st.success("No label looks wrong to a model that did not see it.")
        return result
    limit = int(st.session_state.get(S.REVIEW_ERRORS_SHOWN) or ERRORS_STEP)
    for rank, row in enumerate(shown.head(limit).itertuples(index=False), start=1):
        _one_error(project, finder, row, rank, labeller)
    if len(shown) > limit:
        st.button(f"Show {min(ERRORS_STEP, len(shown) - limit)} more (of {len(shown) - limit} left)",
                  key=S.REVIEW_ERRORS_MORE, on_click=_more_errors)
    return result


def _poll(finder: LabelErrorFinder) -> None:
    """While the finder is behind the labels, look every 2 s; redraw the page once it has news (a real browser only)."""

    @st.fragment(run_every=2.0)
    def waiting() -> None:
        if finder.settled():
            rerun_keeping_notices()

    waiting()


def _relabel(project: Project, labeller: str) -> None:
    item_id = st.session_state.get(S.REVIEW_ITEM)
    label = st.session_state.get(S.REVIEW_NEW_LABEL)
    if item_id is None or label is None:
        return
    _apply_relabel(project, int(item_id), label, labeller)


def correct_one(project: Project, df: pd.DataFrame, labeller: str) -> None:
    """Pick one shown item and give it another label."""
    settings = project.store.settings
    labels = dict(zip(df["item_id"], df["label"], strict=True))
    names = dict(zip(df["item_id"], df["name"], strict=True))
    cols = st.columns([3, 2, 1], vertical_alignment="bottom")
    item_id = cols[0].selectbox(
        "Correct a label", list(labels), key=S.REVIEW_ITEM,
        format_func=lambda i: f"{names[i]} — now {labels[i]!r}",
    )
    if settings.multi_label:
        new = cols[1].multiselect("New label", list(settings.classes), key=S.REVIEW_NEW_LABEL)
    else:
        new = cols[1].selectbox("New label", list(settings.classes), key=S.REVIEW_NEW_LABEL)
    cols[2].button("Correct", key=S.REVIEW_CORRECT, on_click=_relabel, args=(project, labeller),
                   disabled=item_id is None or (new is None))


def table(project: Project, df: pd.DataFrame, labeller: str) -> None:
    settings = project.store.settings
    n_pages = max(1, -(-len(df) // ROWS_PER_PAGE))
    page = 1
    if n_pages > 1:
        page = int(st.number_input(f"Page (of {n_pages})", 1, n_pages, 1, key=S.REVIEW_PAGE))
    shown = df.iloc[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE].copy()
    correct_one(project, shown, labeller)
    shown.insert(1, "item", [_preview(project, i) for i in shown["item_id"]])
    shown["model"] = shown["model"].fillna(NO_OPINION)
    view = shown[["item_id", "item", "name", "label", "model", "labeller", "time"]].reset_index(drop=True)
    thumbnails = get_kind(settings.kind).preview_format == "image"
    if thumbnails:
        item_column = st.column_config.ImageColumn("item", width="small")
    else:
        item_column = st.column_config.TextColumn("item", width="large")
    if settings.multi_label:
        label_column = st.column_config.TextColumn("label", help=f"Classes joined by {SEPARATOR}", required=False)
    else:
        label_column = st.column_config.SelectboxColumn("label", options=list(settings.classes), required=True)
    edited = st.data_editor(
        view,
        key=S.REVIEW_EDITOR,
        hide_index=True,
        disabled=["item_id", "item", "name", "model", "labeller", "time"],
        column_config={
            "item": item_column, "label": label_column, "time": st.column_config.DatetimeColumn("time"),
            "model": st.column_config.TextColumn(
                "model", help="The label a model fitted without this one gives (out-of-fold, as in the list above); "
                f"{NO_OPINION} when not known yet."),
        },
        row_height=56 if thumbnails else None,
    )
    changed = edited["label"].astype(str) != view["label"].astype(str)
    if changed.any():
        st.caption(f"{int(changed.sum())} label(s) changed; they are saved as yours ({text_label(labeller)}).")
    if st.button("Save corrections", key=S.REVIEW_SAVE, type="primary", disabled=not changed.any()):
        saved = 0
        for item_id, label in zip(edited.loc[changed, "item_id"], edited.loc[changed, "label"], strict=True):
            value = list(split_labels(str(label))) if settings.multi_label else str(label)
            try:
                project.store.relabel(int(item_id), value, labeller)
                saved += 1
            except (StoreError, ValueError) as exc:
                say("error", f"Item {item_id}: {exc}")
        if saved:
            S.notify(st.session_state, "success", f"Saved {saved} correction(s).")
            st.session_state.pop(S.REVIEW_EDITOR, None)
            st.rerun()


def downloads(project: Project) -> None:
    st.subheader("Download")
    store = project.store
    slug = Path(project.path).name
    cols = st.columns(3)
    # Written when the button is clicked (Streamlit runs the callable then, off the script thread), not on
    # every rerun of this page: at a million items each file is a pass over every label. If writing fails,
    # the browser says the file could not be made and the server log has the reason.
    cols[0].download_button(
        "Labels (CSV)", lambda: labels_csv(store), f"{slug}-labels.csv", "text/csv", key=S.REVIEW_CSV,
        on_click="ignore",
    )
    cols[1].download_button(
        "Labels (parquet)", lambda: labels_parquet(store), f"{slug}-labels.parquet", "application/octet-stream",
        key=S.REVIEW_PARQUET, on_click="ignore",
    )
    with cols[2]:
        if st.button("Prepare the project zip", key=S.REVIEW_ZIP_BUILD, help="Items, labels, order and history"):
            try:
                with st.spinner("Writing the zip…"):
                    data = export_project_zip(store)
            except (StoreError, OSError) as exc:
                say("error", exc)
            else:
                st.download_button(
                    f"Project zip ({len(data) / 1e6:.1f} MB)", data, f"{slug}.zip", "application/zip",
                    key=S.REVIEW_ZIP, on_click="ignore",
                )
    standard_formats(project, slug)


FORMAT_HELP = {
    "jsonl": "one JSON object per labelled item: `name`, `label` (`labels`: a list, multi-label), `labeller`, "
             "`time`, `source`, and every labeller's label (`labels_by`). The Data page imports it back.",
    "imagefolder": "`class/filename` folders with the images as stored: what torchvision's `ImageFolder` and "
                   "Keras' `image_dataset_from_directory` read. One label per image (not for multi-label projects).",
    "hf_parquet": "`image` (bytes, path) and `label` columns with the class names in its schema: "
                  "`datasets.load_dataset(\"parquet\", data_files=...)` loads it with the images.",
}


def standard_formats(project: Project, slug: str) -> None:
    """JSONL, image folders, Hugging Face parquet: written only when asked (a click), never on a rerun."""
    settings = project.store.settings
    formats = export_formats(settings.kind, settings.multi_label)
    cols = st.columns([2, 1], vertical_alignment="bottom")
    fmt = cols[0].selectbox(
        "Standard format", formats, key=S.REVIEW_FORMAT, format_func=lambda f: EXPORT_FORMATS[f][2],
        help=" ".join(f"{EXPORT_FORMATS[f][2]}: {FORMAT_HELP[f]}" for f in formats),
    )
    if not cols[1].button("Prepare", key=S.REVIEW_FORMAT_BUILD, help="Writes the file now, from the labels as they are"):
        return
    suffix, mime, title = EXPORT_FORMATS[fmt]
    try:
        with st.spinner(f"Writing {title}…"):
            spool, result = prepare_export(project.store, fmt)
            with spool:
                data = spool.read()
    except (StoreError, ValueError, OSError) as exc:
        say("error", exc)
        return
    if result.items == 0:
        st.info("Nothing to export yet: no item is labelled.")
        return
    for note in result.notes:
        say("info", note)
    size = f"{len(data) / 1e6:.1f} MB" if len(data) >= 1e6 else f"{len(data) / 1e3:.1f} kB"
    st.download_button(
        f"{title}: {result.items:,} labelled item(s), {size}", data, f"{slug}{suffix}", mime,
        key=S.REVIEW_FORMAT_FILE, on_click="ignore",
    )


METHODS = {"cohen": "Cohen's kappa", "fleiss": "Fleiss' kappa"}


def _number(value: float, fmt: str = ".2f") -> str:
    return "n/a" if value != value else format(value, fmt)


def _settle(project: Project, labeller: str) -> None:
    item_id = st.session_state.get(S.REVIEW_SETTLE_ITEM)
    label = st.session_state.get(S.REVIEW_SETTLE_LABEL)
    if item_id is None or not label:
        return
    try:
        project.store.relabel(int(item_id), label, labeller)
    except (StoreError, ValueError) as exc:
        S.notify(st.session_state, "error", f"Item {item_id}: {exc}")
    else:
        S.notify(st.session_state, "success", f"Item {item_id} settled as {label!r} (your label is the one trained on).")


def agreement_section(project: Project, all_labels: pd.DataFrame, labeller: str) -> None:
    """Agreement between labellers (overlap > 1) and the disagreements to settle."""
    settings = project.store.settings
    shared = all_labels.groupby("item_id")["labeller"].nunique() if len(all_labels) else pd.Series(dtype="int64")
    if settings.overlap <= 1 and not (shared >= 2).any():
        return
    st.subheader("Agreement between labellers")
    try:
        result = agreement(all_labels)
        to_settle = disagreements(all_labels)
    except (ValueError, TypeError) as exc:
        say("error", f"Agreement cannot be computed: {exc}")
        return
    if result.method is None:
        st.info(
            f"Each item is to be labelled by {settings.overlap} people; agreement appears once an item has two labels."
        )
        return
    cols = st.columns(4)
    cols[0].metric(METHODS[result.method], _number(result.kappa),
                   help="1: perfect agreement; 0: what chance gives; below 0: worse than chance.")
    cols[1].metric("Items compared", f"{result.n_items:,}", help="Items labelled by two or more people.")
    cols[2].metric("Observed agreement", _number(result.observed, ".0%"))
    cols[3].metric("Disagreements", f"{result.n_disagreements:,}")
    st.caption(f"{result.n_labellers} labellers · each item is served to {settings.overlap} labeller(s).")
    if len(result.pairwise) > 1:
        with st.expander("Pairs of labellers (Cohen's kappa per pair)"):
            st.dataframe(result.pairwise, hide_index=True,
                         column_config={"observed": st.column_config.NumberColumn(format="percent"),
                                        "kappa": st.column_config.NumberColumn(format="%.2f")})
    if to_settle.empty:
        st.success("No disagreements to settle.")
        return
    latest = all_labels.sort_values("time", kind="stable").drop_duplicates("item_id", keep="last").set_index("item_id")
    to_settle = to_settle.assign(
        majority=[m if isinstance(m, str) else "tie" for m in to_settle["majority"]],
        now=[latest["label"].get(i) for i in to_settle["item_id"]],
        settled_by=[latest["labeller"].get(i) for i in to_settle["item_id"]],
    )
    st.markdown(f"**Disagreements to settle** ({len(to_settle):,}, most contested first)")
    st.dataframe(
        to_settle[["item_id", "name", "votes", "by_labeller", "majority", "now", "settled_by"]],
        hide_index=True, height=min(400, 38 + 35 * len(to_settle)),
        column_config={"now": st.column_config.TextColumn("trained on", help="The most recent label: the one the model learns."),
                       "settled_by": st.column_config.TextColumn("given by")},
    )
    items = to_settle["item_id"].tolist()
    names = dict(zip(to_settle["item_id"], to_settle["name"], strict=True))
    majority = dict(zip(to_settle["item_id"], to_settle["majority"], strict=True))  # "tie": no proposal
    cols = st.columns([3, 2, 1], vertical_alignment="bottom")
    item_id = cols[0].selectbox("Settle an item", items, key=S.REVIEW_SETTLE_ITEM,
                                format_func=lambda i: f"{names[i]} — votes {to_settle.set_index('item_id').at[i, 'votes']}")
    if settings.multi_label:
        st.caption(f"Multi-label project: settle in the table below (labels joined by {SEPARATOR}).")
        return
    classes = list(settings.classes)
    current = dict(zip(to_settle["item_id"], to_settle["now"], strict=True))
    proposed = majority.get(item_id) if majority.get(item_id) in classes else current.get(item_id)
    S.propose(st.session_state, S.REVIEW_SETTLE_LABEL, proposed if proposed in classes else classes[0])
    cols[1].selectbox("Final label", classes, key=S.REVIEW_SETTLE_LABEL)
    cols[2].button("Settle", key=S.REVIEW_SETTLE, type="primary", on_click=_settle, args=(project, labeller),
                   help=f"Records the final label as yours ({text_label(labeller)}); training uses the most recent label.")


def team_progress(project: Project, labels: pd.DataFrame) -> None:
    """Per labeller: labels today and in total, median seconds per label, skips, disagreements in overlap.

    From this run's labels (read once per run for the whole page), so it is fresh after each label.
    """
    table = progress_table(labels, project.store.skip_counts())
    if table.empty:
        return
    st.subheader("Team progress")
    st.dataframe(
        table, hide_index=True,  # a table to read, not a widget: no key
        column_config={
            "labeller": st.column_config.TextColumn("labeller"),
            "labels_today": st.column_config.NumberColumn("labels today", help="Since midnight UTC."),
            "labels_total": st.column_config.NumberColumn("labels in total", help="Labels in force (undone ones left out)."),
            "median_seconds": st.column_config.NumberColumn(
                "median s / label", format="%.1f", help="Median time from showing an item to its label; empty: not known."),
            "skips": st.column_config.NumberColumn("skips"),
            "overlap_items": st.column_config.NumberColumn("items shared", help="Their items that someone else labelled too."),
            "disagreement_share": st.column_config.NumberColumn(
                "disagreements", format="percent",
                help="Share of the shared items on which the labels differ; empty: no shared items yet."),
        },
    )


def restore(project: Project) -> None:
    st.subheader("Restore a project zip")
    st.caption("Restores into a new folder and opens it (Community Cloud's disk does not survive a restart: "
               "download the project zip, upload it here later).")
    upload = st.file_uploader("Project zip", type=["zip"], key=S.REVIEW_RESTORE)
    S.propose(st.session_state, S.REVIEW_RESTORE_PATH,
              str(new_projects_folder() / f"{Path(project.path).name}-restored"))
    target = st.text_input("Into the folder", key=S.REVIEW_RESTORE_PATH)
    if upload is not None and st.button("Restore", key=S.REVIEW_RESTORE_GO):
        try:
            if os.path.abspath(target) in (default_path(), project.path):
                target = os.path.abspath(target)
                forget_project(target)
                import_project_zip(upload.getvalue(), target, replace=True)
            else:
                target = new_folder(target)  # inside the projects folder, or refused before anything is written
                import_project_zip(upload.getvalue(), target)
            open_project(target)
        except (StoreError, ValueError, OSError) as exc:
            say("error", exc)
            return
        set_current_path(target)
        S.notify(st.session_state, "success", f"Restored the project into {target}.")
        go("pages/label.py")


access = guard("review")
project = require_project()
labeller = current_labeller()
st.title("Review & export")
all_labels = None
try:
    all_labels = project.store.labels()  # progress, agreement and the table share one read (the downloads read their own)
    team_progress(project, all_labels)
    agreement_section(project, all_labels, labeller)
except StoreError as exc:
    say("error", exc)
if all_labels is not None:
    errors = label_errors_section(project, all_labels, labeller)
    st.subheader("Labels")
    labels = filtered_labels(project, all_labels, errors)
    progress = project.store.progress()
    st.caption(f"{len(labels):,} label(s) shown · {progress.labelled:,} / {progress.total:,} items labelled")
    if len(labels):
        table(project, labels, labeller)
    else:
        st.info("No labels match." if progress.labelled else "No labels yet: label some items on the Label page.")
    if len(labels):
        st.subheader("Similar items")
        st.caption('"Show similar" lists the items nearest to the one chosen under "Correct a label".')
        similar_panel(project, "review", st.session_state.get(S.REVIEW_ITEM), labeller)
if access.may_download:
    downloads(project)
    restore(project)
