"""Big imports chunk by chunk: a table file (CSV / parquet) or a file of vectors (``.npy`` + names).

:func:`table_chunks` and :func:`vector_chunks` read a file a chunk of rows at a time
and give each chunk as an :class:`~superintendent_core.store.ItemBatch` (built by
:func:`~superintendent_core.data.tables.table_batch`, the in-memory path's own column
rules). A store takes them with ``add_items_stream`` — or
:func:`~superintendent_core.service.create_project` / ``add_to_project``, which accept
them in place of a batch — and commits the import only after the last chunk: a bad
row in any chunk, a name used twice, a full disk, and the project stays as it was.
Memory holds one chunk (:data:`CHUNK_ROWS` rows), not the file.

``progress(done, total)`` is called after each chunk was written, with rows; for a
CSV file ``total`` is its line count less the header (exact unless a quoted cell
holds a line break), and the last call is ``(rows, rows)``.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..labels import classes_in
from ..store.errors import InvalidInput
from ..store.items import TableRows
from ..store.protocol import ItemBatch
from .tables import _PARQUET_MAGIC, _marked_encoding, sniff_separator, table_batch

__all__ = ["CHUNK_ROWS", "TableChunks", "VectorChunks", "table_chunks", "vector_chunks"]

#: Rows per chunk: 65,536 rows of 64 float32 features are 16 MB.
CHUNK_ROWS = 65_536
_HEAD = 1 << 20

Progress = Callable[[int, int], None]


def _opener(
    source: str | os.PathLike | bytes | IO[bytes],
) -> tuple[Callable[[], IO[bytes]], str, Any]:
    """(a function giving a fresh binary file at its start, the file's name, what pyarrow reads parquet from).

    A path is opened anew each time (nothing stays open between reruns of a page); the bytes of
    an upload are wrapped, never copied.
    """
    if isinstance(source, str | os.PathLike):
        p = Path(source)
        if not p.is_file():
            raise InvalidInput(f"{p} does not exist or is not a file.")
        return (lambda: open(p, "rb")), p.name, os.fspath(p)  # noqa: SIM115 (closed by the caller)
    if hasattr(source, "read") and not isinstance(source, bytes | bytearray):
        source = source.read()
    if not isinstance(source, bytes | bytearray):
        raise InvalidInput(
            f"The table must be a path, bytes or a file object, not {type(source).__name__}."
        )
    data = bytes(source)
    return (lambda: io.BytesIO(data)), "upload", pa.BufferReader(data)


def _csv_encoding(head: bytes, encoding: str | None) -> tuple[str, str | None]:
    """(codec, note) of a CSV from its first bytes (the rules of :func:`~.tables.read_table`)."""
    if encoding:
        return encoding, None
    marked = _marked_encoding(head)
    if marked is not None:
        return marked, None
    try:
        head.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return "cp1252", (
                "The file is not UTF-8; it was read as Windows-1252. If accents look wrong, "
                "save it as UTF-8 and import again."
            )
        return "utf-8", None


class TableChunks:
    """A table file read a chunk at a time, each chunk an ``ItemBatch`` (see :func:`table_chunks`).

    Attributes
    ----------
    columns : list of str
    preview : DataFrame
        The first rows (at most one chunk), for the import form and :func:`suggest_columns`.
    total : int
        Rows (parquet: exact; CSV: lines less the header).
    notes : list of str
    progress : callable or None
        ``progress(done, total)`` after each chunk; may be set before iterating.
    """

    def __init__(
        self,
        source: Any,
        *,
        encoding: str | None = None,
        sep: str | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.chunk_rows = max(1, int(chunk_rows))
        self._open, self.name, self._parquet_source = _opener(source)
        self.notes: list[str] = []
        self.progress: Progress | None = None
        self.options: dict[str, Any] = {}
        self.done = 0
        with self._open() as fh:
            head = fh.read(_HEAD)
        if not head:
            raise InvalidInput(f"{self.name} is empty (0 bytes); choose the file again.")
        self.parquet = head[:4] == _PARQUET_MAGIC
        if self.parquet:
            # pyarrow's own reader (not a Python file), and no pre-buffering: with either, memory
            # grew by a chunk per chunk read (about 400 MB over a 1M-row file)
            try:
                self._pf = pq.ParquetFile(self._parquet_source, pre_buffer=False)
            except Exception as exc:  # pyarrow raises many kinds
                raise InvalidInput(f"{self.name} is not a readable parquet file ({exc}).") from None
            self.total = int(self._pf.metadata.num_rows)
            self.columns = [str(f.name) for f in self._pf.schema_arrow]
            first = next(self._pf.iter_batches(batch_size=min(self.chunk_rows, 1000)), None)
            self.preview = self._frame(first.to_pandas() if first is not None else pd.DataFrame())
        else:
            if (
                b"\x00" in head[:4096]
                and head[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
                and head[:4096].count(0) <= len(head[:4096]) // 4
            ):
                raise InvalidInput(f"{self.name} is not a text CSV or a parquet file.")
            self.encoding, note = _csv_encoding(head, encoding)
            if note:
                self.notes.append(note)
            text = head.decode(self.encoding, errors="ignore")
            if not text.strip():
                raise InvalidInput(f"{self.name} has no columns or rows.")
            if sep is None:
                sep = sniff_separator(text)
            self.sep = sep
            self.total = self._count_lines() - 1
            self.preview = self._frame(
                next(iter(self._csv(min(self.chunk_rows, 1000))), pd.DataFrame())
            )
            self.columns = list(self.preview.columns)
        if not self.columns:
            raise InvalidInput(f"{self.name} has no columns.")
        if self.total <= 0 or len(self.preview) == 0:
            raise InvalidInput(f"{self.name} has a header but no rows.")

    # ------------------------------------------------------------------ reading

    def _count_lines(self) -> int:
        lines, last = 0, b"\n"
        with self._open() as fh:
            enc = self.encoding.replace("-sig", "")
            if enc == "utf-16":  # by its BOM
                enc = "utf-16-le" if fh.read(2) == codecs.BOM_UTF16_LE else "utf-16-be"
            newline = "\n".encode(enc)
            while block := fh.read(16 << 20):
                lines += block.count(newline)
                last = block[-len(newline) :]
        return lines + (last != newline)

    def _csv(self, rows: int) -> Iterator[pd.DataFrame]:
        with io.TextIOWrapper(self._open(), encoding=self.encoding, newline="") as stream:
            reader = pd.read_csv(stream, sep=self.sep, chunksize=rows)
            while True:
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                except pd.errors.EmptyDataError:
                    raise InvalidInput(f"{self.name} has no columns or rows.") from None
                except UnicodeDecodeError:
                    raise InvalidInput(
                        f"{self.name} is not {self.encoding} text after row {self.done:,}; "
                        "save it as UTF-8. Nothing was imported."
                    ) from None
                except (pd.errors.ParserError, ValueError) as exc:
                    raise InvalidInput(
                        f"{self.name} cannot be read as CSV after row {self.done:,} ({exc}). "
                        "Nothing was imported."
                    ) from None
                yield chunk

    def frames(self) -> Iterator[pd.DataFrame]:
        """The file's rows, a chunk at a time, as DataFrames with text column names."""
        if self.parquet:
            for batch in self._pf.iter_batches(batch_size=self.chunk_rows):
                yield self._frame(batch.to_pandas())
        else:
            yield from (self._frame(c) for c in self._csv(self.chunk_rows))

    @staticmethod
    def _frame(df: pd.DataFrame) -> pd.DataFrame:
        df.columns = [str(c) for c in df.columns]
        return df

    # ------------------------------------------------------------------ the import

    def configure(self, **options: Any) -> TableChunks:
        """Set :func:`~.tables.table_batch`'s options (``kind``, ``display_columns``, ...) for every chunk.

        Options resolved on the whole file by the in-memory path are resolved here once, on
        the first rows: the feature columns default to every numeric column but the label's
        and the name's.
        """
        opts = dict(options)
        opts.pop("start", None)
        if opts.get("kind", "table") == "table" and opts.get("feature_columns") is None:
            skip = {opts.get("label_column"), opts.get("name_column")}
            numeric = [
                c
                for c in self.preview.columns
                if c not in skip and pd.api.types.is_numeric_dtype(self.preview[c])
            ]
            if not numeric:
                raise InvalidInput(
                    "The table has no numeric columns for the model; choose the feature columns."
                )
            opts["feature_columns"] = numeric
        table_batch(self.preview, **opts)  # the column choices refused now, before any write
        self.options = opts
        return self

    def __len__(self) -> int:
        return self.total

    @property
    def kind(self) -> str:
        return self.options.get("kind", "table")

    @property
    def features(self) -> Any:
        """The first rows' features (what kind of features the import has)."""
        return table_batch(self.preview.head(5), **self.options).features

    @property
    def payloads(self) -> None:
        return None

    @property
    def labels(self) -> list[str] | None:
        """Each distinct label of the label column (read alone), or None without one."""
        column = self.options.get("label_column")
        if column is None:
            return None
        if self.parquet:
            values = (
                pq.read_table(self._parquet_source, columns=[column]).column(0).unique().to_pylist()
            )
        else:
            seen: set[Any] = set()
            with io.TextIOWrapper(self._open(), encoding=self.encoding, newline="") as stream:
                for part in pd.read_csv(stream, sep=self.sep, usecols=[column], chunksize=1 << 20):
                    seen.update(part[column].dropna().unique().tolist())
            values = list(seen)
        sample = pd.DataFrame({column: values, "_": 0})
        return table_batch(
            sample, kind="text", display_columns=["_"], feature_columns=None, label_column=column
        ).labels

    def classes(self, multi_label: bool = False) -> list[str]:
        """The classes the label column names (as the in-memory path proposes them)."""
        return classes_in(self.labels or (), multi_label)

    def __iter__(self) -> Iterator[ItemBatch]:
        if not self.options:
            raise InvalidInput("Choose the columns first (TableChunks.configure).")
        self.done = 0
        for df in self.frames():
            batch = table_batch(df, start=self.done, **self.options)
            yield batch  # the store writes it before asking for the next one
            self.done += len(df)
            if self.progress is not None:
                self.progress(self.done, max(self.total, self.done))
        if self.done != self.total:
            self.total = self.done  # a CSV whose cells hold line breaks: the count is now exact
        if self.progress is not None:
            self.progress(self.done, self.done)


def table_chunks(
    source: str | os.PathLike | bytes | IO[bytes],
    *,
    encoding: str | None = None,
    sep: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    **options: Any,
) -> TableChunks:
    """A CSV / parquet file as chunks of ``chunk_rows`` rows, each an ``ItemBatch``.

    Parameters
    ----------
    source : path, bytes or binary file object
        A path is read as it is iterated, never whole.
    encoding, sep : str, optional
        As :func:`~.tables.read_table` (CSV only; detected from the first MB otherwise).
    progress : callable, optional
        ``progress(done, total)`` in rows, after each chunk was written.
    **options
        :func:`~.tables.table_batch`'s keyword arguments (``kind``, ``display_columns``,
        ``feature_columns``, ``label_column``, ``name_column``, ``labeller``); without
        them, call :meth:`TableChunks.configure` once the columns are chosen.

    Raises
    ------
    InvalidInput
        An unreadable or empty file, a column choice the first rows refuse; while
        iterating, any row ``table_batch`` or the store refuses, a column whose type
        changes in a later chunk (named with its first row).
    """
    chunks = TableChunks(source, encoding=encoding, sep=sep, chunk_rows=chunk_rows)
    chunks.progress = progress
    if options:
        chunks.configure(**options)
    return chunks


class VectorChunks:
    """Items from an ``.npy`` matrix (memory-mapped) and their names, a chunk at a time.

    Each item is a table row showing its name; its features are its vector. The
    rows are not copied until their chunk is written.
    """

    def __init__(
        self,
        npy: str | os.PathLike,
        names: Sequence[str],
        *,
        labeller: str = "import",
        chunk_rows: int = CHUNK_ROWS,
        progress: Progress | None = None,
    ) -> None:
        path = Path(npy)
        try:
            matrix = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InvalidInput(
                f"{path.name} is not a readable .npy array of numbers ({exc})."
            ) from None
        if matrix.dtype.kind not in "iuf":
            raise InvalidInput(
                f"{path.name} holds {matrix.dtype} values; features must be numbers."
            )
        if matrix.ndim != 2:
            raise InvalidInput(
                f"{path.name} is a {matrix.ndim}-D array; features are 2-D (one row per item)."
            )
        if len(names) != len(matrix):
            raise InvalidInput(
                f"The names file has {len(names)} name(s) for {len(matrix)} row(s) of {path.name}; they must match."
            )
        self.path, self.matrix, self.names = path, matrix, names
        self.kind, self.labels, self.payloads = "table", None, None
        self.labeller, self.chunk_rows, self.progress = labeller, max(1, int(chunk_rows)), progress
        self.total = len(matrix)

    def __len__(self) -> int:
        return self.total

    @property
    def features(self) -> np.ndarray:
        return np.asarray(self.matrix[:1])

    def _rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` read from the file (a read, not the map: mapped pages would stay in the RSS)."""
        m = self.matrix
        if not m.flags.c_contiguous:  # a Fortran-order file: its rows are not contiguous
            return np.array(m[lo:hi])
        width = m.shape[1]
        with open(self.path, "rb") as fh:
            fh.seek(m.offset + lo * width * m.dtype.itemsize)
            rows = np.fromfile(fh, dtype=m.dtype, count=(hi - lo) * width)
        return rows.reshape(hi - lo, width)

    def __iter__(self) -> Iterator[ItemBatch]:
        done = 0
        for lo in range(0, self.total, self.chunk_rows):
            hi = min(self.total, lo + self.chunk_rows)
            names = [str(n) for n in self.names[lo:hi]]
            yield ItemBatch(
                names=names,
                kind="table",
                features=self._rows(lo, hi),
                payloads=TableRows(pd.DataFrame({"name": names})),
                labeller=self.labeller,
            )
            done = hi
            if self.progress is not None:
                self.progress(done, self.total)


def vector_chunks(
    npy: str | os.PathLike,
    names: str | os.PathLike | Sequence[str],
    *,
    labeller: str = "import",
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> VectorChunks:
    """Items from an ``.npy`` of vectors and their names (a file: one per line, or a CSV/parquet ``name`` column).

    The matrix is memory-mapped: a chunk of rows is read when it is written. Refused
    (``InvalidInput``) before any write: an unreadable, non-numeric or non-2-D matrix,
    names that do not match its rows in number; while writing, a row with NaN or
    infinite values or a name used twice refuses the whole import.
    """
    if isinstance(names, str | os.PathLike):
        from .vectors import _names_from

        p = Path(names)
        if not p.is_file():
            raise InvalidInput(f"{p} does not exist or is not a file.")
        if p.suffix.lower() == ".parquet":
            names = (
                pq.read_table(p, columns=["name"]).column(0).cast(pa.string()).to_pylist()
                if "name" in pq.read_schema(p).names
                else _names_from(p.read_bytes(), p.name)
            )
        else:
            names = _names_from(p.read_bytes(), p.name)
    return VectorChunks(
        npy, list(names), labeller=labeller, chunk_rows=chunk_rows, progress=progress
    )
