"""Folder store, format 3: numeric features memory-mapped from ``.npy`` files, items read per row group.

Also: a feature file that does not match its items is refused whole, a full disk during an
import leaves the project as it was, and decoded features stay within ``feature_cache_bytes``.
"""

from __future__ import annotations

import errno
import json
import mmap

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data.tables import table_batch
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.errors import UnknownItem, VersionError
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.folder import files as files_mod
from superintendent_core.store.items import TableRows, _clean_json, _json_default

CLASSES = ("a", "b")


def array_batch(n: int, start: int = 0, d: int = 5, seed: int = 0) -> ItemBatch:
    rng = np.random.default_rng(seed)
    return ItemBatch(names=tuple(f"r{start + i}" for i in range(n)), kind="table",
                     features=rng.standard_normal((n, d)).astype(np.float32),
                     payloads=[{"i": start + i} for i in range(n)])


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "title": [f"row {i}" for i in range(n)],
        "x": rng.standard_normal(n),  # float64: stored as float32
        "k": np.arange(n, dtype=np.int64),
        "colour": ["red", "blue"] * (n // 2),  # not a number: stays in parquet
    })


def test_array_features_are_a_mapped_npy_file(tmp_path):
    batch = array_batch(50)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch)
    assert (tmp_path / "p" / "items-000001.npy").exists()
    manifest = json.loads((tmp_path / "p" / "project.json").read_text())
    assert manifest["format_version"] == 3 and manifest["batches"][0]["features_file"] == "items-000001.npy"
    with FolderStore(tmp_path / "p", create=False) as store:
        X = store.features([7, 3])
        np.testing.assert_array_equal(X, np.asarray(batch.features)[[7, 3]])
        X[0, 0] = 99.0  # a copy: the mapping is never handed out
        mapped = store._batches[0]._mapped
        base = mapped
        while getattr(base, "base", None) is not None and not isinstance(base, mmap.mmap):
            base = base.base
        assert isinstance(base, mmap.mmap) and not mapped.flags.writeable
        assert store.features([7])[0, 0] != 99.0


def test_opening_and_showing_an_item_reads_no_features_and_no_whole_file(tmp_path, monkeypatch):
    from superintendent_core.store.folder import items as folder_items

    monkeypatch.setattr(folder_items, "DISPLAY_GROUP_BYTES", 2048)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(array_batch(400))
    with FolderStore(tmp_path / "p", create=False) as store:
        b = store._batches[0]
        assert b._file is None and b._mapped is None
        i = store.next_item("ann")
        assert store.item(i).name == f"r{i}"
        assert store.names([i]) == [f"r{i}"]
        assert b._mapped is None  # no features
        n_groups = b._file.metadata.num_row_groups
        assert n_groups > 4
        assert {g for g, _ in b._groups} == {int(np.searchsorted(b._group_starts, i, side="right") - 1)}
        assert store.names(list(range(400))) == [f"r{k}" for k in range(400)]  # every group, a few kept
        assert len(b._groups) <= b._CACHED_GROUPS


def test_table_numeric_columns_in_npy_others_in_parquet(tmp_path):
    df = frame(20)
    batch = table_batch(df, display_columns=["title", "x"], feature_columns=["x", "k", "colour"])
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch)
        meta = store._batches[0].meta
        assert meta["npy_columns"] == ["x", "k"] and meta["npy_dtypes"] == ["float32", "int64"]
    with FolderStore(tmp_path / "p", create=False) as store:
        X = store.features([5, 2])
        assert list(X.columns) == ["x", "k", "colour"]
        assert X["x"].dtype == np.float32 and X["k"].dtype == np.int64
        np.testing.assert_array_equal(X["x"].to_numpy(), df["x"].to_numpy(np.float32)[[5, 2]])
        assert X["k"].tolist() == [5, 2] and X["colour"].tolist() == ["blue", "red"]
        assert store.item(3).payload == {"title": "row 3", "x": float(df["x"][3])}


def test_table_rows_encode_like_json_dumps_of_each_row():
    df = pd.DataFrame({
        "f32": np.array([0.1, np.nan, np.inf, 2.0], dtype=np.float32), "f64": [0.1, 1e-5, -0.0, 1e15],
        "i": [1, 2, 3, 4], "s": ["x", None, 'é"\\\n', "<b>"], "b": [True, False, True, False],
        "mixed": [1, "x", None, 2.5], "t": pd.to_datetime(["2020-01-01", None, "2021-05-05", "2020-01-01"]),
        "nullable": pd.array([1, None, 3, 4], dtype="Int64"), "é k": ["a", "b", "c", "d"],
    })
    rows = TableRows(df)
    encoded = rows.json_rows().to_pylist()
    # what table_batch gave before: a dict per row, json.dumps per row
    before = df.astype(object).where(df.notna(), None).to_dict("records")
    before = [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in before]
    for k in range(len(df)):
        expected = json.loads(json.dumps({key: _clean_json(v) for key, v in before[k].items()},
                                         default=_json_default, allow_nan=False))
        for got in (json.loads(encoded[k]), json.loads(json.dumps(
                {key: _clean_json(v) for key, v in rows[k].items()}, default=_json_default, allow_nan=False))):
            assert got == expected and [type(v) for v in got.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize("damage", ["truncated", "rows", "dtype", "nan"])
def test_a_feature_file_that_does_not_match_its_items_is_refused_whole(tmp_path, damage):
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(array_batch(30))
        store.submit(0, "a", "ann")
    npy = tmp_path / "p" / "items-000001.npy"
    good = np.load(npy)
    if damage == "truncated":
        npy.write_bytes(npy.read_bytes()[:-100])
    elif damage == "rows":
        np.save(npy, good[:-1])
    elif damage == "dtype":
        np.save(npy, good.astype(np.float64))
    else:
        bad = good.copy()
        bad[17, 2] = np.nan
        np.save(npy, bad)
    with FolderStore(tmp_path / "p", create=False) as store:
        assert store.item(4).name == "r4"  # showing items needs no features
        with pytest.raises(VersionError, match="items-000001.npy") as err:
            store.features([1])
        assert "refused whole" in str(err.value)
        with pytest.raises(VersionError, match="items-000001.npy"):
            store.features([2])  # still refused: nothing half-read was kept
        assert store.labels()["label"].tolist() == ["a"]  # labels untouched


@pytest.mark.parametrize("fail_at", [1, 2, 3])  # the .npy, the parquet file, the manifest
def test_a_full_disk_during_an_import_leaves_the_project_as_it_was(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(array_batch(20))
        store.submit(3, "b", "ann")
    before = sorted(p.name for p in path.iterdir() if p.name != ".lock.info")
    manifest = (path / "project.json").read_bytes()
    real = files_mod.write_atomic
    calls = {"n": 0}

    def full_disk(target, write):
        calls["n"] += 1
        if calls["n"] == fail_at:
            def half(tmp):
                write(tmp)  # the bytes are written, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(target, half)
        return real(target, write)

    from superintendent_core.store.folder import items as folder_items
    from superintendent_core.store.folder import store as folder_store
    monkeypatch.setattr(files_mod, "write_atomic", full_disk)
    monkeypatch.setattr(folder_items, "write_atomic", full_disk)
    monkeypatch.setattr(folder_store, "write_atomic", full_disk)
    with FolderStore(path, create=False) as store:
        with pytest.raises(OSError) as err:
            store.add_items(array_batch(1000, start=20, seed=3))
        assert err.value.errno == errno.ENOSPC
        assert len(store) == 20 and store.labels()["item_id"].tolist() == [3]
    monkeypatch.undo()
    after = sorted(p.name for p in path.iterdir() if p.name != ".lock.info")
    assert after == before  # no partial or unnamed file is left
    if fail_at < 3:
        assert (path / "project.json").read_bytes() == manifest
    with FolderStore(path, create=False) as store:
        assert len(store) == 20 and store.labels()["label"].tolist() == ["b"]
        store.add_items(array_batch(5, start=20))  # and the disk has room again
        assert len(store) == 25


def test_decoded_features_stay_within_the_budget(tmp_path):
    budget = 40_000
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES), feature_cache_bytes=budget) as store:
        for k in range(4):  # text features are decoded (not mapped): 4 batches of ~25 KB
            texts = [f"text {k} {i} " + "x" * 200 for i in range(100)]
            store.add_items(ItemBatch(names=tuple(f"t{k}-{i}" for i in range(100)), kind="text", features=texts))
        for k in range(4):
            assert store.features([k * 100 + 5])[0].startswith(f"text {k} 5 ")
            assert store._decoded.size <= budget
        assert store._decoded.size > 0


def test_a_project_of_an_earlier_format_reads_its_parquet_features_and_adds_npy_batches(tmp_path):
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "v1" / "folder-digits"
    shutil.copytree(src, tmp_path / "p")
    assert json.loads((tmp_path / "p" / "project.json").read_text())["format_version"] < 3
    with FolderStore(tmp_path / "p", create=False) as store:
        n = len(store)
        X = store.features(np.arange(n))
        shape = store._shape
        extra = np.arange(3 * X.shape[1], dtype=shape.dtype).reshape(3, -1)
        store.add_items(ItemBatch(names=("new0", "new1", "new2"), kind=shape.kind, features=extra,
                                  image_shape=store._batches[0].image_shape))
    with FolderStore(tmp_path / "p", create=False) as store:
        both = store.features([0, n + 1])
        np.testing.assert_array_equal(both[0], X[0])
        np.testing.assert_array_equal(both[1], extra[1].astype(np.float32))
        assert store._batches[0].features_file is None and store._batches[1].features_file is not None


def test_many_mixed_numeric_columns_round_trip(tmp_path):
    n, k = 7, 600  # a record .npy whose header is longer than numpy's default safe limit
    df = pd.DataFrame({f"c{j}": (np.arange(n, dtype=np.int64) * j if j % 2 else np.linspace(0, 1, n) + j)
                       for j in range(k)})
    batch = ItemBatch(names=tuple(f"r{i}" for i in range(n)), kind="table", features=df,
                      payloads=[{"i": i} for i in range(n)])
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch)
    with FolderStore(tmp_path / "p", create=False) as store:
        X = store.features([6, 1])
        assert list(X.columns) == list(df.columns)
        assert X["c3"].dtype == np.int64 and X["c3"].tolist() == [18, 3]
        np.testing.assert_allclose(X["c4"].to_numpy(), df["c4"].to_numpy()[[6, 1]], rtol=1e-6)


@pytest.mark.parametrize(
    "rows",
    [
        np.arange(0, 1000),  # one run
        np.setdiff1d(np.arange(1000), [0, 17, 18, 500, 999]),  # a pool: long runs, a few gaps
        np.r_[np.arange(500, 800), np.arange(0, 300)],  # runs out of order
        np.r_[np.arange(100, 300), np.arange(100, 300)],  # a run twice
        np.arange(0, 1000, 3),  # no runs: gathered row by row
        np.array([5]),
        np.array([], dtype=np.int64),
    ],
)
def test_take_rows_copies_runs_as_slices_with_the_value_of_a_gather(rows):
    from superintendent_core.store.folder.batches import take_rows

    arr = np.arange(1000 * 3, dtype=np.float32).reshape(1000, 3)
    got = take_rows(arr, rows)
    np.testing.assert_array_equal(got, arr[rows])
    assert got.dtype == arr.dtype and got.flags.c_contiguous and not np.shares_memory(got, arr)
    fields = np.zeros(1000, dtype=[("a", np.float32), ("b", np.int64)])  # mixed npy columns: 1-D records
    fields["a"], fields["b"] = np.arange(1000), -np.arange(1000)
    np.testing.assert_array_equal(take_rows(fields, rows), fields[rows])


def test_the_pool_is_copied_and_checked_without_holding_the_store(tmp_path, monkeypatch):
    """A retrain's read of the pool (0.5 s at 1M × 64) never holds up an item being served or a label taken.

    Measured in the app before: a click during the cold start waited ~0.6 s for the store's lock.
    While the first map's check and the copy run, another thread must get an item and submit a label.
    """
    import threading

    from superintendent_core.store.folder import batches as batches_mod
    from superintendent_core.store.folder import items as items_mod

    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(array_batch(300))
    store = FolderStore(tmp_path / "p", create=False)  # reopened: nothing mapped or checked yet
    served: list[str] = []

    def other_session() -> None:
        done = threading.Event()

        def work() -> None:
            served.append(store.item(5).name)
            store.submit(6, "a", labeller="other")
            done.set()

        threading.Thread(target=work, daemon=True).start()
        assert done.wait(10), "the store's lock was held: the other session could not be served"

    real_check, real_copy = batches_mod.ItemsFile._check_finite, items_mod.copy_rows

    def check_finite(self, arr):
        other_session()
        return real_check(self, arr)

    def copy_rows(arr, rows, out):
        other_session()
        return real_copy(arr, rows, out)

    monkeypatch.setattr(batches_mod.ItemsFile, "_check_finite", check_finite)
    monkeypatch.setattr(items_mod, "copy_rows", copy_rows)
    try:
        ids = np.arange(300)
        out = np.empty((300, 5), np.float32)
        assert store.features_into(ids, out)
        np.testing.assert_array_equal(out, np.asarray(array_batch(300).features))
        assert served == ["r5", "r5"]
        assert store.labels().set_index("item_id").loc[6, "label"] == "a"
    finally:
        store.close()


def test_features_into_copies_what_features_gives_or_says_no(tmp_path):
    """The retrain's direct read: the same values as ``features`` where it can, False (nothing written) elsewhere."""
    with FolderStore(tmp_path / "a", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(array_batch(300))
        store.add_items(array_batch(200, start=300, seed=1))  # two .npy files
        for ids in (np.setdiff1d(np.arange(500), [4, 250, 301]), np.arange(290, 310), np.array([450, 3, 3, 7])):
            out = np.full((len(ids), 5), np.nan, dtype=np.float32)
            assert store.features_into(ids, out)
            np.testing.assert_array_equal(out, store.features(ids))
        assert store.features_into(np.array([], dtype=np.int64), np.empty((0, 5), np.float32))
        untouched = np.zeros((3, 5), dtype=np.float64)
        assert not store.features_into([1, 2, 3], untouched)  # another dtype than features gives
        assert not untouched.any()
        assert not store.features_into([1, 2, 3], np.zeros((3, 4), np.float32))  # another width
        with pytest.raises(UnknownItem):
            store.features_into([10_000], np.zeros((1, 5), np.float32))  # the ids are checked as always
    df = pd.DataFrame(np.random.default_rng(2).normal(size=(100, 3)).astype(np.float32), columns=["a", "b", "c"])
    df.insert(0, "title", [f"row {i}" for i in range(100)])
    with FolderStore(tmp_path / "t", settings=ProjectSettings(kind="table", classes=CLASSES)) as store:
        store.add_items(table_batch(df, kind="table", display_columns=["title"], feature_columns=["a", "b", "c"]))
        ids = np.setdiff1d(np.arange(100), [0, 50])
        out = np.empty((len(ids), 3), dtype=np.float32)
        assert store.features_into(ids, out)
        np.testing.assert_array_equal(out, store.features(ids).to_numpy())
    with FolderStore(tmp_path / "m", settings=ProjectSettings(kind="table", classes=CLASSES)) as store:
        store.add_items(table_batch(frame(10), kind="table", display_columns=["title"]))  # a text column too
        assert not store.features_into(np.arange(10), np.empty((10, 3), np.float32))
