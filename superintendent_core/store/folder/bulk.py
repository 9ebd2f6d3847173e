"""Bulk labels in a folder project (the rules are in :mod:`superintendent_core.store.bulk`).

A bulk label (and its undo) is applied to the in-memory ledger and then written as
one new labels snapshot plus the manifest naming it (``_compact``): the manifest's
replacement is the single atomic step, so a crash leaves every label of the bulk or
none. Bulk labels never go through the event log: its records are written one frame
at a time, and a torn tail would keep part of a bulk. The snapshot gets a ``bulk``
column and the manifest says format 3 (:data:`~.files.FORMAT_VERSION_BULK`), which
code that reads format 2 refuses.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _rules
from ..bulk import check_bulk, refuse_own_labels

__all__ = ["FolderBulk"]


class FolderBulk:
    """The bulk-label methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def bulk_label(self, ids: Sequence[int] | np.ndarray, label: Any, labeller: str) -> int:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            arr = check_bulk(ids, len(self._queue))
            if not len(arr):
                return 0
            text = _rules.normalize_label(label, self._settings.classes, self._settings.multi_label)
            led = self._ledger
            mine = [i for i in arr.tolist() if led.active_label_of(i, labeller) >= 0]
            refuse_own_labels(mine, self._names(np.asarray(mine[:3], dtype=np.int64)), labeller)
            try:
                led.add_bulk(arr.tolist(), text, labeller, time.time())
                for i in arr.tolist():
                    self._settle(i, labeller)
                self._compact()  # one snapshot + manifest: the whole bulk or, after a crash, none of it
            except BaseException:
                self._reload()
                raise
            return len(arr)

    def last_bulk(self, labeller: str) -> int:
        labeller = self._check_labeller(labeller)
        with self._lock:
            self._check_open()
            targets = self._ledger.group_targets(labeller)
            return len(targets) if targets and self._ledger.bulk_of(targets[0]) else 0

    def _undo_bulk(self, labeller: str) -> int:
        """Undo ``labeller``'s latest bulk label as one durable step; returns its first item (lock held)."""
        try:
            items = self._ledger.undo_group(labeller, time.time())
            for i in items:
                if not self._ledger.is_done(i):
                    self._queue.mark_open(i)
            self._compact()
        except BaseException:
            self._reload()
            raise
        self._served.pop(labeller, None)
        return items[0]
