"""Importing images from a parquet file, as Hugging Face ``datasets`` write them.

The image column is a ``struct<bytes: binary, path: string>`` (the storage of
``datasets.Image``; the column the ``huggingface`` schema metadata marks as an
``Image``, else one named ``image``). Labels come from the column the metadata
marks as a ``ClassLabel`` (class indices; ``-1`` means unlabelled, as in
``datasets``) or a sequence of them (multi-label), else from a text column
``label`` (or a list-of-text column ``labels``). Item names come from a text
column ``name`` when there is one (what
:func:`~superintendent_core.data.formats.write_hf_parquet` writes, so an export
comes back with its names), else from ``image.path`` when every row has a
distinct one, else ``image-000001`` … in row order.

Images are read 32 rows at a time and decoded one by one, under the same rules
as every image import (:func:`~superintendent_core.data.images.images_from_files`:
pixel limit, unreadable images skipped or refused).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..store.errors import InvalidInput
from .images import (
    MAX_ENTRY_BYTES,
    MAX_PIXELS,
    MAX_ZIP_BYTES,
    Featurize,
    ImportResult,
    ZipRefused,
    decode_images,
    thumbnail_features,
)

__all__ = ["images_from_parquet", "is_image_parquet"]



def _open(source: str | os.PathLike | bytes | IO[bytes]) -> Any:
    import pyarrow.parquet as pq

    if isinstance(source, bytes | bytearray):
        if not source:
            raise InvalidInput("The upload is empty (0 bytes); choose the file again.")
        source = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        if not Path(source).is_file():
            raise InvalidInput(f"{source} does not exist or is not a file.")
    elif not hasattr(source, "read"):
        raise InvalidInput(f"The parquet must be a path, bytes or a file object, not {type(source).__name__}.")
    try:
        return pq.ParquetFile(source)
    except Exception as exc:  # pyarrow raises several kinds
        raise InvalidInput(f"This file is not a readable parquet file ({exc}).") from None


def _hf_features(schema: Any) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    try:
        features = json.loads(raw)["info"]["features"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return {}
    return features if isinstance(features, dict) else {}


def _is_image_struct(field: Any) -> bool:
    import pyarrow as pa

    t = field.type
    if not pa.types.is_struct(t) or t.get_field_index("bytes") < 0:
        return False
    return pa.types.is_binary(t.field("bytes").type) or pa.types.is_large_binary(t.field("bytes").type)


def _image_column(schema: Any, features: dict[str, Any]) -> str | None:
    marked = [n for n, f in features.items() if isinstance(f, dict) and f.get("_type") == "Image"]
    for name in [*marked, "image"]:
        if name in schema.names and _is_image_struct(schema.field(name)):
            return name
    return None


def is_image_parquet(source: str | os.PathLike | bytes | IO[bytes]) -> bool:
    """Whether a parquet file has an image column this importer reads (False for any other file)."""
    try:
        pf = _open(source)
    except InvalidInput:
        return False
    schema = pf.schema_arrow
    return _image_column(schema, _hf_features(schema)) is not None


def _class_names(feature: Any) -> list[str] | None:
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" and isinstance(feature.get("names"), list):
        return [str(n) for n in feature["names"]]
    return None


def _label_column(schema: Any, features: dict[str, Any]) -> tuple[str | None, list[str] | None, bool]:
    """(column, class names or None for text labels, multi-label)."""
    import pyarrow as pa

    for name, feature in features.items():
        if name not in schema.names or not isinstance(feature, dict):
            continue
        names = _class_names(feature)
        if names is not None:
            return name, names, False
        if feature.get("_type") in ("Sequence", "List", "LargeList"):
            names = _class_names(feature.get("feature"))
            if names is not None:
                return name, names, True
    for name, multi in (("label", False), ("labels", True)):
        if name in schema.names:
            t = schema.field(name).type
            if multi and (pa.types.is_list(t) or pa.types.is_large_list(t)):
                return name, None, True
            if not multi and (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)):
                return name, None, False
    return None, None, False


def _labels(values: list[Any], classes: list[str] | None, multi: bool, column: str) -> list[Any]:
    def one(v: Any, row: int) -> str | None:
        if v is None:
            return None
        if classes is None:
            return str(v)
        if isinstance(v, bool) or not isinstance(v, int) or not -1 <= v < len(classes):
            raise InvalidInput(f"Row {row + 1}: {column!r} is {v!r}, not a class index (0 to {len(classes) - 1}, "
                               "or -1 for no label); nothing was imported.")
        return None if v == -1 else classes[v]

    out: list[Any] = []
    for row, v in enumerate(values):
        if multi:
            parts = None if v is None else [one(p, row) for p in v]
            out.append(None if parts is None else tuple(p for p in parts if p is not None))
        else:
            out.append(one(v, row))
    return out


def _names(pf: Any, column: str, n: int) -> tuple[list[str], str]:
    import pyarrow as pa

    schema = pf.schema_arrow
    if "name" in schema.names and (pa.types.is_string(schema.field("name").type)
                                   or pa.types.is_large_string(schema.field("name").type)):
        names = pf.read(columns=["name"]).column(0).to_pylist()
        empty = [k + 1 for k, v in enumerate(names) if not v]
        if empty:
            raise InvalidInput(f"Row {empty[0]} has no name (the 'name' column is empty there); nothing was imported.")
        seen: set[str] = set()
        for k, v in enumerate(names):
            if v in seen:
                raise InvalidInput(f"Row {k + 1}: the name {v!r} is there twice; every item needs its own name. "
                                   "Nothing was imported.")
            seen.add(v)
        return names, "the 'name' column"
    paths = [None] * n
    if schema.field(column).type.get_field_index("path") >= 0:
        paths = [(p or {}).get("path") for p in pf.read(columns=[f"{column}.path"]).column(0).to_pylist()]
    if all(paths) and len(set(paths)) == n:
        return paths, f"'{column}.path'"
    return [f"image-{k + 1:06d}" for k in range(n)], "the row numbers (the images have no distinct paths)"


class _RowReader:
    """The image bytes of row ``k``, read forward one row at a time (rows are asked for in order).

    The footer's sizes are the file's own word (dictionary encoding lets one stored value stand for every
    row), so nothing is trusted: each row's real length is checked in Arrow, before it becomes Python bytes,
    and an image over the limit refuses the whole file (as a zip entry over the limit refuses the zip).
    """

    def __init__(self, pf: Any, column: str, max_entry_bytes: int) -> None:
        self.batches = pf.iter_batches(batch_size=1, columns=[f"{column}.bytes"])
        self.start = -1
        self.row: Any = None
        self.max_entry_bytes = max_entry_bytes

    def __call__(self, k: int, name: str) -> bytes:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            while self.start < k:
                batch = next(self.batches)
                self.start += batch.num_rows
                column = batch.column(0)
                if pa.types.is_struct(column.type):
                    column = column.field("bytes")
                if pa.types.is_dictionary(column.type):
                    column = column.dictionary_decode()
                size = pc.binary_length(column)[0].as_py() or 0
                if size > self.max_entry_bytes:
                    raise ZipRefused(f"{name} is {size / 1024**2:.0f} MiB, more than the "
                                     f"{self.max_entry_bytes / 1024**2:.0f} MiB allowed per image; "
                                     "the parquet is refused and nothing was imported.")
                self.row = column[0].as_py()
        except InvalidInput:
            raise
        except StopIteration:
            raise ZipRefused(f"The parquet ends before row {k + 1} ({name}); it is refused.") from None
        except Exception as exc:  # pyarrow raises several kinds on a damaged or unusual file
            raise ZipRefused(f"The parquet cannot be read at {name} ({type(exc).__name__}: {exc}); "
                             "it is refused and nothing was imported.") from None
        if not self.row:
            raise InvalidInput(f"{name} has no image bytes.")
        return self.row


def images_from_parquet(
    source: str | os.PathLike | bytes | IO[bytes],
    *,
    featurize: Featurize = thumbnail_features,
    on_error: str = "refuse",
    max_pixels: int | None = None,
    max_bytes: int = MAX_ZIP_BYTES,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Images and their labels from a parquet file with an image-bytes column (see the module docstring).

    Parameters
    ----------
    source : path, bytes or file object
    featurize, on_error, max_pixels, progress
        As in :func:`~superintendent_core.data.images.images_from_files`.
    max_bytes : int, default=MAX_ZIP_BYTES
        Most bytes the file's data may take once decompressed (2 GiB), from its
        metadata, checked before any image is read.
    max_entry_bytes : int, default=MAX_ENTRY_BYTES
        Largest image file accepted (128 MiB).

    Returns
    -------
    ImportResult
        ``batch.labels``: each item's class (a tuple of classes in a
        multi-label file), or None when unlabelled; None when the file has no
        label column.
    """
    if on_error not in ("refuse", "raise", "skip"):
        raise InvalidInput(f"on_error must be 'skip' or 'refuse', not {on_error!r}.")
    pf = _open(source)
    schema = pf.schema_arrow
    features = _hf_features(schema)
    column = _image_column(schema, features)
    if column is None:
        raise InvalidInput(
            "This parquet has no image column: a column 'image' holding {bytes, path}, as Hugging Face "
            f"datasets write it. Its columns are {schema.names[:20]}."
        )
    meta = pf.metadata
    n = meta.num_rows
    if n == 0:
        raise InvalidInput("The parquet holds no rows; nothing was imported.")
    size = sum(meta.row_group(k).total_byte_size for k in range(meta.num_row_groups))
    if size > max_bytes:
        raise InvalidInput(f"The parquet expands to {size / 1024**3:.1f} GiB, more than the "
                           f"{max_bytes / 1024**3:.1f} GiB allowed. Nothing was imported.")
    names, named_by = _names(pf, column, n)
    label_col, classes, multi = _label_column(schema, features)
    labels = None
    if label_col is not None:
        labels = _labels(pf.read(columns=[label_col]).column(0).to_pylist(), classes, multi, label_col)
    reader = _RowReader(pf, column, max_entry_bytes)
    candidates = [(name, (lambda k=k, name=name: reader(k, name))) for k, name in enumerate(names)]
    notes = [f"Item names come from {named_by}."]
    result = decode_images(candidates, notes, featurize=featurize, labels_from_folders=False, on_error=on_error,
                           limit=int(max_pixels or MAX_PIXELS), progress=progress)
    if labels is not None:
        by_name = dict(zip(names, labels, strict=True))
        batch = dataclasses.replace(result.batch, labels=[by_name[name] for name in result.batch.names])
        result = ImportResult(batch, result.notes, result.skipped)
    return result
