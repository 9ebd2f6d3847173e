"""Retraining: fit the user's model on the labels, score it, and re-rank the pool.

A :class:`Learner` holds the user's estimator and the active-learning settings.
One call to :meth:`Learner.retrain` on (labelled features, labels, pool features)
returns a :class:`RetrainResult`: the cross-validated score, the new order of the
pool, the label counts, the fitted model and the time spent in each part.

Whatever the user's data cannot support (one class, too few labels, a model
without ``predict_proba``, a preprocess that drops rows) raises
:class:`TrainingError` with a sentence a labeller can read.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from threadpoolctl import ThreadpoolController

from ..labels import join_labels
from ..strategies import registry
from ..strategies.base import PoolContext, Strategy, check_order, order_pool
from ..strategies.uncertainty import random as uncertainty_random
from .estimate import (
    AUDIT_POWER,
    AUDIT_UNIFORM,
    DEFAULT_AUDIT_FROM,
    DEFAULT_AUDIT_SHARE,
    AccuracyEstimate,
    AuditDraws,
    confidence_and_prediction,
    estimate_accuracy,
    pool_confidence,
    top_two,
    weave_audit,
)
from .estimate import (
    METHOD as ESTIMATE_METHOD,
)
from .multilabel import MultiLabelModel, binarize_labels

__all__ = ["Learner", "PoolSuggestions", "RetrainResult", "Suggestion", "TrainingError", "default_estimator"]

Preprocess = Callable[[Any, Any], tuple[Any, Any]]


@functools.cache
def _controller() -> ThreadpoolController:
    """One inspection of the loaded BLAS/OpenMP libraries (each new inspection costs ~5 ms)."""
    return ThreadpoolController()


class TrainingError(ValueError):
    """The labels or the model cannot support a retrain; the message says why and what to do."""


def default_estimator():
    """The project's default model: a logistic regression (what superintendent's examples used)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


@dataclass(frozen=True)
class Suggestion:
    """The model's opinion of one item: its most likely label(s) and the probability."""

    label: str | tuple[str, ...]
    probability: float


@dataclass(frozen=True)
class PoolSuggestions:
    """The fitted model's label and its probability for every pool row, as codes (no object per row).

    Made by :meth:`Learner.retrain` from the probabilities it already computed for
    the order (the pool is predicted once). ``names[codes[i]]`` is row ``i``'s
    label: a class, or for multi-label the classes with probability ≥ 0.5 joined
    by ``"|"`` (``""`` when none is).

    Attributes
    ----------
    codes : ndarray of int32, shape (n_pool,)
    names : tuple of str
        Distinct labels (single-label: the model's classes, in column order).
    probability : ndarray of float64, shape (n_pool,)
        The probability of that label (multi-label: of that exact set).
    """

    codes: np.ndarray
    names: tuple[str, ...]
    probability: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def labels(self) -> np.ndarray:
        """The label of each row as an object array of str (the ``names`` objects, shared)."""
        names = np.empty(len(self.names), dtype=object)
        names[:] = list(self.names)
        return names[self.codes] if len(self.codes) else np.empty(0, dtype=object)


@dataclass
class RetrainResult:
    """What one retrain produced.

    Attributes
    ----------
    order : ndarray of shape (n_pool,)
        Pool row indices, most informative first (a permutation).
    score : float or None
        Mean cross-validated score over the folds; None when it could not be computed.
    metric : str
        What ``score`` measures ("accuracy", or "f1_samples" for multi-label).
    cv_folds : int
        Folds actually used (0 when cross-validation was skipped).
    label_counts : dict of str to int
        Labels per class.
    model : estimator
        The fitted clone of the user's estimator (wrapped for multi-label).
    classes : tuple of str
        The classes the model knows, in ``predict_proba`` column order.
    cv_predictions : ndarray of shape (n_labelled,) or None
        Out-of-fold predictions for each labelled item (single-label only), for a
        confusion matrix.
    timings : dict of str to float
        Seconds in ``fit``, ``scoring``, ``predict``, ``ordering`` (the audit draws
        included), ``estimate`` (when asked for) and ``total``.
    messages : list of str
        Notes for the user (fewer folds than asked, cross-validation skipped, ...).
    strategy : str
        Name of the ordering used.
    estimate : AccuracyEstimate or None
        The estimated accuracy of ``model`` on the unlabelled pool (see
        :mod:`~superintendent_core.learning.estimate`); None when no audit records
        were passed (``audited=None``).
    audit : AuditDraws or None
        The random draws woven into ``order`` (ids are pool positions); None when
        auditing is off (``audit_share`` 0).
    cv_probabilities : ndarray of shape (n_labelled, n_classes) or None
        Out-of-fold probabilities of each labelled item (columns as ``classes``;
        multi-label: P(class present)); None without cross-validation.
    suggestions : PoolSuggestions or None
        The fitted model's label for every pool row, from the same ``predict_proba``
        as the order (what :meth:`Learner.suggest` would give, without predicting again).
    """

    order: np.ndarray
    score: float | None
    metric: str
    cv_folds: int
    label_counts: dict[str, int]
    model: Any
    classes: tuple[str, ...]
    n_labels: int
    cv_predictions: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    strategy: str = ""
    estimate: AccuracyEstimate | None = None
    audit: AuditDraws | None = None
    cv_probabilities: np.ndarray | None = None
    suggestions: PoolSuggestions | None = None

    @property
    def overhead(self) -> float:
        """Seconds spent outside the model's own fit, cross-validation and predict_proba."""
        t = self.timings
        return t.get("total", 0.0) - t.get("fit", 0.0) - t.get("scoring", 0.0) - t.get("predict", 0.0)


def _model_name(estimator: Any) -> str:
    if isinstance(estimator, Pipeline):
        return f"Pipeline ending in {type(estimator[-1]).__name__}"
    return type(estimator).__name__


def _n_rows(X: Any) -> int:
    if sp.issparse(X) or isinstance(X, np.ndarray | pd.DataFrame | pd.Series):
        return X.shape[0]
    return len(X)


def _valid_records(audited: Any, n: int) -> dict[str, np.ndarray]:
    """The usable audit records: a labelled row each, once, with q in (0, 1] and support ≥ 1.

    Returns ``row`` (intp), ``probability`` and ``support`` (float64) arrays;
    anything unreadable counts as unusable (a client's records are hostile input).
    """
    columns = ("row", "probability", "support")
    empty = {"row": np.empty(0, dtype=np.intp), "probability": np.empty(0), "support": np.empty(0)}
    if not isinstance(audited, pd.DataFrame) or not set(columns) <= set(audited.columns) or audited.empty:
        return empty
    values = {}
    for c in columns:
        v = audited[c].to_numpy()
        if v.dtype.kind not in "iuf":
            v = pd.to_numeric(audited[c], errors="coerce").to_numpy()
        values[c] = v.astype(np.float64)
    row, q, support = values["row"], values["probability"], values["support"]
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(row) & (row >= 0) & (row < n) & (row == np.round(row))
            & (q > 0) & (q <= 1) & np.isfinite(support) & (support >= 1)
        )
    idx = np.flatnonzero(ok)
    _, first = np.unique(row[idx], return_index=True)  # a row once: its first record
    idx = np.sort(idx[first])
    return {"row": row[idx].astype(np.intp), "probability": q[idx], "support": support[idx]}


def _numeric_2d(X: Any) -> np.ndarray | None:
    """A dense float view of ``X`` for feature-aware strategies, or None if it has none."""
    if isinstance(X, pd.DataFrame):
        if not all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes):
            return None
        X = X.to_numpy()
    if sp.issparse(X):
        return None
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "fiub":
        return X if X.dtype.kind == "f" else X.astype(np.float32)
    return None


class Learner:
    """Fits a clone of the user's estimator on the labels and ranks the pool.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``predict_proba``, optional
        Any scikit-learn-style classifier (``Pipeline`` included). It is cloned
        for every fit; the object passed in is never modified. Defaults to
        :func:`default_estimator`.
    preprocess : callable ``(x, y) -> (x, y)``, optional
        superintendent's ``model_preprocess``: applied to the labelled data, and
        to the pool with ``y=None``. It must keep one row per item.
    strategy : str, Strategy or callable, optional
        A name in :data:`superintendent_core.strategies.STRATEGIES`, a
        :class:`~superintendent_core.strategies.base.Strategy` or a plain
        ordering function; None means the project's default. The strategy's
        :class:`~superintendent_core.strategies.base.PoolContext` carries the
        pool as the model's last step sees it (after a Pipeline's transforms;
        None when that is not a dense numeric array), the batch size and the
        random state, and, for a strategy with ``uses_features``, the labelled
        items in that same representation.
    shuffle_prop : float, default=0.0
        Proportion of the order's positions shuffled among themselves.
    cv : int or None, default=3
        Folds of cross-validation for the score; None or 0 skips scoring.
    multi_label : bool, default=False
        Each item may carry several labels; the estimator is wrapped in
        :class:`~sklearn.multioutput.MultiOutputClassifier`.
    batch_size : int, default=1
        How many items will be served from the top of the order before the next
        retrain (feature-aware strategies diversify that many).
    n_threads : int or None, default=1
        BLAS/OpenMP threads during fitting and prediction (None: leave as is).
    random_state : int, RandomState instance or None
        Seed for folds, shuffling, the strategy and the audit draws. The strategy
        draws first; one further number is then drawn for the folds and the audit
        draws, whether or not they are used, so turning cross-validation or the
        estimate on or off never changes the orders.
    audit_share : float in [0, 1], default=DEFAULT_AUDIT_SHARE
        Expected share of the served positions (the first ``batch_size`` of each
        order) filled by random draws of known probability, whose labels the
        accuracy estimate rests on (:func:`~.estimate.weave_audit`). 0 turns the
        draws off. With the ``random`` strategy every served position is such a
        draw (uniform), at no cost.
    audit_from : int, default=DEFAULT_AUDIT_FROM
        No audit draws while fewer labels than this exist (the random strategy
        audits from the start: it costs nothing there).
    audit_power, audit_uniform : float
        The draws' proposal: q ∝ (1 − margin) ** audit_power, mixed with
        ``audit_uniform`` of the uniform distribution
        (:func:`~.estimate.audit_proposal`).

    Notes
    -----
    The accuracy estimate (``RetrainResult.estimate``) is computed when
    ``retrain`` gets the audit records of the labelled rows (``audited``) and
    cross-validation ran: see :mod:`~superintendent_core.learning.estimate`.
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        preprocess: Preprocess | None = None,
        strategy: str | Callable | None = None,
        shuffle_prop: float = 0.0,
        cv: int | None = 3,
        multi_label: bool = False,
        batch_size: int = 1,
        n_threads: int | None = 1,
        random_state: int | np.random.RandomState | None = None,
        audit_share: float = DEFAULT_AUDIT_SHARE,
        audit_from: int = DEFAULT_AUDIT_FROM,
        audit_power: float = AUDIT_POWER,
        audit_uniform: float = AUDIT_UNIFORM,
    ) -> None:
        self.estimator = estimator
        self.preprocess = preprocess
        self.strategy = strategy
        self.shuffle_prop = shuffle_prop
        self.cv = cv
        self.multi_label = multi_label
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.random_state = random_state
        self.audit_share = audit_share
        self.audit_from = audit_from
        self.audit_power = audit_power
        self.audit_uniform = audit_uniform
        self.estimator_method = ESTIMATE_METHOD

    # ------------------------------------------------------------------ parameters

    def _estimator(self) -> Any:
        estimator = default_estimator() if self.estimator is None else self.estimator
        if not hasattr(estimator, "fit"):
            raise TrainingError(f"{_model_name(estimator)} has no fit method; it is not a model.")
        if not hasattr(estimator, "predict_proba"):
            hint = ""
            if "SVC" in _model_name(estimator):
                hint = " (for SVC, use superintendent_core.CalibratedSVC or sklearn's CalibratedClassifierCV)"
            raise TrainingError(
                f"{_model_name(estimator)} has no predict_proba{hint}; active learning needs a "
                "model that gives probabilities."
            )
        return estimator

    def _strategy(self) -> tuple[Strategy, str]:
        """The strategy to call, and the name results show."""
        strategy = self.strategy
        if strategy is None:
            from ..strategies.neighbourhood import DEFAULT_STRATEGY

            strategy = DEFAULT_STRATEGY
        return registry.resolve_named(strategy)

    def _check_params(self) -> None:
        if not 0.0 <= float(self.shuffle_prop) <= 1.0:
            raise ValueError(f"shuffle_prop must be between 0 and 1, got {self.shuffle_prop!r}.")
        if self.cv not in (None, 0) and (not isinstance(self.cv, int | np.integer) or self.cv < 2):
            raise ValueError(f"cv must be None, 0 or an integer ≥ 2, got {self.cv!r}.")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size!r}.")
        share = self.audit_share
        if isinstance(share, bool) or not isinstance(share, int | float | np.number) or not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"audit_share must be between 0 and 1, got {share!r}.")

    def _limits(self):
        return _controller().limit(limits=self.n_threads) if self.n_threads else nullcontext()

    # ------------------------------------------------------------------ preprocessing

    def _preprocess(self, X: Any, y: Any) -> tuple[Any, Any]:
        if self.preprocess is None:
            return X, y
        n = _n_rows(X)
        try:
            X_out, y_out = self.preprocess(X, y)
        except Exception as exc:  # the user's function: report, don't crash
            raise TrainingError(f"preprocess failed: {type(exc).__name__}: {exc}") from exc
        if _n_rows(X_out) != n or (y is not None and y_out is not None and len(y_out) != n):
            raise TrainingError(
                f"preprocess returned {_n_rows(X_out)} rows for {n} items; it must keep exactly "
                "one row per item (it may change the features, not the number of rows)."
            )
        return X_out, (y if y_out is None else y_out)

    # ------------------------------------------------------------------ labels

    def _check_labels(self, y: Sequence) -> tuple[Any, tuple[str, ...], dict[str, int]]:
        if self.multi_label:
            Y, classes = binarize_labels(y)
            counts = {c: int(n) for c, n in zip(classes, Y.sum(axis=0), strict=True)}
            if len(classes) == 0:
                raise TrainingError("Need at least one label to train; every labelled item has an empty label set.")
            return Y, classes, counts
        labels = np.asarray([str(v) for v in y], dtype=object)
        counts = dict(sorted(Counter(labels.tolist()).items()))
        if len(counts) < 2:
            only = next(iter(counts))
            raise TrainingError(
                f"Need at least 2 classes to train; so far every label is {only!r}. "
                "Label a few items of another class first."
            )
        return labels, tuple(counts), counts

    def _folds(self, y: Any, counts: dict[str, int], messages: list[str], rng_seed: int):
        if not self.cv:
            return None
        n = len(y)
        if self.multi_label:
            k = min(self.cv, n)
            if k < 2:
                messages.append("Cross-validation skipped: it needs at least 2 labelled items.")
                return None
            if k < self.cv:
                messages.append(f"Used {k}-fold cross-validation instead of {self.cv}: only {n} labelled items.")
            return KFold(n_splits=k, shuffle=True, random_state=rng_seed)
        smallest_class, smallest = min(counts.items(), key=lambda kv: kv[1])
        k = min(self.cv, smallest)
        if k < 2:
            messages.append(
                f"Cross-validation skipped: class {smallest_class!r} has only {smallest} label; "
                "label at least 2 items of every class to get a score."
            )
            return None
        if k < self.cv:
            messages.append(
                f"Used {k}-fold cross-validation instead of {self.cv}: class {smallest_class!r} "
                f"has only {smallest} labels."
            )
        return StratifiedKFold(n_splits=k, shuffle=True, random_state=rng_seed)

    # ------------------------------------------------------------------ fitting

    def _make_model(self, estimator: Any) -> Any:
        return MultiLabelModel(estimator) if self.multi_label else clone(estimator)

    def _fit(self, estimator: Any, X: Any, y: Any) -> Any:
        model = self._make_model(estimator)
        try:
            return model.fit(X, y)
        except Exception as exc:
            raise TrainingError(
                f"{_model_name(estimator)} could not be fitted on these labels: {type(exc).__name__}: {exc}"
            ) from exc

    def _cross_validate(
        self, estimator: Any, X: Any, y: Any, folds, classes: tuple[str, ...]
    ) -> tuple[float, np.ndarray | None, np.ndarray]:
        """Mean fold score, out-of-fold predictions (single-label) and out-of-fold probabilities.

        Each fold model's ``predict_proba`` on its held-out rows is kept (the same
        cost as ``predict``); its answer is the most probable class (multi-label:
        the classes with probability ≥ 0.5), as the app's suggestions show it.
        """
        scores = []
        n = len(y)
        predictions = None if self.multi_label else np.empty(n, dtype=object)
        oof = np.full((n, len(classes)), np.nan)
        column = {c: j for j, c in enumerate(classes)}
        for train, test in folds.split(np.zeros(n), None if self.multi_label else y):
            model = self._fit(estimator, _safe_indexing(X, train), _safe_indexing(y, train))
            try:
                proba = model.predict_proba(_safe_indexing(X, test))
            except Exception as exc:
                raise TrainingError(
                    f"{_model_name(estimator)} could not predict probabilities: {type(exc).__name__}: {exc}"
                ) from exc
            truth = _safe_indexing(y, test)
            if self.multi_label:
                from sklearn.metrics import f1_score

                stacked = np.column_stack([p[:, -1] for p in proba]) if len(proba) else np.zeros((len(test), 0))
                oof[test] = stacked
                predicted = (stacked >= 0.5).astype(np.int8)
                scores.append(f1_score(truth, predicted, average="samples", zero_division=1.0))
            else:
                proba = np.asarray(proba, dtype=np.float64)
                cols = [column[str(c)] for c in model.classes_]
                block = np.zeros((len(test), len(classes)))
                block[:, cols] = proba
                oof[test] = block
                predicted = np.asarray(classes, dtype=object)[block.argmax(axis=1)]
                predictions[test] = predicted
                scores.append(float(np.mean(predicted == truth)))
        return float(np.mean(scores)), predictions, oof

    # ------------------------------------------------------------------ scoring the pool

    def _predict_pool(self, model: Any, X_pool: Any) -> tuple[Any, np.ndarray | None]:
        """Probabilities for the pool, and its representation for feature-aware strategies."""
        if isinstance(model, Pipeline) and len(model.steps) > 1:
            transformed = model[:-1].transform(X_pool)
            return model[-1].predict_proba(transformed), _numeric_2d(transformed)
        return model.predict_proba(X_pool), _numeric_2d(X_pool)

    @staticmethod
    def _representation(model: Any, X: Any) -> np.ndarray | None:
        """``X`` as the pool's features are given to strategies: through a Pipeline's transforms.

        Parameters
        ----------
        model : fitted estimator
        X : array-like of shape (n_items, ...)

        Returns
        -------
        ndarray of shape (n_items, n_features) or None
            None when the representation is not a dense numeric array.
        """
        if isinstance(model, Pipeline) and len(model.steps) > 1:
            return _numeric_2d(model[:-1].transform(X))
        return _numeric_2d(X)

    def _order(
        self,
        strategy: Strategy,
        name: str,
        probabilities: Any,
        features: np.ndarray | None,
        rng: np.random.RandomState,
        labelled_features: np.ndarray | None = None,
    ) -> np.ndarray:
        context = PoolContext(probabilities, features, labelled_features, int(self.batch_size), rng)
        if context.n_items == 0:
            return np.empty(0, dtype=np.intp)
        return order_pool(strategy, context, self.shuffle_prop, name=name)

    # ------------------------------------------------------------------ public API

    def retrain(
        self,
        X_labelled: Any,
        y: Sequence,
        X_pool: Any,
        *,
        audited: pd.DataFrame | None = None,
    ) -> RetrainResult:
        """Fit on the labels, cross-validate, order the pool and estimate the accuracy.

        Parameters
        ----------
        X_labelled : array-like of shape (n_labelled, ...)
            Features of the labelled items: an ndarray, a DataFrame, a list of
            strings or a sparse matrix, whatever the estimator accepts.
        y : sequence of length n_labelled
            One label per item; for ``multi_label`` a sequence of label lists.
        X_pool : array-like of shape (n_pool, ...)
            Features of the items to order (usually the unlabelled ones).
        audited : DataFrame, optional
            The audit records of the labelled rows: columns ``row`` (index into
            ``X_labelled``), ``probability`` and ``support`` (the draw's q and
            support) and ``seq`` (labels in force when it was drawn). None: no
            estimate (``result.estimate`` is None). Invalid rows (a row out of
            range or repeated, q outside (0, 1], support < 1) are ignored; ``seq``
            is not needed by the estimator.

        Returns
        -------
        RetrainResult

        Raises
        ------
        TrainingError
            When the labels or the model cannot support a fit; the message says
            what to do.
        """
        start = time.perf_counter()
        self._check_params()
        estimator = self._estimator()
        strategy, strategy_name = self._strategy()
        n = _n_rows(X_labelled)
        if n != len(y):
            raise TrainingError(f"Got {n} labelled items but {len(y)} labels; they must match.")
        if n == 0:
            raise TrainingError("No labels yet: label a few items of at least 2 classes, then retrain.")
        rng = check_random_state(self.random_state)
        messages: list[str] = []
        timings = {"fit": 0.0, "scoring": 0.0, "predict": 0.0, "ordering": 0.0}
        X, y_in = self._preprocess(X_labelled, list(y))
        X_pool, _ = self._preprocess(X_pool, None)
        y_fit, classes, counts = self._check_labels(y_in)

        with self._limits():
            t = time.perf_counter()
            model = self._fit(estimator, X, y_fit)
            timings["fit"] = time.perf_counter() - t
            t = time.perf_counter()
            if _n_rows(X_pool):
                probabilities, features = self._predict_pool(model, X_pool)
            else:
                probabilities, features = np.empty((0, len(classes))), None
            timings["predict"] = time.perf_counter() - t
            t = time.perf_counter()
            # The pool's top two probabilities, once: the audit proposal, the estimate and
            # the suggestions all read them (1M rows: 0.1 s a pass).
            first = unsure = None
            if not self.multi_label and isinstance(probabilities, np.ndarray) and probabilities.ndim == 2:
                first, second = top_two(probabilities)
                second -= first
                second += 1.0
                unsure = np.clip(second, 0.0, 1.0, out=second)  # as estimate.pool_uncertainty
            labelled_features = None
            if features is not None and strategy.uses_features:  # a transform of every labelled item
                labelled_features = self._representation(model, X)
            order = self._order(strategy, strategy_name, probabilities, features, rng, labelled_features)
            # One draw from the strategy's stream, always: folds and audit draws come from
            # their own stream, so turning either on or off never shifts the next orders.
            side_seed = rng.randint(np.iinfo(np.int32).max)
            if isinstance(self.random_state, int | np.integer):
                # A fixed seed restarts every retrain's stream at the same place: without the
                # label and pool counts in it, every order would draw its audits with the same
                # uniform numbers (the same slots, the same quantiles of the proposal).
                side_seed = np.random.SeedSequence([side_seed, n, _n_rows(X_pool)]).generate_state(1)[0]
            side = np.random.RandomState(side_seed)
            fold_seed = side.randint(np.iinfo(np.int32).max)
            order, audit = self._weave(order, probabilities, strategy, n, side, unsure)
            timings["ordering"] = time.perf_counter() - t
            suggestions = self._pool_suggestions(model, probabilities, classes, first)  # in the overhead

            folds = self._folds(y_fit, counts, messages, fold_seed)
            score, cv_predictions, cv_probabilities, n_folds = None, None, None, 0
            if folds is not None:
                t = time.perf_counter()
                score, cv_predictions, cv_probabilities = self._cross_validate(estimator, X, y_fit, folds, classes)
                timings["scoring"] = time.perf_counter() - t
                n_folds = folds.get_n_splits()

        self.model_ = model
        self.classes_ = tuple(str(c) for c in (classes if self.multi_label else model.classes_))
        estimate = None
        if audited is not None:
            t = time.perf_counter()
            estimate = self._estimate(audited, y_fit, cv_probabilities, probabilities, n, n_folds, first)
            timings["estimate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        return RetrainResult(
            order=order,
            score=score,
            metric="f1_samples" if self.multi_label else "accuracy",
            cv_folds=n_folds,
            label_counts=counts,
            model=model,
            classes=self.classes_,
            n_labels=n,
            cv_predictions=cv_predictions,
            timings=timings,
            messages=messages,
            strategy=strategy_name,
            estimate=estimate,
            audit=audit,
            cv_probabilities=cv_probabilities,
            suggestions=suggestions,
        )

    def _pool_suggestions(
        self, model: Any, probabilities: Any, classes: Any, first: np.ndarray | None
    ) -> PoolSuggestions:
        """:class:`PoolSuggestions` from the pool's probabilities (vectorised; same answers as :meth:`suggest`)."""
        if self.multi_label:
            names_of = tuple(str(c) for c in classes)
            if not isinstance(probabilities, list | tuple) or not len(probabilities):
                return PoolSuggestions(np.empty(0, dtype=np.int32), (), np.empty(0))
            stacked = np.column_stack([p[:, -1] for p in probabilities])
            chosen = stacked >= 0.5
            confidence = np.prod(np.where(chosen, stacked, 1 - stacked), axis=1).astype(np.float64)
            k = chosen.shape[1]
            if k <= 62:  # each row's set as one integer: np.unique on n ints, not on n rows
                key = chosen.astype(np.int64) @ (np.int64(1) << np.arange(k, dtype=np.int64))
                sets, codes = np.unique(key, return_inverse=True)
                rows = [[(int(v) >> j) & 1 for j in range(k)] for v in sets.tolist()]
            else:
                rows_arr, codes = np.unique(chosen, axis=0, return_inverse=True)
                rows = rows_arr.tolist()
            names = tuple(join_labels(tuple(c for c, on in zip(names_of, r, strict=True) if on)) for r in rows)
            return PoolSuggestions(codes.reshape(-1).astype(np.int32), names, confidence)
        model_classes = tuple(str(c) for c in model.classes_)
        p = np.asarray(probabilities)
        if p.ndim != 2 or p.shape[0] == 0:
            return PoolSuggestions(np.empty(0, dtype=np.int32), model_classes, np.empty(0))
        codes = p.argmax(axis=1).astype(np.int32)
        probability = first if first is not None else p.max(axis=1).astype(np.float64)
        return PoolSuggestions(codes, model_classes, np.asarray(probability, dtype=np.float64))

    # ------------------------------------------------------------------ the estimate

    def _weave(
        self, order: np.ndarray, probabilities: Any, strategy: Strategy, n_labels: int, rng: np.random.RandomState,
        unsure: np.ndarray | None = None,
    ) -> tuple[np.ndarray, AuditDraws | None]:
        """The order with its audit draws (None: auditing is off).

        ``unsure``: :func:`~.estimate.pool_uncertainty` of the probabilities when already
        computed (the distributed path has it, not the probabilities).
        """
        share = float(self.audit_share)
        if share == 0:
            return order, None
        if getattr(strategy, "function", None) is uncertainty_random:
            # The random strategy's served items are uniform draws already: all of them audit, from the start.
            return weave_audit(order, probabilities, share=1.0, rng=rng, batch_size=int(self.batch_size),
                               power=0.0, uniform=1.0, unsure=unsure)
        if order.size == 0 or n_labels < int(self.audit_from):
            return order, AuditDraws.empty()
        return weave_audit(order, probabilities, share=share, rng=rng, batch_size=int(self.batch_size),
                           power=float(self.audit_power), uniform=float(self.audit_uniform), unsure=unsure)

    def _estimate(
        self, audited: Any, y_fit: Any, cv_probabilities: np.ndarray | None, probabilities: Any, n: int,
        n_folds: int = 3, on_pool: np.ndarray | None = None,
    ) -> AccuracyEstimate:
        """The accuracy estimate from the audit records of the labelled rows.

        ``on_pool``: :func:`~.estimate.pool_confidence` of the probabilities when already computed.
        """
        if cv_probabilities is None:
            return AccuracyEstimate.unknown(
                "no estimate without cross-validation: it scores each audited label with a model that did "
                "not train on it"
                + (" (every class needs at least 2 labels)." if self.cv else " (cross-validation is off)."),
                n_labels=n,
            )
        records = _valid_records(audited, n)
        if float(self.audit_share) == 0 and not len(records["row"]):
            return AccuracyEstimate.unknown(
                "the estimate is off: this project serves no items drawn at random (audit share 0); "
                "set an audit share above 0 to get one.",
                n_labels=n,
            )
        rows = records["row"]
        if on_pool is None:
            on_pool = pool_confidence(probabilities, self.multi_label)
        if self.multi_label:
            confidence, predicted = confidence_and_prediction(cv_probabilities, multi_label=True)
            correct = (predicted == np.asarray(y_fit)).all(axis=1)
        else:
            confidence, predicted = confidence_and_prediction(cv_probabilities)
            correct = np.asarray(self.classes_, dtype=object)[predicted] == np.asarray(y_fit, dtype=object)
        correct = correct.astype(np.float64)
        return estimate_accuracy(
            correct=correct[rows],
            confidence=confidence[rows],
            probability=records["probability"],
            support=records["support"],
            pool_confidence=on_pool,
            n_labels=n,
            method=self.estimator_method,
            train_share=1.0 - 1.0 / n_folds,
        )

    def cold_start(self, X_pool: Any) -> np.ndarray:
        """Order the pool before any model exists.

        Strategies with an ``informed_cold_start`` (the project default) choose
        representative items from the pool's features; the others, and any
        strategy when the pool has no numeric representation, give a random
        order (the protocol's default cold start, drawn here without computing
        features).

        Returns
        -------
        order : ndarray of shape (n_pool,)
        """
        strategy, name = self._strategy()
        rng = check_random_state(self.random_state)
        X_pool, _ = self._preprocess(X_pool, None)
        n = _n_rows(X_pool)
        if not strategy.informed_cold_start or n == 0:
            return rng.permutation(n)
        features = _numeric_2d(X_pool)
        estimator = self.estimator
        if features is None and isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
            try:  # unsupervised front of the pipeline, e.g. a TF-IDF vectoriser
                with self._limits():
                    features = _numeric_2d(clone(estimator[:-1]).fit_transform(X_pool))
            except Exception:
                features = None
        if features is None:  # e.g. raw text with no unsupervised front: nothing to cover
            return rng.permutation(n)
        with self._limits():
            order = strategy.cold_start(features, random_state=rng)
        return check_order(order, n, f"the cold start of strategy {name!r}")

    def suggest(self, X: Any) -> list[Suggestion]:
        """The fitted model's label and probability for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, ...)

        Returns
        -------
        list of Suggestion, one per row.
        """
        if not hasattr(self, "model_"):
            raise TrainingError("No model yet: retrain first.")
        X, _ = self._preprocess(X, None)
        if _n_rows(X) == 0:
            return []
        with self._limits():
            probabilities = self.model_.predict_proba(X)
        if self.multi_label:
            stacked = np.column_stack([p[:, -1] for p in probabilities])
            out = []
            for row in stacked:
                chosen = tuple(c for c, q in zip(self.classes_, row, strict=True) if q >= 0.5)
                confidence = float(np.prod(np.where(row >= 0.5, row, 1 - row)))
                out.append(Suggestion(chosen, confidence))
            return out
        best = probabilities.argmax(axis=1)
        return [
            Suggestion(self.classes_[j], float(probabilities[i, j])) for i, j in enumerate(best)
        ]

