"""Data page: the current project, creating a project, adding items, classes, labels, switching."""

import os

import streamlit as st

from superintendent_core.data.demo import digits_batch
from superintendent_core.data.image_parquet import images_from_parquet
from superintendent_core.data.images import ImportResult, images_from_folder, images_from_zip
from superintendent_core.data.label_import import import_labels_file
from superintendent_core.data.preannotations import import_preannotations
from superintendent_core.data.stream import table_chunks
from superintendent_core.data.tables import suggest_columns
from superintendent_core.kinds import default_model
from superintendent_core.kinds.formatting import markdown_code
from superintendent_core.labels import classes_in
from superintendent_core.service.featurize import (
    IMPORT_FEATURES_KEY,
    extractor_for_batch,
    import_extractor,
)
from superintendent_core.service.locations import (
    IMPORT_OFF,
    import_file_location,
    import_folder_location,
)
from superintendent_core.store import (
    ItemBatch,
    ProjectSettings,
    StoreError,
    display_location,
)
from superintendent_core.store.items import feature_kind_of
from ui import state as S
from ui.auth import guard
from ui.config import import_root
from ui.feature_settings import features_section
from ui.featurize import ensure_features
from ui.project import (
    add_to_project,
    check_location,
    configured_database,
    create_project,
    current_project,
    database_location,
    known_project_folders,
    new_folder,
    new_projects_folder,
    open_project,
    set_current_path,
)
from ui.widgets import current_labeller, go, say, text_label

SOURCES = {
    "demo": "Digits demo (1,797 handwritten digits)",
    "zip": "Images: upload a .zip",
    "table": "Text or table rows: upload a CSV / parquet",
    "folder": "Images: a folder on the server",
    "table_path": "Text or table rows: a CSV / parquet file on the server",
    "hf_parquet": "Images: upload a Hugging Face parquet (image bytes and labels)",
}


def _parse_classes(text: str) -> tuple[str, ...]:
    parts = [p.strip() for p in text.replace("\n", ",").split(",")]
    out: list[str] = []
    for p in parts:
        if p and p not in out:
            out.append(p)
    return tuple(out)


def _progress_callback(bar):
    def report(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Reading {done:,} / {total:,} files")

    return report


#: Most skipped files listed by name on the page (the rest are counted).
SHOWN_SKIPPED = 50


def _refuse_bad_checkbox(prefix: str) -> str:
    refuse = st.checkbox(
        "Refuse the whole import if an image cannot be read", key=f"{prefix}{S.DATA_REFUSE_BAD}",
        help="Unchecked: the readable images are imported and the others are listed by name and reason.",
    )
    return "refuse" if refuse else "skip"


def _read_images(what: str, read, *args, **kwargs) -> ImportResult:
    """Run an image importer under a progress bar that closes whatever happens, then list skipped files."""
    bar = st.progress(0.0, text=f"Reading the {what}…")
    try:
        result = read(*args, progress=_progress_callback(bar), **kwargs)
    finally:
        bar.empty()
    if result.skipped:
        lines = [f"- {text_label(name)}: {text_label(reason)}" for name, reason in result.skipped[:SHOWN_SKIPPED]]
        more = len(result.skipped) - SHOWN_SKIPPED
        if more > 0:
            lines.append(f"- … and {more:,} more")
        st.warning(
            f"{len(result.skipped):,} image(s) cannot be read and will not be imported "
            f"({len(result.batch):,} will be):\n" + "\n".join(lines)
        )
    return result


def _table_form(source, prefix: str, labeller: str):
    """The column choices of a table file; returns its chunks (``data.stream``) once a column to show is chosen.

    The file is read a chunk at a time only when the project is created or the rows added.
    """
    chunks = table_chunks(source)
    notes = chunks.notes
    st.caption(f"{len(chunks):,} rows · preview:")
    st.dataframe(chunks.preview.head(5), hide_index=True)
    columns = list(chunks.columns)
    suggestion = suggest_columns(chunks.preview)  # the engine's defaults: longest text column, id column, text or table
    S.propose(st.session_state, f"{prefix}{S.DATA_TABLE_KIND}", suggestion.kind)
    kind = st.radio("Each row is", ["text", "table"], horizontal=True, key=f"{prefix}{S.DATA_TABLE_KIND}",
                    format_func=lambda k: "a text to read" if k == "text" else "a table row")
    S.propose(st.session_state, f"{prefix}{S.DATA_DISPLAY_COLS}",
              suggestion.display[:1] if kind == "text" else suggestion.display)
    display = st.multiselect(
        "Column(s) to show", columns, key=f"{prefix}{S.DATA_DISPLAY_COLS}",
        max_selections=1 if kind == "text" else None,
    )
    features = st.multiselect(
        "Feature columns for the model (empty: the text itself / every numeric column)",
        columns, key=f"{prefix}{S.DATA_FEATURE_COLS}",
    )
    S.propose(st.session_state, f"{prefix}{S.DATA_NAME_COL}", suggestion.name)
    name_column = st.selectbox(
        "Column of item names or ids (optional; shown with each item and in exports)",
        [None, *suggestion.name_candidates], key=f"{prefix}{S.DATA_NAME_COL}",
        format_func=lambda c: "— none: number the rows —" if c is None else text_label(c),
        help="Listed from the first rows: a name used twice further down refuses the import.",
    )
    label_column = st.selectbox(
        "Column of existing labels (optional)", [None, *columns], key=f"{prefix}{S.DATA_LABEL_COL}",
        format_func=lambda c: "— none —" if c is None else c,
    )
    if not display:
        st.info("Choose the column(s) to show.")
        return None, notes
    chunks.configure(
        kind=kind, display_columns=display, feature_columns=features or None,
        label_column=label_column, name_column=name_column, labeller=labeller,
    )
    return chunks, notes


def _importing(batch, what: str, spinner: str):
    """A progress bar for an import read chunk by chunk (the engine reports rows written), else ``spinner``."""
    if isinstance(batch, ItemBatch):
        return st.spinner(spinner)
    bar = st.progress(0.0, text=f"{what}: reading {len(batch):,} rows…")
    batch.progress = lambda done, total: bar.progress(
        min(1.0, done / total) if total else 1.0, text=f"{what}: {done:,} of {total:,} rows written")
    return _Closing(bar)


class _Closing:
    """Removes the progress bar whatever happens."""

    def __init__(self, bar) -> None:
        self.bar = bar

    def __enter__(self):
        return self.bar

    def __exit__(self, *exc) -> None:
        self.bar.empty()


def build_batch(source: str, prefix: str, labeller: str,
                featurize: str = "pixels") -> tuple[ItemBatch | None, list[str]]:
    """Draw the widgets of a source and return its batch once there is enough input (else None).

    Images get cheap ``featurize`` features at once (labelling starts); the project's
    chosen extractor computes its own in the background (``ui.featurize``).
    """
    if source == "demo":
        return digits_batch(), []
    if source == "zip":
        upload = st.file_uploader("Zip of images", type=["zip"], key=f"{prefix}{S.DATA_ZIP}")
        from_folders = st.checkbox(
            "Use each image's folder name as its label", key=f"{prefix}{S.DATA_ZIP_LABELS}", help="cat/001.jpg → cat"
        )
        on_error = _refuse_bad_checkbox(prefix)
        if upload is None:
            return None, []
        result = _read_images("zip", images_from_zip, upload.getvalue(), labels_from_folders=from_folders,
                              on_error=on_error, featurize=featurize)
        return result.batch, result.notes
    if source == "hf_parquet":
        upload = st.file_uploader("Parquet with an image column", type=["parquet"], key=f"{prefix}{S.DATA_HF_PARQUET}",
                                  help="As Hugging Face datasets write it, or this app's Hugging Face export: "
                                       "an 'image' column of {bytes, path}; labels from its class-label column.")
        on_error = _refuse_bad_checkbox(prefix)
        if upload is None:
            return None, []
        result = _read_images("parquet", images_from_parquet, upload.getvalue(), on_error=on_error)
        return result.batch, result.notes
    if source == "folder":
        # The Data page is admin-only in team mode; in every mode only the configured folder may be read.
        root = import_root()
        if root is None:
            st.info(IMPORT_OFF)
            return None, []
        folder = st.text_input(f"Folder of images inside {root}", key=f"{prefix}{S.DATA_FOLDER}")
        from_folders = st.checkbox("Use each image's folder name as its label", key=f"{prefix}{S.DATA_FOLDER_LABELS}")
        on_error = _refuse_bad_checkbox(prefix)
        if not folder:
            return None, []
        folder = import_folder_location(folder, import_root=root)
        result = _read_images("folder", images_from_folder, folder, labels_from_folders=from_folders,
                              on_error=on_error, featurize=featurize)
        return result.batch, result.notes
    if source == "table_path":
        # Files too big to upload: by path, only inside the configured import folder (as image folders).
        root = import_root()
        if root is None:
            st.info(IMPORT_OFF)
            return None, []
        wanted = st.text_input(f"CSV or parquet file inside {root}", key=f"{prefix}{S.DATA_TABLE_PATH}")
        if not wanted:
            return None, []
        return _table_form(import_file_location(wanted, import_root=root), prefix, labeller)
    upload = st.file_uploader("CSV or parquet file", type=["csv", "tsv", "txt", "parquet"], key=f"{prefix}{S.DATA_TABLE}")
    if upload is None:
        return None, []
    return _table_form(upload.getvalue(), prefix, labeller)


def current_section(labeller: str) -> None:
    project, error = current_project()
    st.subheader("Current project")
    if project is None:
        say("error", error or "No project is open.")
        return
    store = project.store
    for line in store.damage_report():  # damaged files found when the project was opened
        say("warning", line)
    settings = store.settings
    progress = store.progress()
    st.markdown(
        f"**{text_label(settings.name)}** — {markdown_code(display_location(project.path))} · {settings.kind} items · "
        f"{progress.labelled:,} / {progress.total:,} labelled · "
        f"{'multi-label' if settings.multi_label else 'one label per item'}"
    )
    with st.form("classes_form", border=False):
        S.propose(st.session_state, S.DATA_EDIT_CLASSES, ", ".join(settings.classes))
        text = st.text_input("Classes (comma-separated, in button order)", key=S.DATA_EDIT_CLASSES)
        if st.form_submit_button("Save classes", key=S.DATA_SAVE_CLASSES):
            try:
                store.update_settings(classes=_parse_classes(text))
            except (StoreError, ValueError) as exc:
                say("error", exc)
            else:
                st.success("Classes saved.")

    overlap_form(store)
    features_section(project)

    with st.expander("Add items to this project (labels are kept)"):
        source = st.radio("Source", [s for s in SOURCES if s != "demo"], format_func=SOURCES.get,
                          key="add" + S.DATA_SOURCE, horizontal=True)
        try:
            batch, notes = build_batch(source, "add", labeller, featurize=import_extractor(settings) or "pixels")
            for note in notes:
                st.caption(text_label(note))
            if batch is not None and st.button(f"Add {len(batch):,} items", key=S.DATA_ADD, type="primary"):
                with _importing(batch, "Adding the rows", "Adding…"):
                    added = add_to_project(store, batch)
                ensure_features(project)  # the new items' features, in the background
                st.success(f"Added {added:,} items.")
        except (StoreError, ValueError, OSError) as exc:
            say("error", exc)

    with st.expander("Import existing labels (CSV/parquet with columns `name` and `label`, or JSONL)"):
        upload = st.file_uploader("Labels file", type=["csv", "parquet", "jsonl"], key=S.DATA_LABELS_FILE,
                                  help="JSONL: one object per line with `name` and `label` (or `labels`, a list), "
                                       "as the Review page's JSONL export writes. All or nothing.")
        if upload is not None and st.button("Import labels", key=S.DATA_IMPORT_LABELS):
            try:
                with st.spinner("Importing labels…"):
                    n = import_labels_file(store, upload.getvalue(), labeller=labeller)
                st.success(f"Imported {n:,} labels.")
            except (StoreError, ValueError) as exc:
                say("error", exc)

    with st.expander("Import pre-annotations (labels another model made, shown as suggestions)"):
        st.caption("CSV/parquet with columns `name`, `label` and optionally `score`, or JSONL objects with the "
                   "same keys. They are never counted as labels: not trained on, not in the estimate, not "
                   "exported. Labellers see each item's pre-annotation highlighted and accept it with one key (P). "
                   "A file with an unknown name, a name twice or a class that is not the project's is refused "
                   "whole. A new file replaces the pre-annotations of the items it names.")
        pre_upload = st.file_uploader("Pre-annotation file", type=["csv", "parquet", "jsonl"], key=S.DATA_PRE_FILE)
        if pre_upload is not None and st.button("Import pre-annotations", key=S.DATA_IMPORT_PRE):
            try:
                with st.spinner("Importing pre-annotations…"):
                    n = import_preannotations(store, pre_upload.getvalue(), name=pre_upload.name[:200] or "import")
                st.success(f"Imported {n:,} pre-annotations.")
            except (StoreError, ValueError) as exc:
                say("error", exc)


def overlap_form(store) -> None:
    """How many different labellers label each item (agreement appears on the Review page)."""
    with st.form("overlap_form", border=False):
        S.propose(st.session_state, S.DATA_OVERLAP, int(store.settings.overlap))
        st.number_input(
            "Labellers per item (overlap)", min_value=1, max_value=20, step=1, key=S.DATA_OVERLAP,
            help="1: each item is labelled once. 2 or more: each item is served to that many different "
            "labellers; the Review page then shows their agreement (Cohen's / Fleiss' kappa) and the "
            "disagreements to settle.",
        )
        if st.form_submit_button("Save overlap", key=S.DATA_SAVE_OVERLAP):
            try:
                store.update_settings(overlap=int(st.session_state[S.DATA_OVERLAP]))
            except (StoreError, ValueError) as exc:
                say("error", exc)
            else:
                st.success(f"Each item is now labelled by {store.settings.overlap} labeller(s).")


def create_section(labeller: str) -> None:
    st.subheader("Create a project")
    S.propose(st.session_state, S.DATA_NAME, "my-project")
    name = st.text_input("Project name", key=S.DATA_NAME)
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip()) or "project"
    database = configured_database()
    if database is None:
        S.propose(st.session_state, S.DATA_PATH, str(new_projects_folder() / slug))
        path = st.text_input("Project folder", key=S.DATA_PATH)
    else:
        # A database is configured: the project goes there (a local folder would vanish on a hosted restart).
        path = None
        st.caption("The project is created in the configured database, beside the default one.")
    source = st.radio("Items", list(SOURCES), format_func=SOURCES.get, key=S.DATA_SOURCE)
    multi = st.checkbox("Several labels per item (multi-label)", key=S.DATA_MULTI)
    try:
        batch, notes = build_batch(source, "new", labeller)
    except (StoreError, ValueError, OSError) as exc:
        say("error", exc)
        batch, notes = None, []
    for note in notes:
        st.caption(text_label(note))
    proposed = classes_in(batch.labels or (), multi) if batch is not None else []
    if source == "demo":
        proposed = [str(i) for i in range(10)]
    S.propose(st.session_state, S.DATA_CLASSES, ", ".join(proposed))
    classes_text = st.text_input(
        "Classes (comma-separated, in button order)", key=S.DATA_CLASSES,
        help="You can change them later on this page.",
    )
    if st.button("Create project", key=S.DATA_CREATE, type="primary", disabled=batch is None):
        try:
            classes = _parse_classes(classes_text)
            feature_kind = feature_kind_of(batch.features)
            extractor = extractor_for_batch(batch)  # the rule: photos -> efficientnet_lite0, tiny grey -> pixels
            settings = ProjectSettings(
                name=name.strip() or slug, kind=batch.kind, classes=classes, multi_label=multi,
                feature_kind=feature_kind,
                model=default_model(batch.kind, feature_kind),
                feature_extractor=extractor,
                extra=((IMPORT_FEATURES_KEY, "pixels"),) if batch.kind == "image" else (),
            )
            with _importing(batch, "Creating the project", f"Creating the project with {len(batch):,} items…"):
                location = new_folder(path) if database is None else database_location(slug)
                created = create_project(location, settings, batch)
        except (StoreError, ValueError, OSError) as exc:
            say("error", exc)
            return
        if set_current_path(created):
            S.notify(st.session_state, "success", f"Created {settings.name} with {len(batch):,} items.")
            go("pages/label.py")


def open_section() -> None:
    st.subheader("Open another project")
    known = known_project_folders()
    if known:
        st.caption("Projects next to the default one and in its projects folder: " + ", ".join(markdown_code(os.path.basename(p)) for p in known))
    S.propose(st.session_state, S.DATA_OPEN_PATH, known[0] if known else "")
    path = st.text_input("Project folder", key=S.DATA_OPEN_PATH)
    if st.button("Open", key=S.DATA_OPEN):
        try:
            target = check_location(path)
            open_project(target)
        except (StoreError, OSError) as exc:
            say("error", exc)
            return
        if set_current_path(target):
            go("pages/label.py")


guard("data")
labeller = current_labeller()
st.title("Data")
current_section(labeller)
st.divider()
create_section(labeller)
st.divider()
open_section()
