"""The project folder's files: names, format version, and writing a file so a crash cannot tear it."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "AUDIT_KEY",
    "DISPLAY_GROUP_BYTES",
    "FORMAT",
    "FORMAT_VERSION",
    "FORMAT_VERSION_BASE",
    "FORMAT_VERSION_BULK",
    "FORMAT_VERSION_READ",
    "LOG",
    "LOG_PREV",
    "MANIFEST",
    "MANIFEST_PREV",
    "OWN_PREFIXES",
    "OWN_SUFFIXES",
    "decode_manifest",
    "decode_slots",
    "encode_manifest",
    "encode_slots",
    "fsync_dir",
    "npy_header",
    "repair_hint",
    "restore_hint",
    "utc_times",
    "write_atomic",
    "write_chunk",
    "write_npy",
    "write_rows",
]

FORMAT = "superintendent-project"
#: 2: a label record may carry its audit draw, snapshots have ``audit_*`` columns and the order
#: file's metadata holds the order's audit slots (format 1 projects open unchanged).
#: 3: a batch's numeric features are an ``.npy`` file beside its items file (``features_file`` in
#: the manifest), memory-mapped, and/or the labels snapshot's ``bulk`` column holds bulk labels
#: (undone as one step); format 1 and 2 batches (features in the parquet file) open unchanged.
#: Code that reads format 2 cannot read either (it looks for the parquet ``features`` column, or would
#: undo a bulk label one item at a time), so it refuses such a project as newer instead.
#: The newest format this code writes.
FORMAT_VERSION = 3
#: A manifest says format 3 only when the project needs it (a batch with a ``features_file`` or a bulk
#: label held); otherwise it says :data:`FORMAT_VERSION_BASE`, so code that reads format 2 still
#: opens e.g. a text project.
FORMAT_VERSION_BULK = FORMAT_VERSION
#: The format written when nothing in the project needs format 3.
FORMAT_VERSION_BASE = 2
#: The newest format this code reads.
FORMAT_VERSION_READ = FORMAT_VERSION
#: Key of the order file's parquet metadata that holds its audit slots (JSON).
AUDIT_KEY = b"superintendent.audit"
MANIFEST = "project.json"
MANIFEST_PREV = "project.json.prev"  # the previous generation of the manifest, a fallback
LOG = "labels.log"
LOG_PREV = "labels.log.prev"  # the events folded into the newest snapshot (a fallback)
OWN_PREFIXES = ("items-", "labels-", "order-", "history-", "suggestions-", "preannotations-")
OWN_SUFFIXES = (".parquet", ".npy")
#: Rows of features written at a time (a build holds one chunk of converted features, not the pool).
NPY_CHUNK_BYTES = 16 << 20
DISPLAY_GROUP_BYTES = 1 << 20


def restore_hint(path: Path) -> str:
    """The last resort when a project cannot be repaired: its last project zip."""
    return (f"Keep a copy of {path} as it is, then restore the project from its last project zip "
            "(Review & export page, or superintendent_core.import_project_zip).")


def repair_hint(path: Path) -> str:
    """How to repair a damaged project (the sentence every refusal ends with)."""
    return (f"Run `python -m superintendent_core.store.repair {path}` to set the damaged files aside and "
            f"rebuild what can be rebuilt; if it cannot, {restore_hint(path)[0].lower()}{restore_hint(path)[1:]}")


def _checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    """The manifest as written: JSON with a checksum of its content (``checksum``)."""
    return json.dumps(manifest | {"checksum": _checksum(manifest)}, indent=1).encode("utf-8")


def decode_manifest(data: bytes) -> dict[str, Any]:
    """Parse a manifest and check its checksum (absent in manifests of earlier versions).

    A manifest of a newer format is returned unchecked, for the caller to refuse by version.

    Raises ``ValueError`` with a short reason when it is damaged.
    """
    manifest = json.loads(data.decode("utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError("not a JSON object")
    version = manifest.get("format_version")
    newer = isinstance(version, int) and version > FORMAT_VERSION_READ  # refused as newer, not as damaged
    if "checksum" in manifest and not newer and manifest["checksum"] != _checksum(manifest):
        raise ValueError("its checksum does not match its content")
    return manifest


def encode_slots(slots: dict[int, tuple[float, int, int]]) -> bytes:
    """An order's audit slots as the order file's metadata value."""
    ids = list(slots)
    return json.dumps({"ids": ids, "probability": [slots[i][0] for i in ids],
                       "support": [slots[i][1] for i in ids], "seq": [slots[i][2] for i in ids]}).encode("utf-8")


def decode_slots(metadata: dict[bytes, bytes] | None) -> dict[int, tuple[float, int, int]]:
    """Inverse of :func:`encode_slots` from a parquet schema's metadata (empty when it has none)."""
    data = (metadata or {}).get(AUDIT_KEY)
    if not data:
        return {}
    d = json.loads(data.decode("utf-8"))
    return {int(i): (float(q), int(s), int(o))
            for i, q, s, o in zip(d["ids"], d["probability"], d["support"], d["seq"], strict=True)}


def fsync_dir(path: Path) -> None:
    """fsync a folder, so the names of files just created or renamed in it survive a crash."""
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
    fsync_dir(path.parent)


def npy_header(dtype: np.dtype, shape: tuple[int, ...], width: int = 0) -> bytes:
    """The ``.npy`` header of an array of ``dtype`` and ``shape``, padded with spaces to ``width`` bytes.

    A file written row by row before its length is known starts with the header of a
    placeholder length (``width`` = that header's size) and gets its real one at the end;
    the header keeps its size, so the data offset (64-byte aligned) does not move.
    """
    buf = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    try:
        np.lib.format.write_array_header_1_0(buf, header)
    except ValueError:  # a header over 64 KB (thousands of mixed columns): format 2.0
        np.lib.format.write_array_header_2_0(buf, header)
    raw = buf.getvalue()
    if not width or len(raw) == width:
        return raw
    size = 2 if raw[6] == 1 else 4  # bytes of the header-length field
    body = raw[8 + size:].rstrip(b" \n")
    pad = width - 8 - size - len(body) - 1
    if pad < 0:
        raise ValueError(f"an .npy header of {len(raw)} bytes does not fit the {width} reserved")
    body += b" " * pad + b"\n"
    return raw[:8] + len(body).to_bytes(size, "little") + body


def write_npy(path: Path, array: Any) -> None:
    """Write ``array`` as an ``.npy`` file, atomically (:func:`write_atomic`), by chunks of rows.

    ``array`` is an ndarray, or any object with ``shape``, ``dtype`` and ``block(lo, hi)`` giving
    rows ``lo:hi`` (converted only then: memory is bounded by :data:`NPY_CHUNK_BYTES`). Written with
    ordinary ``write`` calls, so a full disk is an ``OSError`` (never a ``SIGBUS`` as with a map).
    """
    shape = tuple(int(x) for x in array.shape)
    dtype = np.dtype(array.dtype)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(npy_header(dtype, shape))
            write_rows(fh, array, dtype)

    write_atomic(path, write)


def write_rows(fh: Any, array: Any, dtype: np.dtype) -> int:
    """Append the rows of ``array`` (as :func:`write_npy` takes it) to ``fh`` as ``dtype``, about
    :data:`NPY_CHUNK_BYTES` at a time; returns the rows written."""
    shape = tuple(int(x) for x in array.shape)
    if isinstance(array, np.ndarray):
        source = np.ascontiguousarray(array)
        block = lambda lo, hi: source[lo:hi]  # noqa: E731
    else:
        block = array.block
    row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, NPY_CHUNK_BYTES // max(row_bytes, 1))
    for lo in range(0, shape[0], step):
        part = np.ascontiguousarray(block(lo, min(shape[0], lo + step)), dtype=dtype)
        write_chunk(fh, memoryview(part).cast("B"))
    return shape[0]


def write_chunk(fh: Any, data: Any) -> None:
    """One write of rows to an ``.npy`` file being built (a full disk raises ``OSError`` here)."""
    fh.write(data)


def utc_times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as UTC timestamps, to the microsecond (so they survive a round trip)."""
    us = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")

