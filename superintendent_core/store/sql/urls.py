"""Database URLs: which database (and schema) a project lives in."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from ..errors import InvalidInput

__all__ = ["normalise_url"]


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
