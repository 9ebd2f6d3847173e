"""The folder store itself: opening, locking, the manifest, compaction and settings.

The other methods of :class:`FolderStore` are grouped by concern in
:mod:`.items` (the pool), :mod:`.labels` (labelling, serving, reading labels)
and :mod:`.history` (retrain history); they share the state set up here.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock, Timeout

from ..._lazy import lazy_module
from .. import _rules
from ..errors import LockedError, StoreError, VersionError
from ..eventlog import EventLog
from ..items import PoolShape
from ..ledger import EVENT_SKIP, Event, LabelLedger
from ..protocol import ProjectSettings
from ..queue import ServeQueue
from ..settings import validate_settings
from .batches import DEFAULT_CACHE_BYTES, DecodedCache, ItemsFile
from .bulk import FolderBulk
from .feature_sets import FolderFeatureSets
from .files import (
    FORMAT,
    FORMAT_VERSION_BASE,
    FORMAT_VERSION_BULK,
    FORMAT_VERSION_READ,
    LOG,
    LOG_PREV,
    MANIFEST,
    MANIFEST_PREV,
    OWN_PREFIXES,
    OWN_SUFFIXES,
    decode_manifest,
    decode_slots,
    encode_manifest,
    repair_hint,
    write_atomic,
)
from .history import FolderHistory
from .items import FolderItems
from .labels import FolderLabels
from .preannotations import FolderPreannotations

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["FolderStore"]


class FolderStore(FolderItems, FolderLabels, FolderHistory, FolderFeatureSets, FolderBulk, FolderPreannotations):
    """A labelling project in a folder (the layout is described in :mod:`superintendent_core.store.folder`).

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
    feature_cache_bytes : int, default=256 MiB
        Decoded features this store keeps (least recently used dropped first): text features,
        non-numeric table columns and the features of batches written before format 3. Numeric
        features of format-3 batches are memory-mapped and not counted (the kernel's page cache).

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
        feature_cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.path = Path(path)
        self._decoded = DecodedCache(feature_cache_bytes)
        self._lock = threading.RLock()
        self._clock = clock
        self._sync = sync
        self.compact_every = int(compact_every)
        self._closed = True
        self._log: EventLog | None = None
        self._manifest_bytes: bytes | None = None  # the manifest on disk, kept as the next fallback
        self._manifest_damage: list[str] = []
        self._snapshot_damage: list[str] = []
        # Files being written outside the lock (order, suggestions): named under the lock, swapped in
        # later. A reload meanwhile must not delete them (or their .tmp) as stale.
        self._inflight: set[str] = set()
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
        self._batches: list[ItemsFile] = []
        self._generation = 0
        self._snapshot: str | None = None
        self._snapshot_upto = -1
        self._prev_snapshot: dict[str, Any] | None = None
        self._order_file: str | None = None
        self._order_revision = 0
        self._history_file: str | None = None
        self._history: list[dict[str, Any]] = []
        self._no_suggestions()
        self._no_preannotations()
        self._write_manifest()
        self._log = EventLog(self.path / LOG, sync=self._sync)
        self._log.read()
        self._ledger = LabelLedger(0, overlap=settings.overlap)
        self._served: dict[str, tuple[int, tuple[float, int, int] | None]] = {}
        self._queue = self._new_queue(0)

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION_BULK if self._needs_format_3() else FORMAT_VERSION_BASE,
            "written_by": "superintendent_core",
            "generation": self._generation,
            "settings": self._settings.to_dict(),
            "pool": None if self._shape is None else self._shape.to_dict(),
            "batches": [b.meta for b in self._batches],
            "labels": {"file": self._snapshot, "upto": self._snapshot_upto},
            # the snapshot before it; its events since are in labels.log.prev and labels.log
            "labels_prev": self._prev_snapshot,
            "order": {"file": self._order_file, "revision": self._order_revision},
            "history": self._history_file,
            "suggestions": None if self._suggestions_file is None else {
                "file": self._suggestions_file,
                "version": self._suggestions_version,
                "meta": self._suggestions_meta,
            },
            **({"preannotations": self._pre_file} if getattr(self, "_pre_file", None) else {}),
        }

    def _needs_format_3(self) -> bool:
        """Format 3 only for what format-2 readers cannot read: an ``.npy`` features file or bulk labels."""
        return any(b.features_file for b in self._batches) or self._has_bulk()

    def _has_bulk(self) -> bool:
        ledger = getattr(self, "_ledger", None)
        return ledger is not None and ledger.n_bulk > 0

    def _write_manifest(self, manifest: dict[str, Any] | None = None) -> None:
        """Write the manifest; the one it replaces is kept first as ``project.json.prev`` (a fallback)."""
        data = encode_manifest(manifest or self._manifest())
        prev = self._manifest_bytes
        if prev is not None and prev != data:
            write_atomic(self.path / MANIFEST_PREV, lambda p: p.write_bytes(prev))
        write_atomic(self.path / MANIFEST, lambda p: p.write_bytes(data))
        self._manifest_bytes = data

    def _read_manifest(self) -> tuple[dict[str, Any], str | None]:
        """The manifest, or its previous generation when it is damaged: (manifest, why the fallback or None)."""
        main, prev = self.path / MANIFEST, self.path / MANIFEST_PREV
        try:
            data = main.read_bytes()
            manifest = decode_manifest(data)
        except (OSError, ValueError) as exc:
            reason = str(exc)
        else:
            self._manifest_bytes = data
            return manifest, None
        try:
            data = prev.read_bytes()
            manifest = decode_manifest(data)
        except FileNotFoundError:
            raise VersionError(f"The project file {main} is damaged ({reason}) and there is no previous "
                               f"version of it to fall back on. {repair_hint(self.path)}") from None
        except (OSError, ValueError) as exc:
            raise VersionError(f"The project file {main} is damaged ({reason}), and so is its previous version "
                               f"{prev.name} ({exc}). {repair_hint(self.path)}") from None
        # Every close compacts, so the previous manifest usually names the snapshot before the
        # newest one; the newest (written whole before the manifest naming it) stands in, with the
        # previous manifest's snapshot and labels.log.prev as its fallback.
        newest = max((p.name for p in self.path.glob("labels-*.parquet")), default=None)
        labels = manifest.get("labels")
        if newest is not None and isinstance(labels, dict) and newest != labels.get("file"):
            try:
                upto = pq.read_metadata(self.path / newest).num_rows - 1
            except (OSError, pa.ArrowException):
                upto = -1  # unreadable: the snapshot fallback takes over when it is loaded
            manifest["labels_prev"] = labels
            manifest["labels"] = {"file": newest, "upto": upto}
        numbers = [int(p.stem.rsplit("-", 1)[1]) for p in self.path.glob("*-*.parquet")
                   if p.name.startswith(OWN_PREFIXES) and p.stem.rsplit("-", 1)[1].isdigit()]
        manifest["generation"] = max([int(manifest.get("generation") or 0), *numbers])  # new names stay new
        self._manifest_bytes = data
        return manifest, reason

    def _restore_manifest(self, reason: str) -> None:
        """Set the damaged manifest aside and put its previous generation (just loaded) in its place."""
        main = self.path / MANIFEST
        n = 1
        while (side := self.path / f"{MANIFEST}.damaged-{n}").exists():
            n += 1
        os.replace(main, side)
        self._manifest_bytes = None  # project.json.prev stays as it is: it is the good one
        self._write_manifest()  # the state just loaded (with the newest snapshot), not the old bytes
        self._manifest_damage[:0] = [
            f"{MANIFEST} was damaged ({reason}); its previous version ({MANIFEST_PREV}) was used, so the last "
            f"change to the settings or items may be missing. The damaged file is kept as {side.name}."
        ]

    def _next_name(self, prefix: str) -> str:
        self._generation += 1
        return f"{prefix}-{self._generation:06d}.parquet"

    def _newest_derived_files(self) -> None:
        """After a fallback to ``project.json.prev``: the order, history and suggestions it names may be gone.

        Each of them is replaced (file first, then manifest) and the replaced file deleted, so the previous
        manifest can name a file that no longer exists. The newest file of each kind on disk is then the
        one the damaged manifest named: take it. Suggestions are derived (the next retrain writes them
        again) and are dropped rather than guessed. Items and label snapshots are never replaced this way.
        """
        for prefix, attr in (("order", "_order_file"), ("history", "_history_file"),
                             ("preannotations", "_pre_file")):
            named = getattr(self, attr)
            if named is not None and (self.path / named).exists():
                continue
            found = sorted(self.path.glob(f"{prefix}-*.parquet"))
            if found:
                setattr(self, attr, found[-1].name)
                if prefix == "order":
                    self._order_revision += 1
                self._manifest_damage.append(
                    f"The previous project file named a {prefix} file that was replaced since; "
                    f"{found[-1].name}, the newest on disk, is used."
                )
        if self._suggestions_file is not None and not (self.path / self._suggestions_file).exists():
            self._no_suggestions()
            self._manifest_damage.append("The model's saved suggestions were dropped; the next retrain saves them again.")

    def _load(self) -> None:
        manifest, fallback = self._read_manifest()
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise VersionError(f"{self.path / MANIFEST} is not a superintendent project file.")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION_READ:
            raise VersionError(
                f"This project was written by a newer version of superintendent (format {version}); "
                f"this version reads format {FORMAT_VERSION_READ}. Upgrade superintendent_core to open it."
            )
        try:
            self._settings = ProjectSettings.from_dict(manifest["settings"])
            self._shape = PoolShape.from_dict(manifest["pool"]) if manifest.get("pool") else None
            self._batches = [ItemsFile(self.path, m, self._decoded) for m in manifest["batches"]]
            self._generation = int(manifest["generation"])
            self._snapshot = manifest["labels"]["file"]
            self._snapshot_upto = int(manifest["labels"]["upto"])
            prev = manifest.get("labels_prev")  # absent in projects of earlier versions
            self._prev_snapshot = None if not prev else {"file": prev["file"], "upto": int(prev["upto"])}
            self._order_file = manifest["order"]["file"]
            self._order_revision = int(manifest["order"]["revision"])
            self._history_file = manifest.get("history")
            self._no_suggestions()
            self._no_preannotations()
            pre = manifest.get("preannotations")  # absent unless the project has some
            self._pre_file = str(pre) if pre else None
            suggestions = manifest.get("suggestions")  # absent in projects of earlier versions
            if suggestions:
                self._suggestions_file = str(suggestions["file"])
                self._suggestions_version = int(suggestions["version"])
                self._suggestions_meta = str(suggestions.get("meta") or "{}")
        except (KeyError, TypeError, ValueError) as exc:
            raise VersionError(f"The project file {self.path / MANIFEST} is damaged (missing {exc}).") from None
        if fallback is None:
            self._remove_stale_files()
        else:  # keep every file: the damaged manifest may have named some the fallback does not
            self._newest_derived_files()
            live = [f for b in self._batches for f in (b.file, b.features_file)] + [
                self._snapshot, self._order_file, self._history_file]
            missing = [f for f in live if f and not (self.path / f).exists()]
            if missing:
                raise VersionError(
                    f"The project file {self.path / MANIFEST} is damaged ({fallback}), and its previous version "
                    f"{MANIFEST_PREV} names files that are gone ({', '.join(missing)}). {repair_hint(self.path)}")
        n = sum(b.count for b in self._batches)
        self._snapshot_damage: list[str] = []
        events: list[Event] = []
        try:
            self._ledger = self._load_snapshot(n)
        except VersionError as exc:
            self._ledger, events = self._snapshot_fallback(n, exc)
        self._log = EventLog(self.path / LOG, sync=self._sync)
        for event in [*events, *self._log.read()]:
            if event.seq <= self._snapshot_upto:
                continue
            while event.seq > len(self._ledger):  # its records were damaged: hold their places
                self._ledger.lost()
            if not 0 <= event.item < n:
                raise VersionError(
                    f"The label log of {self.path} does not match its snapshot (event {event.seq}); "
                    f"the project is damaged. {repair_hint(self.path)}"
                )
            self._ledger.apply(event)
        self._history = self._load_history()
        # labeller -> (item last served to them, its audit slot or None); in memory, like leases
        self._served = {}
        self._queue = self._new_queue(n)
        self._rebuild_queue()
        if fallback is not None:
            self._restore_manifest(fallback)
        if self._snapshot_damage:
            self._compact(keep_prev=False)  # a sound snapshot again; labels.log.prev is no longer needed

    def _snapshot_fallback(self, n: int, exc: VersionError) -> tuple[LabelLedger, list[Event]]:
        """The labels from the snapshot before the damaged one, and the events since it (labels.log.prev).

        Refuses (``VersionError``) when there is no such snapshot: compaction emptied the log,
        so the events in the damaged snapshot exist nowhere else.
        """
        damaged, prev = self._snapshot, self._prev_snapshot
        damaged_upto = self._snapshot_upto
        prev_file = None if prev is None else prev["file"]
        if prev is None or (prev_file is not None and not (self.path / prev_file).exists()):
            raise VersionError(f"{exc} It holds labels kept nowhere else in {self.path}. "
                               f"{repair_hint(self.path)}") from None
        self._snapshot, self._snapshot_upto = prev_file, prev["upto"]
        ledger = self._load_snapshot(n)
        events: list[Event] = []
        if (self.path / LOG_PREV).exists():
            old = EventLog(self.path / LOG_PREV, sync=self._sync)
            try:
                events = old.read()
                self._snapshot_damage += old.damage
            finally:
                old.close()
        n_side = 1
        while (side := self.path / f"{damaged}.damaged-{n_side}").exists():
            n_side += 1
        assert damaged is not None
        os.replace(self.path / damaged, side)
        # Bulk and imported labels go straight into a snapshot, never through the log: those made
        # after the previous snapshot were only in the damaged one.
        prev_upto = int(prev["upto"])
        logged = sum(1 for e in events if prev_upto < e.seq <= damaged_upto)
        missing = max(0, damaged_upto - prev_upto - logged)
        unbuilt = (f" {missing} label record(s) made in bulk or imported since {prev_file or 'the start'} "
                   f"were kept only in the damaged file and could not be rebuilt." if missing else "")
        self._snapshot_damage.insert(0, (
            f"The labels file {damaged} could not be read; its labels were rebuilt from "
            f"{prev_file or 'the start'} and {LOG_PREV}.{unbuilt} The damaged file is kept as {side.name}."))
        self._prev_snapshot = None
        return ledger, events

    def _no_suggestions(self) -> None:
        self._suggestions_file: str | None = None
        self._suggestions_version = 0
        self._suggestions_meta: str | None = None
        self._suggestions_cache = None

    def _remove_stale_files(self) -> None:
        live = {f for b in self._batches for f in (b.file, b.features_file)} | {
            self._snapshot, self._order_file, self._history_file, self._suggestions_file, self._pre_file}
        if self._prev_snapshot is not None:
            live.add(self._prev_snapshot["file"])
        live |= self._inflight | {f"{f}.tmp" for f in self._inflight}
        for p in self.path.iterdir():
            if p.name in live:
                continue
            if p.name.endswith(".tmp") or (p.name.startswith(OWN_PREFIXES) and p.suffix in OWN_SUFFIXES):
                p.unlink(missing_ok=True)

    def _load_snapshot(self, n: int) -> LabelLedger:
        if self._snapshot is None:
            return LabelLedger(n, overlap=self._settings.overlap)
        try:
            t = pq.read_table(self.path / self._snapshot)
        except (OSError, pa.ArrowException) as exc:
            raise VersionError(f"The labels file {self.path / self._snapshot} cannot be read ({exc}).") from None
        if t.num_rows != self._snapshot_upto + 1:
            raise VersionError(f"The labels file {self.path / self._snapshot} is incomplete; the project is damaged.")

        def codes(name: str) -> tuple[np.ndarray, list[str]]:
            enc = pc.dictionary_encode(t.column(name)).combine_chunks()
            idx = enc.indices.to_numpy(zero_copy_only=False)
            idx = np.where(enc.is_null().to_numpy(zero_copy_only=False), -1, idx).astype(np.int32)
            return idx, enc.dictionary.to_pylist()

        lab_codes, lab_names = codes("labeller")
        label_codes, label_names = codes("label")
        col = lambda k: t.column(k).to_numpy()  # noqa: E731
        audit = ({f"audit_{k}": col(f"audit_{k}") for k in ("q", "support", "seq")}
                 if "audit_q" in t.column_names else {})  # format 1 snapshots have none
        if "bulk" in t.column_names:  # format 3: bulk labels
            audit["bulk"] = col("bulk").astype(np.int32)
        return LabelLedger.from_arrays(
            n, overlap=self._settings.overlap, type=col("type"), item=col("item"),
            labeller_codes=lab_codes, labeller_names=lab_names, label_codes=label_codes,
            label_names=label_names, time=col("time"), seconds=col("seconds"),
            active=col("active"), prev=col("prev"), ref=col("ref"), **audit,
        )

    def _new_queue(self, n: int) -> ServeQueue:
        overlap = self._settings.overlap
        excluded = None if overlap <= 1 else (lambda i, who: self._ledger.has_labelled(i, who))
        return ServeQueue(n, lease_seconds=self._settings.lease_seconds, clock=self._clock, excluded=excluded,
                          idle=self._idle)

    def _idle(self, labeller: str) -> bool:
        """Whether ``labeller`` has no label in force (see :func:`~.._rules.idle_lease_cap`)."""
        led = self._ledger
        code = led.labellers.codes.get(labeller)
        return code is None or not led.labeller_counts.get(code, 0)

    def _rebuild_queue(self) -> None:
        q = self._queue
        q._done[:] = self._ledger.n_active >= self._settings.overlap
        if self._order_file is not None:
            table = pq.read_table(self.path / self._order_file)
            q.set_order(table.column("id").to_numpy(), decode_slots(table.schema.metadata))
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
        return _rules.check_id(item_id, n, lambda: n)

    def _check_ids(self, ids: Any) -> np.ndarray:
        n = len(self._queue)
        return _rules.check_ids(ids, n, lambda: n)

    _check_labeller = staticmethod(_rules.check_labeller)

    def _record(self, event: Event) -> None:
        """Durably log (callers apply the change to memory)."""
        assert self._log is not None
        try:
            self._log.append(event)
        except OSError as exc:
            raise StoreError(f"Could not save to {self.path} ({exc.strerror or exc}); nothing was recorded.") from None

    def _maybe_compact(self) -> None:
        if self._log is not None and self._log.n_records >= self.compact_every:
            self._compact()

    def _compact(self, extra_manifest: Callable[[], None] | None = None, *, keep_prev: bool = True) -> None:
        """Fold the log into a new snapshot.

        The snapshot before it stays (``labels_prev`` in the manifest) and the log's
        events move to ``labels.log.prev``, so a damaged newest snapshot can be rebuilt.
        ``keep_prev=False`` (after such a rebuild) keeps no fallback and empties the log.
        """
        assert self._log is not None
        old, older = self._snapshot, self._prev_snapshot
        name = self._next_name("labels")
        table = pa.Table.from_pandas(self._ledger.to_frame(), preserve_index=False)
        write_atomic(self.path / name, lambda p: pq.write_table(table, p, compression="zstd"))
        self._prev_snapshot = {"file": old, "upto": self._snapshot_upto} if keep_prev else None
        self._snapshot = name
        self._snapshot_upto = self._ledger.last_event_seq()
        self._write_manifest()
        if keep_prev:
            self._log.rotate(self.path / LOG_PREV)
        else:
            self._log.truncate()
        stale = (older or {}).get("file") if keep_prev else old  # the one no manifest field names now
        if stale and stale not in (old if keep_prev else None, name):
            (self.path / stale).unlink(missing_ok=True)

    def _reload(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        generation = self._generation
        self._load()
        # Names handed out since the last manifest (files in flight) are never handed out again.
        self._generation = max(self._generation, generation)

    # ------------------------------------------------------------------ damage

    def damage_report(self) -> list[str]:
        """Sentences about damaged files found in the project (empty when there is none).

        Lists what this open skipped in the label log, label events lost to damage
        (held in place so nothing else shifts) and damaged bytes kept aside for
        inspection (``*.damaged-*`` files; delete them once checked).
        """
        with self._lock:
            out = [*self._manifest_damage, *self._snapshot_damage]
            out += self._log.damage if self._log is not None else []
            lost = self._ledger.n_lost()
            if lost:
                out.append(f"{lost} label event(s) were lost to damaged files; every other label is in place.")
            kept = sorted(p.name for p in self.path.glob("*.damaged*"))
            if kept:
                out.append(f"Damaged bytes are kept for inspection in {', '.join(kept)} (delete them once checked).")
            return out

    # ------------------------------------------------------------------ settings

    @property
    def settings(self) -> ProjectSettings:
        return self._settings

    def _class_usage(self) -> tuple[dict[str, int], list[str]]:
        led = self._ledger
        codes = led.col("label")[led.active_mask()]
        uniq, counts = np.unique(codes, return_counts=True)
        strings = [led.labels.names[c] for c in uniq.tolist()]
        return _rules.class_usage(zip(strings, counts.tolist(), strict=True)), strings

    def update_settings(self, **changes: Any) -> ProjectSettings:
        with self._lock:
            self._check_open()
            usage, strings = self._class_usage()
            new = validate_settings(self._settings, changes, class_usage=usage, n_items=len(self._queue),
                                    label_strings=strings)
            if new.feature_set != self._settings.feature_set:
                self._check_feature_set_setting(new.feature_set)
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
                # Suggestions are derived data, not exported: the copy's manifest names none.
                manifest = self._manifest() | {"suggestions": None, "labels_prev": None}
                manifest.pop("preannotations", None)  # suggestions, not labels: not in the copy either
                handles[MANIFEST] = io.BytesIO(encode_manifest(manifest))
                names = [f for b in self._batches for f in (b.file, b.features_file)] + [
                    self._snapshot, self._order_file, self._history_file]
                names += self._feature_set_files()
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
