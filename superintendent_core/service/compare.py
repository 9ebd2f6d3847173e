"""Compare strategies on a project's own labels: replay them through :func:`simulate`.

The labelled items of a single-label project are a data set with known answers.
:func:`run_comparison` replays them as the oracle for a few strategies — the
project's default, margin, random and the project's current one (each once) —
and returns a learning curve per strategy with a plain-words recommendation.
:class:`ComparisonRunner` runs that in a separate, low-priority process, with
progress and cancellation, so that labelling goes on at full speed meanwhile.

The protocol (:class:`CompareParameters` holds every number):

* **Which labels.** Every labelled item, on its current label (at most
  ``max_items`` of them, drawn at random). Classes with fewer than 2 labels are
  left out (a class needs one label on each side of the split) and the result
  says so.
* **Test set.** For each seed, a stratified random ``test_fraction`` of those
  items is held out; the rest is the pool the strategies choose from. The test
  items were themselves chosen actively (mostly the ones the model found hard),
  so the accuracies read low in absolute terms: they are accuracies *on the
  project's own labelled items*, not on new items. Every strategy is scored on
  the same held-out items in a seed, so the *comparison* between strategies is
  fair; the absolute numbers are not an estimate of the model's accuracy (the
  Model page's estimate is that).
* **Replay.** ``simulate(pool, test, model, strategy, initial, batch_size,
  budget, shuffle_prop, random_state=seed, estimate=False)`` (the app's audit
  draws included, as the app serves them) with the project's model and shuffle
  proportion; ``budget = min(pool size, max_budget)``; ``batch_size`` chosen so
  that each replay has about ``retrains`` retrains (one fit each).
* **Seeds.** Each seed has its own split and its own replay randomness, shared
  by every strategy (paired runs).

The recommendation rule is :func:`recommend`'s docstring.

Nothing here imports Streamlit; scikit-learn is imported when a replay runs.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..store.protocol import LabelStore, ProjectSettings

__all__ = [
    "MIN_GAIN",
    "MIN_LABELS",
    "MIN_PER_CLASS",
    "CompareParameters",
    "ComparisonCancelled",
    "ComparisonData",
    "ComparisonResult",
    "ComparisonRunner",
    "JobStatus",
    "comparison_data",
    "recommend",
    "refusal",
    "run_comparison",
    "strategies_to_compare",
]

#: Labels (in classes with at least :data:`MIN_PER_CLASS` labels) below which no comparison is run.
MIN_LABELS = 40
#: Labels a class needs to take part (one on each side of the train/test split).
MIN_PER_CLASS = 2
#: Smallest gain in mean accuracy over the replay (0.01 = one point) worth a switch.
MIN_GAIN = 0.01
#: How a comparison names the project's default strategy.
DEFAULT_WORDS = "the default"

#: ``progress(fraction, message)``.
ProgressCallback = Callable[[float, str], None]


class ComparisonCancelled(Exception):
    """The comparison was cancelled before it finished."""


@dataclass(frozen=True)
class CompareParameters:
    """The numbers of the replay protocol (see the module docstring).

    Attributes
    ----------
    seeds : tuple of int, default=(0, 1, 2)
        One split and one replay per seed and strategy; the curves show their mean.
    test_fraction : float, default=0.3
        Share of the labelled items held out to score each retrain.
    max_items : int, default=2000
        At most this many labelled items take part (a random draw, seed ``sample_seed``).
    max_budget : int, default=300
        Labels each replay spends at most (the pool size when smaller).
    initial : int, default=10
        Labels before the first retrain of a replay.
    retrains : int, default=25
        About this many retrains per replay: ``batch_size = ceil((budget - initial) / retrains)``.
    sample_seed : int, default=0
        Seed of the draw of ``max_items``.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    test_fraction: float = 0.3
    max_items: int = 2000
    max_budget: int = 300
    initial: int = 10
    retrains: int = 25
    sample_seed: int = 0

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must name at least one seed.")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {self.test_fraction!r}.")
        for name in ("max_items", "max_budget", "initial", "retrains"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}.")


@dataclass(frozen=True)
class ComparisonData:
    """What a replay needs, read from a project (picklable: it goes to the worker process).

    Attributes
    ----------
    X : array-like of shape (n, ...)
        Features of the labelled items taking part.
    y : ndarray of str, shape (n,)
    model : estimator
        The project's model, unfitted (cloned for every fit).
    strategies : tuple of str
        Registered names to replay, the current one included.
    current : str
        The project's current strategy (a name in ``strategies``).
    shuffle_prop : float
    audit_share : float
        The project's share of items drawn at random for the estimate: the replays serve as the app does.
    n_labelled : int
        Labels the project had (before leaving out small classes and drawing ``max_items``).
    notes : tuple of str
        Plain-words facts about the data (classes left out, a draw of the labels ...).
    key : tuple
        What the result is valid for (see :meth:`ComparisonRunner.key`).
    parameters : CompareParameters
    """

    X: Any
    y: np.ndarray
    model: Any
    strategies: tuple[str, ...]
    current: str
    shuffle_prop: float = 0.0
    audit_share: float = 0.2
    n_labelled: int = 0
    notes: tuple[str, ...] = ()
    key: tuple = ()
    parameters: CompareParameters = field(default_factory=CompareParameters)


@dataclass(frozen=True)
class ComparisonResult:
    """The outcome of a comparison.

    Attributes
    ----------
    curves : pandas.DataFrame
        One row per strategy and label count: ``strategy``, ``n_labels``,
        ``accuracy`` (mean over the seeds), ``accuracy_sd`` (their standard
        deviation; 0 with one seed), ``accuracy_low`` / ``accuracy_high`` (the
        lowest and highest seed), ``runs``. Accuracies are on held-out labelled
        items of the project (see the module docstring).
    runs : pandas.DataFrame
        Every replay's curve on the common grid: ``strategy``, ``seed``, ``n_labels``, ``accuracy``.
    summary : pandas.DataFrame
        One row per strategy: ``strategy``, ``mean_accuracy`` (mean over the
        grid and the seeds), ``final_accuracy``, ``gain`` (``mean_accuracy``
        minus the current strategy's, paired by seed), ``wins`` (seeds where
        it beat the current one), ``labels_to_target``.
    current : str
    recommended : str or None
        The strategy to switch to, or None: keep the current one.
    advice : str
        The recommendation in plain words, with its figures.
    target : float
        90 % of the best final mean accuracy: what ``labels_to_target`` counts labels to.
    n_labelled, n_items, n_pool, n_test, budget, batch_size, initial : int
        Labels the project had; items taking part; pool and test size per seed;
        the replay's parameters.
    seeds : tuple of int
    seconds : float
        Wall time of the replays.
    notes : tuple of str
    key : tuple
    """

    curves: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    current: str
    recommended: str | None
    advice: str
    target: float
    n_labelled: int
    n_items: int
    n_pool: int
    n_test: int
    budget: int
    batch_size: int
    initial: int
    seeds: tuple[int, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    key: tuple = ()

    @property
    def parameters_text(self) -> str:
        """The protocol in one sentence, with its figures."""
        seeds = len(self.seeds)
        return (
            f"{self.n_items:,} labelled items; per run {self.n_pool:,} of them replayed as the pool and "
            f"{self.n_test:,} held out as the test set; {self.initial} labels to start, then a retrain "
            f"every {self.batch_size} label{'s' if self.batch_size != 1 else ''} up to {self.budget:,}; "
            f"{seeds} run{'s' if seeds != 1 else ''} per strategy (different splits), mean shown; "
            f"{self.seconds:.0f} s."
        )


# --------------------------------------------------------------------------- which strategies, refusals


def display_name(name: str) -> str:
    """``the default (neighbourhood)`` for the project's default, the name otherwise."""
    from ..strategies.neighbourhood import DEFAULT_STRATEGY

    return f"{DEFAULT_WORDS} ({name})" if name == DEFAULT_STRATEGY else name


def strategies_to_compare(current: str | None) -> tuple[tuple[str, ...], str]:
    """``(names, current)``: the default, margin, random and the current strategy, each once.

    ``current`` None is the default. A current strategy that is not registered
    in this process cannot be replayed; it is left out (the default then stands
    for it as the reference, and :func:`comparison_data` says so).
    """
    from ..strategies import DEFAULT_STRATEGY, strategy_names

    current = DEFAULT_STRATEGY if current is None else str(current)
    names = [DEFAULT_STRATEGY, "margin", "random"]
    if current in strategy_names() and current not in names:
        names.append(current)
    return tuple(names), current if current in names else DEFAULT_STRATEGY


def refusal(settings: ProjectSettings, per_class: Mapping[str, int]) -> str | None:
    """Why no comparison can run on these labels (plain words), or None when one can.

    Parameters
    ----------
    settings : ProjectSettings
    per_class : mapping of class name to label count
        As :attr:`Progress.per_class` gives it.
    """
    if settings.multi_label:
        return (
            "Comparing strategies works on single-label projects only: this project is multi-label, "
            "and the replay scores one label per item."
        )
    counts = {str(k): int(v) for k, v in per_class.items()}
    total = sum(counts.values())
    usable = {k: v for k, v in counts.items() if v >= MIN_PER_CLASS}
    n_usable = sum(usable.values())
    if total == 0:
        return f"Not enough labels to compare strategies: none yet. It needs at least {MIN_LABELS} labels in at least 2 classes."
    if len(usable) < 2:
        used = [f"{k}: {v}" for k, v in counts.items() if v]
        have = (", ".join(used[:10]) + (f" and {len(used) - 10} more" if len(used) > 10 else "")) or "none"
        return (
            f"Not enough classes to compare strategies: it needs at least 2 classes with {MIN_PER_CLASS} "
            f"labels or more each (labels per class now: {have})."
        )
    if n_usable < MIN_LABELS:
        left_out = total - n_usable
        extra = f" ({left_out} more in classes with fewer than {MIN_PER_CLASS} labels do not count)" if left_out else ""
        return (
            f"Not enough labels to compare strategies: it needs at least {MIN_LABELS} labels in classes "
            f"with {MIN_PER_CLASS} or more labels each; the project has {n_usable}{extra}. "
            f"Label {MIN_LABELS - n_usable} more."
        )
    return None


def comparison_data(
    store: LabelStore, parameters: CompareParameters | None = None, *, key: tuple = ()
) -> ComparisonData:
    """Read what a comparison needs from a project.

    Raises
    ------
    ValueError
        The labels cannot support a comparison (see :func:`refusal`); the message says why.
    """
    from ..learning.training import _model_for  # the retrain's own choice of model (text projects)

    parameters = parameters or CompareParameters()
    settings = store.settings
    progress = store.progress()
    reason = refusal(settings, progress.per_class)
    if reason is not None:
        raise ValueError(reason)
    ids, X, y = store.training_data()
    y = np.asarray([str(v) for v in y], dtype=object)
    n_labelled = len(y)
    notes: list[str] = []
    classes, counts = np.unique(y, return_counts=True)
    small = classes[counts < MIN_PER_CLASS]
    keep = ~np.isin(y, small)
    if len(small):
        notes.append(
            f"Left out {int((~keep).sum())} label(s) of {len(small)} class(es) with fewer than "
            f"{MIN_PER_CLASS} labels: {', '.join(map(str, small[:5]))}{' …' if len(small) > 5 else ''}."
        )
    rows = np.flatnonzero(keep)
    if len(rows) > parameters.max_items:
        rows = _stratified_draw(y[rows], parameters.max_items, parameters.sample_seed, rows)
        notes.append(
            f"Used a random draw of {len(rows):,} of the {int(keep.sum()):,} labels, to keep the comparison to minutes."
        )
    # re-check after the draw (a draw keeps every class with at least 2 labels)
    rows = np.sort(rows)
    from sklearn.utils import _safe_indexing

    X_used = _safe_indexing(X, rows)
    y_used = y[rows]
    names, current = strategies_to_compare(settings.strategy)
    wanted = settings.strategy
    if wanted is not None and str(wanted) != current:
        notes.append(
            f"The project's strategy {wanted!r} is not registered in this app, so it could not be replayed; "
            f"{DEFAULT_WORDS} stands in as the reference."
        )
    if settings.feature_kind == "text":
        notes.append(
            "Text features are not a dense numeric table, so the default strategy has nothing to look at "
            "besides the model's probabilities here: it orders like margin (only its first items differ)."
        )
    _, model = _model_for(settings)
    return ComparisonData(
        X=X_used,
        y=y_used,
        model=model,
        strategies=names,
        current=current,
        shuffle_prop=float(settings.shuffle_prop),
        audit_share=float(settings.audit_share),
        n_labelled=n_labelled,
        notes=tuple(notes),
        key=key,
        parameters=parameters,
    )


def _stratified_draw(y: np.ndarray, n: int, seed: int, rows: np.ndarray) -> np.ndarray:
    """``n`` of ``rows`` drawn at random, keeping at least 2 of every class."""
    rng = np.random.RandomState(seed)
    chosen: list[int] = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        chosen.extend(members[:MIN_PER_CLASS].tolist())
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    extra = rng.choice(rest, size=max(0, n - len(chosen)), replace=False) if len(rest) else []
    return rows[np.asarray(sorted([*chosen, *np.asarray(extra, dtype=int).tolist()]), dtype=int)]


# --------------------------------------------------------------------------- the replay


def _split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pool rows, test rows)``: a stratified random split with every class on both sides."""
    from sklearn.model_selection import train_test_split

    classes = len(np.unique(y))
    n_test = min(len(y) - classes, max(classes, int(round(fraction * len(y)))))
    pool, test = train_test_split(np.arange(len(y)), test_size=n_test, stratify=y, random_state=seed)
    return np.sort(pool), np.sort(test)


def _sizes(n_pool: int, parameters: CompareParameters) -> tuple[int, int, int]:
    """``(budget, initial, batch_size)`` for a pool of ``n_pool`` items."""
    budget = min(n_pool, parameters.max_budget)
    initial = max(1, min(parameters.initial, budget // 2))
    batch = max(1, math.ceil((budget - initial) / parameters.retrains))
    return budget, initial, batch


def run_comparison(
    data: ComparisonData,
    *,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ComparisonResult:
    """Replay the labelled items for every strategy and seed; curves and a recommendation.

    Runs in the calling process (:class:`ComparisonRunner` calls it in a worker
    process). Deterministic for given ``data``: the same splits, replays and result.

    Parameters
    ----------
    data : ComparisonData
        From :func:`comparison_data`.
    progress : callable (fraction, message), optional
        Told before each replay and at the end.
    cancelled : callable () -> bool, optional
        Asked before each replay; True stops with :class:`ComparisonCancelled`.

    Raises
    ------
    ComparisonCancelled
    ValueError
        Fewer than 2 classes with 2 labels each in ``data`` (``simulate``'s checks).
    """
    from sklearn.utils import _safe_indexing
    from threadpoolctl import threadpool_limits

    from ..learning.simulation import simulate
    from ..strategies import DEFAULT_STRATEGY, strategy_names

    report = progress or (lambda fraction, message: None)
    stop = cancelled or (lambda: False)
    parameters = data.parameters
    y = np.asarray(data.y, dtype=object)
    if len(np.unique(y)) < 2:
        raise ValueError("Not enough classes to compare strategies: the labels carry fewer than 2 classes.")
    # A strategy registered at run time in the app's process (by the user's code) is unknown
    # to a fresh worker process: it is left out, and the default stands in for it.
    known = set(strategy_names())
    strategies = tuple(name for name in data.strategies if name in known)
    current, notes = data.current, list(data.notes)
    missing = [name for name in data.strategies if name not in known]
    if missing:
        notes.append(
            f"Not replayed: {', '.join(map(repr, missing))} (registered by code in the app's process, which "
            "the comparison's own process does not run)."
        )
    if current not in strategies:
        current = DEFAULT_STRATEGY if DEFAULT_STRATEGY in strategies else strategies[0]
        notes.append(f"{display_name(current)} stands in for the current strategy as the reference.")
    start = time.perf_counter()
    jobs = [(seed, name) for seed in parameters.seeds for name in strategies]
    frames = []
    sizes = None
    with threadpool_limits(1):
        for done, (seed, name) in enumerate(jobs):
            if stop():
                raise ComparisonCancelled("The comparison was cancelled.")
            report(done / len(jobs), f"Replaying {display_name(name)} (run {parameters.seeds.index(seed) + 1} "
                                     f"of {len(parameters.seeds)}): {done} of {len(jobs)} replays done")
            pool, test = _split(y, parameters.test_fraction, seed)
            budget, initial, batch = _sizes(len(pool), parameters)
            sizes = (len(pool), len(test), budget, initial, batch)
            result = simulate(
                _safe_indexing(data.X, pool), y[pool], _safe_indexing(data.X, test), y[test], data.model,
                strategy=name, initial=initial, batch_size=batch, budget=budget,
                shuffle_prop=data.shuffle_prop, audit_share=data.audit_share, random_state=seed,
                estimate=False,  # the curves are scored on the held-out items; no cross-validation needed
            )
            frames.append(result.curve[["n_labels", "accuracy"]].assign(strategy=name, seed=seed))
    report(1.0, "Done")
    raw = pd.concat(frames, ignore_index=True)
    n_pool, n_test, budget, initial, batch = sizes
    runs = _on_grid(raw)
    curves = _mean_curves(runs, strategies)
    recommended, advice, summary, target = recommend(runs, current)
    return ComparisonResult(
        curves=curves,
        runs=runs,
        summary=summary,
        current=current,
        recommended=recommended,
        advice=advice,
        target=target,
        n_labelled=int(data.n_labelled),
        n_items=len(y),
        n_pool=n_pool,
        n_test=n_test,
        budget=budget,
        batch_size=batch,
        initial=initial,
        seeds=tuple(parameters.seeds),
        seconds=time.perf_counter() - start,
        notes=tuple(notes),
        key=data.key,
    )


def _on_grid(raw: pd.DataFrame) -> pd.DataFrame:
    """Every replay's curve on one grid of label counts (linear interpolation).

    The grid is the label counts any replay retrained at, from the largest first
    count on (a replay whose first items held one class starts a little later).
    """
    first = raw.groupby(["strategy", "seed"])["n_labels"].min().max()
    grid = np.unique(raw.loc[raw["n_labels"] >= first, "n_labels"].to_numpy())
    rows = []
    for (name, seed), run in raw.groupby(["strategy", "seed"], sort=False):
        run = run.sort_values("n_labels")
        accuracy = np.interp(grid, run["n_labels"].to_numpy(float), run["accuracy"].to_numpy(float))
        rows.append(pd.DataFrame({"strategy": name, "seed": seed, "n_labels": grid, "accuracy": accuracy}))
    return pd.concat(rows, ignore_index=True)


def _mean_curves(runs: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    grouped = runs.groupby(["strategy", "n_labels"])["accuracy"]
    curves = grouped.agg(
        accuracy="mean",
        accuracy_sd=lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0,
        accuracy_low="min",
        accuracy_high="max",
        runs="count",
    ).reset_index()
    rank = {name: i for i, name in enumerate(order)}
    curves["_order"] = curves["strategy"].map(rank)
    return curves.sort_values(["_order", "n_labels"]).drop(columns="_order").reset_index(drop=True)


# --------------------------------------------------------------------------- the recommendation


def _points(gain: float) -> str:
    """A signed difference in accuracy as points (0.012 → "+1.2"); no "-0.0"."""
    text = f"{100 * gain:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _labels_to(curve: pd.DataFrame, target: float) -> int | None:
    reached = curve.loc[curve["accuracy"] >= target - 1e-12, "n_labels"]
    return int(reached.iloc[0]) if len(reached) else None


def recommend(runs: pd.DataFrame, current: str, *, min_gain: float = MIN_GAIN) -> tuple[str | None, str, pd.DataFrame, float]:
    """Switch or keep: the rule, on replays paired by seed.

    Each replay is summed up by its **mean accuracy over the label counts of the
    replay** (the area under its learning curve, divided by the range): a
    strategy that gets good early scores higher, and all label counts count,
    not only one point. For every other strategy, the per-seed difference with
    the current strategy's replay *of the same seed* (same split, same start
    where they share it) is taken. The best strategy by mean difference is
    recommended only when

    1. its mean gain is at least ``min_gain`` (one point of accuracy by default:
       less is not worth changing how items are served), and
    2. it beat the current strategy in **every** seed.

    Otherwise the current strategy stays: the advice says it did best when the
    mirror image holds (every other strategy lost by ``min_gain`` or more, in
    every seed), and that the differences are within noise otherwise.
    Why sign agreement and not a t-test: with 3 seeds a t-test has 2 degrees of
    freedom and almost no power, while "better in every paired run" is easy to
    read and, for one candidate that is in truth no better, happens by chance
    with probability 1/2^seeds (1/8 with 3 seeds); together with the one-point
    floor, a switch on luck is rare, and when it happens the loss is small by
    construction (the curves are close). A single seed can never agree with
    itself meaningfully, so with one seed the rule asks for 2 × ``min_gain``.

    The advice also names the labels each strategy needed to reach 90 % of the
    best final mean accuracy (one target for all, so the counts compare).

    Parameters
    ----------
    runs : pandas.DataFrame
        Columns ``strategy``, ``seed``, ``n_labels``, ``accuracy``, every replay on one grid.
    current : str
        The project's current strategy; must be among ``runs["strategy"]``.
    min_gain : float, default=MIN_GAIN

    Returns
    -------
    recommended : str or None
    advice : str
    summary : pandas.DataFrame
        See :attr:`ComparisonResult.summary`.
    target : float
    """
    names = list(dict.fromkeys(runs["strategy"]))
    if current not in names:
        raise ValueError(f"The current strategy {current!r} is not among the replays ({', '.join(names)}).")
    area = runs.groupby(["strategy", "seed"])["accuracy"].mean().unstack("seed")
    seeds = list(area.columns)
    mean_curves = runs.groupby(["strategy", "n_labels"], as_index=False)["accuracy"].mean()
    finals = mean_curves.sort_values("n_labels").groupby("strategy")["accuracy"].last()
    target = 0.9 * float(finals.max())
    rows = []
    for name in names:
        diff = area.loc[name] - area.loc[current]
        rows.append({
            "strategy": name,
            "mean_accuracy": float(area.loc[name].mean()),
            "final_accuracy": float(finals[name]),
            "gain": float(diff.mean()),
            "wins": int((diff > 0).sum()),
            "labels_to_target": _labels_to(mean_curves[mean_curves["strategy"] == name], target),
        })
    summary = pd.DataFrame(rows)
    others = summary[summary["strategy"] != current]
    needed = min_gain if len(seeds) > 1 else 2 * min_gain
    best = others.sort_values("gain", ascending=False).iloc[0] if len(others) else None
    by_name = summary.set_index("strategy")

    def reach(name: str) -> str:
        n = by_name.loc[name, "labels_to_target"]
        return f"with {int(n)} labels" if n is not None and not pd.isna(n) else "not within the replay"

    runs_words = f"{len(seeds)} run{'s' if len(seeds) != 1 else ''}"
    if best is not None and best["gain"] >= needed and best["wins"] == len(seeds):
        name = best["strategy"]
        advice = (
            f"On your labels, {display_name(name)} reached {target:.2f} accuracy (90 % of the best final one) "
            f"{reach(name)}, your current strategy, {display_name(current)}, {reach(current)}. Over the replay "
            f"{display_name(name)} was {100 * best['gain']:.1f} points more accurate on average, and better in "
            f"{int(best['wins'])} of {runs_words}: switch to {display_name(name)}."
        )
        return str(name), advice, summary, target
    if best is None:
        return None, "Only one strategy could be replayed: nothing to compare.", summary, target
    name = best["strategy"]
    if best["gain"] <= -needed and best["wins"] == 0:  # the mirror image of a switch: the current one wins
        advice = (
            f"On your labels your current strategy, {display_name(current)}, did best: the next best, "
            f"{display_name(name)}, was {100 * -best['gain']:.1f} points less accurate on average over the replay "
            f"and worse in every one of {runs_words}. Keep the current strategy."
        )
        return None, advice, summary, target
    advice = (
        f"On your labels the differences are within noise: keep your current strategy, {display_name(current)}. "
        f"The best other one, {display_name(name)}, was {_points(best['gain'])} points against it on average over "
        f"the replay and better in {int(best['wins'])} of {runs_words}; a switch needs at least "
        f"{100 * needed:.0f} point{'s' if round(100 * needed) != 1 else ''} more and a win in every run."
    )
    return None, advice, summary, target


# --------------------------------------------------------------------------- the background job

#: Job states, in the order they can happen.
STATES = ("starting", "running", "done", "failed", "cancelled")


@dataclass(frozen=True)
class JobStatus:
    """Where a comparison job stands (a snapshot: read it, it does not change).

    Attributes
    ----------
    state : {"idle", "starting", "running", "done", "failed", "cancelled"}
    fraction : float
        0..1.
    message : str
    result : ComparisonResult or None
        When ``state == "done"``.
    error : str or None
        When ``state == "failed"``: what went wrong, in plain words.
    started, finished : float or None
        ``time.time()``.
    key : tuple
        What the job was started for.
    """

    state: str = "idle"
    fraction: float = 0.0
    message: str = ""
    result: ComparisonResult | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    key: tuple = ()

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running")


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = "1"
    root = str(Path(__file__).resolve().parents[2])  # the folder holding superintendent_core
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def write_message(stream, message: Any) -> None:
    """One length-prefixed pickle on a binary stream (the worker protocol)."""
    blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(blob)))
    stream.write(blob)
    stream.flush()


def read_message(stream) -> Any:
    """The next message of :func:`write_message`, or None at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("!Q", head)
    blob = stream.read(size)
    if len(blob) < size:
        return None
    return pickle.loads(blob)  # noqa: S301 - our own worker, over a private pipe


class ComparisonRunner:
    """One project's strategy comparison in the background: start, progress, cancel, latest result.

    The replays run in a separate Python process (``python -m
    superintendent_core.service._compare_worker``) with one BLAS thread, at the
    lowest priority (``priority``): labelling in the app process never waits on
    the comparison's GIL, and the worker gets the CPU only when the app does
    not want it (``benchmarks/bench_compare_latency.py`` measures the effect). This object only
    reads the project's labels when a job starts (in its own thread) and relays
    the worker's messages.

    The latest job and its result are kept: :meth:`start` for the labels and
    settings the latest result was made for returns that result instead of
    replaying again (a cache per project and labels revision).

    Parameters
    ----------
    store : LabelStore
    parameters : CompareParameters, optional
    priority : "idle" or int, default="idle"
        ``"idle"``: the worker runs only when no other task wants the CPU
        (Linux's SCHED_IDLE; elsewhere niceness 19); an int is added to its niceness.
    slots : threading.Semaphore, optional
        Shared by the runners of one app process: at most that many workers run at
        once (the others wait, saying so).
    python : str, default=sys.executable
    """

    def __init__(
        self,
        store: LabelStore,
        parameters: CompareParameters | None = None,
        *,
        priority: str | int = "idle",
        slots: threading.Semaphore | None = None,
        python: str | None = None,
    ) -> None:
        self.store = store
        self.parameters = parameters or CompareParameters()
        if priority != "idle" and not isinstance(priority, int):
            raise ValueError(f'priority must be "idle" or an int (added niceness), got {priority!r}.')
        self.priority = priority
        self.slots = slots
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._cancel = threading.Event()
        self._closed = False

    # ---------------------------------------------------------------- reading

    def key(self) -> tuple:
        """What a result is valid for: the pool and labels revision, the model, the strategy, the shuffle, the audit share.

        The serving order's counter is left out: a retrain does not change the labels.
        """
        revision = self.store.revision()
        settings = self.store.settings
        return (revision.items, revision.events, settings.model, settings.strategy, float(settings.shuffle_prop),
                float(settings.audit_share))

    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    @property
    def worker_pid(self) -> int | None:
        """The running worker process's id (None when no worker runs)."""
        with self._lock:
            process = self._process
        return None if process is None else process.pid

    def refusal(self) -> str | None:
        """Why no comparison can run now (plain words), or None."""
        return refusal(self.store.settings, self.store.progress().per_class)

    # ---------------------------------------------------------------- acting

    def start(self) -> JobStatus:
        """Start a comparison for the current labels (unless one runs, or the latest result is for them).

        Raises
        ------
        ValueError
            The labels cannot support a comparison (:func:`refusal`'s reason).
        RuntimeError
            The runner is closed.
        """
        key = self.key()
        with self._lock:
            if self._closed:
                raise RuntimeError("The comparison runner is closed.")
            if self._status.active:
                return self._status
            if self._status.state == "done" and self._status.key == key:
                return self._status
        reason = self.refusal()
        if reason is not None:
            raise ValueError(reason)
        with self._lock:
            if self._status.active:  # another session started one meanwhile
                return self._status
            self._cancel = threading.Event()
            self._status = JobStatus("starting", 0.0, "Reading the labels", started=time.time(), key=key)
            self._thread = threading.Thread(
                target=self._run, args=(key, self._cancel), name="strategy-comparison", daemon=True
            )
            self._thread.start()
            return self._status

    def cancel(self) -> None:
        """Stop the running comparison (its worker process is ended); a no-op when none runs."""
        with self._lock:
            self._cancel.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Wait for the running job to end (or ``timeout`` seconds); the status then."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def close(self, timeout: float = 10.0) -> None:
        """Cancel any running job and wait for it; no job starts afterwards."""
        with self._lock:
            self._closed = True
        self.cancel()
        self.wait(timeout)

    # ---------------------------------------------------------------- the job

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _finish(self, state: str, **changes: Any) -> None:
        self._set(state=state, finished=time.time(), **changes)

    def _run(self, key: tuple, cancel: threading.Event) -> None:
        acquired = False
        try:
            data = comparison_data(self.store, self.parameters, key=key)
            if self.slots is not None:
                while not (acquired := self.slots.acquire(timeout=0.5)):
                    if cancel.is_set():
                        break
                    self._set(message="Waiting for another project's comparison to finish")
            if cancel.is_set():
                self._finish("cancelled", message="Cancelled.")
                return
            self._set(state="running", message="Starting the worker process")
            self._work(data, cancel)
        except ValueError as exc:  # the labels changed under us (undone to below the minimum ...)
            self._finish("failed", error=str(exc), message="")
        except Exception as exc:  # noqa: BLE001 - report it on the page, keep the app
            self._finish("failed", error=f"The comparison failed: {type(exc).__name__}: {exc}", message="")
        finally:
            if acquired:
                self.slots.release()

    def _work(self, data: ComparisonData, cancel: threading.Event) -> None:
        process = subprocess.Popen(
            [self.python, "-m", "superintendent_core.service._compare_worker", str(self.priority)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=_worker_env(), close_fds=True,
        )
        with self._lock:
            self._process = process
        try:
            if cancel.is_set():
                process.terminate()
            else:
                try:
                    write_message(process.stdin, data)
                    process.stdin.close()
                except (BrokenPipeError, OSError):
                    pass  # the worker died: reported below from its exit code
            outcome = None
            while True:
                message = read_message(process.stdout)
                if message is None:
                    break
                kind = message[0]
                if kind == "progress":
                    self._set(fraction=float(message[1]), message=str(message[2]))
                else:
                    outcome = message
            code = process.wait()
        finally:
            with self._lock:
                self._process = None
            if process.poll() is None:
                process.kill()
                process.wait()
        if cancel.is_set():
            self._finish("cancelled", message="Cancelled.")
        elif outcome is not None and outcome[0] == "done":
            self._finish("done", fraction=1.0, message="Done", result=outcome[1])
        elif outcome is not None and outcome[0] == "refused":
            self._finish("failed", error=str(outcome[1]), message="")
        elif outcome is not None and outcome[0] == "error":
            self._finish("failed", error=f"The comparison failed: {outcome[1]}", message="")
        else:
            self._finish("failed", error=f"The comparison's worker process stopped unexpectedly (exit code {code}).",
                         message="")


def _lower_priority(priority: str | int) -> None:
    """``"idle"``: Linux's SCHED_IDLE (run only when no other task wants the CPU), else niceness 19;
    an int: add it to the niceness."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError):
            priority = 19
    try:
        if int(priority) > 0:
            os.nice(int(priority))
    except (OSError, ValueError):
        pass


def _worker_main(stdin, stdout, niceness: str | int) -> int:
    """The worker: read a :class:`ComparisonData`, replay, write progress and the result."""
    import warnings

    _lower_priority(niceness)
    warnings.simplefilter("ignore")  # convergence warnings on small folds: nobody reads the worker's stderr
    data = read_message(stdin)
    if data is None:
        return 1

    def progress(fraction: float, message: str) -> None:
        write_message(stdout, ("progress", fraction, message))

    parent = os.getppid()

    def orphaned() -> bool:  # the app process died (killed): stop at the next replay
        return os.getppid() != parent

    try:
        result = run_comparison(data, progress=progress, cancelled=orphaned)
    except ComparisonCancelled:
        return 1
    except ValueError as exc:
        write_message(stdout, ("refused", str(exc)))
        return 0
    except Exception as exc:  # noqa: BLE001 - a user's model can fail in any way
        write_message(stdout, ("error", f"{type(exc).__name__}: {exc}"))
        traceback.print_exc()
        return 1
    write_message(stdout, ("done", result))
    return 0
