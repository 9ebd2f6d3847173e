"""The default store: a project folder of parquet files plus an fsync'd event log.

Layout of a project folder::

    project.json            manifest: format version, settings, which files are current
    items-000001.parquet    one file per import batch (written once, never rewritten)
    labels.log              label/undo/skip events since the last snapshot (append-only)
    labels-000007.parquet   snapshot of every event up to a sequence number
    order-000005.parquet    the serving order set by the last retrain
    history-000009.parquet  retrain history
    .lock                   held (filelock) while a process has the project open

Labelling one item appends one record to ``labels.log`` and fsyncs it — the
pool is never rewritten. The log is folded into a new snapshot on close, on
imports and every ``compact_every`` records. Every other file is written to a
temporary name, fsync'd, renamed into place and its directory fsync'd; the
manifest is written last, so a crash at any moment leaves either the old or the
new state. On open, log records already in the snapshot are ignored and a torn
final record is cut off.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from .checks import check_id, check_ids, check_labeller, check_seconds
from .errors import InvalidInput, LockedError, StoreError, VersionError
from .eventlog import EventLog
from .items import (
    PoolShape,
    PreparedBatch,
    batch_table,
    normalize_label,
    prepare_batch,
    render_grey_png,
    split_label,
)
from .ledger import EVENT_LABEL, EVENT_RELABEL, EVENT_SKIP, EVENT_UNDO, Event, LabelLedger
from .protocol import Item, ItemBatch, Progress, ProjectSettings, Revision
from .queue import ServeQueue
from .settings import check_classes, validate_settings

__all__ = ["FORMAT", "FORMAT_VERSION", "FolderStore"]

FORMAT = "superintendent-project"
FORMAT_VERSION = 1
MANIFEST = "project.json"
LOG = "labels.log"
_OWN_PREFIXES = ("items-", "labels-", "order-", "history-")
DISPLAY_GROUP_BYTES = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file via ``write(tmp_path)``, fsync it, rename it into place, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _utc_times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as UTC timestamps, to the microsecond (so they survive a round trip)."""
    us = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")


class _Batch:
    """One items file, loaded lazily.

    Names, true labels and features are read whole on first use (compact). The
    display column is too, except for image batches with their own pictures
    (``lazy_display``): those are read one small row group at a time, so a
    project of photos does not sit in memory.
    """

    _CACHED_GROUPS = 8

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.meta = meta
        self.file = meta["file"]
        self.start = int(meta["start"])
        self.count = int(meta["count"])
        self.image_shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
        self.pixel_max = float(meta.get("pixel_max", 255.0))
        self.has_true = bool(meta.get("has_true_labels", False))
        self.lazy_display = bool(meta.get("lazy_display", False))
        self._table: pa.Table | None = None
        self._features: Any = None
        self._file: pq.ParquetFile | None = None
        self._group_starts: np.ndarray | None = None
        self._groups: dict[int, pa.Array] = {}

    def _read_error(self, exc: Exception) -> VersionError:
        return VersionError(f"Items file {self.file} of the project cannot be read ({exc}).")

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            try:
                pf = pq.ParquetFile(self.folder / self.file, memory_map=True)
                columns = [c for c in pf.schema_arrow.names if not (self.lazy_display and c == "display")]
                self._table = pf.read(columns=columns)
            except (OSError, pa.ArrowException) as exc:
                raise self._read_error(exc) from None
            if self._table.num_rows != self.count:
                raise VersionError(f"Items file {self.file} has {self._table.num_rows} rows, expected {self.count}.")
        return self._table

    def display(self, row: int) -> Any:
        """The display value of one row."""
        if not self.lazy_display:
            return self.table.column("display")[row].as_py()
        try:
            if self._file is None:
                self._file = pq.ParquetFile(self.folder / self.file, memory_map=True)
                md = self._file.metadata
                sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
                self._group_starts = np.cumsum([0] + sizes[:-1])
            g = int(np.searchsorted(self._group_starts, row, side="right") - 1)
            column = self._groups.pop(g, None)
            if column is None:
                column = self._file.read_row_group(g, columns=["display"]).column(0).combine_chunks()
            self._groups[g] = column  # most recently used last
            while len(self._groups) > self._CACHED_GROUPS:
                self._groups.pop(next(iter(self._groups)))
            return column[row - int(self._group_starts[g])].as_py()
        except (OSError, pa.ArrowException) as exc:
            raise self._read_error(exc) from None

    def features(self, shape: PoolShape) -> Any:
        if self._features is None:
            t = self.table
            if shape.feature_kind == "array":
                col = t.column("features").combine_chunks()
                dtype = np.dtype(shape.dtype).newbyteorder("<")
                width = shape.n_features * dtype.itemsize
                flat = np.frombuffer(col.buffers()[1], dtype=dtype, count=self.count * shape.n_features,
                                     offset=col.offset * width)
                self._features = flat.reshape(self.count, shape.n_features)
            elif shape.feature_kind == "text":
                self._features = t.column("features").to_pylist()
            else:
                cols = [c for c in t.column_names if c.startswith("f:")]
                df = t.select(cols).to_pandas()
                df.columns = [c[2:] for c in cols]
                self._features = df
        return self._features


class FolderStore:
    """A labelling project in a folder (see the module docstring for the layout).

    Parameters
    ----------
    path : path
        The project folder; created when missing (if ``create``).
    settings : ProjectSettings, optional
        Settings of a new project (ignored when it exists).
    create : bool, default=True
        Create the project if the folder holds none.
    clock : callable, default=time.monotonic
        Time source for leases (tests pass a fake clock).
    sync : bool, default=True
        fsync every label. Only tests of other things may turn it off.
    compact_every : int, default=50_000
        Fold the log into a snapshot after this many records.

    Raises
    ------
    LockedError
        Another process has the project open.
    VersionError
        The project was written by a newer version, or is damaged.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        settings: ProjectSettings | None = None,
        create: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sync: bool = True,
        compact_every: int = 50_000,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._clock = clock
        self._sync = sync
        self.compact_every = int(compact_every)
        self._closed = True
        self._log: EventLog | None = None
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file, not a project folder; choose a folder.")
        if not (self.path / MANIFEST).exists():
            if not create:
                raise StoreError(f"There is no labelling project in {self.path}.")
            if self.path.exists() and any(
                p.name not in (".lock", ".lock.info") for p in self.path.iterdir()
            ):
                raise StoreError(
                    f"{self.path} is not empty and holds no labelling project; choose an empty or new folder."
                )
            self.path.mkdir(parents=True, exist_ok=True)
        # Not thread-local: Streamlit opens the store in one script thread and may close it
        # in another; a thread-local lock would stay held until the process exits.
        self._flock = FileLock(str(self.path / ".lock"), timeout=0, thread_local=False)
        try:
            self._flock.acquire()
        except Timeout:
            raise LockedError(
                f"Project {self.path} is open in another process ({self._lock_owner()}). "
                "Close it there first, or open another folder."
            ) from None
        try:
            (self.path / ".lock.info").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
            if (self.path / MANIFEST).exists():
                self._load()
            else:
                self._create(settings or ProjectSettings())
        except BaseException:
            if self._log is not None:
                self._log.close()
            self._flock.release()
            raise
        self._closed = False

    def _lock_owner(self) -> str:
        try:
            info = json.loads((self.path / ".lock.info").read_text())
            return f"pid {info['pid']} on {info['host']}"
        except (OSError, ValueError, KeyError):
            return "pid unknown"

    # ------------------------------------------------------------------ manifest

    def _create(self, settings: ProjectSettings) -> None:
        settings = validate_settings(ProjectSettings(), settings.to_dict() | {"classes": settings.classes,
                                                                            "extra": settings.extra},
                                     class_usage={}, n_items=0)
        self._settings = settings
        self._shape: PoolShape | None = None
        self._batches: list[_Batch] = []
        self._generation = 0
        self._snapshot: str | None = None
        self._snapshot_upto = -1
        self._order_file: str | None = None
        self._order_revision = 0
        self._history_file: str | None = None
        self._history: list[dict[str, Any]] = []
        self._write_manifest()
        self._log = EventLog(self.path / LOG, sync=self._sync)
        self._log.read()
        self._ledger = LabelLedger(0, overlap=settings.overlap)
        self._queue = self._new_queue(0)

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "written_by": "superintendent_core",
            "generation": self._generation,
            "settings": self._settings.to_dict(),
            "pool": None if self._shape is None else self._shape.to_dict(),
            "batches": [b.meta for b in self._batches],
            "labels": {"file": self._snapshot, "upto": self._snapshot_upto},
            "order": {"file": self._order_file, "revision": self._order_revision},
            "history": self._history_file,
        }

    def _write_manifest(self, manifest: dict[str, Any] | None = None) -> None:
        data = json.dumps(manifest or self._manifest(), indent=1).encode("utf-8")
        write_atomic(self.path / MANIFEST, lambda p: p.write_bytes(data))

    def _next_name(self, prefix: str) -> str:
        self._generation += 1
        return f"{prefix}-{self._generation:06d}.parquet"

    def _load(self) -> None:
        try:
            manifest = json.loads((self.path / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise VersionError(f"The project file {self.path / MANIFEST} is damaged ({exc}).") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise VersionError(f"{self.path / MANIFEST} is not a superintendent project file.")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise VersionError(
                f"This project was written by a newer version of superintendent (format {version}); "
                f"this version reads format {FORMAT_VERSION}. Upgrade superintendent_core to open it."
            )
        try:
            self._settings = ProjectSettings.from_dict(manifest["settings"])
            self._shape = PoolShape.from_dict(manifest["pool"]) if manifest.get("pool") else None
            self._batches = [_Batch(self.path, m) for m in manifest["batches"]]
            self._generation = int(manifest["generation"])
            self._snapshot = manifest["labels"]["file"]
            self._snapshot_upto = int(manifest["labels"]["upto"])
            self._order_file = manifest["order"]["file"]
            self._order_revision = int(manifest["order"]["revision"])
            self._history_file = manifest.get("history")
        except (KeyError, TypeError, ValueError) as exc:
            raise VersionError(f"The project file {self.path / MANIFEST} is damaged (missing {exc}).") from None
        self._remove_stale_files()
        n = sum(b.count for b in self._batches)
        self._ledger = self._load_snapshot(n)
        self._log = EventLog(self.path / LOG, sync=self._sync)
        for event in self._log.read():
            if event.seq <= self._snapshot_upto:
                continue
            if event.seq != len(self._ledger) or not 0 <= event.item < n:
                raise VersionError(
                    f"The label log of {self.path} does not match its snapshot (event {event.seq}); "
                    "the project is damaged."
                )
            self._ledger.apply(event)
        self._history = self._load_history()
        self._queue = self._new_queue(n)
        self._rebuild_queue()

    def _remove_stale_files(self) -> None:
        live = {b.file for b in self._batches} | {self._snapshot, self._order_file, self._history_file}
        for p in self.path.iterdir():
            if p.name.endswith(".tmp") or (p.name.startswith(_OWN_PREFIXES) and p.suffix == ".parquet"
                                          and p.name not in live):
                p.unlink(missing_ok=True)

    def _load_snapshot(self, n: int) -> LabelLedger:
        if self._snapshot is None:
            return LabelLedger(n, overlap=self._settings.overlap)
        try:
            t = pq.read_table(self.path / self._snapshot)
        except (OSError, pa.ArrowException) as exc:
            raise VersionError(f"The labels file {self._snapshot} cannot be read ({exc}).") from None
        if t.num_rows != self._snapshot_upto + 1:
            raise VersionError(f"The labels file {self._snapshot} is incomplete; the project is damaged.")

        def codes(name: str) -> tuple[np.ndarray, list[str]]:
            enc = pc.dictionary_encode(t.column(name)).combine_chunks()
            idx = enc.indices.to_numpy(zero_copy_only=False)
            idx = np.where(enc.is_null().to_numpy(zero_copy_only=False), -1, idx).astype(np.int32)
            return idx, enc.dictionary.to_pylist()

        lab_codes, lab_names = codes("labeller")
        label_codes, label_names = codes("label")
        col = lambda k: t.column(k).to_numpy()  # noqa: E731
        return LabelLedger.from_arrays(
            n, overlap=self._settings.overlap, type=col("type"), item=col("item"),
            labeller_codes=lab_codes, labeller_names=lab_names, label_codes=label_codes,
            label_names=label_names, time=col("time"), seconds=col("seconds"),
            active=col("active"), prev=col("prev"), ref=col("ref"),
        )

    def _load_history(self) -> list[dict[str, Any]]:
        if self._history_file is None:
            return []
        t = pq.read_table(self.path / self._history_file)
        return [json.loads(s) for s in t.column("entry").to_pylist()]

    def _new_queue(self, n: int) -> ServeQueue:
        overlap = self._settings.overlap
        excluded = None if overlap <= 1 else (lambda i, who: self._ledger.has_labelled(i, who))
        return ServeQueue(n, lease_seconds=self._settings.lease_seconds, clock=self._clock, excluded=excluded)

    def _rebuild_queue(self) -> None:
        q = self._queue
        q._done[:] = self._ledger.n_active >= self._settings.overlap
        if self._order_file is not None:
            ids = pq.read_table(self.path / self._order_file).column("id").to_numpy()
            q.set_order(ids)
        else:
            q.set_done(np.empty(0, dtype=np.int64))
        types = self._ledger.col("type")
        skips = np.flatnonzero(types == EVENT_SKIP)
        if len(skips):
            items = self._ledger.col("item")[skips]
            who = self._ledger.labellers.lookup(self._ledger.col("labeller")[skips])
            for i, w in zip(items.tolist(), who.tolist(), strict=True):
                if not q.is_done(i) and not self._ledger.has_labelled(i, w):
                    q._skipped.setdefault(i, set()).add(w)

    # ------------------------------------------------------------------ helpers

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"The project {self.path} is closed; open it again.")

    def _check_id(self, item_id: Any) -> int:
        n = len(self._queue)
        return check_id(item_id, n, lambda: n)

    def _check_ids(self, ids: Any) -> np.ndarray:
        n = len(self._queue)
        return check_ids(ids, n, lambda: n)

    _check_labeller = staticmethod(check_labeller)

    def _record(self, event: Event) -> None:
        """Durably log, then apply to memory."""
        assert self._log is not None
        try:
            self._log.append(event)
        except OSError as exc:
            raise StoreError(f"Could not save to {self.path} ({exc.strerror or exc}); nothing was recorded.") from None

    def _maybe_compact(self) -> None:
        if self._log is not None and self._log.n_records >= self.compact_every:
            self._compact()

    def _compact(self, extra_manifest: Callable[[], None] | None = None) -> None:
        assert self._log is not None
        old = self._snapshot
        name = self._next_name("labels")
        table = pa.Table.from_pandas(self._ledger.to_frame(), preserve_index=False)
        write_atomic(self.path / name, lambda p: pq.write_table(table, p, compression="zstd"))
        self._snapshot = name
        self._snapshot_upto = self._ledger.last_event_seq()
        self._write_manifest()
        self._log.truncate()
        if old and old != name:
            (self.path / old).unlink(missing_ok=True)

    # ------------------------------------------------------------------ settings

    @property
    def settings(self) -> ProjectSettings:
        return self._settings

    def _class_usage(self) -> tuple[dict[str, int], list[str]]:
        led = self._ledger
        codes = led.col("label")[led.active_mask()]
        uniq, counts = np.unique(codes, return_counts=True)
        strings = [led.labels.names[c] for c in uniq.tolist()]
        usage: dict[str, int] = {}
        for s, c in zip(strings, counts.tolist(), strict=True):
            for part in (s.split("|") if s else []):
                usage[part] = usage.get(part, 0) + c
        return usage, strings

    def update_settings(self, **changes: Any) -> ProjectSettings:
        with self._lock:
            self._check_open()
            usage, strings = self._class_usage()
            new = validate_settings(self._settings, changes, class_usage=usage, n_items=len(self._queue),
                                    label_strings=strings)
            old = self._settings
            self._settings = new
            try:
                self._write_manifest()
            except BaseException:
                self._settings = old
                raise
            self._queue.lease_seconds = new.lease_seconds
            if new.overlap != old.overlap:
                self._ledger.overlap = new.overlap
                leases = dict(self._queue._leases)
                self._queue = self._new_queue(len(self._queue))
                self._rebuild_queue()
                for i, (who, _) in leases.items():
                    if not self._queue.is_done(i):
                        self._queue.lease(i, who)
            return new

    # ------------------------------------------------------------------ pool

    def __len__(self) -> int:
        return len(self._queue)

    def _existing_names(self) -> pa.ChunkedArray | None:
        if not self._batches:
            return None
        return pa.chunked_array([b.table.column("name").combine_chunks() for b in self._batches])

    def add_items(self, batch: ItemBatch) -> np.ndarray:
        with self._lock:
            self._check_open()
            settings = self._settings
            if not settings.classes:
                found = set()
                for seq in (batch.labels or (), batch.true_labels or ()):
                    for lab in seq:
                        if isinstance(lab, str) and lab:
                            found.update(lab.split("|") if settings.multi_label else [lab])
                if found:
                    settings = dataclasses.replace(settings, classes=check_classes(sorted(found)))
            prepared = prepare_batch(batch, settings, self._shape)
            existing = self._existing_names()
            if existing is not None:
                dup = pc.is_in(pa.array(prepared.names), value_set=existing.combine_chunks())
                if pc.any(dup).as_py():
                    names = [n for n, d in zip(prepared.names, dup.to_pylist(), strict=True) if d]
                    raise InvalidInput(
                        f"{len(names)} item name(s) are already in the project, e.g. {names[0]!r}. "
                        "Rename them or leave them out."
                    )
            if self._shape is None and (settings.kind != prepared.kind
                                        or settings.feature_kind != prepared.shape.feature_kind):
                settings = dataclasses.replace(settings, kind=prepared.kind,
                                               feature_kind=prepared.shape.feature_kind)
            return self._add_prepared(prepared, settings)

    def _add_prepared(self, prepared: PreparedBatch, settings: ProjectSettings) -> np.ndarray:
        start = len(self._queue)
        n = len(prepared)
        table = batch_table(prepared, start)
        name = self._next_name("items")
        lazy = prepared.kind == "image" and prepared.display is not None
        rows_per_group = 1 << 20
        if lazy:  # ~1 MB of pictures per row group: one item() reads about that much
            mean_bytes = sum(len(d) for d in prepared.display) / n
            rows_per_group = int(min(1 << 20, max(8, DISPLAY_GROUP_BYTES // max(mean_bytes, 1))))
        write_atomic(self.path / name, lambda p: pq.write_table(
            table, p, use_dictionary=["true_label"],
            # pictures are compressed already (PNG/JPEG); everything else zstd
            compression={c: "none" if lazy and c == "display" else "zstd" for c in table.column_names},
            compression_level={c: 1 for c in table.column_names if not (lazy and c == "display")},
            write_statistics=["id"], row_group_size=rows_per_group))
        meta = {
            "file": name, "start": start, "count": n,
            "image_shape": list(prepared.image_shape) if prepared.image_shape else None,
            "pixel_max": prepared.pixel_max, "has_true_labels": prepared.true_labels is not None,
            "lazy_display": lazy,
        }
        old_state = (self._settings, self._shape, list(self._batches))
        self._settings, self._shape = settings, prepared.shape
        self._batches.append(_Batch(self.path, meta))
        ids = np.arange(start, start + n, dtype=np.int64)
        self._ledger.grow(n)
        self._queue.grow(n)
        try:
            if len(prepared.label_positions):
                self._ledger.bulk_labels(ids[prepared.label_positions], prepared.label_values,
                                         prepared.labeller, time.time())
                labelled = ids[prepared.label_positions]
                self._queue.set_done(labelled[self._ledger.n_active[labelled] >= settings.overlap])
                self._compact()  # snapshot (with the new labels) + manifest in one commit
            else:
                self._write_manifest()
        except BaseException:
            # Memory is ahead of disk: reload what is on disk.
            self._settings, self._shape, self._batches = old_state
            (self.path / name).unlink(missing_ok=True)
            self._reload()
            raise
        return ids

    def _reload(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        self._load()

    def _batch_of(self, ids: np.ndarray) -> np.ndarray:
        starts = np.fromiter((b.start for b in self._batches), dtype=np.int64, count=len(self._batches))
        return np.searchsorted(starts, ids, side="right") - 1

    def item(self, item_id: int) -> Item:
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            b = self._batches[int(self._batch_of(np.array([item_id]))[0])]
            row = item_id - b.start
            t = b.table
            name = t.column("name")[row].as_py()
            display = b.display(row)
            kind = self._settings.kind
            if kind == "image":
                if display is None:
                    assert b.image_shape is not None and self._shape is not None
                    display = render_grey_png(b.features(self._shape)[row], b.image_shape, b.pixel_max)
                mime = "image/jpeg" if display[:3] == b"\xff\xd8\xff" else "image/png"
                return Item(item_id, name, "image", display, mime)
            if kind == "table":
                return Item(item_id, name, "table", json.loads(display))
            return Item(item_id, name, "text", display)

    def names(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            return self._names(ids)

    def _names(self, ids: np.ndarray) -> list[str]:
        if len(ids) == 0:
            return []
        out = np.empty(len(ids), dtype=object)
        which = self._batch_of(ids)
        for k in np.unique(which).tolist():
            mask = which == k
            b = self._batches[k]
            out[mask] = b.table.column("name").take(pa.array(ids[mask] - b.start)).to_numpy(zero_copy_only=False)
        return out.tolist()

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            return self._features(ids)

    def _features(self, ids: np.ndarray) -> Any:
        shape = self._shape
        kind = shape.feature_kind if shape else self._settings.feature_kind
        if shape is None or len(ids) == 0:
            if kind == "array":
                return np.empty((0, shape.n_features if shape else 0), dtype=np.float32)
            if kind == "text":
                return []
            return pd.DataFrame(columns=list(shape.feature_columns) if shape else [])
        which = self._batch_of(ids)
        if kind == "array":
            batches = np.unique(which).tolist()
            if len(batches) == 1:
                b = self._batches[batches[0]]
                return b.features(shape)[ids - b.start].astype(np.float32, copy=False)
            out = np.empty((len(ids), shape.n_features), dtype=np.float32)
            for k in batches:
                pos = np.flatnonzero(which == k)
                b = self._batches[k]
                out[pos] = b.features(shape)[ids[pos] - b.start]
            return out
        if kind == "text":
            out_list: list[Any] = [None] * len(ids)
            for k in np.unique(which).tolist():
                b = self._batches[k]
                texts = b.features(shape)
                for pos in np.flatnonzero(which == k).tolist():
                    out_list[pos] = texts[int(ids[pos]) - b.start]
            return out_list
        parts, positions = [], []
        for k in np.unique(which).tolist():
            pos = np.flatnonzero(which == k)
            b = self._batches[k]
            parts.append(b.features(shape).iloc[ids[pos] - b.start])
            positions.append(pos)
        df = pd.concat(parts, ignore_index=True)
        order = np.argsort(np.concatenate(positions), kind="stable")
        return df.iloc[order].reset_index(drop=True)

    def unlabelled_ids(self) -> np.ndarray:
        with self._lock:
            self._check_open()
            return np.flatnonzero(self._ledger.n_active == 0).astype(np.int64)

    def true_labels(self, ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
        with self._lock:
            self._check_open()
            ids = self._check_ids(ids)
            if not any(b.has_true for b in self._batches):
                return None
            out = np.full(len(ids), None, dtype=object)
            which = self._batch_of(ids)
            for k in np.unique(which).tolist():
                b = self._batches[k]
                if not b.has_true:
                    continue
                mask = which == k
                col = b.table.column("true_label")
                out[mask] = col.take(pa.array(ids[mask] - b.start)).to_numpy(zero_copy_only=False)
            return out

    # ------------------------------------------------------------------ labelling

    def next_item(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            return self._queue.next_item(labeller)

    def _label(self, item_id: int, label: Any, labeller: str, seconds: float | None, relabel: bool) -> None:
        labeller = self._check_labeller(labeller)
        seconds = check_seconds(seconds)
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            text = normalize_label(label, self._settings.classes, self._settings.multi_label)
            now = time.time()
            self._record(Event(len(self._ledger), EVENT_RELABEL if relabel else EVENT_LABEL, item_id,
                               labeller, text, now, np.nan if seconds is None else float(seconds)))
            self._ledger.add_label(item_id, text, labeller, now, seconds, relabel=relabel)
            if self._ledger.is_done(item_id):
                self._queue.mark_done(item_id)
            elif self._queue.leased_to(item_id) == labeller:
                self._queue.release(item_id)
            self._maybe_compact()

    def submit(self, item_id: int, label: Any, labeller: str, seconds: float | None = None) -> None:
        self._label(item_id, label, labeller, seconds, relabel=False)

    def relabel(self, item_id: int, label: Any, labeller: str) -> None:
        self._label(item_id, label, labeller, None, relabel=True)

    def skip(self, item_id: int, labeller: str) -> None:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            now = time.time()
            self._record(Event(len(self._ledger), EVENT_SKIP, item_id, labeller, None, now, np.nan))
            self._ledger.skip(item_id, labeller, now)
            if not self._queue.is_done(item_id):
                self._queue.skip(item_id, labeller)
            self._maybe_compact()

    def undo(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            target = self._ledger.undo_target(labeller)
            if target < 0:
                return None
            item_id = int(self._ledger.col("item")[target])
            now = time.time()
            self._record(Event(len(self._ledger), EVENT_UNDO, item_id, labeller, None, now, np.nan, target))
            self._ledger.undo(labeller, now, target=target)
            if not self._ledger.is_done(item_id):
                self._queue.mark_open(item_id)
            self._queue.lease(item_id, labeller)
            self._maybe_compact()
            return item_id

    def restore_labels(self, labels: pd.DataFrame) -> None:
        """Add label rows as :meth:`labels` returns them, keeping labeller, time and seconds.

        For copying a project between backends. All rows are validated first
        (nothing is added on error) and written in one durable snapshot.
        """
        with self._lock:
            self._check_open()
            missing = {"item_id", "label", "labeller", "time"} - set(labels.columns)
            if missing:
                raise InvalidInput(f"The labels table lacks column(s) {sorted(missing)}.")
            df = labels.sort_values("time", kind="stable")
            ids = self._check_ids(df["item_id"].to_numpy())
            multi = self._settings.multi_label
            texts = [normalize_label(split_label(str(v), multi), self._settings.classes, multi)
                     for v in df["label"]]
            who = [self._check_labeller(w) for w in df["labeller"]]
            times = pd.to_datetime(df["time"], utc=True).dt.as_unit("ns").astype("int64").to_numpy() / 1e9
            seconds = (df["seconds"].to_numpy(dtype=float) if "seconds" in df.columns
                       else np.full(len(df), np.nan))
            try:
                for i, text, w, t, sec in zip(ids.tolist(), texts, who, times.tolist(), seconds.tolist(),
                                              strict=True):
                    self._ledger.add_label(i, text, w, t, None if np.isnan(sec) else sec)
                    if self._ledger.is_done(i):
                        self._queue.mark_done(i)
                self._compact()
            except BaseException:
                self._reload()
                raise

    def set_order(self, ids: Sequence[int] | np.ndarray) -> None:
        with self._lock:
            self._check_open()
            arr = self._check_ids(ids)
            if len(np.unique(arr)) != len(arr):
                raise InvalidInput("The order lists an item twice; each item may appear once.")
            old = self._order_file
            name = self._next_name("order")
            table = pa.table({"id": pa.array(arr, type=pa.int64())})
            write_atomic(self.path / name, lambda p: pq.write_table(table, p, compression="zstd"))
            self._order_file = name
            self._order_revision += 1
            self._write_manifest()
            if old:
                (self.path / old).unlink(missing_ok=True)
            self._queue.set_order(arr)

    def progress(self) -> Progress:
        with self._lock:
            self._check_open()
            led = self._ledger
            per_class = dict.fromkeys(self._settings.classes, 0)
            for code, count in led.label_counts.items():
                if not count:
                    continue
                text = led.labels.names[code]
                for part in (text.split("|") if self._settings.multi_label else [text]):
                    if part:
                        per_class[part] = per_class.get(part, 0) + count
            per_labeller = {led.labellers.names[c]: n for c, n in led.labeller_counts.items() if n}
            return Progress(
                labelled=led.n_labelled,
                total=len(self._queue),
                per_class=per_class,
                per_labeller=per_labeller,
                leased=self._queue.n_leased(),
                done=self._queue.n_done(),
            )

    def revision(self) -> Revision:
        with self._lock:
            return Revision(len(self._queue), len(self._ledger), self._order_revision)

    # ------------------------------------------------------------------ reading labels

    def labels(self) -> pd.DataFrame:
        with self._lock:
            self._check_open()
            led = self._ledger
            mask = led.active_mask()
            seqs = np.flatnonzero(mask)
            items = led.col("item")[seqs]
            return pd.DataFrame(
                {
                    "item_id": items.astype(np.int64),
                    "name": pd.array(self._names(items), dtype=object),
                    "label": led.label_strings(led.col("label")[seqs]),
                    "labeller": led.labellers.lookup(led.col("labeller")[seqs]),
                    "time": _utc_times(led.col("time")[seqs]),
                    "seconds": led.col("seconds")[seqs].astype(np.float64),
                }
            )

    def training_data(self) -> tuple[np.ndarray, Any, list]:
        with self._lock:
            self._check_open()
            led = self._ledger
            ids = np.flatnonzero(led.train >= 0).astype(np.int64)
            texts = led.label_strings(led.training_label_codes(ids))
            multi = self._settings.multi_label
            y = [split_label(t, multi) for t in texts.tolist()]
            return ids, self._features(ids), y

    # ------------------------------------------------------------------ history

    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._check_open()
            row = dict(entry)
            row.setdefault("time", time.time())
            if isinstance(row["time"], pd.Timestamp):
                row["time"] = row["time"].timestamp()
            try:
                text = json.dumps(row, default=lambda v: v.item() if isinstance(v, np.generic) else str(v),
                                  allow_nan=True)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"The retrain entry cannot be saved ({exc}).") from None
            history = self._history + [json.loads(text)]
            old = self._history_file
            name = self._next_name("history")
            table = pa.table({"entry": pa.array([json.dumps(h) for h in history], type=pa.string())})
            write_atomic(self.path / name, lambda p: pq.write_table(table, p))
            self._history_file = name
            self._write_manifest()
            self._history = history
            if old:
                (self.path / old).unlink(missing_ok=True)

    def history(self) -> pd.DataFrame:
        with self._lock:
            base = ["time", "n_labels", "score", "metric", "strategy", "model", "seconds"]
            df = pd.DataFrame(self._history)
            for c in base:
                if c not in df.columns:
                    df[c] = pd.Series(dtype=object if c in ("metric", "strategy", "model") else float)
            df = df[base + [c for c in df.columns if c not in base]]
            df["time"] = pd.to_datetime(df["time"].astype(float), unit="s", utc=True)
            return df

    # ------------------------------------------------------------------ lifetime

    @contextmanager
    def open_files(self) -> Iterator[dict[str, IO[bytes]]]:
        """The project's current files, opened, for a consistent copy (export).

        The log is folded into a snapshot first, so the files alone are the whole
        project. The store is locked only while the files are opened: the data
        files are never modified in place and open handles survive a later
        compaction, so labelling goes on while the caller reads them.
        """
        handles: dict[str, IO[bytes]] = {}
        try:
            with self._lock:
                self._check_open()
                if self._log is not None and self._log.n_records:
                    self._compact()
                handles[MANIFEST] = io.BytesIO((self.path / MANIFEST).read_bytes())
                names = [b.file for b in self._batches] + [self._snapshot, self._order_file, self._history_file]
                for name in names:
                    if name:
                        handles[name] = open(self.path / name, "rb")  # noqa: SIM115
            yield handles
        finally:
            for fh in handles.values():
                fh.close()

    def compact(self) -> None:
        """Fold the label log into a snapshot now."""
        with self._lock:
            self._check_open()
            self._compact()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if self._log is not None and self._log.n_records:
                    self._compact()
            finally:
                self._closed = True
                if self._log is not None:
                    self._log.close()
                (self.path / ".lock.info").unlink(missing_ok=True)
                self._flock.release()

    def __enter__(self) -> FolderStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FolderStore({str(self.path)!r}, items={len(self._queue) if not self._closed else '?'})"
