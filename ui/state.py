"""Every session-state key, widget key and query parameter the app uses, in one place.

Pages and tests import these constants; nothing else spells a key as a string.
Non-widget keys have a default *factory* (nothing is computed at import time);
:func:`init_state` fills in the missing ones at the start of every run.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

# --------------------------------------------------------------------------- query parameters
#: Who is labelling (survives a browser refresh).
QP_LABELLER = "labeller"
#: Which project folder is open (absent: the default project).
QP_PROJECT = "project"
#: An invitation token (team mode): exchanged for a role on arrival and removed from the URL at once.
QP_INVITE = "invite"

#: Labeller name used in single-user mode until the person types another one.
DEFAULT_LABELLER = "me"

# --------------------------------------------------------------------------- non-widget state
#: ``(item_id, monotonic time it was first shown)`` on the Label page, for ``seconds``.
SHOWN = "label_shown"
#: One-shot messages ``[(kind, text)]`` shown at the top of the next run (kind: success/info/warning/error).
NOTICES = "notices"
#: The notices this run drew: a rerun the page starts by itself (a poll) queues them again (``widgets.rerun_keeping_notices``).
NOTICES_SHOWN = "notices_shown"
#: Id of the last item this session labelled (for the "last: …" line).
LAST_LABELLED = "label_last"
#: Multi-label: ``(item_id, frozenset of class indices toggled on)`` for the item on screen, or None.
LABEL_CHOSEN = "label_chosen"

#: The labeller's name; mirrored in the URL (navigation clears query parameters; app.py writes them back).
LABELLER = "labeller_name"
#: The open project's folder (None: the default); mirrored in the URL like the labeller.
PROJECT = "project_path"
#: ``{widget key: value}`` last proposed for a text field (see :func:`propose`).
PROPOSED = "proposed"

#: The session's role in team mode (``Role.value``: "admin" / "labeller"), None until signed in.
#: Lives only in the session: a refresh asks again unless an invitation link is opened again.
ROLE = "auth_role"
#: The name bound to the sign-in (invitation, personal passcode, OIDC e-mail, or the name chosen with a shared passcode).
AUTH_NAME = "auth_name"
#: The last sign-in attempt failed (the refusal message is shown once, nothing else).
AUTH_REFUSED = "auth_refused"

#: How many of the likely label errors the Review page lists (grows with its "Show more" button).
REVIEW_ERRORS_SHOWN = "review_errors_shown"

DEFAULTS: dict[str, Callable[[], Any]] = {
    ROLE: lambda: None,
    AUTH_NAME: lambda: None,
    AUTH_REFUSED: lambda: None,
    SHOWN: lambda: None,
    PROPOSED: dict,
    LABELLER: lambda: None,
    PROJECT: lambda: None,
    NOTICES: list,
    NOTICES_SHOWN: list,
    LAST_LABELLED: lambda: None,
    LABEL_CHOSEN: lambda: None,
    REVIEW_ERRORS_SHOWN: lambda: 10,
}

# --------------------------------------------------------------------------- widget keys
# sidebar
LABELLER_INPUT = "sidebar_labeller"
SIGN_OUT = "sidebar_sign_out"

# sign-in form (team mode)
SIGNIN_AS = "signin_as"
SIGNIN_NAME = "signin_name"
SIGNIN_PASSCODE = "signin_passcode"
SIGNIN_SUBMIT = "signin_submit"
SIGNIN_OIDC = "signin_oidc"

# Label page
LABEL_SKIP = "label_skip"
LABEL_UNDO = "label_undo"
LABEL_SUBMIT = "label_submit"
#: Multi-label: record the empty label ("none of these classes") on purpose.
LABEL_NONE = "label_none"
#: "Accept pre-annotation" (submits the item's pre-annotation as the labeller's label) and its box.
LABEL_ACCEPT = "label_accept"
LABEL_PRE_BOX = "label_pre_box"


def label_class_key(index: int) -> str:
    """Key of the button (single-label) for the class at ``index`` in the project's class list."""
    return f"label_class_{index}"


def label_toggle_key(index: int) -> str:
    """Key of the toggle button (multi-label) for the class at ``index``: a click flips it (see :data:`LABEL_CHOSEN`)."""
    return f"label_toggle_{index}"


# Model page
MODEL_RETRAIN = "model_retrain"
MODEL_CHOICE = "model_choice"
MODEL_STRATEGY = "model_strategy"
MODEL_SHUFFLE = "model_shuffle"
MODEL_AUTO = "model_auto"
MODEL_EVERY = "model_every"
MODEL_SAVE = "model_save"

# Model page: compare strategies on the project's own labels (ui/compare.py)
COMPARE_START = "compare_start"
COMPARE_CANCEL = "compare_cancel"
COMPARE_SWITCH = "compare_switch"

# Data page
DATA_SOURCE = "data_source"
DATA_NAME = "data_name"
DATA_PATH = "data_path"
DATA_CLASSES = "data_classes"
DATA_MULTI = "data_multi"
DATA_ZIP = "data_zip"
DATA_TABLE = "data_table"
DATA_TABLE_PATH = "data_table_path"  # a CSV / parquet file inside the import folder
DATA_DISPLAY_COLS = "data_display_cols"
DATA_FEATURE_COLS = "data_feature_cols"
DATA_LABEL_COL = "data_label_col"
DATA_NAME_COL = "data_name_col"  # prefixed like the other import widgets ("new" / "add")
DATA_TABLE_KIND = "_table_kind"  # prefixed: "new_table_kind" / "add_table_kind"
DATA_ZIP_LABELS = "_zip_labels"  # prefixed
DATA_FOLDER_LABELS = "_folder_labels"  # prefixed
DATA_REFUSE_BAD = "data_refuse_bad"  # prefixed: refuse a zip/folder with an unreadable image instead of skipping it
DATA_FOLDER = "data_folder"
DATA_HF_PARQUET = "_hf_parquet"  # prefixed: a Hugging Face image parquet to import
DATA_CREATE = "data_create"
DATA_ADD = "data_add"
DATA_EDIT_CLASSES = "data_edit_classes"
DATA_SAVE_CLASSES = "data_save_classes"
DATA_OPEN_PATH = "data_open_path"
DATA_OPEN = "data_open"
DATA_LABELS_FILE = "data_labels_file"
DATA_IMPORT_LABELS = "data_import_labels"
DATA_PRE_FILE = "data_pre_file"  # pre-annotations to import (a file)
DATA_IMPORT_PRE = "data_import_pre"
DATA_OVERLAP = "data_overlap"
DATA_SAVE_OVERLAP = "data_save_overlap"
DATA_FEATURES_CHOICE = "data_features_choice"  # the project's features: an extractor or a feature set
DATA_FEATURES_SAVE = "data_features_save"
DATA_FEATURES_FILE = "data_features_file"  # bring your own: .npy or parquet of vectors
DATA_FEATURES_NAMES = "data_features_names"  # the .npy's names file
DATA_FEATURES_SET_NAME = "data_features_set_name"
DATA_FEATURES_IMPORT = "data_features_import"
DATA_FEATURES_DTYPE = "data_features_dtype"  # how new feature sets are stored: float32 or float16
DATA_FEATURES_DTYPE_SAVE = "data_features_dtype_save"

# Review page
REVIEW_CLASSES = "review_classes"
REVIEW_LABELLERS = "review_labellers"
REVIEW_DISAGREE = "review_disagree"
REVIEW_PAGE = "review_page"
REVIEW_EDITOR = "review_editor"
REVIEW_SAVE = "review_save"
REVIEW_ITEM = "review_item"
REVIEW_NEW_LABEL = "review_new_label"
REVIEW_CORRECT = "review_correct"
REVIEW_CSV = "review_csv"
REVIEW_PARQUET = "review_parquet"
REVIEW_ZIP_BUILD = "review_zip_build"
REVIEW_ZIP = "review_zip"
REVIEW_FORMAT = "review_format"  # which standard export (JSONL, image folders, Hugging Face parquet)
REVIEW_FORMAT_BUILD = "review_format_build"
REVIEW_FORMAT_FILE = "review_format_file"
REVIEW_RESTORE = "review_restore"
REVIEW_RESTORE_PATH = "review_restore_path"
REVIEW_RESTORE_GO = "review_restore_go"
REVIEW_SETTLE_ITEM = "review_settle_item"
REVIEW_SETTLE_LABEL = "review_settle_label"
REVIEW_SETTLE = "review_settle"
REVIEW_HIDE_SETTLED = "review_hide_settled"
REVIEW_ERRORS_MORE = "review_errors_more"


def review_error_label_key(item_id: int) -> str:
    """Key of the new-label field of one likely label error (Review page)."""
    return f"review_error_label_{int(item_id)}"


def review_error_fix_key(item_id: int) -> str:
    """Key of the "Correct" button of one likely label error."""
    return f"review_error_fix_{int(item_id)}"


def review_error_keep_key(item_id: int) -> str:
    """Key of the "Label is right" button of one likely label error."""
    return f"review_error_keep_{int(item_id)}"

# model page: finish with the model (ui/finish.py)
FINISH_FORMAT = "finish_format"
FINISH_PREPARE = "finish_prepare"
FINISH_DOWNLOAD = "finish_download"
#: ``PreparedFile`` (ui/finish.py): the file made on request, kept until the next one (non-widget).
#: (The plan it is made from is shared by every session: ui/finish.py keeps it in the process registry.)
FINISH_FILE = "finish_file"
DEFAULTS.update({FINISH_FILE: lambda: None})


def init_state(state: MutableMapping[str, Any]) -> None:
    """Give every non-widget key its default where it is missing."""
    for key, factory in DEFAULTS.items():
        if key not in state:
            state[key] = factory()


def notify(state: MutableMapping[str, Any], kind: str, text: str) -> None:
    """Queue a message for the top of the next run (``kind``: success, info, warning or error)."""
    state.setdefault(NOTICES, []).append((kind, text))


def propose(state: MutableMapping[str, Any], key: str, value: Any) -> None:
    """Fill a keyed widget with ``value`` whenever the proposal changes; keep the user's edit otherwise.

    (A keyed widget ignores its ``value=`` argument after the first run.)
    """
    proposed = state.setdefault(PROPOSED, {})
    if key not in state or key not in proposed or proposed[key] != value:
        proposed[key] = value
        state[key] = value

# "Show similar" and bulk labels (ui/similar.py), on the Label and Review pages
#: ``(key, neighbours DataFrame)``: the last list shown (non-widget); key = (page, item, labeller, revision).
SIMILAR_CACHE = "similar_cache"
DEFAULTS[SIMILAR_CACHE] = lambda: None


def similar_show_key(where: str) -> str:
    """Key of the "Show similar" toggle on a page (``"label"`` / ``"review"``)."""
    return f"similar_show_{where}"


def similar_pick_key(where: str, item_id: int, neighbour: int) -> str:
    """Key of the checkbox of one neighbour of ``item_id`` (fresh defaults for every item)."""
    return f"similar_pick_{where}_{int(item_id)}_{int(neighbour)}"


def similar_label_key(where: str) -> str:
    """Key of the class chosen for the ticked neighbours."""
    return f"similar_label_{where}"


def similar_apply_key(where: str) -> str:
    """Key of the "Label N chosen items" button."""
    return f"similar_apply_{where}"


def similar_undo_key(where: str) -> str:
    """Key of the "Undo bulk label" button."""
    return f"similar_undo_{where}"
