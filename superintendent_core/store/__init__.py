"""Project stores: where a labelling project lives (see :mod:`.protocol`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import InvalidInput, LockedError, StoreError, UnknownItem, VersionError
from .protocol import Item, ItemBatch, LabelStore, Progress, ProjectSettings, Revision
from .suggestions import Suggestions

__all__ = [
    "DEFAULT_PROJECT_DIR",
    "InvalidInput",
    "Item",
    "ItemBatch",
    "LabelStore",
    "LockedError",
    "Progress",
    "ProjectSettings",
    "Revision",
    "StoreError",
    "Suggestions",
    "UnknownItem",
    "VersionError",
    "default_project_path",
    "display_location",
    "is_database_url",
    "open_store",
]

#: Where a project lives when nothing else is said.
DEFAULT_PROJECT_DIR = "labelling-project"
ENV_VAR = "SUPERINTENDENT_PROJECT_DIR"


#: ``name:`` at the start of a location: a URL scheme (two letters or more, so ``C:\\`` stays a path).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")


def is_database_url(text: object) -> bool:
    """Whether ``text`` names a database (``sqlite:…``, ``postgresql…``) rather than a folder."""
    return isinstance(text, str) and text.lower().startswith(("sqlite:", "postgresql", "postgres:"))


def display_location(path_or_url: str | os.PathLike) -> str:
    """Where a project lives, safe to show: a database URL's password is masked."""
    text = os.fspath(path_or_url)
    if not is_database_url(text):
        return text
    from sqlalchemy.engine import make_url

    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:
        return text.split(":", 1)[0] + ":…"


def default_project_path() -> str:
    """``$SUPERINTENDENT_PROJECT_DIR`` if set, else ``./labelling-project``."""
    return os.environ.get(ENV_VAR) or DEFAULT_PROJECT_DIR


def open_store(
    path_or_url: str | os.PathLike | None = None,
    *,
    settings: ProjectSettings | None = None,
    create: bool = True,
    feature_cache_bytes: int | None = None,
) -> LabelStore:
    """Open (or create) a project store.

    Parameters
    ----------
    path_or_url : str or path, optional
        A folder path (the parquet folder backend) or a database URL
        (``sqlite:///…`` / ``postgresql://…``; the SQL backend). Defaults to
        :func:`default_project_path`. Any other URL scheme (``mysql://``,
        ``file:``, ``https:`` …) is refused with ``InvalidInput``; a folder
        whose name really starts with ``word:`` is given as ``./word:…``.
    settings : ProjectSettings, optional
        Settings for a new project (ignored when the project exists).
    create : bool, default=True
        Create the project when it does not exist; otherwise raise ``StoreError``.
    feature_cache_bytes : int, optional
        Decoded features the store keeps (default 256 MiB, every backend; memory-mapped
        features of a folder project are not counted).
    """
    target = default_project_path() if path_or_url is None else path_or_url
    text = os.fspath(target)
    scheme = _SCHEME.match(text)
    if scheme and not is_database_url(text):
        raise InvalidInput(
            f"{re.sub(r'//[^/@]*@', '//…@', text)} is a {scheme.group(1)}: "
            "location, which is not supported: a project is a folder path, a sqlite:///… URL or a "
            "postgresql://… URL (for a folder whose name starts like that, write ./ before it)."
        )
    if is_database_url(text):
        from .sql import SQLStore  # imports SQLAlchemy only when a database is used

        if feature_cache_bytes is None:
            return SQLStore(text, settings=settings, create=create)
        return SQLStore(text, settings=settings, create=create, feature_cache_bytes=feature_cache_bytes)
    from .folder import FolderStore

    if feature_cache_bytes is None:
        return FolderStore(Path(text), settings=settings, create=create)
    return FolderStore(Path(text), settings=settings, create=create, feature_cache_bytes=feature_cache_bytes)
