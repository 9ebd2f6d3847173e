"""``add_items_stream``: chunks of one import written as one batch, all or nothing, on every backend."""

from __future__ import annotations

import errno
import itertools

import numpy as np
import pandas as pd
import pytest
from sql_helpers import PostgresFactory, SQLiteFactory, postgres_available, require

from superintendent_core.data.tables import table_batch
from superintendent_core.store import InvalidInput, ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.folder import files as folder_files

CLASSES = ("a", "b", "c")


class FolderFactory:
    def __init__(self, root):
        self.root, self.counter = root, itertools.count()

    def new(self, settings=None):
        return FolderStore(self.root / f"project-{next(self.counter)}", settings=settings)

    def reopen(self, store):
        store.close()
        return FolderStore(store.path, create=False)

    def cleanup(self) -> None:
        pass


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def factory(request, tmp_path):
    if request.param == "folder":
        f = FolderFactory(tmp_path)
    elif request.param == "sqlite":
        f = SQLiteFactory(tmp_path)
    else:
        require(postgres_available(), "PostgreSQL")
        f = PostgresFactory()
    yield f
    f.cleanup()


def frame(n: int, start: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 3)).astype(np.float32), columns=["x", "y", "z"])
    df["count"] = rng.integers(0, 50, n)
    df["title"] = [f"row {start + i}" for i in range(n)]
    df["id"] = [f"r{start + i}" for i in range(n)]
    df["label"] = [CLASSES[i % 3] if i % 4 == 0 else None for i in range(n)]
    return df


OPTS = dict(
    kind="table",
    display_columns=["title", "count"],
    feature_columns=["x", "y", "z", "count"],
    label_column="label",
    name_column="id",
)


def chunks(df: pd.DataFrame, rows: int):
    for lo in range(0, len(df), rows):
        yield table_batch(df.iloc[lo : lo + rows].reset_index(drop=True), **OPTS)


def snapshot(store) -> tuple:
    n = len(store)
    ids = np.arange(n)
    feats = store.features(ids)
    labels = store.labels()
    return (
        n,
        store.names(ids),
        feats.to_numpy().tobytes() if n else b"",
        list(feats.columns) if n else [],
        [store.item(int(i)).payload for i in ids],
        labels.drop(columns=["time"]).to_json(),
        store.settings.classes,
    )


def test_chunks_build_what_one_batch_builds(factory):
    df = frame(103)
    one = factory.new(ProjectSettings(classes=CLASSES))
    one.add_items(table_batch(df, **OPTS))
    streamed = factory.new(ProjectSettings(classes=CLASSES))
    ids = streamed.add_items_stream(chunks(df, 10))
    assert ids.tolist() == list(range(103))
    assert snapshot(one) == snapshot(streamed)
    streamed = factory.reopen(streamed)
    assert snapshot(one) == snapshot(streamed)  # as written on disk
    one.close()
    streamed.close()


def test_a_project_without_classes_takes_every_chunks_classes(factory):
    df = frame(40)
    df.loc[37, "label"] = "late"  # a class only the last chunk names
    store = factory.new(ProjectSettings())
    store.add_items_stream(chunks(df, 10))
    assert store.settings.classes == ("a", "b", "c", "late")
    assert store.labels().set_index("name").loc["r37", "label"] == "late"
    store.close()


@pytest.mark.parametrize("fault", ["nan", "type", "duplicate", "taken"])
def test_a_bad_row_in_a_late_chunk_refuses_the_whole_import(factory, fault):
    store = factory.new(ProjectSettings(classes=CLASSES))
    store.add_items(table_batch(frame(20, start=1000), **OPTS))
    store.submit(3, "b", "ann")
    before = snapshot(store)
    df = frame(95)
    if fault == "nan":
        df.loc[91, "y"] = np.nan
        match = "r91"
    elif fault == "duplicate":
        df.loc[93, "id"] = "r2"
        match = "r2.*rows 2 and 93"
    elif fault == "taken":
        df.loc[92, "id"] = "r1005"
        match = "r1005"
    else:
        match = "count"
    parts = list(chunks(df, 10))
    if fault == "type":  # the last chunk's count column holds floats: refused, not cast
        late = df.iloc[90:].reset_index(drop=True)
        late["count"] = late["count"] + 0.5
        parts[-1] = table_batch(late, **OPTS)
    with pytest.raises(InvalidInput, match=match):
        store.add_items_stream(iter(parts))
    assert snapshot(store) == before
    store = factory.reopen(store)
    assert snapshot(store) == before
    store.add_items_stream(chunks(frame(15, start=5000), 4))  # the project still takes imports
    assert len(store) == 35
    store.close()


def test_a_full_disk_mid_stream_leaves_the_folder_project_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(table_batch(frame(20, start=1000), **OPTS))
        store.submit(3, "b", "ann")
    files = sorted(p.name for p in path.iterdir() if p.name != ".lock.info")
    manifest = (path / "project.json").read_bytes()
    calls = {"n": 0}
    real = folder_files.write_chunk

    def full_disk(fh, data):
        calls["n"] += 1
        if calls["n"] == 4:  # the 4th chunk's features: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fh, data)

    monkeypatch.setattr(folder_files, "write_chunk", full_disk)
    with FolderStore(path, create=False) as store:
        before = snapshot(store)
        with pytest.raises(OSError) as err:
            store.add_items_stream(chunks(frame(100), 10))
        assert err.value.errno == errno.ENOSPC
        assert snapshot(store) == before
    assert sorted(p.name for p in path.iterdir() if p.name != ".lock.info") == files  # no .tmp left
    assert (path / "project.json").read_bytes() == manifest
    monkeypatch.setattr(folder_files, "write_chunk", real)
    with FolderStore(path, create=False) as store:
        assert snapshot(store) == before
        store.add_items_stream(chunks(frame(30), 7))
        assert len(store) == 50


def test_array_features_stream_into_one_npy_file(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    names = [f"v{i}" for i in range(50)]
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items_stream(
            ItemBatch(
                names=names[lo : lo + 8],
                kind="text",
                features=X[lo : lo + 8],
                payloads=names[lo : lo + 8],
            )
            for lo in range(0, 50, 8)
        )
        assert np.array_equal(store.features(np.arange(50)), X.astype(np.float32))
    assert sorted(p.name for p in (tmp_path / "p").glob("items-*")) == [
        "items-000001.npy",
        "items-000001.parquet",
    ]


def test_no_chunks_is_refused(factory):
    store = factory.new(ProjectSettings(classes=CLASSES))
    with pytest.raises(InvalidInput, match="no items"):
        store.add_items_stream(iter(()))
    assert len(store) == 0
    store.close()


def test_a_build_killed_midway_leaves_the_folder_project_as_it_was(tmp_path):
    import os
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        first = pd.DataFrame({"x": [0.5, 1.5], "id": ["a0", "a1"]})
        store.add_items(
            table_batch(
                first, kind="table", display_columns=["id"], feature_columns=["x"], name_column="id"
            )
        )
        store.submit(1, "b", "ann")
        before = snapshot(store)
    child = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        import pandas as pd
        from superintendent_core.data.tables import table_batch
        from superintendent_core.store.folder import FolderStore

        def chunks():
            for k in range(10):
                if k == 5:
                    os.kill(os.getpid(), signal.SIGKILL)  # mid-stream: 5 chunks written to .tmp files
                df = pd.DataFrame({{"x": [float(i) for i in range(10)], "id": [f"n{{k}}-{{i}}" for i in range(10)]}})
                yield table_batch(df, kind="table", display_columns=["id"], feature_columns=["x"], name_column="id")

        FolderStore({str(path)!r}, create=False).add_items_stream(chunks())
    """)
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -9, done.stderr
    assert any(p.name.endswith(".tmp") for p in path.iterdir())  # the half-written batch
    with FolderStore(path, create=False) as store:
        assert snapshot(store) == before
    assert not any(p.name.endswith(".tmp") for p in path.iterdir())  # removed on open
