"""Factories for SQL stores in tests: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import itertools
import uuid

import sqlalchemy as sa
from conftest import POSTGRES_URL, postgres_available, require  # noqa: F401  (re-exported)

from superintendent_core.store.sql import SQLStore


def fresh_schema() -> str:
    return "t_" + uuid.uuid4().hex[:12]


def drop_schemas(schemas) -> None:
    if not schemas:
        return
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()


class SQLiteFactory:
    """Contract factory: every project a new SQLite file under ``root``."""

    def __init__(self, root):
        self.root = root
        self.counter = itertools.count()
        self.kwargs: dict[str, dict] = {}

    def url(self) -> str:
        return f"sqlite:///{self.root / f'project-{next(self.counter)}.db'}"

    def new(self, settings=None, *, clock=None):
        url = self.url()
        kwargs = {"clock": clock} if clock is not None else {}
        self.kwargs[url] = kwargs
        return SQLStore(url, settings=settings, **kwargs)

    def reopen(self, store):
        store.close()
        url = store.url.render_as_string(hide_password=False)
        return SQLStore(url, create=False, **self.kwargs.get(url, {}))

    def cleanup(self) -> None:
        pass


class PostgresFactory:
    """Contract factory: every project a new schema in the test database, dropped by ``cleanup``."""

    def __init__(self):
        self.schemas: list[str] = []
        self.kwargs: dict[str, dict] = {}

    def new(self, settings=None, *, clock=None):
        schema = fresh_schema()
        self.schemas.append(schema)
        kwargs = {"clock": clock} if clock is not None else {}
        self.kwargs[schema] = kwargs
        return SQLStore(POSTGRES_URL, settings=settings, schema=schema, **kwargs)

    def reopen(self, store):
        store.close()
        return SQLStore(
            POSTGRES_URL, schema=store.schema, create=False, **self.kwargs.get(store.schema, {})
        )

    def cleanup(self) -> None:
        drop_schemas(self.schemas)
