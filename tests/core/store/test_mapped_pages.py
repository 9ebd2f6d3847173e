"""Mapped feature files give their pages back after a read (store/mapped.py), and memory.trim.

A folder project's numeric features are memory-mapped; every page a read touched used to stay
in the process's resident set on top of the copy the read returned (1M × 64: 244 MB twice).
The resident pages of each mapping are read from ``/proc/self/smaps`` (Linux only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data.tables import table_batch
from superintendent_core.memory import trim
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.mapped import release_rows

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/smaps"
)

N, D = 20_000, 64  # 5 MB of float32: far above what a few boundary pages hold
CLASSES = ("a", "b")


def resident_kb(file_name: str, under: Path) -> int:
    """Resident kB of this process's mappings of files named ``file_name`` inside the folder ``under``.

    Only this test's files: other tests in the same process (a pytest-xdist worker runs many)
    may keep projects open whose files have the same names.
    """
    prefix = str(Path(under).resolve()) + "/"
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's first line
            inside = len(head) >= 6 and head[-1].startswith(prefix) and head[-1].endswith("/" + file_name)
        elif inside and head and head[0] == "Rss:":
            total += int(head[1])
    return total


def array_project(path: Path) -> np.ndarray:
    X = np.random.default_rng(0).standard_normal((N, D)).astype(np.float32)
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(
            ItemBatch(
                names=tuple(f"r{i}" for i in range(N)),
                kind="table",
                features=X,
                payloads=[{"i": i} for i in range(N)],
            )
        )
    return X


def test_reading_every_item_leaves_no_mapped_pages_behind(tmp_path):
    X = array_project(tmp_path / "p")
    with FolderStore(tmp_path / "p", create=False) as store:
        first = store.features(
            [5]
        )  # maps the file and checks every row (finite): all pages read once
        np.testing.assert_array_equal(first, X[[5]])
        assert resident_kb("items-000001.npy", tmp_path) <= 64
        ids = np.arange(N)
        out = np.concatenate([store.features(ids[i : i + 4096]) for i in range(0, N, 4096)])
        np.testing.assert_array_equal(out, X)
        assert resident_kb("items-000001.npy", tmp_path) <= 64, (
            "the copies are the caller's; the pages went back"
        )
        gathered = store.features(ids[::-3])  # a gather in any order
        np.testing.assert_array_equal(gathered, X[::-3])
        assert resident_kb("items-000001.npy", tmp_path) <= 64
        np.testing.assert_array_equal(store.features(ids), X)  # read again: the same values


def test_table_features_and_feature_sets_give_their_pages_back_too(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        rng.standard_normal((N, D)).astype(np.float32), columns=[f"f{i}" for i in range(D)]
    )
    df.insert(0, "title", [f"row {i}" for i in range(N)])
    batch = table_batch(
        df, kind="table", display_columns=["title"], feature_columns=[f"f{i}" for i in range(D)]
    )
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch)
        emb = rng.standard_normal((N, 32)).astype(np.float32)
        store.write_feature_set("emb", np.arange(N), emb)
    with FolderStore(tmp_path / "p", create=False) as store:
        table = store.features(np.arange(N))
        np.testing.assert_array_equal(table.to_numpy(), df.iloc[:, 1:].to_numpy())
        assert resident_kb("items-000001.npy", tmp_path) <= 64
        rows = store._feature_set_rows("emb", np.arange(N)[::-1])
        np.testing.assert_array_equal(rows, emb[::-1])
        assert resident_kb("c000001.npy", tmp_path) <= 64


def test_release_touches_only_read_only_maps_and_never_changes_data(tmp_path):
    path = tmp_path / "a.npy"
    data = np.arange(N * D, dtype=np.float32).reshape(N, D)
    np.save(path, data)
    mapped = np.asarray(np.load(path, mmap_mode="r"))
    assert float(mapped.sum()) == float(data.sum())
    assert resident_kb("a.npy", tmp_path) > 1000
    release_rows(mapped[100:200])  # a view: only its rows (and their pages)
    release_rows(mapped, 10, 5)  # an empty span, and spans past the end, are fine
    release_rows(mapped, N - 3, N + 100)
    release_rows(mapped)
    assert resident_kb("a.npy", tmp_path) <= 64
    np.testing.assert_array_equal(mapped, data)  # faulted back in, unchanged
    del mapped
    private = np.load(path, mmap_mode="c")  # copy-on-write: dropping its pages would lose the write
    private[0, 0] = -1.0
    release_rows(private)
    assert private[0, 0] == -1.0
    plain = data.copy()
    release_rows(plain)  # not a map: left alone
    np.testing.assert_array_equal(plain, data)
    release_rows(np.asarray(np.load(path, mmap_mode="r"))[:, :3])  # not C-contiguous: left alone


def test_trim_returns_free_memory_and_reports_whether_it_could():
    blocks = [np.ones(1 << 16) for _ in range(200)]  # ~100 MB in 512 kB blocks, then freed
    del blocks
    assert trim() in (True, False)
