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
    allowed_location,
    create_project,
    database_project_location,
    default_location,
    is_project,
    new_project_location,
    normalise_location,
)
from superintendent_core.service import open_project as _open_project
from superintendent_core.service.locations import SCHEMA_NAME
from superintendent_core.store import StoreError, is_database_url

from . import config, runtime
from . import state as S

__all__ = [
    "Project",
    "add_to_project",
    "check_location",
    "configured_database",
    "create_project",
    "current_path",
    "current_project",
    "default_path",
    "forget_project",
    "database_location",
    "is_project",
    "known_project_folders",
    "new_folder",
    "new_projects_folder",
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


#: The folder, inside :func:`projects_parent`, where the app proposes new project folders (git-ignored).
NEW_PROJECTS_DIR = "projects"


def new_projects_folder() -> Path:
    """Where the app proposes new project folders: ``projects/`` beside the default project.

    Inside :func:`projects_parent`, so the projects folder rules hold unchanged
    (and folders made beside the default project by earlier versions still open);
    the repository's ``.gitignore`` lists it, so projects never land in a commit.
    """
    return projects_parent() / NEW_PROJECTS_DIR


def known_project_folders() -> list[str]:
    """Project folders beside the default project and in :func:`new_projects_folder`, sorted."""
    found = []
    for parent in (projects_parent(), new_projects_folder()):
        if parent.is_dir():
            found += [str(p) for p in parent.iterdir() if p.is_dir() and is_project(p)]
    return sorted(found)


def configured_database() -> str | None:
    """The configured database URL (the default project lives there), or None."""
    default = default_path()
    return default if is_database_url(default) else None


def check_location(wanted: object) -> str:
    """``wanted`` as a location this app may open (see :func:`superintendent_core.service.allowed_location`).

    Raises
    ------
    StoreError
        Not the default project, a project folder in :func:`projects_parent`, or the
        configured database; the message says so and does not repeat ``wanted``.
    """
    database = configured_database()
    if database is not None and isinstance(wanted, str) and SCHEMA_NAME.match(wanted):
        wanted = database_project_location(database, wanted)  # a project's name in the configured database
    return allowed_location(wanted, projects_root=projects_parent(), database_url=database, default=default_path())


def _in_link(location: str) -> str:
    """What the URL shows for a location: a database project by its schema (never the URL and its password)."""
    if not is_database_url(location):
        return location
    from superintendent_core.store.sql.urls import normalise_url

    return normalise_url(location)[1] or location


def new_folder(wanted: object) -> str:
    """Where a new project folder named ``wanted`` may go (inside :func:`projects_parent`), or StoreError."""
    return new_project_location(wanted, projects_root=projects_parent())


def database_location(name: str) -> str:
    """Where a project called ``name`` lives in the configured database (its own schema), or StoreError."""
    database = configured_database()
    if database is None:
        raise StoreError("No database is configured; projects are folders.")
    return database_project_location(database, name)


def current_path() -> str:
    """The project this session works on (see :func:`sync_project`): the default unless allowed."""
    wanted = st.session_state.get(S.PROJECT) or st.query_params.get(S.QP_PROJECT)
    if not wanted:
        return default_path()
    try:
        return check_location(wanted)
    except StoreError:
        return default_path()


def sync_project() -> None:
    """Keep the session's project and the URL's ``project`` parameter in step.

    The URL wins when it names a project the app may open (a bookmark, a
    refresh); anything else in it is dropped with a message, and the session
    stays on its project. Otherwise the session's choice is written back to the
    URL (page navigation clears it).
    """
    in_url = st.query_params.get(S.QP_PROJECT)
    if in_url:
        try:
            st.session_state[S.PROJECT] = check_location(in_url)
        except StoreError as exc:
            st.query_params.pop(S.QP_PROJECT, None)
            st.session_state[S.PROJECT] = None
            S.notify(st.session_state, "error", f"The link's project was not opened. {exc}")
    elif st.session_state.get(S.PROJECT):
        st.query_params[S.QP_PROJECT] = _in_link(st.session_state[S.PROJECT])


def set_current_path(path: str) -> bool:
    """Switch this session to another project (kept in the URL, so a refresh stays there).

    Returns False (and queues a message) when ``path`` is not a location the app may open.
    """
    try:
        path = check_location(path)
    except StoreError as exc:
        S.notify(st.session_state, "error", str(exc))
        return False
    if path == default_path():
        st.session_state[S.PROJECT] = None
        st.query_params.pop(S.QP_PROJECT, None)
    else:
        st.session_state[S.PROJECT] = path
        st.query_params[S.QP_PROJECT] = _in_link(path)
    return True


def _close_project(project: Project) -> None:
    from .featurize import discard_jobs

    discard_jobs(project.path)  # its feature jobs stop first: none runs on (or holds) a closed store
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
