"""A folder project's retrain outputs: the history (one small parquet file, rewritten on each
retrain) and the latest suggestions (``suggestions-NNNNNN.parquet``, replaced on each save)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module
from .. import _rules
from ..errors import StoreError
from ..suggestions import Suggestions, check_suggestions, decode_suggestions, encode_suggestions
from .files import write_atomic

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

__all__ = ["FolderHistory"]


class FolderHistory:
    """The history methods of :class:`~.store.FolderStore` (its state is set up there)."""

    def _load_history(self) -> list[dict[str, Any]]:
        if self._history_file is None:
            return []
        t = pq.read_table(self.path / self._history_file)
        return [json.loads(s) for s in t.column("entry").to_pylist()]

    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._check_open()
            text, _ = _rules.retrain_entry(
                entry, lambda v: v.item() if isinstance(v, np.generic) else str(v))
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
            return _rules.history_frame(list(self._history))


    # ------------------------------------------------------------------ suggestions

    def save_suggestions(self, ids, labels, probabilities, meta=None) -> int:
        # Checked, encoded and written (1M items: a few MB, then fsync) without holding the
        # store's lock, so labels and serving go on meanwhile; the lock is held to name the
        # file and to swap it in. Saves run one at a time (versions stay in save order).
        writer = self.__dict__.setdefault("_suggestions_writer", threading.Lock())
        with writer:
            with self._lock:
                self._check_open()
                name = self._next_name("suggestions")
                self._inflight.add(name)
            try:
                return self._swap_suggestions(name, ids, labels, probabilities, meta)
            finally:
                with self._lock:
                    self._inflight.discard(name)

    def _swap_suggestions(self, name, ids, labels, probabilities, meta) -> int:
        ids, labels, probs, meta_text = check_suggestions(ids, labels, probabilities, meta, self._check_ids)
        data = encode_suggestions(ids, labels, probs)
        write_atomic(self.path / name, lambda p: p.write_bytes(data))
        with self._lock:
            try:
                self._check_open()
                if not (self.path / name).exists():
                    raise StoreError("The new suggestions' file vanished before it was saved; suggestions unchanged.")
                version = self._suggestions_version + 1
                old = self._suggestions_file
                previous = (self._suggestions_file, self._suggestions_version, self._suggestions_meta)
                self._suggestions_file, self._suggestions_version, self._suggestions_meta = name, version, meta_text
                try:
                    self._write_manifest()
                except BaseException:
                    self._suggestions_file, self._suggestions_version, self._suggestions_meta = previous
                    raise
            except BaseException:
                (self.path / name).unlink(missing_ok=True)
                raise
            self._suggestions_cache = None
            if old:
                (self.path / old).unlink(missing_ok=True)
            return version

    def suggestions_version(self) -> int:
        with self._lock:
            return self._suggestions_version

    def suggestions(self) -> Suggestions | None:
        with self._lock:
            self._check_open()
            if self._suggestions_file is None:
                return None
            cached = self._suggestions_cache
            if cached is not None and cached.version == self._suggestions_version:
                return cached
            try:
                data = (self.path / self._suggestions_file).read_bytes()
                cached = decode_suggestions(data, self._suggestions_version, self._suggestions_meta or "{}")
            except (OSError, ValueError, KeyError, pa.ArrowException):
                return None  # derived data: the next retrain writes them again
            self._suggestions_cache = cached
            return cached
