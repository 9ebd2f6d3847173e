"""Label errors: which labels are most likely wrong, from out-of-fold evidence only.

Every labelled item is scored by a model that did **not** see its label: the
labels are split into ``k`` folds, a clone of the project's model is fitted on
the other folds, and it gives the probability of each class for the held-out
items (``k`` extra fits; the retrain's own model and its predictions are never
used, because a model that learnt a wrong label tends to repeat it).

An item is a *candidate* when the out-of-fold model prefers another class, and
candidates are ranked by how unlikely the model finds the given label (lowest
out-of-fold probability of the given label first: ``self_confidence``).
``benchmarks/bench_label_errors.py`` measured the alternatives (confident
learning's per-class thresholds, the margin between the given label and the
best other class) on digits with planted errors; see the README's "Measured".

When out-of-fold probabilities cannot be made (fewer than 2 classes, a class
with a single label, too few labels, a model that cannot be fitted on a fold),
there are no candidates and :attr:`LabelErrors.reason` says why in plain words;
nothing falls back to in-sample predictions.

Multi-label projects are scored per class: for each class, the out-of-fold
probability that the item has it; the evidence against an item's label set is
its least likely membership decision (a class it has but the model finds
unlikely, or one it lacks but the model finds likely).

This module computes its own folds (it does not depend on the retrain's
cross-validation), so it can run in the background while labelling goes on:
:class:`LabelErrorFinder` keeps one result per store revision.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..labels import join_labels, split_labels

if TYPE_CHECKING:  # pragma: no cover
    from ..store.protocol import LabelStore

__all__ = [
    "DEFAULT_FOLDS",
    "METHODS",
    "MIN_LABELS",
    "LabelErrorFinder",
    "LabelErrors",
    "disagreeing",
    "find_label_errors",
    "out_of_fold_probabilities",
    "project_label_errors",
]

#: Folds of the out-of-fold fits (fewer when the smallest class has fewer labels).
DEFAULT_FOLDS = 5
#: Fewest labels the finder works from.
MIN_LABELS = 10
#: Ways of ranking; the first is the default (chosen by ``benchmarks/bench_label_errors.py``).
METHODS = ("self_confidence", "margin", "confident_learning")

#: Columns of :attr:`LabelErrors.candidates` and :attr:`LabelErrors.opinions`.
COLUMNS = ["item_id", "given", "suggested", "p_given", "p_suggested", "evidence"]


class NotEnoughLabels(ValueError):
    """Out-of-fold probabilities cannot be made from these labels; the message says why."""


@dataclass(frozen=True)
class LabelErrors:
    """What the finder concluded.

    Attributes
    ----------
    candidates : DataFrame
        The labels most likely wrong, most likely first; columns ``item_id``
        (int64), ``given`` (str: the label in force; multi-label joined by
        ``"|"``), ``suggested`` (str: the out-of-fold model's label),
        ``p_given`` (float: out-of-fold probability of the given label; for
        multi-label, of the least likely membership decision), ``p_suggested``
        (float: of the suggested label; for multi-label, of the opposite
        decision), ``evidence`` (str: one sentence). Empty when there are no
        candidates, or when the finder could not run (see ``reason``).
    opinions : DataFrame
        Same columns, one row per labelled item (ascending ``item_id``): the
        out-of-fold model's opinion of every label. Empty when the finder could not run.
    n_labels : int
        Labels looked at.
    n_folds : int
        Folds fitted (0: the finder could not run).
    method : str
        How candidates are chosen and ranked (one of :data:`METHODS`).
    reason : str
        Plain words: what the list rests on, or why there is no list.
    seconds : float
        Time spent.
    """

    candidates: pd.DataFrame
    opinions: pd.DataFrame
    n_labels: int
    n_folds: int
    method: str
    reason: str
    seconds: float = 0.0
    key: Any = field(default=None, compare=False)

    @property
    def ran(self) -> bool:
        """Whether out-of-fold evidence exists (False: see :attr:`reason`)."""
        return self.n_folds > 0

    def opinion_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The out-of-fold model's label for each id; None where there is none (not labelled, or no evidence)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), None, dtype=object)
        if self.opinions.empty or len(ids) == 0:
            return out
        known = self.opinions["item_id"].to_numpy(dtype=np.int64)
        values = self.opinions["suggested"].to_numpy(dtype=object)
        pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
        hit = known[pos] == ids
        out[hit] = values[pos[hit]]
        return out


def disagreeing(opinions: Sequence, labels: Sequence, multi_label: bool) -> np.ndarray:
    """Where the out-of-fold opinion differs from the label (a multi-label set compared as a set; no opinion: False).

    Parameters
    ----------
    opinions : sequence of str or None
        From :meth:`LabelErrors.opinion_of`.
    labels : sequence of str
        The labels in force, as the store writes them.
    multi_label : bool

    Returns
    -------
    ndarray of bool
    """
    return np.array([o is not None and not (isinstance(o, float) and np.isnan(o))
                     and _canonical(str(o), multi_label) != _canonical(str(v), multi_label)
                     for o, v in zip(opinions, labels, strict=True)], dtype=bool)


def _canonical(label: str, multi_label: bool) -> str:
    """A label as text, the classes of a multi-label one in sorted order (so equal sets compare equal)."""
    return join_labels(sorted(split_labels(label))) if multi_label else str(label)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": pd.Series(dtype="int64"),
            "given": pd.Series(dtype=object),
            "suggested": pd.Series(dtype=object),
            "p_given": pd.Series(dtype="float64"),
            "p_suggested": pd.Series(dtype="float64"),
            "evidence": pd.Series(dtype=object),
        }
    )


def refused(reason: str, n_labels: int = 0, method: str = METHODS[0]) -> LabelErrors:
    """A result with no candidates, and why."""
    return LabelErrors(_empty(), _empty(), int(n_labels), 0, method, reason)


def _n_rows(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _model_name(estimator: Any) -> str:
    return type(estimator).__name__


def _seed(random_state: Any) -> int:
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _check_single(y: Sequence, n_folds: int) -> tuple[np.ndarray, int]:
    """Labels as an object array, and the folds they allow; NotEnoughLabels otherwise."""
    labels = np.asarray([str(v) for v in y], dtype=object)
    n = len(labels)
    if n < MIN_LABELS:
        raise NotEnoughLabels(
            f"Not enough labels to look for errors: {n} so far; at least {MIN_LABELS} are needed, "
            "so that each label can be checked by a model that did not see it."
        )
    counts = Counter(labels.tolist())
    if len(counts) < 2:
        raise NotEnoughLabels(
            f"Not enough classes to look for errors: every label is {next(iter(counts))!r}. "
            "Label items of at least 2 classes."
        )
    smallest_class, smallest = min(sorted(counts.items()), key=lambda kv: kv[1])
    if smallest < 2:
        raise NotEnoughLabels(
            f"Not enough labels to look for errors: class {smallest_class!r} has only 1 label, so no model "
            "that did not see it could learn that class. Label at least 2 items of every class in use."
        )
    return labels, max(2, min(int(n_folds), smallest))


def out_of_fold_probabilities(
    estimator: Any,
    X: Any,
    y: Sequence,
    *,
    n_folds: int = DEFAULT_FOLDS,
    random_state: Any = 0,
    n_threads: int | None = 1,
) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Probabilities of every class for every labelled item, each from a model fitted without it.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        Cloned for every fold; never modified.
    X : array-like of shape (n, ...)
    y : sequence of str, length n
    n_folds : int, default=5
        Stratified folds; fewer when the smallest class has fewer labels (at least 2).
    random_state : int, RandomState or None
        Seed of the folds.
    n_threads : int or None, default=1
        BLAS/OpenMP threads while fitting (None: leave as is).

    Returns
    -------
    probabilities : ndarray of shape (n, n_classes)
        Row ``i`` comes from the model of the fold that held item ``i`` out. A
        class absent from a fold's training labels gets probability 0 there.
    classes : tuple of str
        Column order (sorted).
    n_folds : int
        Folds used.

    Raises
    ------
    NotEnoughLabels
        Fewer than :data:`MIN_LABELS` labels, fewer than 2 classes, or a class with 1 label.
    ValueError
        The model cannot be fitted on a fold or has no ``predict_proba`` (the message says which).
    """
    from contextlib import nullcontext

    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold
    from sklearn.utils import _safe_indexing
    from threadpoolctl import threadpool_limits

    if not hasattr(estimator, "predict_proba"):
        raise ValueError(f"{_model_name(estimator)} gives no probabilities (no predict_proba).")
    if _n_rows(X) != len(y):
        raise ValueError(f"Got {_n_rows(X)} items but {len(y)} labels; they must match.")
    labels, k = _check_single(y, n_folds)
    classes = tuple(sorted(set(labels.tolist())))
    column = {c: j for j, c in enumerate(classes)}
    probabilities = np.zeros((len(labels), len(classes)), dtype=float)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=_seed(random_state))
    limits = threadpool_limits(limits=n_threads) if n_threads else nullcontext()
    with limits:
        for train, test in folds.split(np.zeros(len(labels)), labels):
            model = clone(estimator)
            try:
                model.fit(_safe_indexing(X, train), labels[train])
                p = np.asarray(model.predict_proba(_safe_indexing(X, test)), dtype=float)
            except Exception as exc:  # the user's model: report, don't crash
                raise ValueError(
                    f"{_model_name(estimator)} could not be fitted on a fold of the labels: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            cols = [column[str(c)] for c in model.classes_]
            probabilities[np.ix_(test, cols)] = p
    return probabilities, classes, k


def _percent(p: float) -> str:
    """A whole percent; "under 1 %" for a small non-zero one; never "100 %" unless it is 1 (0.998 is "over 99 %")."""
    if 0 < p < 0.01:
        return "under 1 %"
    if 0.99 < p < 1:
        return "over 99 %"
    return f"{100 * p:.0f} %"


def _rank_single(
    ids: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, classes: tuple[str, ...], method: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    column = {c: j for j, c in enumerate(classes)}
    given_col = np.array([column[v] for v in labels], dtype=np.intp)
    rows = np.arange(len(labels))
    p_given = probabilities[rows, given_col]
    others = probabilities.copy()
    others[rows, given_col] = -np.inf
    best_other = others.argmax(axis=1)
    p_other = probabilities[rows, best_other]
    predicted = probabilities.argmax(axis=1)
    if method == "confident_learning":
        # Per-class thresholds (Northcutt et al. 2021): t_j = mean p_j over the items labelled j.
        thresholds = np.array([probabilities[given_col == j, j].mean() for j in range(len(classes))])
        above = probabilities >= thresholds[None, :]
        above[rows, given_col] = False
        flagged = above.any(axis=1)
        # the suggested class: the most likely of those above their threshold
        masked = np.where(above, probabilities, -np.inf)
        suggested_col = np.where(flagged, masked.argmax(axis=1), best_other)
        score = p_given
    else:
        flagged = predicted != given_col
        suggested_col = best_other
        score = p_given if method == "self_confidence" else p_given - p_other
    p_suggested = probabilities[rows, suggested_col]
    suggested = np.asarray(classes, dtype=object)[suggested_col]
    evidence = [
        f"A model that did not see this label gives {given!r} {_percent(pg)} and {sug!r} {_percent(ps)}."
        for given, sug, pg, ps in zip(labels, suggested, p_given, p_suggested, strict=True)
    ]
    opinion_label = np.asarray(classes, dtype=object)[predicted]
    table = pd.DataFrame(
        {
            "item_id": ids.astype(np.int64),
            "given": labels,
            "suggested": suggested,
            "p_given": p_given,
            "p_suggested": p_suggested,
            "evidence": evidence,
        }
    )
    opinions = table.assign(
        suggested=opinion_label, p_suggested=probabilities[rows, predicted]
    ).sort_values("item_id", kind="stable").reset_index(drop=True)
    # ties broken by item id, so the ranking is deterministic
    order = np.lexsort((ids, score))
    candidates = table.iloc[[i for i in order if flagged[i]]].reset_index(drop=True)
    return candidates, opinions


def _multi_label_errors(
    estimator: Any, ids: np.ndarray, X: Any, y: Sequence, n_folds: int, random_state: Any, n_threads: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, int, str]:
    """Per class, out-of-fold probability that the item has it; the least likely decision is the evidence."""
    from contextlib import nullcontext

    from sklearn.base import clone
    from sklearn.model_selection import KFold
    from sklearn.utils import _safe_indexing
    from threadpoolctl import threadpool_limits

    from .multilabel import binarize_labels

    n = len(y)
    if n < MIN_LABELS:
        raise NotEnoughLabels(
            f"Not enough labels to look for errors: {n} so far; at least {MIN_LABELS} are needed, "
            "so that each label can be checked by a model that did not see it."
        )
    Y, classes = binarize_labels([list(v) for v in y])
    positives = Y.sum(axis=0)
    usable = [j for j in range(len(classes)) if 2 <= positives[j] <= n - 2]
    left_out = [classes[j] for j in range(len(classes)) if j not in usable]
    if not usable:
        raise NotEnoughLabels(
            "Not enough labels to look for errors: no class is both given and withheld on at least 2 items each, "
            "so no model that did not see a label could judge it."
        )
    k = max(2, min(int(n_folds), n))
    probabilities = np.zeros((n, len(usable)), dtype=float)
    folds = KFold(n_splits=k, shuffle=True, random_state=_seed(random_state))
    limits = threadpool_limits(limits=n_threads) if n_threads else nullcontext()
    with limits:
        for j_out, j in enumerate(usable):
            target = Y[:, j]
            for train, test in folds.split(np.zeros(n)):
                if target[train].min() == target[train].max():  # this fold saw one value only
                    probabilities[test, j_out] = float(target[train][0])
                    continue
                model = clone(estimator)
                try:
                    model.fit(_safe_indexing(X, train), target[train])
                    p = np.asarray(model.predict_proba(_safe_indexing(X, test)), dtype=float)
                except Exception as exc:
                    raise ValueError(
                        f"{_model_name(estimator)} could not be fitted on a fold of the labels: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                present = list(model.classes_).index(1)
                probabilities[test, j_out] = p[:, present]
    has = Y[:, usable].astype(bool)
    p_decision = np.where(has, probabilities, 1.0 - probabilities)  # probability of what the label says
    worst = p_decision.argmin(axis=1)
    rows = np.arange(n)
    p_given = p_decision[rows, worst]
    given = [join_labels(sorted(v)) for v in y]
    suggested_sets = []
    evidence = []
    for i in range(n):
        labels_i = {classes[j] for j in range(len(classes)) if Y[i, j]}
        for j_out, j in enumerate(usable):
            if probabilities[i, j_out] >= 0.5:
                labels_i.add(classes[j])
            else:
                labels_i.discard(classes[j])
        suggested_sets.append(join_labels(sorted(labels_i)))
        c = classes[usable[worst[i]]]
        if has[i, worst[i]]:
            evidence.append(f"A model that did not see this label gives {c!r} {_percent(probabilities[i, worst[i]])}.")
        else:
            evidence.append(
                f"Without {c!r}; a model that did not see this label gives {c!r} {_percent(probabilities[i, worst[i]])}."
            )
    table = pd.DataFrame(
        {
            "item_id": ids.astype(np.int64),
            "given": given,
            "suggested": suggested_sets,
            "p_given": p_given,
            "p_suggested": 1.0 - p_given,
            "evidence": evidence,
        }
    )
    flagged = p_given < 0.5
    order = np.lexsort((ids, p_given))
    candidates = table.iloc[[i for i in order if flagged[i]]].reset_index(drop=True)
    opinions = table.sort_values("item_id", kind="stable").reset_index(drop=True)
    note = ""
    if left_out:
        shown = ", ".join(repr(c) for c in left_out[:5]) + (" …" if len(left_out) > 5 else "")
        note = f" Not judged (fewer than 2 items with, or without, them): {shown}."
    return candidates, opinions, k, note


def find_label_errors(
    estimator: Any,
    X: Any,
    y: Sequence,
    ids: Sequence[int] | np.ndarray | None = None,
    *,
    multi_label: bool = False,
    method: str = METHODS[0],
    n_folds: int = DEFAULT_FOLDS,
    random_state: Any = 0,
    n_threads: int | None = 1,
) -> LabelErrors:
    """Rank labelled items by out-of-fold evidence that their label is wrong.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The project's model; cloned for every fold, never modified.
    X : array-like of shape (n, ...)
        Features of the labelled items (whatever the estimator accepts).
    y : sequence, length n
        Their labels (str; for ``multi_label`` sequences of str).
    ids : sequence of int, optional
        Item ids (default ``0 .. n-1``).
    multi_label : bool, default=False
    method : {"self_confidence", "margin", "confident_learning"}
        ``self_confidence``: candidates are the items whose out-of-fold prediction
        is another class, ranked by the out-of-fold probability of the given label,
        lowest first. ``margin``: same candidates, ranked by that probability minus
        the best other class's. ``confident_learning``: candidates are the items
        for which some other class reaches its per-class threshold (the mean
        probability of that class among the items labelled with it), ranked by
        the probability of the given label. Multi-label ignores it (see module doc).
    n_folds : int, default=5
    random_state : int, RandomState or None, default=0
        Seed of the folds: the same seed gives the same list.
    n_threads : int or None, default=1

    Returns
    -------
    LabelErrors
        With no candidates and a plain ``reason`` when out-of-fold evidence cannot
        be made; never an in-sample prediction.
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    n = _n_rows(X)
    if n != len(y):
        raise ValueError(f"Got {n} items but {len(y)} labels; they must match.")
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if len(ids) != n:
        raise ValueError(f"Got {len(ids)} ids for {n} items.")
    if n == 0:
        return refused("No labels yet: nothing to check.", 0, method)
    try:
        if multi_label:
            candidates, opinions, k, note = _multi_label_errors(
                estimator, ids, X, y, n_folds, random_state, n_threads
            )
        else:
            labels = np.asarray([str(v) for v in y], dtype=object)
            probabilities, classes, k = out_of_fold_probabilities(
                estimator, X, labels, n_folds=n_folds, random_state=random_state, n_threads=n_threads
            )
            candidates, opinions = _rank_single(ids, labels, probabilities, classes, method)
            note = ""
    except NotEnoughLabels as exc:
        return refused(str(exc), n, method)
    except ValueError as exc:
        return refused(f"Cannot look for label errors: {exc}", n, method)
    reason = (
        f"Each of the {n:,} labels was checked by a model fitted without it ({k} folds, {k} extra fits of "
        f"{_model_name(estimator)}). {len(candidates):,} label(s) where that model prefers another "
        f"{'set of classes' if multi_label else 'class'}, least likely label first.{note}"
    )
    return LabelErrors(
        candidates, opinions, n, k, "per_class" if multi_label else method, reason, time.perf_counter() - start
    )


def _project_model(store: LabelStore) -> Any:
    # The retrain's choice of model (the project's, text models for text features); training.py owns it.
    from .training import _model_for

    return _model_for(store.settings)[1]


def finder_key(store: LabelStore) -> tuple:
    """What a result depends on: the labels (store revision) and the settings that choose the model."""
    settings = store.settings
    revision = store.revision()
    return (
        id(store),
        int(revision.events),
        int(revision.items),
        settings.model,
        settings.feature_kind,
        bool(settings.multi_label),
        tuple(settings.classes),
        settings.random_state,
    )


def project_label_errors(store: LabelStore, *, method: str = METHODS[0], n_folds: int = DEFAULT_FOLDS) -> LabelErrors:
    """:func:`find_label_errors` on a project's labels with its model (seeded by its ``random_state``)."""
    key = finder_key(store)
    ids, X, y = store.training_data()
    seed = store.settings.random_state
    result = find_label_errors(
        _project_model(store), X, list(y), np.asarray(ids, dtype=np.int64),
        multi_label=bool(store.settings.multi_label), method=method, n_folds=n_folds,
        random_state=0 if seed is None else seed,
    )
    return LabelErrors(
        result.candidates, result.opinions, result.n_labels, result.n_folds, result.method, result.reason,
        result.seconds, key,
    )


class LabelErrorFinder:
    """One project's label-error list, computed in a background thread once per store revision.

    :meth:`current` never waits for a computation: it returns the newest result
    (possibly for an older revision: check :attr:`LabelErrors.key` against
    :func:`finder_key`) and starts one for the current revision when none runs.
    Thread-safe: the app shares one finder per project between sessions.

    Dismissals ("this label is right") are kept per ``(item_id, label)``: a
    dismissed item stays off the list while it keeps that label.

    Parameters
    ----------
    store : LabelStore
    runner : callable ``(store) -> LabelErrors``, optional
        Defaults to :func:`project_label_errors` (tests pass a fake).
    pace : float, default=2.0
        After a computation that took ``t`` seconds, the next one starts no
        sooner than ``pace * t`` seconds later (while labelling goes on, the
        finder uses at most about a third of one core).
    """

    def __init__(self, store: LabelStore, *, runner: Any = None, pace: float = 2.0) -> None:
        self.store = store
        self.runner = runner or project_label_errors
        self.pace = float(pace)
        self._finished = -float("inf")  # time.monotonic() when the last computation ended
        self._last_seconds = 0.0
        self._lock = threading.Lock()
        self._result: LabelErrors | None = None
        self._thread: threading.Thread | None = None
        self._running_key: tuple | None = None
        self._failed_key: tuple | None = None  # a failure is not retried until the labels change
        self._dismissed: set[tuple[int, str]] = set()
        self.error: str | None = None

    def key(self) -> tuple:
        return finder_key(self.store)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def current(self, *, start: bool = True) -> tuple[LabelErrors | None, bool]:
        """``(newest result or None, whether it is for the current labels)``; starts a computation if due."""
        key = self.key()
        with self._lock:
            result = self._result
            fresh = result is not None and result.key == key
            busy = self._thread is not None and self._thread.is_alive()
            if start and not fresh and not busy and self._failed_key != key and self._rested():
                self._running_key = key
                self._thread = threading.Thread(target=self._run, name="superintendent-label-errors", daemon=True)
                self._thread.start()
        return result, fresh

    def _rested(self) -> bool:
        """Whether the pause after the last computation is over (lock held)."""
        return time.monotonic() - self._finished >= self.pace * self._last_seconds

    def settled(self) -> bool:
        """Whether a page waiting for the finder should draw again now.

        True when nothing runs and the result is for the current labels, or a
        new computation may start.
        """
        key = self.key()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            fresh = self._result is not None and self._result.key == key
            return fresh or self._rested()

    def failed(self) -> bool:
        """Whether the last computation failed on the current labels (it is not retried until they change)."""
        key = self.key()
        with self._lock:
            return self._failed_key == key

    def _run(self) -> None:
        start = time.monotonic()
        try:
            result = self.runner(self.store)
        except Exception as exc:  # a thread has no one to raise to; the app shows it
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
                self._failed_key = self._running_key
                self._finished, self._last_seconds = time.monotonic(), time.monotonic() - start
            return
        with self._lock:
            self._result = result
            self.error = None
            self._failed_key = None
            self._finished, self._last_seconds = time.monotonic(), time.monotonic() - start

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running computation; True if none runs afterwards."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def dismiss(self, item_id: int, label: str) -> None:
        """The reviewer says this label is right: keep the item off the list while it has this label."""
        with self._lock:
            self._dismissed.add((int(item_id), str(label)))

    def dismissed(self) -> frozenset[tuple[int, str]]:
        with self._lock:
            return frozenset(self._dismissed)

    def shown(self, result: LabelErrors, labels: pd.DataFrame) -> pd.DataFrame:
        """The candidates still worth showing: label unchanged since the computation, not dismissed.

        Parameters
        ----------
        result : LabelErrors
        labels : DataFrame
            ``store.labels()`` now (``item_id``, ``label``).
        """
        candidates = result.candidates
        if candidates.empty:
            return candidates
        multi = result.method == "per_class"
        now = {
            int(i): _canonical(v, multi)
            for i, v in zip(labels["item_id"], labels["label"].astype(str), strict=True)
        }
        dismissed = {(i, _canonical(v, multi)) for i, v in self.dismissed()}
        keep = [
            now.get(int(i)) == _canonical(g, multi) and (int(i), _canonical(g, multi)) not in dismissed
            for i, g in zip(candidates["item_id"], candidates["given"], strict=True)
        ]
        return candidates[np.asarray(keep, dtype=bool)].reset_index(drop=True)
