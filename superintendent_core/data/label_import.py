"""Importing existing labels: a table (CSV or parquet with ``name`` and ``label`` columns) or JSONL.

JSONL is what :func:`~superintendent_core.data.formats.write_labels_jsonl`
writes: one object per line with ``name`` and ``label`` (a class) or ``labels``
(a list of classes, multi-label), optionally ``labeller`` and ``labels_by``
(every labeller's label on the item). Each object's own ``label``/``labeller``
is imported last for its item, so it is the label in force (the one trained on)
whatever ``labels_by`` says; the other labellers' labels in ``labels_by`` are
imported before it. ``time`` and ``source`` are not imported: like every import,
the labels are recorded now. Every line is checked before anything is recorded
(a broken line, an object without a name or a label, an unknown item, a class
that is not the project's): the import is all or nothing.
"""

from __future__ import annotations

import codecs
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ..labels import cell_value, split_labels
from ..store.errors import InvalidInput
from ..store.protocol import LabelStore
from .export import restore_csv_cell

__all__ = ["JsonlLabel", "import_label_table", "import_labels_file", "import_labels_jsonl", "label_cell_text", "read_labels_jsonl"]


def _read_source(source: Any) -> bytes:
    """The bytes of a labels file given as a path, bytes or a binary file object."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"{path} does not exist or is not a file.")
        return path.read_bytes()
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if hasattr(source, "read"):
        return source.read()
    raise InvalidInput(f"The labels file must be a path, bytes or a file object, not {type(source).__name__}.")


def label_cell_text(value: Any) -> str:
    """A label cell as text (a CSV column with gaps reads 3 as 3.0; the quote our CSV export
    puts before a formula-like text is removed)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return restore_csv_cell(str(value).strip())


def import_label_table(store: LabelStore, table: pd.DataFrame, *, labeller: str) -> int:
    """Record the labels of ``table`` in ``store``, all or none.

    Parameters
    ----------
    store : LabelStore
    table : DataFrame
        Columns ``name`` (an item's name in the project) and ``label`` (a class;
        ``"a|b"`` for several classes in a multi-label project); optionally
        ``labeller``. Rows without a label are ignored. A text cell that begins
        with ``'`` followed by ``= + - @``, a tab or a CR loses that one quote:
        it is how :func:`~superintendent_core.data.export.labels_csv` keeps
        spreadsheets from running formulas, so our CSV exports import unchanged.
    labeller : str
        Who made the labels of rows without a ``labeller`` column.

    Returns
    -------
    int
        The number of labels recorded.

    Raises
    ------
    InvalidInput
        A column is missing, a name is not an item of the project, or a row
        cannot be recorded (see :meth:`LabelStore.import_labels`); nothing is
        recorded then.
    """
    for column in ("name", "label"):
        if column not in table.columns:
            raise InvalidInput(f"The labels file needs a {column!r} column; its columns are {list(table.columns)}.")
    ids_by_name = {n: i for i, n in enumerate(store.names(range(len(store))))}
    rows = table.dropna(subset=["label"])
    names = [restore_csv_cell(str(n)) for n in rows["name"]]
    unknown = [n for n in names if n not in ids_by_name]
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} name(s) are not items of this project, e.g. {unknown[0]!r}; nothing was imported."
        )
    multi_label = store.settings.multi_label
    ids = [ids_by_name[name] for name in names]
    labels = [cell_value(label_cell_text(v), multi_label) for v in rows["label"]]
    who = [restore_csv_cell(w) for w in rows["labeller"].astype(str)] if "labeller" in rows.columns else labeller
    if not ids:
        return 0
    return store.import_labels(ids, labels, who)


# --------------------------------------------------------------------------- JSONL


@dataclass(frozen=True)
class JsonlLabel:
    """One label read from a JSONL line.

    Attributes
    ----------
    line : int
        1-based line number in the file (for messages).
    name : str
        The item's name.
    label : str or tuple of str
        A class (``label``) or classes (``labels``).
    labeller : str or None
        Who made it; None when the line does not say.
    """

    line: int
    name: str
    label: str | tuple[str, ...]
    labeller: str | None


def _jsonl_text(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"The JSONL file is not UTF-8 text (byte {exc.start}); nothing was imported.") from None


def _one_label(obj: dict[str, Any], where: str) -> str | tuple[str, ...]:
    if "labels" in obj:
        value = obj["labels"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{where}: 'labels' must be a list of class names; nothing was imported.")
        return tuple(value)
    if "label" in obj:
        value = obj["label"]
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: 'label' must be a class name (text), not {json.dumps(value)[:40]}; "
                               "nothing was imported.")
        return value
    raise InvalidInput(f"{where} has no 'label' (or 'labels'); nothing was imported.")


def _labeller(obj: dict[str, Any], where: str) -> str | None:
    who = obj.get("labeller")
    if who is not None and (not isinstance(who, str) or not who.strip()):
        raise InvalidInput(f"{where}: 'labeller' must be a name (non-empty text); nothing was imported.")
    return who


def read_labels_jsonl(source: str | os.PathLike | bytes | IO[bytes]) -> list[JsonlLabel]:
    """The labels of a JSONL file, in the order to record them, or ``InvalidInput`` naming the first bad line.

    Parameters
    ----------
    source : path, bytes or binary file object

    Returns
    -------
    list of JsonlLabel
        For each object: the labels of ``labels_by`` by other labellers, then
        the object's own label (so it is the item's most recent one).
    """
    data = _read_source(source)
    text = _jsonl_text(data)
    out: list[JsonlLabel] = []
    # Lines end at "\n" only: str.splitlines() would also cut at U+2028, U+0085 … that JSON leaves unescaped in names.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"Line {number}"
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise InvalidInput(f"{where} is not valid JSON ({reason}); nothing was imported.") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"{where} is not a JSON object ({{\"name\": …, \"label\": …}}); nothing was imported.")
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where} has no 'name' (the item's name, as text); nothing was imported.")
        label, who = _one_label(obj, where), _labeller(obj, where)
        others = obj.get("labels_by", [])
        if not isinstance(others, list) or not all(isinstance(o, dict) for o in others):
            raise InvalidInput(f"{where}: 'labels_by' must be a list of objects; nothing was imported.")
        for other in others:
            other_who = _labeller(other, f"{where} (labels_by)")
            if other_who is None:
                raise InvalidInput(f"{where}: an entry of 'labels_by' has no 'labeller'; nothing was imported.")
            if other_who != who:
                out.append(JsonlLabel(number, name, _one_label(other, f"{where} (labels_by)"), other_who))
        out.append(JsonlLabel(number, name, label, who))
    if not out:
        raise InvalidInput("The JSONL file holds no labels (no line with an object); nothing was imported.")
    return out


def _as_store_label(label: str | tuple[str, ...], multi_label: bool, classes: tuple[str, ...], where: str) -> Any:
    parts = label if isinstance(label, tuple) else (split_labels(label) if multi_label else (label,))
    if not multi_label and len(parts) != 1:
        raise InvalidInput(f"{where}: {len(parts)} classes given, but this project takes one label per item; "
                           "nothing was imported.")
    bad = [p for p in parts if p not in classes]
    if bad:
        shown = ", ".join(repr(c) for c in classes[:12]) + (" …" if len(classes) > 12 else "")
        raise InvalidInput(f"{where}: {bad[0]!r} is not one of the project's classes ({shown}); "
                           "nothing was imported.")
    return tuple(parts) if multi_label else parts[0]


def import_labels_jsonl(store: LabelStore, source: Any, *, labeller: str) -> int:
    """Record the labels of a JSONL file in ``store``, all or none (see the module docstring).

    Parameters
    ----------
    store : LabelStore
    source : path, bytes or binary file object
    labeller : str
        Who made the labels of objects without a ``labeller``.

    Returns
    -------
    int
        The number of labels recorded.
    """
    rows = read_labels_jsonl(source)
    settings = store.settings
    ids_by_name = {n: i for i, n in enumerate(store.names(range(len(store))))}
    ids, labels, who = [], [], []
    for row in rows:
        where = f"Line {row.line}"
        if row.name not in ids_by_name:
            unknown = sum(r.name not in ids_by_name for r in rows)
            raise InvalidInput(f"{where}: {row.name!r} is not an item of this project ({unknown} such name(s)); "
                               "nothing was imported.")
        ids.append(ids_by_name[row.name])
        labels.append(_as_store_label(row.label, settings.multi_label, settings.classes, where))
        who.append(row.labeller if row.labeller is not None else labeller)
    return store.import_labels(ids, labels, who)


def _is_jsonl(data: bytes) -> bool:
    head = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    return head.lstrip()[:1] == b"{"


def import_labels_file(store: LabelStore, source: str | os.PathLike | bytes | IO[bytes], *, labeller: str) -> int:
    """Record the labels of a file in ``store``, all or none: JSONL, CSV or parquet (told apart by content).

    A file whose first character is ``{`` is read as JSONL
    (:func:`import_labels_jsonl`); anything else as a table
    (:func:`~superintendent_core.data.tables.read_table`, then :func:`import_label_table`).

    Returns
    -------
    int
        The number of labels recorded.
    """
    from .tables import read_table

    data = _read_source(source)
    if not data.strip() or not data.lstrip(codecs.BOM_UTF8).strip():
        raise InvalidInput("The labels file is empty; choose the file again.")
    if _is_jsonl(data):
        return import_labels_jsonl(store, data, labeller=labeller)
    table, _ = read_table(data)
    return import_label_table(store, table, labeller=labeller)
