"""Label exports in the formats training code reads: JSONL, an image-folder zip, a Hugging Face parquet.

Each writer streams into ``dest`` (a path or a binary file object): items are
read from the store one at a time (the zip) or 100 at a time (the parquet), so a
100k-image export never holds more than one batch of images in memory.
:func:`prepare_export` writes into a :class:`~tempfile.SpooledTemporaryFile`
(in memory up to 32 MiB, on disk past that) for the app to hand to a download.

What is exported, in every format, is each labelled item's label *in force*:
the most recent label still standing, whoever made it — the one the model is
trained on (:meth:`LabelStore.training_data`).

- **JSONL** (:func:`write_labels_jsonl`): one object per labelled item, oldest
  first: ``name``, ``label`` (single-label) or ``labels`` (a list, multi-label),
  ``labeller``, ``time`` (ISO 8601, UTC), ``source`` and ``labels_by``. With
  several labellers on an item (overlap > 1) the object still gives the one
  label in force (what training code wants: one target per example), and
  ``labels_by`` lists every labeller's label in force on the item, oldest first
  (each with ``labeller``, ``label``/``labels``, ``time``, ``source``), for
  agreement studies; it has one entry when one person labelled the item.
  ``source`` is ``"human"``: the store does not record whether a label came
  from a person or from a labels-file import (an import is recorded as a
  relabel under the file's labeller names), so the export does not guess. A
  store whose :meth:`~LabelStore.labels` has a ``source`` column (pre-annotations
  to come) has it used as is.
- **Image-folder zip** (:func:`write_image_folder_zip`): ``<class>/<file>`` at
  the zip's root, what ``torchvision.datasets.ImageFolder`` and Keras'
  ``image_dataset_from_directory`` read, with the stored image bytes as they are
  (never re-encoded here). Single-label projects only: both readers give each
  file exactly one class, and copying a multi-label image into each of its
  class folders would teach a single-label model contradicting targets, so a
  multi-label project is refused (use JSONL or the parquet). Only classes with
  at least one labelled image get a folder (an empty folder makes ImageFolder
  fail).
- **Hugging Face parquet** (:func:`write_hf_parquet`): columns ``image``
  (``struct<bytes: binary, path: string>``, the storage of ``datasets.Image``),
  ``label`` (``int64`` class index; ``labels``, a ``list<int64>``, multi-label),
  ``name``, ``labeller``, ``time``, ``source``; the schema metadata's
  ``huggingface`` key names the features (``ClassLabel`` with the project's
  classes in project order) as ``datasets`` writes it, so
  ``datasets.load_dataset("parquet", data_files=...)`` gives images and class
  labels. Row groups of 100 rows, as ``datasets`` writes image data.

File names in the zip and the parquet's ``image.path`` come from the item names,
made safe (:func:`safe_file_name`): no folder part, no ``..``, no control
characters or characters Windows refuses, at most 120 bytes, unique in their
folder even on a case-insensitive disk, with the extension of the bytes' real
format (the store keeps PNG or JPEG: the original file when it was a PNG or
JPEG of at most 1600 pixels a side, else a re-encoded copy).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ..labels import split_labels
from ..store.errors import InvalidInput
from ..store.protocol import LabelStore

__all__ = [
    "EXPORT_FORMATS",
    "ExportResult",
    "export_formats",
    "hf_features",
    "prepare_export",
    "safe_file_name",
    "write_hf_parquet",
    "write_image_folder_zip",
    "write_labels_jsonl",
]

#: Format name -> (file suffix, MIME type, what it is).
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "jsonl": (".jsonl", "application/jsonl", "Labels (JSONL)"),
    "imagefolder": ("-imagefolder.zip", "application/zip", "Image folders (zip)"),
    "hf_parquet": ("-hf.parquet", "application/octet-stream", "Hugging Face parquet"),
}
#: Rows per parquet row group (``datasets`` writes image data in groups of 100 rows).
ROWS_PER_GROUP = 100
#: Longest file or folder name written, in UTF-8 bytes (most file systems allow 255).
MAX_NAME_BYTES = 120
_SPOOL_BYTES = 32 * 1024**2
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_EXTENSIONS = {"image/png": (".png",), "image/jpeg": (".jpg", ".jpeg")}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes
    ----------
    items : int
        Labelled items written (one line, file or row each).
    notes : tuple of str
        Sentences for the user (renamed class folders, classes without items …).
    """

    items: int
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- what is in force


def _in_force(store: LabelStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every label in force, the one in force per item), both oldest first.

    ``store.labels()`` is in event order, so an item's last row is its most
    recent label in force: the one it is trained on.
    """
    labels = store.labels().reset_index(drop=True)
    if "source" not in labels.columns:  # "bulk": given with "Label N chosen items" (store.bulk_label)
        bulk = labels["bulk"].to_numpy(dtype=bool) if "bulk" in labels.columns else False
        labels["source"] = np.where(bulk, "bulk", "human") if len(labels) else "human"
    latest = labels.drop_duplicates("item_id", keep="last")
    return labels, latest


def _iso(ts: Any) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``."""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _label_fields(text: str, multi_label: bool) -> dict[str, Any]:
    return {"labels": list(split_labels(text))} if multi_label else {"label": text}


# --------------------------------------------------------------------------- JSONL


def _open_dest(dest: str | os.PathLike | IO[bytes]) -> tuple[IO[bytes], bool]:
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder; give the path of the file to write.")
        if not path.parent.is_dir():
            raise InvalidInput(f"{path} cannot be written: the folder {path.parent} does not exist.")
        return open(path, "wb"), True
    if not hasattr(dest, "write"):
        raise InvalidInput(f"dest must be a path or a binary file object, not {type(dest).__name__}.")
    return dest, False


def write_labels_jsonl(store: LabelStore, dest: str | os.PathLike | IO[bytes]) -> ExportResult:
    """Write one JSON object per labelled item (UTF-8, one line each, oldest label first).

    Parameters
    ----------
    store : LabelStore
    dest : path or binary file object

    Returns
    -------
    ExportResult

    Notes
    -----
    Keys: ``name``; ``label`` (str) or, in a multi-label project, ``labels``
    (list of str in class order; ``[]`` is "none of the classes"); ``labeller``,
    ``time`` (ISO 8601 UTC) and ``source`` of that label; ``labels_by``: every
    labeller's label in force on the item, oldest first. Read it back with
    :func:`~superintendent_core.data.label_import.import_labels_file`.
    """
    multi = store.settings.multi_label
    labels, latest = _in_force(store)
    by_item: dict[int, list[dict[str, Any]]] = {}
    for row in labels.itertuples(index=False):
        by_item.setdefault(int(row.item_id), []).append(
            {"labeller": row.labeller, **_label_fields(row.label, multi), "time": _iso(row.time), "source": row.source}
        )
    out, owned = _open_dest(dest)
    try:
        for row in latest.itertuples(index=False):
            obj = {
                "name": row.name, **_label_fields(row.label, multi), "labeller": row.labeller,
                "time": _iso(row.time), "source": row.source, "labels_by": by_item[int(row.item_id)],
            }
            out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    finally:
        if owned:
            out.close()
    return ExportResult(len(latest))


# --------------------------------------------------------------------------- safe names


def _mime_of(data: bytes) -> str:
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"


def _clean(text: str) -> str:
    """A name with nothing a file system or a zip tool trips on (may come back empty)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join("_" if unicodedata.category(ch) in _REFUSED_CATEGORIES else ch for ch in text)
    text = _WINDOWS_FORBIDDEN.sub("_", text)
    text = text.strip(" .")  # no hidden files, no "." or "..", no trailing dot (Windows drops it)
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = "_" + text
    return text


def _shorten(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore").rstrip(" .")


def safe_file_name(name: str, data: bytes, *, fallback: str) -> str:
    """A file name for an item: ``name``'s last path part, made safe, with the extension of ``data``.

    Parameters
    ----------
    name : str
        The item's name (any text: a path, ``../x``, unicode, control characters).
    data : bytes
        The image bytes (PNG or JPEG): the extension follows them.
    fallback : str
        The stem used when nothing of ``name`` is left (``"item-12"``).

    Returns
    -------
    str
        A single path component, at most :data:`MAX_NAME_BYTES` UTF-8 bytes,
        never starting with a dot. Not yet unique: :class:`_UniqueNames` sees to it.
    """
    base = re.split(r"[\\/]", name)[-1]
    stem, ext = os.path.splitext(base)
    allowed = _EXTENSIONS[_mime_of(data)]
    if ext.lower() not in allowed:
        stem, ext = base, allowed[0]  # "x.bmp" stored as PNG -> "x.bmp.png": the name stays readable
    stem = _shorten(_clean(stem), MAX_NAME_BYTES - len(ext)) or fallback
    return stem + ext.lower()


class _UniqueNames:
    """Names unique within each folder, compared case-insensitively (macOS and Windows disks)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, folder: str, file_name: str, item_id: int) -> str:
        stem, ext = os.path.splitext(file_name)
        candidate, k = file_name, 1
        while f"{folder}/{candidate}".casefold() in self.seen:
            suffix = f"-{item_id}" if k == 1 else f"-{item_id}-{k}"
            candidate = _shorten(stem, MAX_NAME_BYTES - len(ext) - len(suffix)) + suffix + ext
            k += 1
        self.seen.add(f"{folder}/{candidate}".casefold())
        return candidate


def _class_folders(classes: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Folder name per class (made safe and unique case-insensitively), and notes on renamed ones."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    notes = []
    for k, cls in enumerate(classes):
        folder = _shorten(_clean(cls), MAX_NAME_BYTES) or f"class-{k}"
        base, n = folder, 2
        while folder.casefold() in taken:
            folder = f"{base} ({n})"
            n += 1
        taken.add(folder.casefold())
        folders[cls] = folder
        if folder != cls:
            notes.append(f"Class {cls!r} is in the folder {folder!r} (a folder name cannot be {cls!r}).")
    return folders, notes


def _images(store: LabelStore, ids: Any) -> Iterator[tuple[int, bytes]]:
    """Each item's stored image bytes, read one at a time."""
    for item_id in ids:
        payload = store.item(int(item_id)).payload
        if not isinstance(payload, bytes | bytearray) or not payload:
            raise InvalidInput(f"Item {int(item_id)} has no stored image; it cannot be exported as a file.")
        yield int(item_id), bytes(payload)


def _require_images(store: LabelStore, what: str) -> None:
    if store.settings.kind != "image":
        raise InvalidInput(
            f"{what} holds images; this project's items are {store.settings.kind}s. "
            "Use the JSONL, CSV or parquet labels instead."
        )


# --------------------------------------------------------------------------- image-folder zip


def write_image_folder_zip(store: LabelStore, dest: str | os.PathLike | IO[bytes]) -> ExportResult:
    """Write the labelled images as ``<class>/<file>`` entries of a zip (stored, not recompressed).

    Parameters
    ----------
    store : LabelStore
        An image project with one label per item.
    dest : path or binary file object (seekable)

    Returns
    -------
    ExportResult
        ``notes`` name class folders that differ from their class and classes
        with no labelled image (no folder).

    Raises
    ------
    InvalidInput
        Not an image project, or a multi-label one (see the module docstring).

    Notes
    -----
    Import it again with ``images_from_zip(..., labels_from_folders=True)``:
    each image comes back with its class folder as its label and
    ``<folder>/<file>`` as its name.
    """
    _require_images(store, "An image-folder zip")
    settings = store.settings
    if settings.multi_label:
        raise InvalidInput(
            "An image-folder zip gives each image one class (its folder), and this project is multi-label. "
            "Export JSONL or the Hugging Face parquet instead: they keep every label of an item."
        )
    _, latest = _in_force(store)
    folders, notes = _class_folders(settings.classes)
    used = set(latest["label"])
    empty = [c for c in settings.classes if c not in used]
    if empty:
        notes.append(f"{len(empty)} class(es) have no labelled image and so no folder: "
                     + ", ".join(repr(c) for c in empty[:10]) + (" …" if len(empty) > 10 else "") + ".")
    labels = dict(zip(latest["item_id"].astype(int), latest["label"], strict=True))
    times = dict(zip(latest["item_id"].astype(int), latest["time"], strict=True))
    unique = _UniqueNames()
    names = dict(zip(latest["item_id"].astype(int), latest["name"], strict=True))
    out, owned = _open_dest(dest)
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for item_id, data in _images(store, sorted(labels)):
                folder = folders[labels[item_id]]
                file_name = unique.take(folder, safe_file_name(names[item_id], data, fallback=f"item-{item_id}"),
                                        item_id)
                stamp = pd.Timestamp(times[item_id]).tz_convert("UTC")
                info = zipfile.ZipInfo(f"{folder}/{file_name}", date_time=_zip_time(stamp))
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
    finally:
        if owned:
            out.close()
    return ExportResult(len(labels), tuple(notes))


def _zip_time(stamp: pd.Timestamp) -> tuple[int, int, int, int, int, int]:
    year = min(max(stamp.year, 1980), 2107)  # what a zip header can hold
    return (year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)


# --------------------------------------------------------------------------- Hugging Face parquet


def hf_features(classes: tuple[str, ...], multi_label: bool) -> dict[str, Any]:
    """The ``datasets`` features of :func:`write_hf_parquet`'s columns, as ``datasets`` stores them."""
    class_label = {"names": list(classes), "_type": "ClassLabel"}
    return {
        "image": {"_type": "Image"},
        # "Sequence": what datasets 2 and 3 write; datasets 4 and 5 read it as their List.
        **({"labels": {"feature": class_label, "_type": "Sequence"}} if multi_label else {"label": class_label}),
        "name": {"dtype": "string", "_type": "Value"},
        "labeller": {"dtype": "string", "_type": "Value"},
        "time": {"dtype": "timestamp[us, tz=UTC]", "_type": "Value"},
        "source": {"dtype": "string", "_type": "Value"},
    }


def _hf_schema(classes: tuple[str, ...], multi_label: bool) -> Any:
    import pyarrow as pa

    label = ("labels", pa.list_(pa.int64())) if multi_label else ("label", pa.int64())
    fields = [
        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        label,
        ("name", pa.string()),
        ("labeller", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
    ]
    meta = {"info": {"features": hf_features(classes, multi_label)}}
    return pa.schema(fields, metadata={"huggingface": json.dumps(meta)})


def write_hf_parquet(store: LabelStore, dest: str | os.PathLike | IO[bytes]) -> ExportResult:
    """Write the labelled images and their labels as a parquet that ``datasets`` loads with images.

    Parameters
    ----------
    store : LabelStore
        An image project (single- or multi-label).
    dest : path or binary file object

    Returns
    -------
    ExportResult

    Notes
    -----
    ``datasets.load_dataset("parquet", data_files=path)["train"]`` gives
    ``image`` (a PIL image), ``label`` (a ``ClassLabel`` index into the
    project's classes; ``labels``, a list of them, multi-label), and ``name``,
    ``labeller``, ``time``, ``source``. Import it again with
    :func:`~superintendent_core.data.image_parquet.images_from_parquet`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _require_images(store, "A Hugging Face image parquet")
    settings = store.settings
    multi = settings.multi_label
    index = {c: k for k, c in enumerate(settings.classes)}
    _, latest = _in_force(store)
    latest = latest.sort_values("item_id", kind="stable")
    schema = _hf_schema(settings.classes, multi)
    unique = _UniqueNames()
    out, owned = _open_dest(dest)
    try:
        with pq.ParquetWriter(out, schema, compression="snappy") as writer:
            for start in range(0, len(latest), ROWS_PER_GROUP):
                chunk = latest.iloc[start:start + ROWS_PER_GROUP]
                images = []
                for (item_id, data), name in zip(_images(store, chunk["item_id"]), chunk["name"], strict=True):
                    path = unique.take("", safe_file_name(name, data, fallback=f"item-{item_id}"), item_id)
                    images.append({"bytes": data, "path": path})
                if multi:
                    targets = [[index[c] for c in split_labels(v)] for v in chunk["label"]]
                else:
                    targets = [index[v] for v in chunk["label"]]
                table = pa.Table.from_pydict({
                    "image": images,
                    "labels" if multi else "label": targets,
                    "name": chunk["name"].astype(str).tolist(),
                    "labeller": chunk["labeller"].astype(str).tolist(),
                    "time": pd.to_datetime(chunk["time"], utc=True).dt.as_unit("us").tolist(),
                    "source": chunk["source"].astype(str).tolist(),
                }, schema=schema)
                writer.write_table(table, row_group_size=ROWS_PER_GROUP)
                del images, table
            if not len(latest):
                writer.write_table(schema.empty_table())
    finally:
        if owned:
            out.close()
    return ExportResult(len(latest))


# --------------------------------------------------------------------------- for the app

_WRITERS = {
    "jsonl": write_labels_jsonl,
    "imagefolder": write_image_folder_zip,
    "hf_parquet": write_hf_parquet,
}


def prepare_export(store: LabelStore, fmt: str) -> tuple[IO[bytes], ExportResult]:
    """Write one export into a temporary file (in memory up to 32 MiB, on disk past that).

    Parameters
    ----------
    store : LabelStore
    fmt : {"jsonl", "imagefolder", "hf_parquet"}

    Returns
    -------
    (file, ExportResult)
        The file is positioned at its start; the caller closes it (it is
        deleted then).
    """
    if fmt not in _WRITERS:
        raise InvalidInput(f"Unknown export format {fmt!r}; the formats are {sorted(_WRITERS)}.")
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, prefix="superintendent-export-")
    try:
        result = _WRITERS[fmt](store, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, result


def export_formats(kind: str, multi_label: bool) -> list[str]:
    """The formats of :data:`EXPORT_FORMATS` a project of this kind can be exported in."""
    if kind != "image":
        return ["jsonl"]
    return ["jsonl", "hf_parquet"] if multi_label else ["jsonl", "imagefolder", "hf_parquet"]

