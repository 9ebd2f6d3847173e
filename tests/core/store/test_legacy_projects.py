"""Projects written by an older version open unchanged: folder, SQLite and PostgreSQL.

The fixtures in ``tests/fixtures/legacy/<version>/`` were written by that
version's code with ``tests/fixtures/make_legacy_projects.py`` (see its
docstring), together with what that version read back (``expected.json``). Each
test opens a copy with the current code, compares everything with the record,
then labels one more item and checks that the label survives reopening.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require

from superintendent_core.store.folder import FolderStore
from superintendent_core.store.sql import SQLStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VERSIONS = sorted(p for p in (FIXTURES / "legacy").iterdir() if (p / "expected.json").exists())


def _maker():
    spec = importlib.util.spec_from_file_location("make_legacy_projects", FIXTURES / "make_legacy_projects.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _maker()
CASES = [
    pytest.param(version, key, id=f"{version.name}-{key}",
                 marks=[pytest.mark.postgres] if key.startswith("postgres") else [])
    for version in VERSIONS
    for key in sorted(json.loads((version / "expected.json").read_text())["projects"])
]


def test_fixtures_exist_for_every_backend():
    assert VERSIONS, "no legacy fixtures found"
    keys = {key.split("-")[0] for version in VERSIONS
            for key in json.loads((version / "expected.json").read_text())["projects"]}
    assert keys == {"folder", "sqlite", "postgres"}


def _load_postgres_dump(dump: str, schema: str) -> None:
    """Load a ``pg_dump`` of schema ``legacy_fixture`` into ``schema`` (which must not exist)."""
    lines = [line for line in dump.splitlines() if not line.startswith("\\")]  # psql meta-commands
    script = "\n".join(lines).replace(MAKER.PG_SCHEMA, schema)
    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)


class _Opener:
    """Open (and reopen) a copy of one fixture project with the current code."""

    def __init__(self, version: Path, key: str, tmp_path: Path) -> None:
        self.backend, name = key.split("-", 1)
        self.schemas: list[str] = []
        if self.backend == "folder":
            self.path = tmp_path / "project"
            shutil.copytree(version / key, self.path)
        elif self.backend == "sqlite":
            self.path = tmp_path / "project.db"
            shutil.copyfile(version / f"{key}.db", self.path)
        else:
            require(postgres_available(), "PostgreSQL")
            self.schema = fresh_schema()
            self.schemas.append(self.schema)
            _load_postgres_dump((version / f"{key}.sql").read_text(), self.schema)

    def open(self):
        if self.backend == "folder":
            return FolderStore(self.path, create=False)
        if self.backend == "sqlite":
            return SQLStore(f"sqlite:///{self.path}", create=False)
        return SQLStore(POSTGRES_URL, schema=self.schema, create=False)


#: Settings added after a fixture was written, and the value an older project reads for each.
ADDED_SETTINGS = {"audit_share": 0.2, "feature_set": "", "feature_extractor": "", "feature_dtype": "float32"}
#: History columns added after (issue 12's estimate): None in rows written before them.
ADDED_HISTORY = ("estimate_target", "estimate_note")


def _without_later_additions(got: dict, record: dict) -> dict:
    """``got`` without what later versions add, after checking older projects read it as its default."""
    got = dict(got)
    settings = dict(got["settings"])
    for key, default in ADDED_SETTINGS.items():
        if key not in record["settings"]:
            assert settings.pop(key) == default, key
    got["settings"] = settings
    rows = []
    for row, old in zip(got["history"], record["history"], strict=True):
        row = dict(row)
        for key in ADDED_HISTORY:
            if key not in old:
                assert row.pop(key) is None, key
        rows.append(row)
    got["history"] = rows
    return got


@pytest.mark.parametrize(("version", "key"), CASES)
def test_legacy_project_opens_unchanged(version, key, tmp_path):
    record = json.loads((version / "expected.json").read_text())["projects"][key]
    fixture_files = sorted((p.name, p.stat().st_size) for p in version.rglob("*") if p.is_file())
    opener = _Opener(version, key, tmp_path)
    try:
        with opener.open() as store:
            got = _without_later_additions(MAKER.state(store), record)
            for field, expected in record.items():
                if field != "next_item":
                    assert got[field] == expected, field
            item = store.next_item(MAKER.NEW_LABELLER)
            assert item == record["next_item"]
            settings = store.settings
            label = [settings.classes[0]] if settings.multi_label else settings.classes[0]
            store.submit(item, label, MAKER.NEW_LABELLER, seconds=3.0)
        with opener.open() as store:
            labels = store.labels()
            last = labels.iloc[-1]
            assert (int(last.item_id), last.labeller, last.seconds) == (item, MAKER.NEW_LABELLER, 3.0)
            assert len(labels) == len(record["labels"]) + 1
            assert store.revision().events == record["revision"]["events"] + 1
            assert store.progress().per_labeller[MAKER.NEW_LABELLER] == 1
    finally:
        drop_schemas(opener.schemas)
    # the committed fixture itself is never written to
    assert sorted((p.name, p.stat().st_size) for p in version.rglob("*") if p.is_file()) == fixture_files


@pytest.mark.parametrize(("version", "key"), CASES)
def test_legacy_project_gets_suggestions(version, key, tmp_path):
    """A project of an earlier version has no suggestions, takes them, and keeps them."""
    opener = _Opener(version, key, tmp_path)
    try:
        with opener.open() as store:
            assert store.suggestions_version() == 0 and store.suggestions() is None
            item = int(store.unlabelled_ids()[0])
            assert store.save_suggestions([item], [store.settings.classes[0]], [0.75], {"by": "test"}) == 1
        with opener.open() as store:
            got = store.suggestions()
            assert (got.version, got.suggestion(item), got.meta["by"]) == (1, (store.settings.classes[0], 0.75), "test")
    finally:
        drop_schemas(opener.schemas)


@pytest.mark.parametrize(("version", "key"), CASES)
def test_legacy_project_takes_audit_records(version, key, tmp_path):
    """A project of an earlier version (no audit tables, format-1 files) records audit draws and keeps them."""
    from superintendent_core.store.audit import AuditDraws

    opener = _Opener(version, key, tmp_path)
    try:
        with opener.open() as store:
            assert len(store.audit_records()) == 0
            pool = store.unlabelled_ids()[:2]  # the multi-label fixture has 2 left
            store.set_order(pool, audit=AuditDraws(pool[:1], np.array([0.5]), np.array([9])))
            settings = store.settings
            label = [settings.classes[0]] if settings.multi_label else settings.classes[0]
            for _ in range(2):
                store.submit(store.next_item(MAKER.NEW_LABELLER), label, MAKER.NEW_LABELLER)
            expected = store.audit_records()
            assert expected["item_id"].tolist() == pool[:1].tolist()
        with opener.open() as store:
            pd.testing.assert_frame_equal(store.audit_records(), expected)
            assert len(store.labels()) == len(json.loads((version / "expected.json").read_text())
                                              ["projects"][key]["labels"]) + 2
    finally:
        drop_schemas(opener.schemas)
