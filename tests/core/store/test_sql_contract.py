"""The store contract (tests/core/store_contract.py) run against the SQL backend: SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sql_helpers import PostgresFactory, SQLiteFactory, postgres_available, require
from store_contract import *  # noqa: F401,F403  (the contract's tests)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_factory(request, tmp_path):
    if request.param == "sqlite":
        factory = SQLiteFactory(tmp_path)
    else:
        require(postgres_available(), "PostgreSQL")
        factory = PostgresFactory()
    yield factory
    factory.cleanup()
