"""Features in the SQL store: chunks of consecutive items, compressed, decoded once and cached.

Features never change once written, so a process may keep decoded chunks in
memory without ever checking the database again (:class:`FeatureCache`).

A chunk holds about :data:`CHUNK_BYTES` of raw data: the C-ordered bytes of a
numpy array (array features; ``uint8`` stays ``uint8``), stored uncompressed so
that one item's row can be read alone (PostgreSQL keeps the column out of line
and uncompressed, ``STORAGE EXTERNAL``, so ``substring`` fetches only those
bytes), or an Arrow IPC stream (text and table features), compressed with zstd.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["CHUNK_BYTES", "Chunk", "EncodedChunk", "FeatureCache", "decode_chunk", "encode_chunks"]

#: Raw feature bytes per chunk (before compression).
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """Where a chunk sits: ids ``start .. stop-1``, and how to draw its images."""

    start: int
    stop: int
    image_shape: tuple[int, int] | None
    pixel_max: float
    codec: str = "zstd"
    dtype: str | None = None
    n_features: int | None = None

    def row_slice(self, item_id: int) -> tuple[int, int] | None:
        """``(offset, length)`` of one item's bytes in an uncompressed array chunk, else None."""
        if self.codec != "none" or self.dtype is None or self.n_features is None:
            return None
        length = self.n_features * np.dtype(self.dtype).itemsize
        return (item_id - self.start) * length, length


@dataclass(frozen=True)
class EncodedChunk:
    """One row of ``si_features``, ready to insert."""

    start: int
    stop: int
    encoding: str  # "ndarray" | "arrow"
    codec: str  # "none" (ndarray) | "zstd" (arrow)
    dtype: str | None
    n_features: int | None
    raw_bytes: int
    data: bytes


def _rows_per_chunk(features: Any, feature_kind: str) -> int:
    n = len(features)
    if feature_kind == "array":
        row = features.shape[1] * features.dtype.itemsize
    elif feature_kind == "text":
        sample = features[: min(n, 1000)]
        row = int(np.mean([len(t) for t in sample])) + 8 if sample else 8
    else:
        row = int(features.memory_usage(deep=True, index=False).sum() / max(n, 1))
    return max(1, CHUNK_BYTES // max(1, row))


def encode_chunks(features: Any, feature_kind: str, start: int) -> list[EncodedChunk]:
    """Split validated features (``ndarray (n, d)``, ``list[str]`` or ``DataFrame``) into encoded chunks.

    Parameters
    ----------
    features : ndarray of shape (n, d), list of str of length n, or DataFrame with n rows
    feature_kind : {"array", "text", "table"}
    start : int
        Id of the first row.
    """
    n = len(features)
    step = _rows_per_chunk(features, feature_kind)
    out = []
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        if feature_kind == "array":
            block = np.ascontiguousarray(features[lo:hi])
            raw = block.tobytes()
            encoding, dtype, n_features = "ndarray", str(block.dtype), int(block.shape[1])
        else:
            if feature_kind == "text":
                table = pa.table({"text": pa.array(list(features[lo:hi]), type=pa.string())})
            else:
                table = pa.Table.from_pandas(features.iloc[lo:hi], preserve_index=False)
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            raw = sink.getvalue()
            encoding, dtype, n_features = "arrow", None, None
        if encoding == "ndarray":  # stored as is: one item's pixels can be read without the rest
            codec, packed = "none", raw
        else:
            codec, packed = "zstd", pa.compress(raw, codec="zstd", asbytes=True)
        out.append(
            EncodedChunk(
                start + lo, start + hi, encoding, codec, dtype, n_features, len(raw), packed
            )
        )
    return out


def decode_chunk(row: Mapping[str, Any], feature_kind: str) -> Any:
    """The features of one ``si_features`` row: ``ndarray (rows, d)``, ``list[str]`` or ``DataFrame``."""
    data = bytes(row["data"])
    if row["codec"] == "zstd":
        data = pa.decompress(
            data, decompressed_size=int(row["raw_bytes"]), codec="zstd", asbytes=True
        )
    if row["encoding"] == "ndarray":
        return np.frombuffer(data, dtype=np.dtype(row["dtype"])).reshape(-1, int(row["n_features"]))
    table = pa.ipc.open_stream(data).read_all()
    if feature_kind == "text":
        return table.column("text").to_pylist()
    return table.to_pandas()


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True, index=False).sum())
    return sum(len(v) for v in value) + 56 * len(value)


class FeatureCache:
    """Decoded chunks by start id, least recently used dropped beyond ``limit_bytes`` (thread-safe).

    Parameters
    ----------
    limit_bytes : int
        Memory for decoded chunks; at least one chunk is always kept.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit = int(limit_bytes)
        self._data: OrderedDict[int, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.chunks: list[Chunk] = []
        self.starts = np.empty(0, dtype=np.int64)

    def set_chunks(self, chunks: list[Chunk]) -> None:
        """Replace the chunk list (it only grows: cached data stays valid)."""
        with self._lock:
            self.chunks = chunks
            self.starts = np.fromiter((c.start for c in chunks), dtype=np.int64, count=len(chunks))

    def covers(self, ids: np.ndarray) -> bool:
        """Whether every id falls in a known chunk."""
        return not len(ids) or (bool(self.chunks) and int(ids.max()) < self.chunks[-1].stop)

    def which(self, ids: np.ndarray) -> np.ndarray:
        """Index into :attr:`chunks` of each id."""
        return np.searchsorted(self.starts, ids, side="right") - 1

    def get(
        self, which: Iterable[int], fetch: Callable[[list[int]], dict[int, Any]]
    ) -> dict[int, Any]:
        """Decoded data of chunks ``which`` (indices); ``fetch(starts) -> {start: data}`` loads the missing."""
        out: dict[int, Any] = {}
        missing: list[int] = []
        with self._lock:
            for k in which:
                start = self.chunks[k].start
                hit = self._data.get(start)
                if hit is None:
                    missing.append(k)
                else:
                    self._data.move_to_end(start)
                    out[k] = hit[0]
        if missing:
            loaded = fetch([self.chunks[k].start for k in missing])
            with self._lock:
                for k in missing:
                    start = self.chunks[k].start
                    value = loaded[start]
                    out[k] = value
                    if start not in self._data:
                        size = _size(value)
                        self._data[start] = (value, size)
                        self._size += size
                while self._size > self.limit and len(self._data) > 1:
                    _, (_, dropped) = self._data.popitem(last=False)
                    self._size -= dropped
        return out

    def peek(self, k: int) -> Any | None:
        """Decoded data of chunk ``k`` if cached, else None (no loading)."""
        with self._lock:
            hit = self._data.get(self.chunks[k].start)
        return None if hit is None else hit[0]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._size = 0
