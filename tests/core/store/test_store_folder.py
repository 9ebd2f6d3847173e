"""Folder-backend specifics: durability under SIGKILL, locking, versions, torn logs, compaction."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from forked_python import Zygote
from fresh_python import run_fresh
from store_contract import CLASSES, image_batch

from superintendent_core.store import (
    LockedError,
    ProjectSettings,
    StoreError,
    VersionError,
    eventlog,
    open_store,
)
from superintendent_core.store.audit import AuditDraws
from superintendent_core.store.folder import FolderStore

ROOT = Path(__file__).resolve().parents[3]


def make_project(path: Path, n: int = 50) -> None:
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(n))


def spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


WRITER = """
import sys
from superintendent_core.store.folder import FolderStore
store = FolderStore(sys.argv[1], create=False, compact_every=int(sys.argv[2]))
print("open", flush=True)
k = 0
while (i := store.next_item("w")) is not None:
    if k % 5 == 4:
        store.skip(i, "w")
    else:
        store.submit(i, ("cat", "dog", "owl")[i % 3], "w", seconds=0.5)
        print(i, flush=True)  # acknowledged: submit has returned
    k += 1
store.close()
print("end", flush=True)
"""


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_label(tmp_path):
    """SIGKILL a labelling subprocess at random moments, 30 times; every acknowledged label survives.

    Small ``compact_every`` values make many kills land during a compaction too. Each writer is
    forked from an interpreter that imported the engine once (tests/core/forked_python.py).
    """
    path = tmp_path / "p"
    make_project(path, n=600)
    rng = random.Random(0)
    acked: set[int] = set()
    with Zygote(["superintendent_core.store.folder"]) as zygote:
        for round_ in range(30):
            proc = zygote.spawn(WRITER, str(path), str(rng.choice([2, 3, 7, 50])))
            assert proc.stdout.readline().strip() == "open", proc.stderr.read()
            for _ in range(rng.randrange(0, 25)):
                line = proc.stdout.readline().strip()
                if not line.isdigit():
                    break
                acked.add(int(line))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            acked.update(int(x) for x in rest.split() if x.isdigit())
            with FolderStore(path, create=False) as store:  # opens cleanly
                df = store.labels()
                assert not (acked - set(df["item_id"])), (
                    f"round {round_}: lost {sorted(acked - set(df['item_id']))}"
                )
                assert all(row.label == CLASSES[row.item_id % 3] for row in df.itertuples())
                assert df["item_id"].is_unique
    assert len(acked) > 100  # the writer really labelled many items


@pytest.mark.slow
def test_sigkill_writes_the_audit_record_with_its_label_or_neither(tmp_path):
    """Every slot is an audit slot, so every label the writer gives has a record: after a SIGKILL at
    any moment (compactions included) the labels and the records are the same items."""
    path = tmp_path / "p"
    make_project(path, n=400)
    with FolderStore(path, create=False) as store:
        ids = np.arange(400, dtype=np.int64)
        store.set_order(ids, audit=AuditDraws(ids, np.full(400, 0.5), np.full(400, 4, dtype=np.int64)))
    rng = random.Random(1)
    acked: set[int] = set()
    with Zygote(["superintendent_core.store.folder"]) as zygote:  # forks each writer (see above)
        for round_ in range(15):
            proc = zygote.spawn(WRITER, str(path), str(rng.choice([2, 3, 7, 50])))
            assert proc.stdout.readline().strip() == "open", proc.stderr.read()
            for _ in range(rng.randrange(0, 20)):
                line = proc.stdout.readline().strip()
                if not line.isdigit():
                    break
                acked.add(int(line))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate()
            acked.update(int(x) for x in rest.split() if x.isdigit())
            with FolderStore(path, create=False) as store:
                labelled = set(store.labels()["item_id"].tolist())
                assert acked <= labelled, f"round {round_}"
                records = store.audit_records()
                assert set(records["item_id"].tolist()) == labelled, f"round {round_}"
                assert (records["probability"] == 0.5).all() and (records["support"] == 4).all()
    assert len(acked) > 50


def test_submit_fsyncs_before_returning(tmp_path, monkeypatch):
    make_project(tmp_path / "p", 3)
    calls = []
    real = eventlog._sync
    monkeypatch.setattr(eventlog, "_sync", lambda fd: (calls.append(fd), real(fd)))
    with FolderStore(tmp_path / "p", create=False) as store:
        store.submit(0, "cat", "ann")
        assert len(calls) == 1
        store.skip(1, "ann")
        store.undo("ann")
        assert len(calls) == 3


def test_second_process_gets_a_clear_refusal(tmp_path):
    path = tmp_path / "p"
    make_project(path, 3)
    holder = spawn("""
        import sys
        from superintendent_core.store.folder import FolderStore
        s = FolderStore(sys.argv[1], create=False)
        print("open", flush=True)
        sys.stdin.readline()
        s.close()
        print("closed", flush=True)
    """, str(path))
    try:
        assert holder.stdout.readline().strip() == "open", holder.stderr.read()
        with pytest.raises(LockedError, match=rf"open in another process \(pid {holder.pid}"):
            FolderStore(path, create=False)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
    finally:
        holder.kill()
        holder.wait()
    with FolderStore(path, create=False) as store:
        assert len(store) == 3


def test_second_open_in_same_process_is_refused(tmp_path):
    make_project(tmp_path / "p", 2)
    with FolderStore(tmp_path / "p", create=False):
        with pytest.raises(LockedError):
            FolderStore(tmp_path / "p", create=False)


def test_newer_version_refused(tmp_path):
    make_project(tmp_path / "p", 2)
    manifest = json.loads((tmp_path / "p" / "project.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "p" / "project.json").write_text(json.dumps(manifest))
    with pytest.raises(VersionError, match="newer version.*format 99"):
        FolderStore(tmp_path / "p", create=False)
    # and the refusal released the lock
    manifest["format_version"] = 1
    (tmp_path / "p" / "project.json").write_text(json.dumps(manifest))
    FolderStore(tmp_path / "p", create=False).close()


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "other"}', b"[]"])
def test_damaged_manifest_refused(tmp_path, content):
    """Refused when the previous generation cannot stand in either (test_damage.py covers the fallback)."""
    make_project(tmp_path / "p", 2)
    (tmp_path / "p" / "project.json").write_bytes(content)
    (tmp_path / "p" / "project.json.prev").write_bytes(content)
    with pytest.raises(VersionError):
        FolderStore(tmp_path / "p", create=False)


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_torn_final_record_is_cut_off(tmp_path, cut):
    path = tmp_path / "p"
    make_project(path, 5)
    store = FolderStore(path, create=False)
    store.submit(0, "cat", "ann")
    store.submit(1, "dog", "ann")
    log = path / "labels.log"
    good = log.read_bytes()
    store._log.close()  # simulate a crash: no close(), no compaction
    store._flock.release()
    record = eventlog.encode(eventlog.Event(2, 0, 2, "ann", "owl", 0.0, 0.0))
    log.write_bytes(good + record[:cut])
    with FolderStore(path, create=False) as store:
        assert store.labels()["item_id"].tolist() == [0, 1]
        assert log.stat().st_size == len(good)
        assert (path / "labels.log.torn").read_bytes() == record[:cut]
        store.submit(2, "owl", "ann")  # appends after the cut
    with FolderStore(path, create=False) as store:
        assert store.labels()["item_id"].tolist() == [0, 1, 2]


def test_corrupt_final_record_is_dropped_and_reported(tmp_path):
    path = tmp_path / "p"
    make_project(path, 5)
    store = FolderStore(path, create=False)
    store.submit(0, "cat", "ann")
    store.submit(1, "dog", "ann")
    store._log.close()
    store._flock.release()
    data = bytearray((path / "labels.log").read_bytes())
    data[-2] ^= 0xFF  # flip a byte in the last record
    (path / "labels.log").write_bytes(bytes(data))
    with FolderStore(path, create=False) as store:
        assert store.labels()["item_id"].tolist() == [0]
        assert any("labels.log.damaged-1" in line for line in store.damage_report())


def test_compaction_keeps_everything_and_empties_the_log(tmp_path):
    path = tmp_path / "p"
    make_project(path, 30)
    with FolderStore(path, create=False, compact_every=4) as store:
        for i in range(10):
            store.submit(i, CLASSES[i % 3], "ann")
        store.undo("ann")
        assert store._log.n_records < 4
        before = store.labels()
    assert (path / "labels.log").stat().st_size == 0  # close() compacts
    snapshots = sorted(p.name for p in path.glob("labels-*.parquet"))
    assert len(snapshots) == 2  # the newest, and the one before it as a fallback (test_damage.py)
    manifest = json.loads((path / "project.json").read_text())
    assert [manifest["labels_prev"]["file"], manifest["labels"]["file"]] == snapshots
    with FolderStore(path, create=False) as store:
        assert store.labels().equals(before)
        assert store.undo("ann") == 8


def test_stale_temporary_files_are_removed(tmp_path):
    path = tmp_path / "p"
    make_project(path, 3)
    (path / "items-999999.parquet").write_bytes(b"half written")
    (path / "project.json.tmp").write_bytes(b"{")
    with FolderStore(path, create=False) as store:
        assert len(store) == 3
    assert not (path / "items-999999.parquet").exists()
    assert not (path / "project.json.tmp").exists()


def test_refuses_non_empty_foreign_folder_and_files(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(StoreError, match="not empty"):
        FolderStore(tmp_path / "photos")
    with pytest.raises(StoreError, match="no labelling project"):
        FolderStore(tmp_path / "nothing", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a project folder"):
        FolderStore(tmp_path / "file")


def test_open_store_default_path_and_urls(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERINTENDENT_PROJECT_DIR", str(tmp_path / "env-project"))
    with open_store() as store:
        assert isinstance(store, FolderStore) and store.path == tmp_path / "env-project"
    monkeypatch.delenv("SUPERINTENDENT_PROJECT_DIR")
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert store.path == Path("labelling-project")
    # Database URLs go to the SQL store: test_open_store_routes_database_urls_to_the_sql_store.


def test_items_are_never_rewritten_when_labelling(tmp_path):
    path = tmp_path / "p"
    make_project(path, 20)
    before = {p.name: p.stat().st_mtime_ns for p in path.glob("items-*.parquet")}
    with FolderStore(path, create=False) as store:
        for i in range(20):
            store.submit(i, "cat", "ann")
        store.set_order(np.arange(20)[::-1])
    after = {p.name: p.stat().st_mtime_ns for p in path.glob("items-*.parquet")}
    assert before == after


def test_overlap_serves_each_item_to_n_labellers(tmp_path):
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES, overlap=2)) as store:
        store.add_items(image_batch(2))
        assert store.next_item("ann") == 0
        store.submit(0, "cat", "ann")
        assert store.next_item("ann") == 1  # not 0 again
        assert store.next_item("bob") == 0
        store.submit(0, "dog", "bob")
        assert store.progress().done == 1
        store.submit(1, "cat", "ann")
        assert store.next_item("cid") == 1
        assert store.next_item("ann") is None


def test_pictures_are_read_per_row_group_not_held_in_memory(tmp_path, monkeypatch):
    from superintendent_core.store import ItemBatch
    from superintendent_core.store.folder import items as folder_mod

    monkeypatch.setattr(folder_mod, "DISPLAY_GROUP_BYTES", 4096)  # small groups for a small test
    rng = np.random.default_rng(0)
    pictures = [b"\x89PNG\r\n\x1a\n" + rng.bytes(1000 + i) for i in range(40)]
    batch = ItemBatch(names=tuple(f"p{i}" for i in range(40)), kind="image",
                      features=rng.random((40, 4)).astype(np.float32), payloads=pictures)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(batch)
    with FolderStore(tmp_path / "p", create=False) as store:
        b = store._batches[0]
        assert b._file is None and b._mapped is None  # opening reads no items file
        for i in [39, 0, 17, 18, 3, 39]:
            assert store.item(i).payload == pictures[i]
        assert b._file.metadata.num_row_groups == 5  # 8 pictures (the minimum) per group
        assert len(b._groups) <= b._CACHED_GROUPS


def test_close_from_another_thread_releases_the_process_lock(tmp_path):
    """Streamlit opens a store in one script thread and may close it in another."""
    import threading

    from superintendent_core.store import open_store

    path = tmp_path / "proj"
    opened = {}
    thread = threading.Thread(target=lambda: opened.setdefault("store", open_store(path)))
    thread.start()
    thread.join()
    opened["store"].close()
    code = f"from superintendent_core.store import open_store; open_store({str(path)!r}).close(); print('ok')"
    out = run_fresh(code)
    assert out.strip() == "ok"


def test_digits_demo_matches_load_digits_without_importing_sklearn():
    from sklearn.datasets import load_digits

    from superintendent_core.data.demo import digits_batch

    batch = digits_batch()
    data = load_digits()
    assert np.array_equal(batch.features, data.data.astype(np.uint8))
    assert list(batch.true_labels) == [str(v) for v in data.target]
    code = "import sys; from superintendent_core.data.demo import digits_batch; digits_batch(); print('sklearn' in sys.modules)"
    out = run_fresh(code)
    assert out.strip() == "False"


def test_open_store_routes_database_urls_to_the_sql_store(tmp_path):
    from superintendent_core.store import is_database_url, open_store

    assert is_database_url("sqlite:///x.db") and is_database_url("postgresql://h/db")
    assert not is_database_url(str(tmp_path))
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        assert type(store).__name__ == "SQLStore"
    with open_store(tmp_path / "folder") as store:
        assert type(store).__name__ == "FolderStore"


def test_skip_counts_survive_the_snapshot(tmp_path):
    from superintendent_core.store import ProjectSettings

    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=CLASSES), compact_every=2) as store:
        store.add_items(image_batch(5))
        for i in range(4):
            store.skip(i, "ann")  # more records than compact_every: folded into the snapshot
        store.skip(4, "bob")
        assert store.skip_counts() == {"ann": 4, "bob": 1}
    with FolderStore(tmp_path / "p", create=False) as store:
        assert store.skip_counts() == {"ann": 4, "bob": 1}


@pytest.mark.parametrize("which", ["order", "suggestions"])
def test_big_writes_do_not_hold_the_store_lock(tmp_path, monkeypatch, which):
    """While a retrain writes its order or suggestions file, labelling goes on (issue 17).

    The file write is held up on purpose; a label and the next item must still go
    through meanwhile, and the order / suggestions are in force once the write ends.
    """
    import threading

    from superintendent_core.store.folder import history, labels

    make_project(tmp_path / "p", 20)
    store = FolderStore(tmp_path / "p")
    writing, release = threading.Event(), threading.Event()
    module = labels if which == "order" else history
    real_write = module.write_atomic

    def slow_write(path, write):
        writing.set()
        assert release.wait(30)
        real_write(path, write)

    monkeypatch.setattr(module, "write_atomic", slow_write)
    errors = []

    def save():
        try:
            if which == "order":
                store.set_order(np.arange(19, -1, -1))
            else:
                store.save_suggestions(np.arange(20), ["cat"] * 20, np.full(20, 0.5))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    writer = threading.Thread(target=save)
    writer.start()
    try:
        assert writing.wait(30)
        done = []
        clicker = threading.Thread(target=lambda: done.append((store.submit(store.next_item("ann"), "cat", "ann"),
                                                                store.next_item("ann"))))
        clicker.start()
        clicker.join(10)
        assert done, "labelling waited for the file write"
    finally:
        release.set()
        writer.join(30)
    assert not errors
    if which == "order":
        assert store.next_item("bob") == 19  # the new order is in force (ann holds her item)
    else:
        assert store.suggestions().labels.tolist() == ["cat"] * 20
    store.close()
    reopened = FolderStore(tmp_path / "p", create=False)
    if which == "order":
        assert reopened.next_item("carl") == 19
    else:
        assert reopened.suggestions_version() == 1
    assert reopened.progress().labelled == 1
    reopened.close()
