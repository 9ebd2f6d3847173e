"""Labelling a folder project: serving, label events (the fsync'd log), the order, reading labels."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module
from .. import _rules
from ..audit import AuditDraws, audit_frame
from ..errors import InvalidInput, StoreError
from ..ledger import EVENT_LABEL, EVENT_RELABEL, EVENT_SKIP, EVENT_UNDO, Event
from ..protocol import Progress, Revision
from ..queue import ServeQueue
from .files import AUDIT_KEY, encode_slots, utc_times, write_atomic

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["FolderLabels"]


class FolderLabels:
    """The labelling methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def next_item(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            held = self._queue.held_by(labeller)
            item_id = self._queue.next_item(labeller)
            if item_id is not None and item_id != held:
                # served anew: from an audit slot of the current order, or not (kept until its label)
                self._served[labeller] = (item_id, self._queue.audit.get(item_id))
            return item_id

    def _label(self, item_id: int, label: Any, labeller: str, seconds: float | None, relabel: bool) -> None:
        labeller = self._check_labeller(labeller)
        seconds = _rules.check_seconds(seconds)
        with self._lock:
            self._check_open()
            item_id = self._check_id(item_id)
            text = _rules.normalize_label(label, self._settings.classes, self._settings.multi_label)
            now = time.time()
            audit = None
            served = None if relabel else self._served.get(labeller)
            if served is not None and served[0] == item_id:
                audit = self._ledger.audit_for(item_id, served[1])
            self._record(Event(len(self._ledger), EVENT_RELABEL if relabel else EVENT_LABEL, item_id,
                               labeller, text, now, np.nan if seconds is None else float(seconds),
                               audit=audit))
            self._ledger.add_label(item_id, text, labeller, now, seconds, relabel=relabel, audit=audit)
            if served is not None and served[0] == item_id:
                del self._served[labeller]
            self._settle(item_id, labeller)
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
            if self._ledger.bulk_of(target):  # a bulk label is undone whole (.bulk)
                return self._undo_bulk(labeller)
            item_id = int(self._ledger.col("item")[target])
            now = time.time()
            self._record(Event(len(self._ledger), EVENT_UNDO, item_id, labeller, None, now, np.nan, target))
            record = self._ledger.audit.get(item_id)
            self._ledger.undo(labeller, now, target=target)
            voided = record is not None and item_id not in self._ledger.audit
            # leased back to the labeller: labelling it again at once brings the voided record back
            self._served[labeller] = (item_id, record[1:] if voided else None)
            if not self._ledger.is_done(item_id):
                self._queue.mark_open(item_id)
            self._queue.lease(item_id, labeller)
            self._maybe_compact()
            return item_id

    def _settle(self, item_id: int, labeller: str) -> None:
        """After a label: an item labelled enough is done; else the labeller's lease on it ends."""
        if self._ledger.is_done(item_id):
            self._queue.mark_done(item_id)
        elif self._queue.leased_to(item_id) == labeller:
            self._queue.release(item_id)

    def import_labels(
        self,
        ids: Sequence[int] | np.ndarray,
        labels: Sequence[Any],
        labellers: str | Sequence[str],
    ) -> int:
        with self._lock:
            self._check_open()
            arr, texts, who = _rules.check_label_rows(ids, labels, labellers, self._settings,
                                                      len(self._queue))
            if not len(arr):
                return 0
            now = time.time()
            try:
                for i, text, w in zip(arr.tolist(), texts, who, strict=True):
                    self._ledger.add_label(i, text, w, now, None, relabel=True)
                    self._settle(i, w)
                self._compact()  # one snapshot + manifest: every row or, after a crash, none
            except BaseException:
                self._reload()
                raise
            return len(arr)

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
            multi = self._settings.multi_label
            ids, texts, who = _rules.check_label_rows(
                df["item_id"].to_numpy(), [_rules.split_label(str(v), multi) for v in df["label"]],
                df["labeller"].tolist(), self._settings, len(self._queue))
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

    def set_order(self, ids: Sequence[int] | np.ndarray, audit: AuditDraws | None = None) -> None:
        # The file (1M ids: ~60 ms, then fsync) is written without holding the store's lock,
        # so labels and serving go on meanwhile; the lock is held only to name the file and
        # to swap it in (manifest + queue). Orders are written one at a time (the last wins).
        writer = self.__dict__.setdefault("_order_writer", threading.Lock())
        with writer:
            with self._lock:
                self._check_open()
                arr = self._check_ids(_rules.check_order(ids))
                slots = _rules.check_audit(audit, arr, self._ledger.n_labelled)
                name = self._next_name("order")
                self._inflight.add(name)
                n = len(self._queue)
            try:
                self._swap_order(name, arr, slots, n)
            finally:
                with self._lock:
                    self._inflight.discard(name)

    def _swap_order(self, name: str, arr: np.ndarray, slots: Any, n: int) -> None:
        table = pa.table({"id": pa.array(arr, type=pa.int64())})
        if slots:  # the draws travel with the order, in the same file (format 2)
            table = table.replace_schema_metadata({AUDIT_KEY: encode_slots(slots)})
        # Plain int64 pages (no dictionary, no compression, no statistics): the ids are a
        # permutation, which none of those shrinks; zstd + dictionary took 0.34 s at 1M, this 0.06 s.
        write_atomic(self.path / name, lambda p: pq.write_table(
            table, p, compression="none", use_dictionary=False, write_statistics=False))
        prepared = ServeQueue.prepare_order(arr, n)  # outside the lock too
        try:
            with self._lock:
                self._check_open()
                if not (self.path / name).exists():
                    raise StoreError("The new queue order's file vanished before it was saved; order unchanged.")
                old = self._order_file
                self._order_file = name
                self._order_revision += 1
                try:
                    self._write_manifest()
                except BaseException:
                    self._order_file = old
                    self._order_revision -= 1
                    raise
                if old:
                    (self.path / old).unlink(missing_ok=True)
                if len(self._queue) != n:  # items were added meanwhile
                    prepared = ServeQueue.prepare_order(arr, len(self._queue))
                self._queue.apply_order(prepared, slots)
        except BaseException:
            if self._order_file != name:
                (self.path / name).unlink(missing_ok=True)
            raise

    def audit_records(self) -> pd.DataFrame:
        """Audit records of the items labelled now (see :mod:`superintendent_core.store.audit`)."""
        with self._lock:
            self._check_open()
            return audit_frame(self._ledger.audit_rows())

    def progress(self) -> Progress:
        with self._lock:
            self._check_open()
            led = self._ledger
            per_class = _rules.per_class(
                self._settings.classes,
                ((led.labels.names[code], count) for code, count in led.label_counts.items()),
                self._settings.multi_label,
            )
            per_labeller = {led.labellers.names[c]: n for c, n in led.labeller_counts.items() if n}
            return Progress(
                labelled=led.n_labelled,
                total=len(self._queue),
                per_class=per_class,
                per_labeller=per_labeller,
                leased=self._queue.n_leased(),
                done=self._queue.n_done(),
            )

    def skip_counts(self) -> dict[str, int]:
        with self._lock:
            self._check_open()
            led = self._ledger
            codes, counts = np.unique(led.col("labeller")[led.col("type") == EVENT_SKIP], return_counts=True)
            names = led.labellers.lookup(codes)
            return dict(sorted((str(n), int(c)) for n, c in zip(names.tolist(), counts.tolist(), strict=True)))

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
                    "time": utc_times(led.col("time")[seqs]),
                    "seconds": led.col("seconds")[seqs].astype(np.float64),
                    "bulk": led.col("bulk")[seqs] > 0,
                }
            )

    def training_data(self) -> tuple[np.ndarray, Any, list]:
        with self._lock:
            self._check_open()
            led = self._ledger
            ids = np.flatnonzero(led.train >= 0).astype(np.int64)
            texts = led.label_strings(led.training_label_codes(ids))
            multi = self._settings.multi_label
            y = [_rules.split_label(t, multi) for t in texts.tolist()]
            return ids, self._features(ids), y

