"""The open project: found from the URL / environment / secrets, opened once per process.

:func:`open_project` is cached with ``st.cache_resource``: every browser session
of the process shares one store object (the store is thread-safe) and one
:class:`~superintendent_core.learning.training.RetrainScheduler`. Nothing here imports
scikit-learn.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from superintendent_core.data.demo import load_digits_demo
from superintendent_core.learning.training import RetrainScheduler
from superintendent_core.store import (
    DEFAULT_PROJECT_DIR,
    ItemBatch,
    LabelStore,
    ProjectSettings,
    StoreError,
    is_database_url,
    open_store,
)

from . import state as S

#: Environment variable naming the default project folder.
ENV_VAR = "SUPERINTENDENT_PROJECT_DIR"
#: Key in ``st.secrets`` naming the default project folder.
SECRET_KEY = "project_dir"
#: File a project folder always contains.
MANIFEST = "project.json"


@dataclass(frozen=True)
class Project:
    """One open project, shared by every session of the process.

    Attributes
    ----------
    path : str
        Absolute path of the project folder.
    store : LabelStore
    scheduler : RetrainScheduler
        Background retrains for this store; holds the latest model snapshot.
    """

    path: str
    store: LabelStore
    scheduler: RetrainScheduler


def _database_url() -> str | None:
    """``$DATABASE_URL`` or the secrets' ``DATABASE_URL`` / ``[database] url`` (a shared project)."""
    has_secret = _has_secret_database()
    if not (os.environ.get("DATABASE_URL") or has_secret):
        return None  # the usual local case: SQLAlchemy is not even imported
    from superintendent_core.store.sql import database_url_from

    return database_url_from(st.secrets if has_secret else None, os.environ)


def _absolute(path: str) -> str:
    """Folders are made absolute; database URLs are kept as they are."""
    return path if is_database_url(path) else os.path.abspath(path)


def default_path() -> str:
    """The project every session opens first.

    A database URL (``$DATABASE_URL`` or the secrets' ``DATABASE_URL``) when one is
    configured — several app processes then share one project —, else the folder
    ``$SUPERINTENDENT_PROJECT_DIR``, else ``st.secrets["project_dir"]``, else
    ``./labelling-project``.
    """
    url = _database_url()
    if url:
        return url
    value = os.environ.get(ENV_VAR)
    if not value:
        try:
            value = st.secrets.get(SECRET_KEY)
        except Exception:  # no secrets file at all: that is the normal local case
            value = None
    return os.path.abspath(str(value or DEFAULT_PROJECT_DIR))


def _has_secret_database() -> bool:
    try:
        return bool(st.secrets.get("DATABASE_URL") or st.secrets.get("database"))
    except Exception:  # no secrets file: the normal local case
        return False


def projects_parent() -> Path:
    """Where new project folders are proposed: beside the default project folder."""
    default = default_path()
    return Path.cwd() if is_database_url(default) else Path(default).parent


def is_project(path: str | os.PathLike) -> bool:
    """Whether a folder holds a project (a database URL always can)."""
    return is_database_url(os.fspath(path)) or (Path(path) / MANIFEST).is_file()


def current_path() -> str:
    """The project folder this session works on (see :func:`sync_project`)."""
    wanted = st.session_state.get(S.PROJECT) or st.query_params.get(S.QP_PROJECT)
    return _absolute(wanted) if wanted else default_path()


def sync_project() -> None:
    """Keep the session's project and the URL's ``project`` parameter in step.

    The URL wins when it names a project (a bookmark, a refresh); otherwise the
    session's choice is written back to the URL (page navigation clears it).
    """
    in_url = st.query_params.get(S.QP_PROJECT)
    if in_url:
        st.session_state[S.PROJECT] = _absolute(in_url)
    elif st.session_state.get(S.PROJECT):
        st.query_params[S.QP_PROJECT] = st.session_state[S.PROJECT]


def set_current_path(path: str) -> None:
    """Switch this session to another project (kept in the URL, so a refresh stays there)."""
    path = _absolute(path)
    if path == default_path():
        st.session_state[S.PROJECT] = None
        st.query_params.pop(S.QP_PROJECT, None)
    else:
        st.session_state[S.PROJECT] = path
        st.query_params[S.QP_PROJECT] = path


def demo_settings() -> ProjectSettings:
    """Settings of the digits demo project."""
    return ProjectSettings(
        name="Digits demo", kind="image", classes=tuple(str(i) for i in range(10)), feature_kind="array"
    )


def import_demo(store: LabelStore) -> None:
    """Add the digits demo to an empty project (without importing scikit-learn)."""
    load_digits_demo(store)


@st.cache_resource(show_spinner="Opening the project…")
def open_project(path: str) -> Project:
    """Open (once per process) the project at ``path``; the default project gets the demo if empty.

    Raises
    ------
    StoreError
        The folder is not a project, is locked by another process, or is damaged.
    """
    is_default = path == default_path()
    if not is_default and not is_project(path):
        raise StoreError(
            f"No project at {path}: the folder does not exist or is not a project. "
            "Create it on the Data page, or open another one."
        )
    store = open_store(path, settings=demo_settings() if is_default else None)
    if is_default and len(store) == 0 and store.settings.name == demo_settings().name:
        import_demo(store)
    return Project(path, store, RetrainScheduler(store))


def current_project() -> tuple[Project | None, str | None]:
    """The session's project, or ``(None, message)`` when it cannot be opened."""
    try:
        path = current_path()
    except StoreError as exc:  # e.g. a database URL in secrets that cannot be read
        return None, str(exc)
    try:
        return open_project(path), None
    except StoreError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"Cannot open the project at {path}: {exc}"


def forget_project(path: str) -> None:
    """Close a project and drop it from the process cache (before replacing its folder)."""
    path = _absolute(path)
    try:
        project = open_project(path)
    except Exception:
        project = None
    if project is not None:
        project.scheduler.wait(60)
        project.store.close()
    open_project.clear(path)


def _batch_labels(batch: ItemBatch, multi_label: bool) -> ItemBatch:
    """Multi-label projects read ``"a|b"`` cells as several classes."""
    if not multi_label or batch.labels is None:
        return batch
    labels = [None if v is None else tuple(p for p in str(v).split("|") if p) for v in batch.labels]
    return dataclasses.replace(batch, labels=labels)


def classes_in(batch: ItemBatch, multi_label: bool = False) -> list[str]:
    """Distinct labels an import brings with it (sorted), to propose as classes."""
    found: set[str] = set()
    for v in batch.labels or ():
        if v is None:
            continue
        found.update(str(v).split("|") if multi_label else [str(v)])
    return sorted(p for p in found if p)


def create_project(path: str, settings: ProjectSettings, batch: ItemBatch | None) -> str:
    """Create a project folder with ``settings`` and add ``batch`` (all-or-nothing for the items).

    Refuses a folder that already holds a project with items. Returns the
    absolute path.
    """
    path = os.path.abspath(path)
    if is_project(path):
        raise StoreError(f"{path} already holds a project; open it instead, or choose another folder.")
    existed = os.path.exists(path)
    if existed and any(Path(path).iterdir()):
        raise StoreError(f"{path} is a folder with files in it; choose a new or empty folder for the project.")
    store = open_store(path, settings=settings, create=True)
    try:
        if batch is not None:
            store.add_items(_batch_labels(batch, settings.multi_label))
    except BaseException:
        store.close()
        # nothing half-created is left behind: the folder is removed (or emptied, if it existed)
        shutil.rmtree(path, ignore_errors=True)
        if existed:
            os.makedirs(path, exist_ok=True)
        raise
    store.close()
    return path


def add_to_project(store: LabelStore, batch: ItemBatch) -> int:
    """Add items (and their labels) to an open project; returns how many were added."""
    return len(store.add_items(_batch_labels(batch, store.settings.multi_label)))
