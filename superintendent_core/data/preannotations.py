"""Importing pre-annotations: labels another model made, kept as suggestions (never as labels).

A file of ``name -> label[, score]``:

- CSV or parquet with columns ``name``, ``label`` (``"a|b"`` for several classes
  in a multi-label project) and optionally ``score``;
- JSONL, one object per line: ``{"name": ..., "label": ...}`` (or ``"labels": [...]``),
  optionally ``"score": number``.

Everything is checked before anything is saved, and a bad file is refused whole
with the problems listed (the first few and how many): names that are not items
of the project, a name given twice, classes that are not the project's, scores
that are not numbers, a file over :data:`MAX_BYTES`. Rows without a label are
ignored. The store keeps them apart from human labels
(:mod:`superintendent_core.store.preannotations`).
"""

from __future__ import annotations

import codecs
import json
import math
import os
from typing import IO, Any

import pandas as pd

from ..labels import cell_value, split_labels
from ..store.errors import InvalidInput
from ..store.protocol import LabelStore
from .export import restore_csv_cell
from .label_import import _jsonl_text, _one_label, _read_source, label_cell_text

__all__ = ["MAX_BYTES", "import_preannotations", "read_preannotations"]

#: Largest pre-annotation file read (bytes).
MAX_BYTES = 200 << 20
#: Problems named in a refusal.
SHOWN = 5


def _few(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _score(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: the score must be a number, not {value!r}; nothing was imported.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: the score {str(value)[:40]!r} is not a number; nothing was imported.") from None
    if not math.isfinite(out):
        raise InvalidInput(f"{where}: the score must be a finite number; nothing was imported.")
    return out


def _from_jsonl(data: bytes) -> pd.DataFrame:
    text = _jsonl_text(data)
    names, labels, scores = [], [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"Line {number}"
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise InvalidInput(f"{where} is not valid JSON; nothing was imported.") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"{where} is not a JSON object; nothing was imported.")
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where} has no 'name' (the item's name, as text); nothing was imported.")
        names.append(name)
        labels.append(_one_label(obj, where))
        scores.append(_score(obj.get("score"), where))
    return pd.DataFrame({"name": names, "label": labels, "score": scores}, dtype=object)


def _from_table(data: bytes, multi_label: bool) -> pd.DataFrame:
    from .tables import read_table

    table, _ = read_table(data)
    for column in ("name", "label"):
        if column not in table.columns:
            raise InvalidInput(f"The pre-annotation file needs a {column!r} column; its columns are "
                               f"{list(table.columns)[:12]}. Nothing was imported.")
    rows = table.dropna(subset=["label"])
    scores = ([_score(v, f"Row {k + 1}") for k, v in enumerate(rows["score"].tolist())]
              if "score" in rows.columns else [None] * len(rows))
    return pd.DataFrame({
        "name": [restore_csv_cell(str(n)) for n in rows["name"]],
        "label": [cell_value(label_cell_text(v), multi_label) for v in rows["label"]],
        "score": scores,
    }, dtype=object)


def read_preannotations(source: str | os.PathLike | bytes | IO[bytes], *, multi_label: bool = False) -> pd.DataFrame:
    """A pre-annotation file as a DataFrame ``name``, ``label`` (str or tuple of str), ``score`` (float or None).

    Raises ``InvalidInput`` for an empty, unreadable or too large file, or a bad row.
    """
    data = _read_source(source)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The pre-annotation file is {len(data) / 2**20:.0f} MB; at most "
                           f"{MAX_BYTES >> 20} MB is read. Split it; nothing was imported.")
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if not body.strip():
        raise InvalidInput("The pre-annotation file is empty; choose the file again.")
    frame = _from_jsonl(data) if body.lstrip()[:1] == b"{" else _from_table(data, multi_label)
    if frame.empty:
        raise InvalidInput("The pre-annotation file holds no labels; nothing was imported.")
    return frame


def import_preannotations(
    store: LabelStore, source: str | os.PathLike | bytes | IO[bytes], *, name: str = "import"
) -> int:
    """Save a file's pre-annotations in ``store``, all or none (see the module docstring).

    Parameters
    ----------
    store : LabelStore
    source : path, bytes or binary file object
    name : str, default="import"
        The source recorded with them (the model's or the file's name).

    Returns
    -------
    int
        How many were saved.
    """
    settings = store.settings
    frame = read_preannotations(source, multi_label=settings.multi_label)
    names = frame["name"].tolist()
    dup = frame["name"].duplicated(keep=False)
    if dup.any():
        twice = sorted(set(frame.loc[dup, "name"].tolist()))
        raise InvalidInput(f"{len(twice)} name(s) are given more than once, e.g. {_few([repr(n) for n in twice])}; "
                           "give each item one pre-annotation. Nothing was imported.")
    ids_by_name = {n: i for i, n in enumerate(store.names(range(len(store))))}
    unknown = [n for n in names if n not in ids_by_name]
    if unknown:
        raise InvalidInput(f"{len(unknown)} name(s) are not items of this project, e.g. "
                           f"{_few([repr(n) for n in unknown])}. Nothing was imported.")
    labels = [split_labels(v) if settings.multi_label and isinstance(v, str) else v for v in frame["label"]]
    bad = []
    for row, (n, label) in enumerate(zip(names, labels, strict=True)):
        parts = label if isinstance(label, tuple) else (label,)
        wrong = [p for p in parts if p not in settings.classes]
        if wrong:
            bad.append(f"{n!r} ({wrong[0]!r}, row {row + 1})")
    if bad:
        shown = ", ".join(repr(c) for c in settings.classes[:12])
        raise InvalidInput(f"{len(bad)} pre-annotation(s) name a class that is not the project's ({shown}): "
                           f"{_few(bad)}. Add the class first, or fix the file. Nothing was imported.")
    ids = [ids_by_name[n] for n in names]
    scores = [None if s is None else float(s) for s in frame["score"].tolist()]
    return store.save_preannotations(ids, labels, scores, source=name)
