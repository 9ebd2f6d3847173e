"""The store contract (store_contract.py) run against every backend: folder, SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sql_helpers import PostgresFactory, SQLiteFactory, postgres_available, require
from store_contract import *  # noqa: F401,F403  (the contract's tests)

from superintendent_core.store.folder import FolderStore


class FolderFactory:
    """Contract factory: every project a new folder under ``root``."""

    def __init__(self, root):
        self.root = root
        self.counter = itertools.count()
        self.clocks = {}

    def new(self, settings=None, *, clock=None):
        path = self.root / f"project-{next(self.counter)}"
        kwargs = {"clock": clock} if clock is not None else {}
        store = FolderStore(path, settings=settings, **kwargs)
        self.clocks[path] = kwargs
        return store

    def reopen(self, store):
        store.close()
        return FolderStore(store.path, create=False, **self.clocks.get(store.path, {}))

    def cleanup(self) -> None:
        pass


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_factory(request, tmp_path):
    if request.param == "folder":
        factory = FolderFactory(tmp_path)
    elif request.param == "sqlite":
        factory = SQLiteFactory(tmp_path)
    else:
        require(postgres_available(), "PostgreSQL")
        factory = PostgresFactory()
    yield factory
    factory.cleanup()
