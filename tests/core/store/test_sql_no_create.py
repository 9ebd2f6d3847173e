"""Opening with create=False refuses a missing project without creating anything (file or schema)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require

from superintendent_core.store import StoreError, open_store


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path):
    target = tmp_path / "x.db"
    with pytest.raises(StoreError, match="no labelling project"):
        open_store(f"sqlite:///{target}", create=False)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_postgresql_schema_is_refused_and_not_created():
    require(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    schema = fresh_schema()
    try:
        with pytest.raises(StoreError, match="no labelling project"):
            open_store(f"{POSTGRES_URL}?schema={schema}", create=False)
        engine = sa.create_engine(POSTGRES_URL)
        try:
            with engine.connect() as conn:
                found = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}).first()
        finally:
            engine.dispose()
        assert found is None
    finally:
        drop_schemas([schema])
