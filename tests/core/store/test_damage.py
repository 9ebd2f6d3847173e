"""Damaged files in a folder project: nothing lost silently, every undamaged label comes back.

A small project (8 labels in the log) is damaged in every way a byte can be:
each byte flipped, the log cut at each offset, a record written twice. After
reopening, every label whose record is intact is back, and the damage is
reported (a torn tail, the normal result of a crash, is repaired silently).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from store_contract import CLASSES, image_batch

from superintendent_core.store import ItemBatch, ProjectSettings, eventlog
from superintendent_core.store.folder import FolderStore

N = 8
SAMPLE = (0, 3, N - 1)  # first, middle and last record: every byte of these (keeps the test at a few seconds)


def crash(store: FolderStore) -> None:
    """Leave the project as a SIGKILL would: no close(), no compaction."""
    store._log.close()
    store._flock.release()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, list[tuple[int, int]]]:
    """A project with N labels in labels.log; returns (folder, [(start, end) of each record])."""
    path = tmp_path_factory.mktemp("damage") / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(N + 2))
    store = FolderStore(path, create=False)
    for i in range(N):
        store.submit(i, CLASSES[i % 3], "ann")
    crash(store)
    data = (path / "labels.log").read_bytes()
    bounds, pos = [], 0
    for event in eventlog.read_events(data)[0]:
        size = len(eventlog.encode(event))
        bounds.append((pos, pos + size))
        pos += size
    assert pos == len(data) and len(bounds) == N
    return path, bounds


def reopen(where: Path, log: bytes) -> tuple[dict[int, str], list[str]]:
    """Replace the project's log, open it: ({item: label}, damage report); then forget the repair.

    The store is left as after a crash, so only the log and the files set aside change.
    """
    (where / "labels.log").write_bytes(log)
    store = FolderStore(where, create=False)
    try:
        df = store.labels()
        return dict(zip(df["item_id"].tolist(), df["label"].tolist(), strict=True)), store.damage_report()
    finally:
        crash(store)
        for side in [*where.glob("labels.log.*")]:
            side.unlink()


def expected(skip: set[int] = frozenset()) -> dict[int, str]:
    return {i: CLASSES[i % 3] for i in range(N) if i not in skip}


def test_every_flipped_byte_is_detected_and_later_labels_survive(base, tmp_path):
    path, bounds = base
    data = (path / "labels.log").read_bytes()
    q = tmp_path / "q"
    shutil.copytree(path, q)
    for k in SAMPLE:
        start, end = bounds[k]
        for b in range(start, end):
            bad = bytearray(data)
            bad[b] ^= 0xFF
            labels, report = reopen(q, bytes(bad))
            assert report, f"byte {b} of record {k}: damage not reported"
            assert expected({k}).items() <= labels.items(), f"byte {b} of record {k}: lost {labels}"
            assert labels.keys() <= expected().keys()
            if k not in labels:
                assert any("damaged bytes" in line for line in report)


def test_middle_record_damage_keeps_later_labels_and_bytes_aside(base, tmp_path):
    """The issue's case: one flipped byte in record 3 used to drop records 3-7 silently."""
    path, bounds = base
    data = bytearray((path / "labels.log").read_bytes())
    start, end = bounds[3]
    data[start + 20] ^= 0x01
    q = tmp_path / "q"
    shutil.copytree(path, q)
    (q / "labels.log").write_bytes(bytes(data))
    with FolderStore(q, create=False) as store:
        assert set(store.labels()["item_id"]) == set(range(N)) - {3}
        report = store.damage_report()
        assert "labels.log.damaged-1" in " ".join(report)
        assert any("1 label event(s) were lost" in line for line in report)
        assert (q / "labels.log.damaged-1").read_bytes() == bytes(data[start:end])
        store.submit(3, "cat", "ann")  # labelling goes on after the repair
    with FolderStore(q, create=False) as store:  # after compaction the loss is still reported
        assert set(store.labels()["item_id"]) == set(range(N))
        assert any("lost" in line for line in store.damage_report())


def test_cut_at_every_offset_is_a_silent_torn_tail(base, tmp_path):
    path, bounds = base
    data = (path / "labels.log").read_bytes()
    ends = [e for _, e in bounds]
    q = tmp_path / "q"
    shutil.copytree(path, q)
    for cut in [c for k in SAMPLE for c in range(*bounds[k])] + [len(data)]:
        whole = sum(e <= cut for e in ends)
        labels, report = reopen(q, data[:cut])
        assert labels == {i: CLASSES[i % 3] for i in range(whole)}, f"cut at {cut}"
        assert report == [], f"cut at {cut}: {report}"


@pytest.mark.parametrize("k", [0, 3, N - 1])
def test_a_record_written_twice_counts_once(base, tmp_path, k):
    path, bounds = base
    data = (path / "labels.log").read_bytes()
    start, end = bounds[k]
    q = tmp_path / "q"
    shutil.copytree(path, q)
    (q / "labels.log").write_bytes(data[:end] + data[start:end] + data[end:])
    with FolderStore(q, create=False) as store:
        assert store.labels()["item_id"].tolist() == list(range(N))
        assert store.progress().per_labeller == {"ann": N}
        assert any("written twice" in line for line in store.damage_report())


def test_undo_of_a_lost_label_changes_nothing(tmp_path):
    path = tmp_path / "p"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(6))
    store = FolderStore(path, create=False)
    for i in range(4):
        store.submit(i, "cat", "ann")
    store.undo("ann")  # undoes item 3 (event 3)
    store.submit(4, "dog", "ann")
    crash(store)
    data = bytearray((path / "labels.log").read_bytes())
    offsets, pos = [], 0
    for event in eventlog.read_events(bytes(data))[0]:
        offsets.append(pos)
        pos += len(eventlog.encode(event))
    data[offsets[3] + 12] ^= 0xFF  # the label the undo refers to
    (path / "labels.log").write_bytes(bytes(data))
    with FolderStore(path, create=False) as store:
        assert store.labels()["item_id"].tolist() == [0, 1, 2, 4]
        assert store.damage_report()


def test_clean_project_reports_nothing(base, tmp_path):
    path, _ = base
    shutil.copytree(path, tmp_path / "q")
    labels, report = reopen(tmp_path / "q", (path / "labels.log").read_bytes())
    assert labels == expected() and report == []


# ---------------------------------------------------------------- settings (project.json)


def settings_project(path: Path) -> Path:
    """A project with 4 labels, whose settings were changed once (so project.json.prev exists)."""
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(6))
        for i in range(4):
            store.submit(i, CLASSES[i % 3], "ann")
        store.update_settings(lease_seconds=123)
    return path


def test_unparseable_manifest_falls_back_to_its_previous_version(tmp_path):
    path = settings_project(tmp_path / "p")
    damaged = (path / "project.json").read_bytes()[:-40]  # torn write
    (path / "project.json").write_bytes(damaged)
    with FolderStore(path, create=False) as store:
        assert store.labels()["label"].tolist() == [CLASSES[i % 3] for i in range(4)]
        report = " ".join(store.damage_report())
        assert "project.json was damaged" in report and "project.json.damaged-1" in report
        assert (path / "project.json.damaged-1").read_bytes() == damaged
    with FolderStore(path, create=False) as store:  # repaired: opens cleanly
        assert len(store.labels()) == 4


def test_manifest_checksum_mismatch_is_damage(tmp_path):
    path = settings_project(tmp_path / "p")
    text = (path / "project.json").read_text()
    assert '"lease_seconds": 123' in text and '"checksum"' in text
    (path / "project.json").write_text(text.replace('"lease_seconds": 123', '"lease_seconds": 124'))
    with FolderStore(path, create=False) as store:
        assert "checksum" in " ".join(store.damage_report())
        assert store.settings.lease_seconds != 124  # the damaged value is not used
        assert len(store.labels()) == 4


def test_both_manifests_damaged_refuses_with_file_and_repair(tmp_path):
    from superintendent_core.store.errors import VersionError

    path = settings_project(tmp_path / "p")
    (path / "project.json").write_bytes(b"{\x00garbage")
    (path / "project.json.prev").write_bytes(b"")
    with pytest.raises(VersionError) as err:
        FolderStore(path, create=False)
    msg = str(err.value)
    assert "project.json" in msg and "project.json.prev" in msg and "Traceback" not in msg
    assert (path / "project.json").read_bytes() == b"{\x00garbage"  # nothing was thrown away


def test_manifest_without_checksum_of_earlier_versions_opens(tmp_path):
    import json

    path = settings_project(tmp_path / "p")
    manifest = json.loads((path / "project.json").read_text())
    del manifest["checksum"]
    (path / "project.json").write_text(json.dumps(manifest))
    with FolderStore(path, create=False) as store:
        assert store.damage_report() == [] and store.settings.lease_seconds == 123


# ---------------------------------------------------------------- the labels snapshot (labels-*.parquet)


def compacted_project(path: Path) -> Path:
    """Labels 0-1 folded in one snapshot, 2-3 in the next, 4 in the log (left as after a crash)."""
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        store.add_items(image_batch(8))
        store.submit(0, "cat", "ann")
        store.submit(1, "dog", "ann")
    with FolderStore(path, create=False) as store:
        store.submit(2, "owl", "ann")
        store.submit(3, "cat", "bob")
    store = FolderStore(path, create=False)
    store.submit(4, "dog", "ann")
    crash(store)
    return path


def newest_snapshot(path: Path) -> Path:
    return max(path.glob("labels-*.parquet"))


def test_damaged_snapshot_is_rebuilt_from_the_one_before_and_the_kept_log(tmp_path):
    path = compacted_project(tmp_path / "p")
    snap = newest_snapshot(path)
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[8:16] = b"\x00" * 8
    snap.write_bytes(bytes(data))
    with FolderStore(path, create=False) as store:
        df = store.labels()
        assert df["item_id"].tolist() == [0, 1, 2, 3, 4]
        assert df["label"].tolist() == ["cat", "dog", "owl", "cat", "dog"]
        report = " ".join(store.damage_report())
        assert f"{snap.name} could not be read" in report
        assert (path / f"{snap.name}.damaged-1").read_bytes() == bytes(data)
    with FolderStore(path, create=False) as store:  # repaired
        assert len(store.labels()) == 5
        assert not any("could not be read" in line for line in store.damage_report())


def test_damaged_snapshot_without_a_fallback_refuses_naming_file_and_repair(tmp_path):
    import json

    from superintendent_core.store.errors import VersionError

    path = compacted_project(tmp_path / "p")
    manifest = json.loads((path / "project.json").read_text())
    manifest.pop("labels_prev", None)  # as written by earlier versions: no snapshot before it
    manifest.pop("checksum", None)
    (path / "project.json").write_text(json.dumps(manifest))
    snap = newest_snapshot(path)
    snap.write_bytes(b"PAR1 not really")
    with pytest.raises(VersionError) as err:
        FolderStore(path, create=False)
    msg = str(err.value)
    assert snap.name in msg and "kept nowhere else" in msg and "python -m superintendent_core.store.repair" in msg
    assert snap.read_bytes() == b"PAR1 not really"  # nothing moved or thrown away


# ---------------------------------------------------------------- the repair command


def run_repair(path: Path):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "superintendent_core.store.repair", str(path)],
                           capture_output=True, text=True, timeout=60)


def test_repair_command_sets_every_damaged_file_aside_and_the_project_opens(tmp_path):
    path = compacted_project(tmp_path / "p")  # labels 0-3 in snapshots, 4 in the log
    store = FolderStore(path, create=False)
    store.submit(5, "owl", "bob")
    store.submit(6, "cat", "bob")
    crash(store)
    log = bytearray((path / "labels.log").read_bytes())
    first = len(eventlog.encode(eventlog.read_events(bytes(log))[0][0]))
    log[first + 20] ^= 0xFF  # the record of item 5 (the second in the log)
    (path / "labels.log").write_bytes(bytes(log))
    snap = newest_snapshot(path)
    snap.write_bytes(snap.read_bytes()[:100])
    (path / "project.json").write_bytes((path / "project.json").read_bytes()[:50])
    done = run_repair(path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "project.json was damaged" in out and f"{snap.name} could not be read" in out
    assert "labels.log" in out and "is repaired" in out and "Traceback" not in out + done.stderr
    for kept in ("project.json.damaged-1", f"{snap.name}.damaged-1", "labels.log.damaged-1"):
        assert (path / kept).exists(), kept
    with FolderStore(path, create=False) as store:
        df = store.labels()
        assert df["item_id"].tolist() == [0, 1, 2, 3, 4, 6]  # item 5's record was the damaged bytes
    again = run_repair(path)
    assert again.returncode == 0 and "opens with 6 label(s)" in again.stdout  # the losses stay reported


def test_repair_command_that_cannot_repair_exits_with_a_sentence(tmp_path):
    path = settings_project(tmp_path / "p")
    (path / "project.json").write_bytes(b"{")
    (path / "project.json.prev").write_bytes(b"{")
    done = run_repair(path)
    assert done.returncode == 1 and done.stdout == ""
    err = done.stderr.strip()
    assert "project.json" in err and "cannot be repaired" in err and "project zip" in err
    assert "Traceback" not in err and "superintendent_core.store.repair" not in err
    assert (path / "project.json").read_bytes() == b"{"


def test_a_damaged_items_file_refuses_naming_the_file_and_the_restore(tmp_path):
    """Items cannot be rebuilt from anything else: the refusal names the file and how to restore."""
    from superintendent_core.store import StoreError, open_store

    path = tmp_path / "p"
    with open_store(str(path), settings=ProjectSettings(classes=("a", "b"))) as store:
        store.add_items(ItemBatch(names=("x", "y"), kind="table", features=np.eye(2, dtype=np.float32),
                                  payloads=[{"v": 1}, {"v": 2}]))
    items = sorted(path.glob("items-*.parquet"))[0]
    data = bytearray(items.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[8:16] = b"\0" * 8
    items.write_bytes(bytes(data))
    with pytest.raises(StoreError) as refused:
        with open_store(str(path)) as store:
            store.features(np.arange(2))
            store.item(0)
    message = str(refused.value)
    assert items.name in message and "project zip" in message


def test_manifest_fallback_after_replaced_order_and_history_takes_the_newest_on_disk(tmp_path):
    """project.json.prev can name an order or history file that the last write replaced (and deleted)."""
    import subprocess
    import sys

    path = tmp_path / "p"
    code = (
        "import os, numpy as np\n"
        "from store_contract import CLASSES, image_batch\n"
        "from superintendent_core.store import ProjectSettings\n"
        "from superintendent_core.store.folder import FolderStore\n"
        f"store = FolderStore({str(path)!r}, settings=ProjectSettings(classes=CLASSES))\n"
        "store.add_items(image_batch(6))\n"
        "store.submit(0, CLASSES[0], 'ann')\n"
        "store.record_retrain({'n_labels': 1})\n"
        "store.set_order([5, 4, 3, 2, 1, 0])\n"
        "store.record_retrain({'n_labels': 2})\n"
        "store.set_order([2, 3, 4, 5, 1, 0])\n"
        "os._exit(0)  # killed: no close, no compaction\n"
    )
    helpers = str(Path(__file__).resolve().parent)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=helpers,
                   env={**__import__("os").environ, "PYTHONPATH": f"{helpers}:{Path(helpers).parents[2]}"})
    (path / "project.json").write_bytes((path / "project.json").read_bytes()[:-30])  # torn
    with FolderStore(path, create=False) as store:
        assert store.labels()["label"].tolist() == [CLASSES[0]]
        assert store.history()["n_labels"].tolist() == [1, 2]
        assert store.next_item("bob") == 2  # the newest order, not the pool's
        assert "newest on disk" in " ".join(store.damage_report())


def test_snapshot_fallback_says_bulk_labels_since_the_previous_snapshot_are_lost(tmp_path):
    """Bulk labels skip the event log: a fallback to the previous snapshot cannot rebuild them, and says so."""
    path = tmp_path / "p"
    s = FolderStore(path, settings=ProjectSettings(classes=("a", "b")))
    s.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(20)), kind="image", image_shape=(2, 2),
                          pixel_max=1.0, features=np.zeros((20, 4), np.float32)))
    s.submit(0, "a", "alice")
    s.bulk_label([1, 2, 3], "b", "alice")
    snap = s._snapshot
    s.close()
    (path / snap).write_bytes(b"garbage")
    s = FolderStore(path, create=False)
    report = " ".join(s.damage_report())
    assert "3 label record(s) made in bulk or imported" in report and "could not be rebuilt" in report
    assert len(s.labels()) == 1  # the logged label is rebuilt
    s.close()
