"""The Data page's "features the model sees" section (admins): progress, the extractor, your own vectors."""

from __future__ import annotations

import streamlit as st

from superintendent_core.data.vectors import import_feature_set, read_feature_file
from superintendent_core.features import EXTRACTORS, PIXELS_MAX_SIDE
from superintendent_core.service.featurize import (
    FLOAT16_EFFECT,
    FeaturizeStatus,
    feature_storage_note,
)
from superintendent_core.store import StoreError
from superintendent_core.store.feature_sets import FEATURE_DTYPES

from . import state as S
from .featurize import ensure_features, retrain_soon, status
from .widgets import say, text_label

__all__ = ["features_section", "progress_line"]

#: What the admin may choose for an image project, besides feature sets brought as files.
IMAGE_EXTRACTORS = ("pixels", "efficientnet_lite0")
RULE = (f"The rule at import: images that are all grey and at most {PIXELS_MAX_SIDE} pixels on their longest side "
        "(such as the 8×8 digits) keep their pixels; every other image (photos, scans, anything in colour) gets "
        "pretrained EfficientNet-Lite0 features, computed in the background while labelling starts on pixels.")


def progress_line(state: FeaturizeStatus | None) -> None:
    """One progress bar and the facts under it (nothing when no set is being computed)."""
    if state is None:
        return
    if state.complete:
        if not state.in_use:
            st.caption(text_label(f"{state.extractor} features are complete for all {state.total:,} items; "
                                  "the project switches to them."))
    else:
        rate = f" · {state.images_per_second:,.0f} images/s" if state.images_per_second else ""
        where = "computing in the background" if state.running else "paused (resumes when the project is opened)"
        st.progress(state.fraction, text=text_label(
            f"{state.extractor} features: {state.stored:,} / {state.total:,} items, {where}{rate}. "
            "The model uses the pixel features until every item has them."))
    if state.failed:
        shown = "; ".join(f"item {i}: {r}" for i, r in state.failed[:5])
        more = f" (and {len(state.failed) - 5:,} more)" if len(state.failed) > 5 else ""
        st.warning(text_label(f"{len(state.failed):,} picture(s) could not be read for {state.extractor} features "
                              f"and have zeros instead: {shown}{more}."))
    if state.error:
        say("error", state.error)


def _choice_label(name: str) -> str:
    """Plain text: a selectbox shows its options as text, never as markdown."""
    if name in EXTRACTORS:
        return f"{name}: {EXTRACTORS[name][0]}"
    return f"{name}: your own vectors"


DTYPE_LABELS = {"float32": "float32 (exact)", "float16": "float16 (half the disk)"}


def storage_form(store) -> None:
    """How feature sets made from now on are stored (``settings.feature_dtype``)."""
    with st.form("features_dtype_form", border=False):
        current = store.settings.feature_dtype
        choice = st.radio("Store new feature sets as", FEATURE_DTYPES, index=FEATURE_DTYPES.index(current),
                          format_func=lambda d: DTYPE_LABELS.get(d, d), horizontal=True, key=S.DATA_FEATURES_DTYPE)
        st.caption(text_label(FLOAT16_EFFECT + " " + feature_storage_note(store)))
        if st.form_submit_button("Save storage", key=S.DATA_FEATURES_DTYPE_SAVE):
            try:
                store.update_settings(feature_dtype=choice)
            except (StoreError, ValueError) as exc:
                say("error", exc)
            else:
                st.success(text_label(f"Saved: feature sets made from now on are stored as {choice}."))


def features_section(project) -> None:
    store = project.store
    settings = store.settings
    if settings.feature_kind != "array":
        return  # text and table projects' models read their own kind of features
    with st.expander("Features the model sees"):
        in_use = store.features_in_use()
        st.markdown(
            "The model now uses **" + text_label(in_use or "the features given at import") + "**"
            + (text_label(f" (chosen: {settings.feature_extractor}).") if settings.feature_extractor else ".")
        )
        progress_line(status(project))
        sets = store.feature_sets()
        own = [n for n, (_, stored) in sets.items() if n not in EXTRACTORS and stored >= len(store)]
        options = [*(IMAGE_EXTRACTORS if settings.kind == "image" else ()), *own]
        if options:
            current = settings.feature_extractor if settings.feature_extractor in options else options[0]
            with st.form("features_form", border=False):
                choice = st.selectbox("Features for the model", options, index=options.index(current),
                                      format_func=_choice_label, key=S.DATA_FEATURES_CHOICE)
                if settings.kind == "image":
                    st.caption(RULE)
                if st.form_submit_button("Use these features", key=S.DATA_FEATURES_SAVE):
                    try:
                        if choice in EXTRACTORS:
                            store.update_settings(feature_extractor=choice)
                        else:
                            store.update_settings(feature_extractor=choice, feature_set=choice)
                            retrain_soon(project)
                        ensure_features(project, force=True)
                    except (StoreError, ValueError) as exc:
                        say("error", exc)
                    else:
                        st.success("Saved. The model is retrained on them once every item has them.")
        storage_form(store)
        st.markdown("**Bring your own vectors** — an `.npy` matrix with a names file (one item name per line, "
                    "in row order), or a parquet with a `name` column and one vector column. Every item of "
                    "the project needs a vector; a file with a missing item, an unknown or repeated name, "
                    "another length or NaN (or, stored as float16, a value beyond ±65504) is refused whole.")
        upload = st.file_uploader("Vectors", type=["npy", "parquet"], key=S.DATA_FEATURES_FILE)
        names = st.file_uploader("Names file (for an .npy)", type=["txt", "csv", "parquet"],
                                 key=S.DATA_FEATURES_NAMES)
        set_name = st.text_input("Name of this feature set", value="my-vectors", key=S.DATA_FEATURES_SET_NAME)
        if upload is not None and st.button("Import vectors", key=S.DATA_FEATURES_IMPORT):
            try:
                with st.spinner("Checking and storing the vectors…"):
                    item_names, matrix = read_feature_file(
                        upload.getvalue(), upload.name, names_data=None if names is None else names.getvalue(),
                        names_filename="names.txt" if names is None else names.name)
                    n = import_feature_set(store, set_name.strip(), item_names, matrix)
            except (StoreError, ValueError) as exc:
                say("error", exc)
            else:
                st.success(text_label(f"Stored {n:,} vectors as {set_name.strip()!r}; choose it above to use it."))
