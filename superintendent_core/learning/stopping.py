"""Reading the accuracy estimate's history: what it says now, and when to stop labelling.

Every retrain's history entry may carry the estimate of the model's accuracy
(the keys of ``AccuracyEstimate.to_entry()``: ``estimate``, ``estimate_low``,
``estimate_high``, ``estimate_target``, ``estimate_n``, ``estimate_note``). This
module turns ``store.history()`` into what a person reads, with the same words
in the app and in a notebook:

- :func:`estimate_curve`: one row per label count (the latest retrain at that
  count that has a value wins, so a restart's warm-up retrain adds no second
  point), with the estimate, its 90 % interval and the cross-validated score;
- :func:`describe_estimate` / :func:`latest_estimate`: the headline
  ("Estimated accuracy 93 % (90 % interval 89–96 %) on new items") and what it
  rests on, or, when there is no number, why not — never a made-up one;
- :func:`when_to_stop`: whether the estimate's gain over the last stretch of
  labels is within its own noise (:class:`StopAdvice`), with the figures in a
  sentence ("The estimate rose 0.4 points over the last 50 labels …").

History entries are free-form JSON written by any version of the app (or by
hand): every reader here tolerates missing keys, NaN, strings where numbers
belong and inconsistent intervals, and says so in plain words.

Nothing here imports scikit-learn or Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..figures import ESTIMATE_KEYS, format_interval, format_percent

__all__ = [
    "ESTIMATE_KEYS",
    "format_interval",
    "format_percent",
    "EstimateSummary",
    "StopAdvice",
    "describe_estimate",
    "estimate_curve",
    "latest_estimate",
    "when_to_stop",
]

#: Audited labels an estimate near 100 % must rest on before "little left to gain" is said: ten right
#: answers in a row happen half the time when the model is right 93 % of the time.
MIN_AUDITED_FOR_CEILING = 30

#: What each ``estimate_target`` means, as the end of the headline.
TARGETS = {"new": "on new items", "unlabelled": "on the items not yet labelled"}

#: Said when the entries carry none of the estimate's keys (written before the estimate existed).
PREDATES = "the retrains recorded so far predate the accuracy estimate: retrain to get one."
#: Said when nothing was recorded yet.
NO_RETRAIN = "no retrain recorded yet: label items of at least 2 classes, then retrain."
#: Said when an entry's numbers cannot be an estimate (outside 0–1, low above high …).
INVALID = ("the recorded estimate is not a valid accuracy with its 90 % interval (a number between 0 and 1 "
           "inside its interval), so it is not shown.")


# --------------------------------------------------------------------------- reading entries


def _number(value: Any) -> float:
    """A finite float, else NaN (None, NaN, inf, text that is not a number, bools …)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _checked(value: float, low: float, high: float) -> tuple[float, float, float, bool]:
    """``(value, low, high, valid)``: NaN everywhere when the three cannot be an accuracy and its interval.

    No value and no interval is valid (no estimate, for a reason the note gives). A value
    without its interval is not shown: a number a person acts on says how sure it is.
    """
    if math.isnan(value):
        return math.nan, math.nan, math.nan, math.isnan(low) and math.isnan(high)
    if not (0.0 <= low <= value <= high <= 1.0):  # NaN bounds fail this too
        return math.nan, math.nan, math.nan, False
    return value, low, high, True


@dataclass(frozen=True)
class _Entry:
    n_labels: int | None
    value: float
    low: float
    high: float
    target: str | None
    n_audited: int | None
    note: str | None
    has_keys: bool  # the entry carries any estimate key (else: written before the estimate existed)
    valid: bool


def _read_entry(entry: Mapping[str, Any]) -> _Entry:
    value, low, high, valid = _checked(
        _number(entry.get("estimate")), _number(entry.get("estimate_low")), _number(entry.get("estimate_high"))
    )
    n_labels = _number(entry.get("n_labels"))
    n_audited = _number(entry.get("estimate_n"))
    has_keys = any(_text(entry.get(k)) is not None for k in ESTIMATE_KEYS)
    return _Entry(
        n_labels=int(n_labels) if not math.isnan(n_labels) and n_labels >= 0 else None,
        value=value,
        low=low,
        high=high,
        target=_text(entry.get("estimate_target")),
        n_audited=int(n_audited) if not math.isnan(n_audited) and n_audited >= 0 else None,
        note=_text(entry.get("estimate_note")),
        has_keys=has_keys,
        valid=valid,
    )


def _records(history: pd.DataFrame | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if history is None or len(history) == 0:
        return []
    if isinstance(history, list):
        return history
    return history.to_dict("records")


# --------------------------------------------------------------------------- the curve

#: The columns of :func:`estimate_curve`.
_CURVE_COLUMNS = ["n_labels", "estimate", "estimate_low", "estimate_high", "score",
                  "estimate_target", "estimate_note", "model", "estimate_n"]


def estimate_curve(history: pd.DataFrame | list[dict[str, Any]] | None) -> pd.DataFrame:
    """One row per label count, oldest count first: the estimate, its interval and the CV score.

    A label count retrained twice (a restart's warm-up retrain, a retrain with no new
    label) gives one row: its latest entry's, except that the estimate (with its interval,
    target and note) comes from the latest entry at that count that has one, and the score
    from the latest that has one. A chart of it has one point per label count and series,
    and agrees with :func:`latest_estimate` (which also shows the latest entry that has one).

    Parameters
    ----------
    history : DataFrame or None
        ``store.history()``: oldest entry first; any of the estimate's keys may be missing.

    Returns
    -------
    DataFrame
        Columns ``n_labels`` (int64), ``estimate``, ``estimate_low``, ``estimate_high``,
        ``score`` (float64, NaN where unknown or not valid), ``estimate_target``,
        ``estimate_note``, ``model`` (object, None where unknown), ``estimate_n`` (float64).
        Entries without a usable ``n_labels`` are left out.
    """
    latest: dict[int, dict[str, Any]] = {}  # label count -> its row (entries are oldest first: later ones win)
    for entry in _records(history):
        read = _read_entry(entry)
        if read.n_labels is None:
            continue
        row = latest.setdefault(read.n_labels, {"n_labels": read.n_labels, "estimate": math.nan,
                                                "estimate_low": math.nan, "estimate_high": math.nan,
                                                "score": math.nan, "estimate_target": None, "estimate_note": None,
                                                "model": None, "estimate_n": math.nan})
        row["model"] = _text(entry.get("model"))
        score = _number(entry.get("score"))
        if not math.isnan(score):
            row["score"] = score
        if not math.isnan(read.value):
            row.update(estimate=read.value, estimate_low=read.low, estimate_high=read.high,
                       estimate_target=read.target, estimate_note=read.note,
                       estimate_n=math.nan if read.n_audited is None else float(read.n_audited))
        elif math.isnan(row["estimate"]):  # no estimate at this count yet: say why (this entry's words)
            row.update(estimate_target=read.target, estimate_note=read.note if read.valid else INVALID)
    frame = pd.DataFrame([latest[n] for n in sorted(latest)], columns=_CURVE_COLUMNS)
    frame["n_labels"] = frame["n_labels"].astype(np.int64)
    for column in ("estimate", "estimate_low", "estimate_high", "score", "estimate_n"):
        frame[column] = frame[column].astype(float)
    for column in ("estimate_target", "estimate_note", "model"):
        frame[column] = frame[column].astype(object)
    return frame


# --------------------------------------------------------------------------- the headline


@dataclass(frozen=True)
class EstimateSummary:
    """What the estimate says, in numbers and in words.

    Attributes
    ----------
    value, low, high : float or None
        The estimated accuracy and its 90 % interval; None when not known.
    target : str or None
        ``"new"`` or ``"unlabelled"`` (what the estimate is about), None when not known.
    n_audited : int or None
        Audited labels (drawn at random with a known chance) the estimate rests on.
    n_labels : int or None
        Labels the model behind the estimate was trained on.
    headline : str
        ``"Estimated accuracy 93 % (90 % interval 89–96 %) on new items"``, or, without a
        number, ``"No accuracy estimate yet"``.
    basis : str
        One line: what the number rests on, or why there is none.
    """

    value: float | None
    low: float | None
    high: float | None
    target: str | None
    n_audited: int | None
    n_labels: int | None
    headline: str
    basis: str

    @property
    def known(self) -> bool:
        """Whether there is a number."""
        return self.value is not None


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def _none(reason: str, n_labels: int | None = None) -> EstimateSummary:
    return EstimateSummary(None, None, None, None, None, n_labels, "No accuracy estimate yet", _sentence(reason))


def _summary(read: _Entry) -> EstimateSummary:
    """The headline of one entry that has a valid value."""
    interval = f" (90 % interval {format_interval(read.low, read.high)})"
    target = TARGETS.get(read.target or "")
    if read.value >= 1.0 and read.low is not None and read.low < 1.0:
        # no audited label was wrong: the point reads 1, which is not a finding; the interval is
        headline = f"Estimated accuracy: no audited label was wrong{interval}"
    else:
        headline = f"Estimated accuracy {format_percent(read.value)}{interval}"
    headline += f" {target}" if target else ""
    sentences = []
    if read.note:  # the estimator's own words on what it rests on (its method, the audited labels)
        sentences.append(read.note)
        if read.n_labels is not None:
            sentences.append(f"Model trained on {read.n_labels:,} labels")
    elif read.n_audited is not None:
        of = f"{read.n_audited:,} of the {read.n_labels:,} labels" if read.n_labels is not None else (
            f"{read.n_audited:,} audited label{'' if read.n_audited == 1 else 's'}")
        sentences.append(f"Rests on {of}: items drawn at random with a known chance (audited), "
                         "each scored by a model that did not train on it")
    elif read.n_labels is not None:
        sentences.append(f"For the model trained on {read.n_labels:,} labels; how many audited labels it rests "
                         "on was not recorded")
    if target is None:
        sentences.append("Which items it is about was not recorded")
    basis = " ".join(_sentence(text) for text in sentences)
    return EstimateSummary(
        value=read.value,
        low=read.low,
        high=read.high,
        target=read.target if target else None,
        n_audited=read.n_audited,
        n_labels=read.n_labels,
        headline=headline,
        basis=basis,
    )


def _why_not(read: _Entry) -> str:
    if not read.valid:
        return INVALID
    if read.note:
        return read.note
    if not read.has_keys:
        return PREDATES
    return "the retrain did not say why there is no estimate."


def describe_estimate(estimate: Any) -> EstimateSummary:
    """The headline of one estimate: an ``AccuracyEstimate``, or a history entry (a mapping).

    Parameters
    ----------
    estimate : AccuracyEstimate, mapping or None
        An object with ``to_entry()`` (its ``n_labels`` attribute is used when present), or
        a history entry with the keys of :data:`ESTIMATE_KEYS` and ``n_labels``. None: no estimate.

    Returns
    -------
    EstimateSummary
    """
    if estimate is None:
        return _none("this retrain computed no estimate.")
    if hasattr(estimate, "to_entry"):
        entry = dict(estimate.to_entry())
        entry.setdefault("n_labels", getattr(estimate, "n_labels", None))
    elif isinstance(estimate, Mapping):
        entry = dict(estimate)
    else:
        raise TypeError(f"describe_estimate takes an AccuracyEstimate or a mapping, not {type(estimate).__name__}")
    read = _read_entry(entry)
    if math.isnan(read.value):
        return _none(_why_not(read), read.n_labels)
    return _summary(read)


def latest_estimate(history: pd.DataFrame | None) -> EstimateSummary:
    """The headline from the latest history entry that has an estimate.

    When the latest entry has none but an older one has, the older one is shown and
    :attr:`EstimateSummary.basis` says so (and why the latest has none). When no
    entry has one, the latest entry's reason is given instead of a number.

    Parameters
    ----------
    history : DataFrame or None
        ``store.history()``, oldest first.

    Returns
    -------
    EstimateSummary
    """
    entries = [(e, _read_entry(e)) for e in _records(history)]
    if not entries:
        return _none(NO_RETRAIN)
    last = entries[-1][1]
    with_value = [r for _, r in entries if not math.isnan(r.value)]
    if not with_value:
        return _none(_why_not(last), last.n_labels)
    shown = with_value[-1]
    summary = _summary(shown)
    if shown is last:
        return summary
    at = f"{shown.n_labels:,} labels" if shown.n_labels is not None else "an earlier retrain"
    latest = f"{last.n_labels:,} labels" if last.n_labels is not None else "an unknown number of labels"
    if last.valid and not last.note and not last.has_keys:
        why = "recorded none"  # written by a version without the estimate, or by hand
    else:
        why = f"has none: {_why_not(last).rstrip('.')}"
    stale = f"This is the estimate of the retrain at {at}; the latest retrain ({latest}) {why}."
    return EstimateSummary(**{**summary.__dict__, "basis": f"{summary.basis} {stale}".strip()})


# --------------------------------------------------------------------------- when to stop


@dataclass(frozen=True)
class StopAdvice:
    """Whether more labels are likely to help, with the figures behind it.

    Attributes
    ----------
    stop : bool or None
        True: the estimate's gain over the last stretch is within its noise (a plateau), or
        the estimate is within its noise of 100 %.
        False: it moved by more than its noise (still improving, or falling).
        None: it cannot be told yet (too little history, or the estimate still too noisy).
    gain : float or None
        Change of the estimate's trend over the stretch, in accuracy (0.004 = 0.4 points).
    noise : float or None
        Half-width of the latest estimate's 90 % interval, in accuracy.
    stretch : int or None
        Labels the stretch spans (first to last retrain in it).
    start, end : float or None
        The trend's value at the first and last label count of the stretch.
    n_points : int
        Label counts with an estimate in the stretch (or in the whole history when too short).
    sentence : str
        The advice in plain words, with the figures.
    """

    stop: bool | None
    gain: float | None
    noise: float | None
    stretch: int | None
    start: float | None
    end: float | None
    n_points: int
    sentence: str


def _points(x: float) -> str:
    return f"{100 * abs(x):.1f} points"


def _same_run(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int | None]:
    """The trailing entries with the latest entry's model and target, and the label count where that run began
    (None when the run is the whole history)."""
    if not records:
        return records, None
    key = [(_text(e.get("model")), _text(e.get("estimate_target"))) for e in records]
    last_model, last_target = key[-1]
    start = len(records)
    for i in range(len(records) - 1, -1, -1):
        model, target = key[i]
        model_differs = model is not None and last_model is not None and model != last_model
        target_differs = target is not None and last_target is not None and target != last_target
        if model_differs or target_differs:
            break
        start = i
    if start == 0:
        return records, None
    return records[start:], _read_entry(records[start]).n_labels


def when_to_stop(
    history: pd.DataFrame | None,
    *,
    fraction: float = 1 / 3,
    min_stretch: int = 30,
    min_points: int = 3,
    max_noise: float = 0.05,
) -> StopAdvice:
    """Whether the estimate still rises by more than its own noise.

    The rule: take the last stretch of labels — the last ``fraction`` of them, at least
    ``min_stretch`` labels and at least the last ``min_points`` label counts with an
    estimate — fit a straight line to the estimates in it (least squares over label
    counts) and compare the line's rise over the stretch (the *gain*) with the *noise*,
    the half-width of the latest estimate's 90 % interval. Gain within ± noise: stop
    (a plateau) — provided the noise is at most ``max_noise``; above: still improving;
    below: the estimate fell by more than its noise.

    Why this rule:

    - *The gain is what more labels bought recently.* Learning curves have diminishing
      returns (roughly linear in the logarithm of the label count), so the next stretch
      of the same *relative* size is expected to buy no more than the last one did.
      That is why the stretch is a fraction of the labels (the last third ≈ the
      step from 2n/3 to n, the same ratio as n to 1.5n) rather than a fixed number: a
      fixed 50 labels would call a plateau too early on a large project, where 50
      labels are a small step.
    - *Its own noise is the scale a person can see.* When the estimate's rise over the
      stretch is smaller than its interval's half-width, the estimate could not even
      tell the next stretch's gain apart from nothing: more labels are unlikely to
      help this model *by an amount anyone could measure here*. The latest half-width is
      the number printed in the headline's interval, so the advice reads against it.
      Consecutive estimates share most of their audited labels, so their errors are
      strongly correlated and the trend is smoother than independent errors would
      make it; comparing with the interval half-width (not the slope's standard error)
      keeps the rule from calling every wiggle progress.
    - *A plateau is only claimed at a precision a person acts on* (``max_noise``, 5 points).
      Early on the interval is wide (±15 points at 50 labels is common): any gain is then
      "within the noise", which says nothing. Measured with ``benchmarks/bench_stopping.py``
      without this condition, the rule said stop at 40–70 labels on digits with 3–8 points
      still to gain, and on a harder set with 11–16 points to gain. Wider than
      ``max_noise``, it says that a plateau cannot be told yet; a rise beyond even a wide
      noise still counts as improving.
    - *Nothing left to gain:* an estimate within its noise of 100 % is a plateau whatever
      its trend (the trend cannot go on rising there).
    - *A trend, not two endpoints,* so that one noisy retrain cannot decide; at least
      ``min_points`` label counts spanning ``min_stretch`` labels, else "not enough history".
    - *Only the current model.* Entries from before the model (or the estimate's target)
      last changed are left out: a jump from switching models is not a gain from labels.
      Retrains at label counts above the latest one (labels since undone) are left out too.

    What it does not say: that another model or strategy would not do better, or that
    the accuracy is good enough for the purpose — that is the person's call.

    Parameters
    ----------
    history : DataFrame or None
        ``store.history()`` (columns ``n_labels``, ``estimate``, ``estimate_low``,
        ``estimate_high``; ``model`` and ``estimate_target`` used when present). Missing
        keys, NaN and invalid intervals count as "no estimate at that label count".
    fraction : float, default=1/3
        Share of the labels the stretch covers.
    min_stretch : int, default=30
        The stretch covers at least this many labels.
    min_points : int, default=3
        Label counts with an estimate the trend needs.
    max_noise : float, default=0.05
        Widest half-interval (in accuracy, 0.05 = 5 points) at which a plateau is called.

    Returns
    -------
    StopAdvice
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if not 0 < max_noise <= 1:
        raise ValueError(f"max_noise must be in (0, 1], got {max_noise!r}")
    if min_stretch < 1 or min_points < 2:
        raise ValueError(f"min_stretch must be ≥ 1 and min_points ≥ 2, got {min_stretch!r}, {min_points!r}")
    need = f"need estimates at ≥ {min_points} label counts spanning {min_stretch} labels"
    run, began = _same_run(_records(history))
    curve = estimate_curve(run)
    latest = _read_entry(run[-1]).n_labels if run else None
    if latest is not None:
        curve = curve[curve["n_labels"] <= latest]
    curve = curve.dropna(subset=["estimate"])
    changed = f" since the model changed at {began:,} labels" if began is not None else ""
    if len(curve) == 0:
        return StopAdvice(None, None, None, None, None, None, 0,
                          f"Not enough history yet to say when to stop: no estimate recorded{changed} ({need}).")
    n = curve["n_labels"].to_numpy(dtype=float)
    y = curve["estimate"].to_numpy(dtype=float)
    n_last = n[-1]
    stretch = max(float(min_stretch), math.ceil(fraction * n_last))
    inside = n >= n_last - stretch
    if inside.sum() < min_points:
        inside = np.zeros(len(n), dtype=bool)
        inside[-min_points:] = True
    xs, ys = n[inside], y[inside]
    span = int(xs[-1] - xs[0]) if len(xs) else 0
    if len(xs) < min_points or span < min_stretch:
        have = f"have {len(xs)} spanning {span} label{'s' if span != 1 else ''}"
        return StopAdvice(None, None, None, span, None, None, int(len(xs)),
                          f"Not enough history yet to say when to stop ({need}{changed}; {have}).")
    slope, intercept = np.polyfit(xs - xs[0], ys, 1)
    # the trend's ends, kept within 0–100 % (a straight line through estimates near 100 % may overshoot)
    start, end = (min(1.0, max(0.0, float(v))) for v in (intercept, intercept + slope * span))
    gain = end - start
    low, high = curve["estimate_low"].iloc[-1], curve["estimate_high"].iloc[-1]  # always there (see _checked)
    over = f"over the last {span:,} labels ({100 * start:.1f} % → {100 * end:.1f} %)"
    noise = (float(high) - float(low)) / 2
    figures = dict(gain=gain, noise=noise, stretch=span, start=start, end=end, n_points=int(len(xs)))
    latest_value = float(ys[-1])
    audited = curve["estimate_n"].iloc[-1]
    if 1 - latest_value <= noise <= max_noise + 1e-12 and not (audited >= MIN_AUDITED_FOR_CEILING):
        return StopAdvice(
            None, sentence=(f"Too early to call: the estimate is {100 * latest_value:.1f} % (±{_points(noise)}), "
                            f"but it rests on {'an unknown number of' if math.isnan(audited) else int(audited)} "
                            f"audited labels; with fewer than {MIN_AUDITED_FOR_CEILING} a run of right answers "
                            "says little."), **figures)
    if 1 - latest_value <= noise <= max_noise + 1e-12:
        return StopAdvice(
            True, sentence=(f"The estimate is {100 * latest_value:.1f} %, within its noise (±{_points(noise)}) of "
                            "100 %: there is little left for more labels to gain."), **figures)
    if abs(gain) <= noise and noise > max_noise + 1e-12:  # (high - low) / 2 of 0.05 may be 0.0500…01
        trend = "held steady" if round(100 * gain, 1) == 0 else f"{'rose' if gain > 0 else 'fell'} {_points(gain)}"
        return StopAdvice(
            None, sentence=(f"Too early to call a plateau: the estimate {trend} {over}, but its noise "
                            f"(±{_points(noise)}) is wider than {_points(max_noise)}, so a gain of several points "
                            "would not show yet; the interval narrows as audited labels come in."), **figures)
    if abs(gain) <= noise:
        if round(100 * gain, 1) == 0:
            moved = f"held steady {over}, within"
        else:
            moved = f"{'rose' if gain > 0 else 'fell'} {_points(gain)} {over}, less than"
        return StopAdvice(
            True, sentence=(f"The estimate {moved} its noise (±{_points(noise)}): "
                            "more labels are unlikely to help this model much."), **figures)
    if gain > 0:
        return StopAdvice(
            False, sentence=(f"Still improving: +{_points(gain)} {over}, more than its noise "
                             f"(±{_points(noise)})."), **figures)
    return StopAdvice(
        False, sentence=(f"The estimate fell {_points(gain)} {over}, more than its noise (±{_points(noise)}): "
                         "not a plateau; look at the recent labels before stopping."), **figures)
