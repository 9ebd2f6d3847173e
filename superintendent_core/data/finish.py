"""Finish with the model: every item of a project, labelled by a person or by the model.

:func:`plan_finish` reads what a project has — its labels in force and the
latest model's predictions (an in-process
:class:`~superintendent_core.learning.training.ModelSnapshot`, or the
:class:`~superintendent_core.store.suggestions.Suggestions` a store keeps, so it
works in a process that did not retrain) — and returns a :class:`FinishPlan`:
counts, the accuracy estimate of the model-labelled part in plain words, and
whether the predictions predate the latest labels. :func:`write_finish` then
streams the table, one chunk of items at a time, as CSV or parquet:

========== =========================================================================
column      value
========== =========================================================================
item_id     the item's id (every item of the project, ascending)
name        the item's name
label       the human label in force (the most recent one: what the model trains
            on), else the model's prediction; multi-label classes joined by ``"|"``
            (:mod:`superintendent_core.labels`); empty when there is neither
probability the model's probability of its prediction (as the suggestions give it);
            empty for human labels and for items with no prediction
source      ``"human"``, ``"model"``, or ``"none"`` (no label and no prediction: an
            item added, or unlabelled again by an undo, after the last retrain;
            or no retrain yet)
========== =========================================================================

The CSV neutralises text cells a spreadsheet would run as a formula exactly as
the labels export does (:func:`~superintendent_core.data.export.neutralise_csv_cell`:
a leading ``'``, which :func:`~superintendent_core.data.export.restore_csv_cell`
removes again); parquet keeps the raw values.

Nothing here invents a number: the accuracy of the model-labelled part is the
latest retrain's estimate when it is for the pool items not yet labelled
(``estimate_target == "unlabelled"``); otherwise :attr:`FinishSummary.accuracy`
says in words why there is none.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..figures import ESTIMATE_KEYS, format_interval, format_percent
from ..store.errors import InvalidInput
from ..store.protocol import LabelStore
from .export import _QUOTED

__all__ = [
    "COLUMNS",
    "FORMATS",
    "FinishPlan",
    "FinishSummary",
    "Predictions",
    "finish_bytes",
    "finish_frames",
    "finish_tables",
    "model_predictions",
    "plan_finish",
    "write_finish",
]

#: Columns of the table, in order.
COLUMNS = ("item_id", "name", "label", "probability", "source")
#: File formats :func:`write_finish` writes.
FORMATS = ("csv", "parquet")
MIME = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
#: Items per chunk: names are read, and rows encoded, this many at a time.
CHUNK = 100_000
HUMAN, MODEL, NONE = "human", "model", "none"
#: Probabilities in the CSV are rounded to this many decimals (parquet keeps the float64).
PROBABILITY_DECIMALS = 6
#: A text cell a spreadsheet would run as a formula (the labels export's rule, :func:`neutralise_csv_cell`).
FORMULA_PATTERN = _QUOTED.pattern
SCHEMA = pa.schema([
    ("item_id", pa.int64()),
    ("name", pa.string()),
    ("label", pa.string()),
    ("probability", pa.float64()),
    ("source", pa.string()),
])


# --------------------------------------------------------------------------- the model's predictions


@dataclass(frozen=True)
class Predictions:
    """The latest model's predictions, whichever object held them.

    Attributes
    ----------
    ids : ndarray of int64
        Item ids with a prediction, ascending (the items unlabelled at the retrain).
    labels : ndarray of object
        The predicted label of each (str; multi-label joined by ``"|"``).
    probabilities : ndarray of float64
        The probability of that label.
    made : float or None
        ``time.time()`` when the retrain read its labels (None: unknown).
    n_labels : int or None
        Labelled items the model was trained on (None: unknown).
    estimate : dict
        The retrain's accuracy estimate as history keys (:data:`ESTIMATE_KEYS`); empty when unknown here.
    """

    ids: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    made: float | None = None
    n_labels: int | None = None
    estimate: dict[str, Any] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, not a number)."""
    if value is None or isinstance(value, bool | str | bytes):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _proportion(value: Any) -> float | None:
    """A number in [0, 1], or None."""
    out = _number(value)
    return out if out is not None and 0.0 <= out <= 1.0 else None


def _estimate_keys(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: source[k] for k in ESTIMATE_KEYS if k in source}


def model_predictions(model: Any) -> Predictions | None:
    """The predictions of a ``ModelSnapshot`` or of saved ``Suggestions`` (None: no model).

    A snapshot's time is when its retrain started (``finished - seconds``); saved
    suggestions' is their ``time`` minus the retrain's ``seconds`` when the
    retrain recorded them (``run_retrain`` does).
    """
    if model is None:
        return None
    if hasattr(model, "pool_ids"):  # ModelSnapshot (learning/training.py)
        estimate = getattr(model, "estimate", None)
        if estimate is None:
            estimate = getattr(getattr(model, "result", None), "estimate", None)
        entry = estimate.to_entry() if hasattr(estimate, "to_entry") else estimate if isinstance(estimate, Mapping) else {}
        finished, seconds = _number(getattr(model, "finished", None)), _number(getattr(model, "seconds", None))
        return Predictions(
            ids=np.asarray(model.pool_ids, dtype=np.int64),
            labels=np.asarray(model.pool_labels, dtype=object),
            probabilities=np.asarray(model.pool_probability, dtype=np.float64),
            made=None if finished is None else finished - (seconds or 0.0),
            n_labels=len(model.labelled_ids),
            estimate=_estimate_keys(entry),
        )
    if hasattr(model, "probabilities") and hasattr(model, "ids"):  # Suggestions (store/suggestions.py)
        meta = model.meta if isinstance(getattr(model, "meta", None), Mapping) else {}
        at, seconds = _number(meta.get("time")), _number(meta.get("seconds"))
        n_labels = _number(meta.get("n_labels"))
        ids = np.asarray(model.ids, dtype=np.int64)
        labels = np.asarray(model.labels, dtype=object)
        probabilities = np.asarray(model.probabilities, dtype=np.float64)
        if len(ids) > 1 and not bool((ids[1:] >= ids[:-1]).all()):  # the store keeps them sorted; a caller's
            order = np.argsort(ids, kind="stable")  # may not be (sorted ones are shared, not copied)
            ids, labels, probabilities = ids[order], labels[order], probabilities[order]
        return Predictions(
            ids=ids,
            labels=labels,
            probabilities=probabilities,
            made=None if at is None else at - (seconds or 0.0),
            n_labels=None if n_labels is None else int(n_labels),
            estimate=_estimate_keys(meta),
        )
    raise InvalidInput(f"Not a model's predictions: {type(model).__name__} (give a ModelSnapshot or Suggestions).")


# --------------------------------------------------------------------------- the summary


def _count(n: int, what: str, plural: str | None = None) -> str:
    return f"{n:,} {what if n == 1 else (plural or what + 's')}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f" (90 % interval {format_interval(low, high)})"


def _present_estimate(entry: Mapping[str, Any]) -> bool:
    return any(k in entry and entry[k] is not None and not (isinstance(entry[k], float) and math.isnan(entry[k]))
               for k in ("estimate", "estimate_target", "estimate_note"))


@dataclass(frozen=True)
class FinishSummary:
    """What the finished table holds, in counts and plain words.

    Attributes
    ----------
    n_items, n_human, n_model, n_none : int
        Rows, and rows by source (``n_human + n_model + n_none == n_items``).
    accuracy : str
        The estimated accuracy of the model-labelled rows, or why there is no number.
    estimate, estimate_low, estimate_high : float or None
        That estimate and its 90 % interval; None unless it is for the unlabelled items.
    estimate_target : str or None
        What the latest estimate is for (``"new"`` / ``"unlabelled"``), None when there is none.
    n_changed : int or None
        Items labelled or relabelled since the model's retrain (None: cannot be told).
    stale : str or None
        A sentence when the model's predictions predate the latest labels.
    """

    n_items: int
    n_human: int
    n_model: int
    n_none: int
    accuracy: str
    estimate: float | None = None
    estimate_low: float | None = None
    estimate_high: float | None = None
    estimate_target: str | None = None
    n_changed: int | None = None
    stale: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Rows by source."""
        return {HUMAN: self.n_human, MODEL: self.n_model, NONE: self.n_none}

    def headline(self) -> str:
        """One line: ``1,797 items: 120 human labels, 1,677 model predictions, 0 with neither.``"""
        return (f"{self.n_items:,} items: {self.n_human:,} labelled by people, {self.n_model:,} by the model, "
                f"{self.n_none:,} with neither.")

    def sentences(self) -> list[str]:
        """The headline, the accuracy sentence and, when the model is stale, why."""
        return [self.headline(), self.accuracy, *([self.stale] if self.stale else [])]


def _accuracy_text(entry: Mapping[str, Any], n_model: int, model: bool) -> tuple[str, dict[str, Any]]:
    """(sentence, the estimate's figures when they are for the unlabelled items)."""
    if not model:
        return "No model yet: retrain once to have the model label the items nobody labelled.", {}
    if n_model == 0:
        return "Nothing is labelled by the model: every item has a human label or no prediction.", {}
    if not _present_estimate(entry):
        return ("No estimate yet: the last retrain recorded no estimate of the model's accuracy "
                "(it needs labels of items served at random for the estimate)."), {}
    value, low, high = (_proportion(entry.get(k)) for k in ("estimate", "estimate_low", "estimate_high"))
    if low is None or high is None or value is None or not low <= value <= high:
        low = high = None  # no interval rather than a wrong one
    target = entry.get("estimate_target")
    target = target if isinstance(target, str) else None
    note = entry.get("estimate_note")
    note = note.strip() if isinstance(note, str) and note.strip() else None
    if value is None and entry.get("estimate") is not None and not (
            isinstance(entry.get("estimate"), float) and math.isnan(entry["estimate"])):
        note = f"the recorded estimate ({entry['estimate']!r}) is not a proportion between 0 and 1"
    n_audited = _number(entry.get("estimate_n"))
    if value is None:
        why = note or "the last retrain could not estimate the model's accuracy"
        return f"No estimate yet: {why.rstrip('.')}.", {"estimate_target": target}
    rests = f", from {int(n_audited):,} audited labels" if n_audited else ""
    if target == "unlabelled":
        return (f"Estimated accuracy of the {n_model:,} model-labelled items: {format_percent(value)}"
                f"{_interval(low, high)}{rests}."), {
            "estimate": value, "estimate_low": low, "estimate_high": high, "estimate_target": target}
    if target == "new":
        return (f"No estimate for the model-labelled items themselves: the estimate, {format_percent(value)}"
                f"{_interval(low, high)}, is for new items like the pool; the unlabelled items are what is "
                "left after active learning took the ones the model found hard, so its accuracy on them "
                "can differ from that figure."), {"estimate_target": target}
    return (f"No estimate for the model-labelled items: the last estimate does not say what it is for "
            f"({target!r})."), {"estimate_target": target}


def _latest_estimate(store: LabelStore, predictions: Predictions | None) -> dict[str, Any]:
    """The estimate of the model that made ``predictions``: its own record, else the history's latest retrain
    (unless that was recorded before this model's retrain started)."""
    if predictions is None:
        return {}
    if _present_estimate(predictions.estimate):
        return dict(predictions.estimate)
    history = store.history()
    if len(history) == 0:
        return {}
    row = history.iloc[-1].to_dict()
    recorded = row.get("time")
    if predictions.made is not None and isinstance(recorded, pd.Timestamp) and recorded.timestamp() < predictions.made:
        return {}  # recorded before this model's retrain started: another model's estimate
    return {k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in row.items() if k in ESTIMATE_KEYS and v is not pd.NA}


def _stale_text(predictions: Predictions, n_changed: int | None, n_unchanged: int | None, n_model: int) -> str | None:
    if predictions.made is None:
        return ("When the model's predictions were made is not recorded, so whether labels changed since "
                "cannot be told.")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(predictions.made))
    parts = []
    if n_changed:
        parts.append(f"{_count(n_changed, 'item was', 'items were')} labelled or relabelled since the retrain of {when}")
    undone = (predictions.n_labels - n_unchanged - (n_changed or 0)
              if predictions.n_labels is not None and n_unchanged is not None else 0)
    if undone > 0:
        parts.append(f"at least {_count(undone, 'label it was trained on was', 'labels it was trained on were')} undone")
    if not parts:
        return None
    which = ("the prediction of the 1 model-labelled item comes" if n_model == 1 else
             f"the predictions of the {n_model:,} model-labelled items come")
    return (f"The model's predictions predate the latest labels: {' and '.join(parts)}, so {which} from a model "
            "that had not seen those changes. Retrain for predictions from every label.")


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class FinishPlan:
    """Everything the table needs, read once so that the table and its summary agree.

    Labelling may go on while the table is written: it holds the labels and the
    items as they were when the plan was made. Make it with :func:`plan_finish`.
    """

    store: Any
    n_items: int
    human_ids: np.ndarray
    human_labels: np.ndarray
    predictions: Predictions | None
    summary: FinishSummary


def plan_finish(store: LabelStore, model: Any = None, *, use_saved: bool = True) -> FinishPlan:
    """Read a project's labels and its latest model's predictions.

    Parameters
    ----------
    store : LabelStore
    model : ModelSnapshot, Suggestions or None
        The latest model (the app passes ``RetrainScheduler.suggestions()``).
        None: the store's saved suggestions (``store.suggestions()``) when
        ``use_saved``, so a process that did not retrain (a restart, or
        ``orchestrate`` retrained) finishes with the model all the same.
    use_saved : bool, default=True

    Returns
    -------
    FinishPlan
    """
    if model is None and use_saved:
        model = store.suggestions()
    predictions = model_predictions(model)
    n_items = len(store)
    labels = store.labels()
    # The label in force that counts is the most recent one (what the model trains on); rows are oldest first.
    latest = labels.drop_duplicates("item_id", keep="last").sort_values("item_id", kind="stable")
    human_ids = latest["item_id"].to_numpy(dtype=np.int64)
    human_labels = latest["label"].to_numpy(dtype=object)
    keep = human_ids < n_items  # an item added between the two reads is left for the next plan
    human_ids, human_labels = human_ids[keep], human_labels[keep]
    n_human = len(human_ids)
    if predictions is not None:
        usable = (predictions.ids < n_items) & ~np.isin(predictions.ids, human_ids, assume_unique=True)
        n_model = int(usable.sum())
    else:
        n_model = 0
    n_changed = n_unchanged = None
    stale = None
    if predictions is not None and predictions.made is not None:
        seconds = ((latest["time"] - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()[keep]
        n_changed = int((seconds > predictions.made).sum())
        n_unchanged = n_human - n_changed
    if predictions is not None:
        stale = _stale_text(predictions, n_changed, n_unchanged, n_model)
    accuracy, figures = _accuracy_text(_latest_estimate(store, predictions), n_model, predictions is not None)
    summary = FinishSummary(
        n_items=n_items, n_human=n_human, n_model=n_model, n_none=n_items - n_human - n_model,
        accuracy=accuracy, n_changed=n_changed, stale=stale, **figures,
    )
    return FinishPlan(store, n_items, human_ids, human_labels, predictions, summary)


# --------------------------------------------------------------------------- the table


def _lookup(known: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hit mask, position in ``known``) of each id in sorted ``known``."""
    if len(known) == 0:
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.int64)
    pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
    return known[pos] == ids, pos


def finish_tables(plan: FinishPlan, *, chunk: int = CHUNK) -> Iterator[pa.Table]:
    """The table, ``chunk`` items at a time, as Arrow tables of :data:`SCHEMA` (raw values, nulls where empty)."""
    if not isinstance(chunk, int | np.integer) or chunk < 1:
        raise InvalidInput(f"chunk must be a whole number of items, at least 1; got {chunk!r}.")
    pred = plan.predictions
    for start in range(0, plan.n_items, int(chunk)):
        ids = np.arange(start, min(plan.n_items, start + int(chunk)), dtype=np.int64)
        label = np.full(len(ids), None, dtype=object)
        probability = np.full(len(ids), np.nan)
        source = np.full(len(ids), NONE, dtype=object)
        if pred is not None:
            hit, pos = _lookup(pred.ids, ids)
            label[hit] = pred.labels[pos[hit]]
            probability[hit] = pred.probabilities[pos[hit]]
            source[hit] = MODEL
        hit, pos = _lookup(plan.human_ids, ids)
        label[hit] = plan.human_labels[pos[hit]]
        probability[hit] = np.nan
        source[hit] = HUMAN
        yield pa.table([
            pa.array(ids, type=pa.int64()),
            pa.array(plan.store.names(ids), type=pa.string()),
            pa.array(label, type=pa.string()),
            pa.array(probability, type=pa.float64(), from_pandas=True),  # NaN → null
            pa.array(source, type=pa.string()),
        ], schema=SCHEMA)


def finish_frames(plan: FinishPlan, *, chunk: int = CHUNK) -> Iterator[pd.DataFrame]:
    """:func:`finish_tables` as DataFrames (None / NaN where empty)."""
    for table in finish_tables(plan, chunk=chunk):
        yield table.to_pandas()


def _neutralise(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """:func:`~superintendent_core.data.export.neutralise_csv_cell` on a whole string column."""
    formula = pc.match_substring_regex(column, FORMULA_PATTERN)
    return pc.if_else(formula, pc.binary_join_element_wise("'", column, ""), column)


def _csv_table(table: pa.Table) -> pa.Table:
    """What the CSV holds: text cells a spreadsheet would run neutralised, probabilities to 6 decimals."""
    return pa.table([
        table.column("item_id"),
        _neutralise(table.column("name")),
        _neutralise(table.column("label")),
        pc.round(table.column("probability"), PROBABILITY_DECIMALS),
        table.column("source"),
    ], schema=SCHEMA)


def write_finish(plan: FinishPlan, sink: IO[bytes], fmt: str = "csv", *, chunk: int = CHUNK) -> None:
    """Write the table to a binary file object, ``chunk`` items at a time.

    Parameters
    ----------
    plan : FinishPlan
    sink : binary file object
    fmt : {"csv", "parquet"}
        CSV: UTF-8, CRLF line ends (RFC 4180), every text cell in double quotes,
        an empty unquoted cell where there is no label or probability (so a
        multi-label prediction of no class, ``""``, differs from none);
        formula-like text cells neutralised with a leading ``'``; probabilities
        rounded to 6 decimals. Parquet: raw values, nulls where empty, one row
        group per chunk.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    tables = finish_tables(plan, chunk=chunk)
    if fmt == "csv":
        options = pacsv.WriteOptions(quoting_style="needed", eol="\r\n")
        with pacsv.CSVWriter(sink, SCHEMA, write_options=options) as writer:  # the header even with no items
            for table in tables:
                writer.write_table(_csv_table(table))
        return
    with pq.ParquetWriter(sink, SCHEMA, compression="zstd") as writer:
        for table in tables:
            writer.write_table(table)


def finish_bytes(store: LabelStore, model: Any = None, fmt: str = "csv", *,
                 chunk: int = CHUNK) -> tuple[bytes, FinishSummary]:
    """Every item as CSV or parquet bytes, and the summary (:func:`plan_finish` + :func:`write_finish`)."""
    plan = plan_finish(store, model)
    sink = io.BytesIO()
    write_finish(plan, sink, fmt, chunk=chunk)
    return sink.getvalue(), plan.summary
