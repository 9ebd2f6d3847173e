"""Getting data out: labels as CSV / parquet, and the whole project as one zip.

A project zip holds the project folder's files plus ``MANIFEST.json``
(``format``, ``format_version``, the project format version, and the size and
SHA-256 of every file). :func:`import_project_zip` refuses a zip from a newer
version, a tampered one (a checksum, size or file list that does not match), and
a hostile one (absolute paths, ``..``, symlinks, nested folders, oversized
files); it writes only into a new folder that it creates next to the
destination, checks that the project opens, and only then moves it into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ..store.errors import InvalidInput, VersionError
from ..store.folder import FORMAT_VERSION, MANIFEST, FolderStore
from ..store.folder.files import FORMAT_VERSION_READ
from ..store.protocol import ItemBatch, LabelStore
from .images import MAX_ZIP_RATIO, ZipBudget, open_zip, read_zip_member, safe_zip_members

__all__ = [
    "ZIP_FORMAT",
    "ZIP_FORMAT_VERSION",
    "copy_project",
    "export_project_zip",
    "import_project_zip",
    "labels_csv",
    "labels_frame",
    "labels_parquet",
    "neutralise_csv_cell",
    "restore_csv_cell",
]

ZIP_FORMAT = "superintendent-project-zip"
#: 2: the zip may hold the project's feature sets (``featuresets/...``); a zip without them says 1,
#: so earlier versions still import it (they refuse a zip with feature sets as newer).
ZIP_FORMAT_VERSION = 2
ZIP_MANIFEST = "MANIFEST.json"
#: The only names a project zip may hold: the top-level project files, and the feature sets' files
#: ``featuresets/<set name>/meta.json | c<number>.npy | c<number>.ids.npy`` (a set name starts with a
#: letter or digit, so never ``.``/``..``; no other folder, no deeper path). ``\Z``: no trailing newline.
_SAFE_NAME = re.compile(
    r"^(project\.json|(items|labels|order|history)-\d{6}\.parquet|items-\d{6}\.npy"
    r"|featuresets/[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}/(meta\.json|c\d{6,}(\.ids)?\.npy))\Z"
)
_CHUNK = 1024 * 1024
#: Most bytes a project zip may expand to on disk (``max_bytes=`` of :func:`import_project_zip`).
MAX_PROJECT_ZIP_BYTES = 8 * 1024**3
_MAX_MANIFEST_BYTES = 16 * 1024**2
#: A spreadsheet reads a cell beginning with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = re.compile(r"^'*[=+\-@\t\r]")   # what the export quotes (quotes already there included)
_UNQUOTE = re.compile(r"^'+[=+\-@\t\r]")  # what the import unquotes: exactly the export's output


def labels_frame(store: LabelStore) -> pd.DataFrame:
    """Every label in force: ``item_id, name, label, labeller, time, seconds`` (see ``LabelStore.labels``)."""
    return store.labels()


def neutralise_csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: ``'`` before a leading ``= + - @``, tab or CR.

    OWASP's rule against CSV injection (``=HYPERLINK(...)`` run by a spreadsheet).
    A text that already begins with quotes before such a character gets one
    more quote, so :func:`restore_csv_cell` gives back exactly the original.
    Anything that is not a ``str`` (numbers, missing values) is returned as is.

    >>> neutralise_csv_cell("=1+1"), neutralise_csv_cell("'=1"), neutralise_csv_cell("cat")
    ("'=1+1", "''=1", 'cat')
    """
    if isinstance(value, str) and _QUOTED.match(value):
        return "'" + value
    return value


def restore_csv_cell(value: Any) -> Any:
    """The inverse of :func:`neutralise_csv_cell` (one leading quote removed where the export added it)."""
    if isinstance(value, str) and _UNQUOTE.match(value):
        return value[1:]
    return value


def labels_csv(store: LabelStore) -> bytes:
    """The labels as UTF-8 CSV bytes (RFC 4180; time in ISO 8601, UTC; multi-label joined by "|").

    Every text cell (name, label, labeller) that a spreadsheet would run as a
    formula is neutralised with a leading ``'`` (:func:`neutralise_csv_cell`);
    numeric columns are written as numbers. Importing the file back with
    :func:`~superintendent_core.data.label_import.import_label_table` removes
    those quotes again. Parquet (:func:`labels_parquet`) keeps the raw values.
    """
    df = store.labels().copy()
    df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]):
            df[column] = df[column].map(neutralise_csv_cell)
    # CRLF line ends (RFC 4180): a text holding a bare CR is then quoted, not cut in two rows.
    return df.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def labels_parquet(store: LabelStore) -> bytes:
    """The labels as parquet bytes."""
    out = io.BytesIO()
    store.labels().to_parquet(out, index=False)
    return out.getvalue()


# --------------------------------------------------------------------------- project zip


def copy_project(src: LabelStore, dest: str | os.PathLike, *, chunk: int = 20_000) -> FolderStore:
    """Copy any store into a new project folder through the :class:`LabelStore` protocol.

    Items (names, display, features, hidden true labels), every label in force
    (labeller, time, seconds) and the retrain history are copied; undone labels,
    skips and the serving order are not (the next retrain re-ranks). Array
    features are copied as float32, and the feature sets in the dtype each is stored in
    (float16 rows widen to float32 and back exactly); the copy uses the
    source's feature set when that set holds every item (else its own features, as
    the source does). A store without the internal readers of items' own features
    and of sets' rows gets a copy of what ``features`` returns and no feature set.
    Returns the new store, open.
    """
    settings = src.settings
    # The items' own features, not the active feature set's rows (those are copied as the set below).
    base = getattr(src, "_base_features", None)
    set_rows = getattr(src, "_feature_set_rows", None)
    copy_sets = base is not None and set_rows is not None
    out = FolderStore(dest, settings=dataclasses.replace(settings, feature_set=""))
    try:
        n = len(src)
        for start in range(0, n, chunk):
            ids = np.arange(start, min(n, start + chunk), dtype=np.int64)
            items = [src.item(int(i)) for i in ids]
            truth = src.true_labels(ids)
            out.add_items(ItemBatch(
                names=tuple(src.names(ids)), kind=settings.kind,
                features=base(ids) if copy_sets else src.features(ids),
                payloads=[it.payload for it in items],
                true_labels=None if truth is None else list(truth),
            ))
        if copy_sets:
            dtypes = src.feature_set_dtypes() if hasattr(src, "feature_set_dtypes") else {}
            for name in src.feature_sets():
                stored = np.setdiff1d(np.arange(n, dtype=np.int64), src.missing_feature_ids(name))
                for start in range(0, len(stored), chunk):
                    part = stored[start:start + chunk]
                    out.write_feature_set(name, part, set_rows(name, part), dtype=dtypes.get(name, "float32"))
            if settings.feature_set and out.feature_sets().get(settings.feature_set, (0, 0))[1] >= n:
                out.update_settings(feature_set=settings.feature_set)
        out.restore_labels(src.labels())
        for row in src.history().to_dict("records"):
            row = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
            if isinstance(row.get("time"), pd.Timestamp):
                row["time"] = row["time"].timestamp()
            out.record_retrain(row)
    except BaseException:
        out.close()
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return out


def export_project_zip(store: LabelStore, dest: str | os.PathLike | IO[bytes] | None = None) -> bytes | None:
    """The whole project as one zip (bytes, or written to ``dest``).

    Labelling may go on while the zip is written; the zip holds the project as it
    was when the export started. A store of another backend (SQL) is first copied
    into a temporary project folder with :func:`copy_project`.
    """
    if not isinstance(store, FolderStore):
        with tempfile.TemporaryDirectory(prefix="superintendent-export-") as tmp:
            copy = copy_project(store, Path(tmp) / "project")
            try:
                return export_project_zip(copy, dest)
            finally:
                copy.close()
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder; give the path of the .zip file to write.")
        if not path.parent.is_dir():
            raise InvalidInput(f"{path} cannot be written: the folder {path.parent} does not exist.")
    buffer = io.BytesIO() if dest is None else None
    target: Any = buffer if dest is None else dest
    files: dict[str, dict[str, Any]] = {}
    with store.open_files() as handles, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        # the project's own format (3 while it holds bulk labels), so older versions refuse the zip up front
        project_format = json.loads(handles[MANIFEST].getvalue()).get("format_version", FORMAT_VERSION)
        for name, fh in handles.items():
            digest = hashlib.sha256()
            size = 0
            with zf.open(zipfile.ZipInfo(name, date_time=time.gmtime()[:6]), "w") as out:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            files[name] = {"sha256": digest.hexdigest(), "size": size}
        manifest = {
            "format": ZIP_FORMAT,
            "format_version": ZIP_FORMAT_VERSION if any(n.startswith("featuresets/") for n in files) else 1,
            "project_format_version": project_format,
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        zf.writestr(ZIP_MANIFEST, json.dumps(manifest, indent=1))
    return buffer.getvalue() if buffer is not None else None


def _check_manifest(zf: zipfile.ZipFile, max_bytes: int) -> dict[str, Any]:
    members = {i.filename: i for i in safe_zip_members(zf, max_bytes=max_bytes, max_entry_bytes=max_bytes)}
    if ZIP_MANIFEST not in members:
        raise InvalidInput("This zip is not a superintendent project (it has no MANIFEST.json).")
    try:
        raw = read_zip_member(zf, members[ZIP_MANIFEST], max_entry_bytes=_MAX_MANIFEST_BYTES)
        manifest = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"The project zip's MANIFEST.json is damaged ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ZIP_FORMAT:
        raise InvalidInput("This zip is not a superintendent project zip.")
    version = manifest.get("format_version")
    pversion = manifest.get("project_format_version")
    if not isinstance(version, int) or not isinstance(pversion, int):
        raise InvalidInput("The project zip's MANIFEST.json is damaged (no version).")
    if version > ZIP_FORMAT_VERSION or pversion > FORMAT_VERSION_READ:
        raise VersionError(
            f"This project zip was made by a newer version of superintendent (format {version}/{pversion}); "
            f"this version reads {ZIP_FORMAT_VERSION}/{FORMAT_VERSION_READ}. Upgrade to import it."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or MANIFEST not in files:
        raise InvalidInput("The project zip's MANIFEST.json lists no project files.")
    listed = set(files)
    present = set(members) - {ZIP_MANIFEST}
    if listed != present:
        extra = sorted(present - listed) or sorted(listed - present)
        raise InvalidInput(
            f"The project zip has been changed: {extra[0]!r} is "
            + ("not in its manifest." if present - listed else "missing.")
        )
    for name, meta in files.items():
        if not _SAFE_NAME.match(name):
            raise InvalidInput(f"The project zip is refused: unexpected file name {name!r}.")
        if not isinstance(meta, dict) or not isinstance(meta.get("size"), int) or members[name].file_size != meta["size"]:
            raise InvalidInput(f"The project zip has been changed: {name!r} does not have the size in its manifest.")
    return manifest


class _HashingSink:
    """A file to write to that hashes what passes (for :func:`read_zip_member`'s ``sink``)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.sha = hashlib.sha256()
        self.out = out

    def write(self, chunk: bytes) -> int:
        self.sha.update(chunk)
        return self.out.write(chunk)

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def import_project_zip(
    source: str | os.PathLike | bytes | IO[bytes],
    dest: str | os.PathLike,
    *,
    replace: bool = False,
    max_bytes: int = MAX_PROJECT_ZIP_BYTES,
) -> Path:
    """Unpack a project zip into the folder ``dest`` and check that it opens.

    Parameters
    ----------
    source : path, bytes or file object
    dest : path
        The project folder to create. It must not exist (or be empty), unless
        ``replace``: then an existing project there (which must not be open) is
        kept as ``<dest>.replaced-<time>`` and the imported one takes its place.
    max_bytes : int, default=MAX_PROJECT_ZIP_BYTES
        Most bytes the zip's files may expand to together (8 GiB). Each file's
        real size is counted while it is written (never the zip header's) and
        may not pass the size its manifest gives.

    Returns
    -------
    Path
        ``dest``.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{dest} is a file, not a folder; choose a new folder for the imported project.")
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InvalidInput(f"{dest} cannot be created: {parent} is a file, not a folder.")
            break
    if dest.exists() and any(dest.iterdir()) and not replace:
        raise InvalidInput(f"{dest} already holds files; choose a new folder, or replace the project.")
    with open_zip(source) as zf:
        manifest = _check_manifest(zf, max_bytes)
        budget = ZipBudget(max_bytes)
        staging = dest.with_name(f".{dest.name}.importing-{os.getpid()}-{time.time_ns()}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
        except OSError as exc:
            raise InvalidInput(f"{dest} cannot be created ({exc.strerror or type(exc).__name__}).") from None
        try:
            for name, meta in manifest["files"].items():
                # ``name`` matched _SAFE_NAME: a plain file name or featuresets/<set>/<file>, inside ``staging``.
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                with open(staging / name, "wb") as out:
                    digest = _HashingSink(out)
                    read_zip_member(zf, zf.getinfo(name), max_entry_bytes=meta["size"], max_ratio=MAX_ZIP_RATIO,
                                    budget=budget, sink=digest)
                    out.flush()
                    os.fsync(out.fileno())
                if digest.hexdigest() != meta.get("sha256"):
                    raise InvalidInput(f"The project zip has been changed: {name!r} fails its checksum.")
            FolderStore(staging, create=False).close()  # opens: versions and files are consistent
            if dest.exists() and any(dest.iterdir()):
                FolderStore(dest, create=False).close()  # refuses when open elsewhere or not a project
                backup = dest.with_name(f"{dest.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
                os.replace(dest, backup)
            elif dest.exists():
                dest.rmdir()
            os.replace(staging, dest)
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise InvalidInput(f"The project zip cannot be unpacked ({exc}).") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dest
