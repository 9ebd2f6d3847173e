"""Database URLs: which database a project lives in, from a URL, the environment or the secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from ..errors import InvalidInput

__all__ = ["database_url_from", "normalise_url"]


def normalise_url(url: str | URL) -> tuple[URL, str | None]:
    """Parse a database URL; PostgreSQL goes through psycopg 3, and ``?schema=`` is taken out.

    Returns
    -------
    url : sqlalchemy.engine.URL
    schema : str or None
        The PostgreSQL schema named by ``?schema=`` (None when absent).

    Raises
    ------
    InvalidInput
        Not a ``sqlite:`` / ``postgresql:`` URL, or a URL that cannot be parsed.
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except sa_exc.ArgumentError:
        raise InvalidInput(
            "The database URL cannot be read; it looks like postgresql://user:password@host/dbname "
            "or sqlite:///path/to/project.db."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres" or (backend == "postgresql" and "+" not in parsed.drivername):
        parsed = parsed.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    if backend not in ("postgresql", "sqlite"):
        raise InvalidInput(
            f"Database URLs must start with postgresql:// or sqlite:///, got {backend}://; "
            "other databases are not supported."
        )
    schema = parsed.query.get("schema")
    if schema is not None:
        parsed = parsed.difference_update_query(["schema"])
        if isinstance(schema, tuple):
            schema = schema[-1]
    return parsed, schema


def database_url_from(
    secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The project's database URL: ``$DATABASE_URL``, else ``DATABASE_URL`` in the secrets.

    Parameters
    ----------
    secrets : mapping, optional
        ``st.secrets`` (or a dict): its top-level ``DATABASE_URL`` or ``[database] url``.
    environ : mapping, optional
        Environment variables (default ``os.environ``).

    Returns
    -------
    str or None
        None when neither is set (the app then uses a project folder).

    Raises
    ------
    InvalidInput
        The secrets file exists but Streamlit cannot parse it (better than
        silently labelling into a folder that may not survive a restart).
    """
    env = os.environ if environ is None else environ
    value = env.get("DATABASE_URL")
    if value or secrets is None:
        return str(value) if value else None
    try:
        if not secrets:
            return None
        value = secrets.get("DATABASE_URL")
        if not value:
            section = secrets.get("database")
            if isinstance(section, Mapping):
                value = section.get("url")
    except FileNotFoundError as exc:  # st.secrets without a file, or with a broken one
        if str(exc).startswith("No secrets found"):
            return None
        raise InvalidInput(
            f"The secrets cannot be read ({str(exc).splitlines()[0][:200]}); fix the secrets file "
            "(the database URL may be in it)."
        ) from None
    return str(value) if value else None
