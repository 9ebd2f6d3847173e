"""Where a project may live: the default location, and which locations a link, a form or an import may name.

Pure rules over plain values (the app passes what it read from its environment
and secrets): nothing here opens a store, and a refused location creates nothing
and connects nowhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..store import DEFAULT_PROJECT_DIR, StoreError, is_database_url
from ..store.folder.files import MANIFEST  # the file a project folder always contains

__all__ = [
    "ENV_DATABASE_URL",
    "ENV_IMPORT_ROOT",
    "ENV_PROJECT_DIR",
    "IMPORT_OFF",
    "MANIFEST",
    "SCHEMA_NAME",
    "allowed_location",
    "database_project_location",
    "default_location",
    "import_file_location",
    "import_folder_location",
    "is_project",
    "new_project_location",
    "normalise_location",
]

#: Environment variable naming a shared project's database (wins over everything else).
ENV_DATABASE_URL = "DATABASE_URL"
#: Environment variable naming the default project folder.
ENV_PROJECT_DIR = "SUPERINTENDENT_PROJECT_DIR"
#: Environment variable naming the only folder whose images may be imported from the server.
ENV_IMPORT_ROOT = "SUPERINTENDENT_IMPORT_ROOT"

# --------------------------------------------------------------------------- where a project lives


def normalise_location(location: str | os.PathLike) -> str:
    """Folders are made absolute; database URLs are kept as they are."""
    text = os.fspath(location)
    return text if is_database_url(text) else os.path.abspath(text)


def default_location(
    *,
    database_url: str | None = None,
    project_dir: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The project opened when nothing else is asked for.

    In this order: ``$DATABASE_URL``; ``database_url`` (e.g. from the app's
    secrets) — several app processes then share one project —; the folder
    ``$SUPERINTENDENT_PROJECT_DIR``; ``project_dir``; ``./labelling-project``.

    Parameters
    ----------
    database_url : str, optional
        A database URL the caller found elsewhere (the app: its secrets).
    project_dir : str or path, optional
        A folder the caller found elsewhere (the app: its secrets).
    environ : mapping, optional
        Environment variables (default ``os.environ``).

    Returns
    -------
    str
        A database URL as given, or an absolute folder path.
    """
    env = os.environ if environ is None else environ
    url = env.get(ENV_DATABASE_URL) or database_url
    if url:
        return str(url)
    folder = env.get(ENV_PROJECT_DIR) or project_dir
    return os.path.abspath(str(folder or DEFAULT_PROJECT_DIR))


def is_project(location: str | os.PathLike) -> bool:
    """Whether a folder holds a project (a database URL always can)."""
    return is_database_url(os.fspath(location)) or (Path(location) / MANIFEST).is_file()


# --------------------------------------------------------------------------- which locations a link may name

#: A location that names a scheme (``sqlite:``, ``postgresql://``, ``file:``, ``http://`` ...), not a folder.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_LOCATION = 1024
#: PostgreSQL schema names a project may live in (as the SQL store accepts them).
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _refuse(why: str, projects_root: str | None, database_url: str | None) -> StoreError:
    allowed = []
    if projects_root is not None:
        allowed.append(f"a project folder in {projects_root}")
    if database_url is not None:
        allowed.append("the configured database")
    where = " or ".join(allowed) or "its default project"
    return StoreError(f"{why} This app opens only {where}; nothing was opened or created.")


def _same_database(wanted: str, database_url: str) -> str | None:
    """``wanted`` if it is ``database_url`` itself or the same database with another ``?schema=``."""
    if wanted == database_url:
        return wanted
    if not is_database_url(wanted) or not is_database_url(database_url):
        return None
    from ..store.sql.urls import normalise_url  # SQLAlchemy only when a database is configured

    try:
        want, schema = normalise_url(wanted)
        have, _ = normalise_url(database_url)
    except Exception:  # noqa: BLE001 — an unreadable URL is simply not the configured one
        return None
    if want.get_backend_name() != "postgresql" or schema is None or not SCHEMA_NAME.match(schema):
        return None
    same = want.render_as_string(hide_password=False) == have.render_as_string(hide_password=False)
    return wanted if same else None


def _inside(path: str, root: str) -> bool:
    """Whether ``path`` (symlinks and ``..`` resolved) is ``root`` or below it."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _checked_text(wanted: object, projects_root: str | None, database_url: str | None) -> str:
    if not isinstance(wanted, str | os.PathLike):
        raise _refuse("That project location is not a path.", projects_root, database_url)
    text = os.fspath(wanted)
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_LOCATION or _CONTROL.search(text):
        raise _refuse("That project location is empty, too long or has control characters.",
                      projects_root, database_url)
    return text


def allowed_location(
    wanted: object,
    *,
    projects_root: str | os.PathLike | None,
    database_url: str | None = None,
    default: str | None = None,
) -> str:
    """The project location ``wanted`` names, if the app may open it; refuse anything else.

    A location from a link (``?project=``) or a form is input from anyone who has
    the link. This checks it without touching anything but the file system's
    metadata: no file, folder, table or connection is made.

    Parameters
    ----------
    wanted : str or path
        A folder (absolute, or relative to ``projects_root``) or a database URL.
    projects_root : str or path or None
        The projects folder: a folder below it (symlinks and ``..`` resolved) that
        already holds a project is allowed. None: no folder is.
    database_url : str, optional
        The configured database: that URL, or the same PostgreSQL database with
        another ``?schema=`` (a project beside the default one), is allowed.
    default : str, optional
        The default location (always allowed, even before it exists).

    Returns
    -------
    str
        The location as :func:`open_project` takes it (an absolute folder path, or the URL).

    Raises
    ------
    StoreError
        Anything else: other folders, other URLs (``sqlite:``, ``postgresql:``,
        ``file:``, ``http:`` ...), control characters. The message does not repeat
        the location (it may be anything) and says what may be opened.
    """
    root = None if projects_root is None else os.path.abspath(os.fspath(projects_root))
    text = _checked_text(wanted, root, database_url)
    if default is not None and text == default:
        return default
    if _SCHEME.match(text) or is_database_url(text):
        match = _same_database(text, database_url) if database_url else None
        if match is None:
            raise _refuse("That project location is a URL this app is not configured for.", root, database_url)
        return match
    if root is None:
        raise _refuse("That project location is a folder.", root, database_url)
    path = os.path.normpath(os.path.join(root, text))
    if default is not None and not is_database_url(default) and path == os.path.abspath(default):
        return os.path.abspath(default)
    if not _inside(path, root):
        raise _refuse("That folder is outside the projects folder.", root, database_url)
    if not is_project(path):
        raise _refuse("That folder holds no project.", root, database_url)
    return path


def new_project_location(wanted: object, *, projects_root: str | os.PathLike | None) -> str:
    """Where a new project folder may go: below ``projects_root`` (checked like :func:`allowed_location`).

    Returns the absolute path; raises ``StoreError`` for a folder outside the
    projects folder (symlinks and ``..`` resolved) or without one configured.
    """
    root = None if projects_root is None else os.path.abspath(os.fspath(projects_root))
    text = _checked_text(wanted, root, None)
    if root is None or _SCHEME.match(text) or is_database_url(text):
        raise StoreError("A new project folder must be in the projects folder; nothing was created.")
    path = os.path.normpath(os.path.join(root, text))
    if path == os.path.realpath(root) or path == root or not _inside(path, root):
        raise StoreError(f"A new project folder must be inside {root}; nothing was created.")
    return path


IMPORT_OFF = (
    "Importing a folder on the server is off. To allow it, the admin names the folder that may be "
    f"read: import_root = \"/path/to/images\" in the secrets, or ${ENV_IMPORT_ROOT}."
)


def import_folder_location(wanted: object, *, import_root: str | os.PathLike | None) -> str:
    """The server folder of images ``wanted`` names, if it is ``import_root`` or below it.

    Parameters
    ----------
    wanted : str or path
        Absolute, or relative to ``import_root``.
    import_root : str or path or None
        The only folder whose images may be read (None: the import is off).

    Returns
    -------
    str
        The absolute path of an existing folder inside ``import_root`` (symlinks and ``..`` resolved).

    Raises
    ------
    StoreError
        The import is off, or the folder is outside ``import_root`` or missing; the
        message never lists or repeats other folders.
    """
    return _import_location(wanted, import_root, "folder")


def import_file_location(wanted: object, *, import_root: str | os.PathLike | None) -> str:
    """The server file (a CSV / parquet table) ``wanted`` names, if it is inside ``import_root``.

    The same rules as :func:`import_folder_location`: only the configured import folder
    and what is below it (symlinks and ``..`` resolved), never a path outside it.

    Raises
    ------
    StoreError
        The import is off, or the file is outside ``import_root``, missing or not a file.
    """
    return _import_location(wanted, import_root, "file")


def _import_location(wanted: object, import_root: str | os.PathLike | None, what: str) -> str:
    if import_root is None or not os.fspath(import_root).strip():
        raise StoreError(IMPORT_OFF)
    root = os.path.abspath(os.fspath(import_root))
    if not isinstance(wanted, str | os.PathLike):
        raise StoreError(f"Give the {what} as a path.")
    text = os.fspath(wanted)
    if not isinstance(text, str) or len(text) > _MAX_LOCATION or _CONTROL.search(text) or _SCHEME.match(text):
        raise StoreError(f"That is not a {what} inside {root}; nothing was read.")
    path = os.path.normpath(os.path.join(root, text))
    if not _inside(path, root):
        raise StoreError(f"Only {what}s inside {root} may be imported; nothing was read.")
    if not (os.path.isdir(path) if what == "folder" else os.path.isfile(path)):
        raise StoreError(f"There is no such {what} inside {root}; nothing was read.")
    return path


def database_project_location(database_url: str, name: str) -> str:
    """The URL of a new project ``name`` beside the default one: its own schema in the same PostgreSQL database.

    Parameters
    ----------
    database_url : str
        The configured database (the default project's URL).
    name : str
        The project's name; its schema is the name in lower case, other characters as ``_``.

    Raises
    ------
    StoreError
        The configured database is SQLite (one project per file: a new file is not made
        beside it, so the project would not be where the configuration says), or the
        name gives the default project's own schema.
    """
    from ..store.sql.urls import normalise_url  # SQLAlchemy only when a database is configured

    url, schema_now = normalise_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise StoreError(
            "This app keeps its project in a SQLite database, which holds one project; a new project "
            "cannot be made beside it. Use a PostgreSQL database (each project gets its own schema), "
            "or run without a database to keep projects in folders. Nothing was created."
        )
    schema = re.sub(r"[^a-z0-9_]", "_", str(name).strip().lower())[:63].strip("_") or "project"
    if not schema[0].isalpha():
        schema = ("p_" + schema)[:63]
    if schema in {schema_now or "public", "public", "information_schema"} or schema.startswith("pg_"):
        raise StoreError(f"The name gives the schema {schema}, which is taken; choose another name.")
    return url.update_query_dict({"schema": schema}).render_as_string(hide_password=False)
