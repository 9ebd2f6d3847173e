"""The session's project: found from the URL / environment / secrets, opened once per process.

The lifecycle itself (open, demo import, create, add, warm-up, retrains) is
:mod:`superintendent_core.service`; this module adds what only the app has:

* :func:`open_project` keeps the service's :class:`Project` in the process
  registry (:mod:`ui.runtime`, not ``st.cache_resource``, which any client can
  clear): every browser session of the process shares one store object (the
  store is thread-safe) and one
  :class:`~superintendent_core.learning.training.RetrainScheduler`, closed by
  :func:`forget_project` or at process exit;
* the secrets (read in :mod:`ui.config`) and the environment decide the default project;
* the URL's ``project`` parameter and the session state say which project this session works on.

Nothing here imports scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from superintendent_core.service import (
    Project,
    add_to_project,
    create_project,
    default_location,
    is_project,
    normalise_location,
)
from superintendent_core.service import open_project as _open_project
from superintendent_core.store import StoreError, is_database_url

from . import config, runtime
from . import state as S

__all__ = [
    "Project",
    "add_to_project",
    "create_project",
    "current_path",
    "current_project",
    "default_path",
    "forget_project",
    "is_project",
    "open_project",
    "projects_parent",
    "set_current_path",
    "sync_project",
]


def default_path() -> str:
    """The project every session opens first.

    A database URL (``$DATABASE_URL`` or the secrets' ``DATABASE_URL``) when one is
    configured — several app processes then share one project —, else the folder
    ``$SUPERINTENDENT_PROJECT_DIR``, else ``st.secrets["project_dir"]``, else
    ``./labelling-project``.
    """
    return default_location(database_url=config.secret_database_url(), project_dir=config.secret_project_dir())


def projects_parent() -> Path:
    """Where new project folders are proposed: beside the default project folder."""
    default = default_path()
    return Path.cwd() if is_database_url(default) else Path(default).parent


def current_path() -> str:
    """The project folder this session works on (see :func:`sync_project`)."""
    wanted = st.session_state.get(S.PROJECT) or st.query_params.get(S.QP_PROJECT)
    return normalise_location(wanted) if wanted else default_path()


def sync_project() -> None:
    """Keep the session's project and the URL's ``project`` parameter in step.

    The URL wins when it names a project (a bookmark, a refresh); otherwise the
    session's choice is written back to the URL (page navigation clears it).
    """
    in_url = st.query_params.get(S.QP_PROJECT)
    if in_url:
        st.session_state[S.PROJECT] = normalise_location(in_url)
    elif st.session_state.get(S.PROJECT):
        st.query_params[S.QP_PROJECT] = st.session_state[S.PROJECT]


def set_current_path(path: str) -> None:
    """Switch this session to another project (kept in the URL, so a refresh stays there)."""
    path = normalise_location(path)
    if path == default_path():
        st.session_state[S.PROJECT] = None
        st.query_params.pop(S.QP_PROJECT, None)
    else:
        st.session_state[S.PROJECT] = path
        st.query_params[S.QP_PROJECT] = path


def _close_project(project: Project) -> None:
    project.close(60)


@runtime.process_wide(close=_close_project)
def open_project(path: str) -> Project:
    """Open (once per process) the project at ``path``; the default project gets the demo if empty.

    The project stays open for every session until :func:`forget_project` or
    the process exits (``open_project.clear()`` closes every open project).

    Raises
    ------
    StoreError
        The folder is not a project, is locked by another process, or is damaged.
    """
    with st.spinner("Opening the project…"):
        return _open_project(path, is_default=path == default_path())


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
    open_project.clear(normalise_location(path))
