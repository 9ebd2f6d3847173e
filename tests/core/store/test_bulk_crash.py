"""Bulk labels under SIGKILL: a bulk label (and its undo) is all or nothing, on every backend."""

from __future__ import annotations

import random
import signal
import textwrap
import time
from pathlib import Path

import pytest
from forked_python import Zygote
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require
from store_contract import CLASSES, image_batch

from superintendent_core.store import ProjectSettings, open_store
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.sql import SQLStore

ROOT = Path(__file__).resolve().parents[3]
N, CHUNK = 600, 40

WRITER = f"""
import sys
import pandas, pyarrow.parquet  # loaded on first use by the store; here before "open", so the kills land in writes
kind, where, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "folder":
    from superintendent_core.store.folder import FolderStore
    store = FolderStore(where, create=False)
elif kind == "sqlite":
    from superintendent_core.store.sql import SQLStore
    store = SQLStore(where, create=False)
else:
    from superintendent_core.store.sql import SQLStore
    store = SQLStore(where, create=False, schema=sys.argv[4])
print("open", flush=True)
for k in range(start, {N} // {CHUNK}):
    store.bulk_label(list(range(k * {CHUNK}, (k + 1) * {CHUNK})), ("cat", "dog", "owl")[k % 3], "w")
    print("L", k, flush=True)
    if k % 3 == 2:
        store.undo("w")
        print("U", k, flush=True)
"""


def _open(kind: str, where: str, schema: str | None):
    if kind == "folder":
        return FolderStore(where, create=False)
    return SQLStore(where, create=False, schema=schema)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sigkill_leaves_each_bulk_label_whole_or_absent(tmp_path, kind):
    schema = None
    if kind == "folder":
        where = str(tmp_path / "p")
        store = FolderStore(where, settings=ProjectSettings(classes=CLASSES))
    elif kind == "sqlite":
        where = f"sqlite:///{tmp_path / 'p.db'}"
        store = SQLStore(where, settings=ProjectSettings(classes=CLASSES))
    else:
        require(postgres_available(), "PostgreSQL")
        where, schema = POSTGRES_URL, fresh_schema()
        store = SQLStore(where, settings=ProjectSettings(classes=CLASSES), schema=schema)
    # Each writer is a child forked from an interpreter that imported the engine once
    # (tests/core/forked_python.py): a separate process, killed with SIGKILL, without the import.
    zygote = Zygote(["superintendent_core.store.folder", "superintendent_core.store.sql"])
    try:
        store.add_items(image_batch(N))
        store.close()
        rng = random.Random(0)
        labelled_acked: set[int] = set()
        undone_acked: set[int] = set()
        start = 0
        while start < N // CHUNK:
            proc = zygote.spawn(textwrap.dedent(WRITER), kind, where, str(start), str(schema))
            assert proc.stdout.readline().strip() == "open", proc.stderr.read()
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate()
            for line in rest.splitlines():
                what, k = line.split()
                (labelled_acked if what == "L" else undone_acked).add(int(k))
            with _open(kind, where, schema) as again:
                df = again.labels()
                have = set(df["item_id"].tolist())
                assert df["bulk"].all()
                for k in range(N // CHUNK):
                    inside = len(have & set(range(k * CHUNK, (k + 1) * CHUNK)))
                    assert inside in (0, CHUNK), f"bulk {k}: {inside} of {CHUNK} items labelled after a kill"
                    if k in labelled_acked and k % 3 != 2:  # (k % 3 == 2: its undo may have been durable
                        assert inside == CHUNK, f"bulk {k} acknowledged but lost"  # before it was acknowledged)
                    if k in undone_acked:
                        assert inside == 0, f"bulk {k}: acknowledged undo lost"
                p = again.progress()
                if kind != "folder":
                    assert again.check() == []  # the counters match the events
                assert p.labelled == len(have) and sum(p.per_class.values()) == len(have)
                done = [k for k in range(N // CHUNK) if have & set(range(k * CHUNK, (k + 1) * CHUNK))]
                # resume after the last chunk that holds labels, or after the last acknowledged step
                start = max([*done, *labelled_acked, -1]) + 1
        assert len(labelled_acked) >= N // CHUNK - 3  # the writers really got through the pool
    finally:
        zygote.close()
        if schema is not None:
            drop_schemas([schema])


def test_old_folder_code_refuses_a_project_with_bulk_labels(tmp_path):
    """The manifest says format 3 while bulk labels exist; format 2 (the previous release) refuses it."""
    import json

    from superintendent_core.store import ItemBatch

    path = tmp_path / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        texts = [f"t{i}" for i in range(5)]  # text: no .npy features file, so nothing else needs format 3
        store.add_items(ItemBatch(names=tuple(texts), kind="text", features=texts, payloads=texts))
        assert json.loads((path / "project.json").read_text())["format_version"] == 2
        store.bulk_label([0, 1], "cat", "ann")
        assert json.loads((path / "project.json").read_text())["format_version"] == 3
    with open_store(path) as store:  # this version reads it
        assert store.labels()["bulk"].tolist() == [True, True]


def test_a_project_zip_with_bulk_labels_keeps_them_and_says_format_3(tmp_path):
    import io
    import json
    import zipfile

    from superintendent_core.data.export import export_project_zip, import_project_zip

    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(5))
        store.bulk_label([1, 3], "dog", "ann")
        store.save_preannotations([0], ["cat"])
        data = export_project_zip(store)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("MANIFEST.json"))
    assert manifest["project_format_version"] == 3
    restored = FolderStore(import_project_zip(io.BytesIO(data), tmp_path / "q"), create=False)
    try:
        labels = restored.labels()
        assert labels["item_id"].tolist() == [1, 3] and labels["bulk"].all()
        assert restored.undo("ann") == 1 and len(restored.labels()) == 0
        assert restored.preannotations().empty  # suggestions, not labels: not in the zip
    finally:
        restored.close()
