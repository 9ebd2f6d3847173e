"""The store contract (tests/core/store_contract.py) run against the parquet folder backend."""

from __future__ import annotations

import itertools

import pytest
from store_contract import *  # noqa: F401,F403  (the contract's tests)

from superintendent_core.store.folder import FolderStore


class FolderFactory:
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


@pytest.fixture
def store_factory(tmp_path):
    return FolderFactory(tmp_path)
