"""Simulation: run active learning with an oracle on a fully labelled data set.

:func:`simulate` replays what a labeller would do with the app: serve the first
items, "label" them from the known answers, retrain with the same
:class:`~superintendent_core.learning.learner.Learner` the app uses, serve the
next batch from the new order (audit draws for the accuracy estimate included,
as in the app), and so on until the budget is spent. After every retrain the
model is scored on a held-out test set, which gives a learning curve per
strategy: the app uses it to let people compare strategies on their own labels,
and ``benchmarks/bench_efficiency.py`` uses it for the project's figures. With
``estimate=True`` (the default) each retrain also cross-validates, as the app
does, and the curve carries the accuracy estimate the Model page would show,
computed from the simulated project's own labels only (the audited ones) —
never from the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, check_random_state

from ..strategies import registry
from ..strategies.neighbourhood import DEFAULT_STRATEGY
from .estimate import DEFAULT_AUDIT_SHARE
from .learner import Learner

__all__ = ["SimulationResult", "simulate"]


@dataclass
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    curve : pandas.DataFrame
        One row per retrain, columns ``n_labels`` (labels the model was fitted
        on) and ``accuracy`` (its accuracy on the test set). With the estimate
        on, also ``estimate``, ``estimate_low``, ``estimate_high`` (what the
        Model page would show after that retrain, NaN where it shows no number;
        computed from the simulated project's own labels only), ``estimate_n``
        (audited labels it rests on) and ``unlabelled_accuracy`` (the model's
        true accuracy on the pool items not yet labelled: the truth of the
        estimate's target).
    queried : ndarray of shape (n_queried,)
        Indices into ``X_pool`` in the order they were labelled; the initial
        items first. ``n_queried == budget``.
    strategy : str
        Name of the strategy that ordered the pool.
    estimate_target : str or None
        What the estimate estimates: "unlabelled" (accuracy on the pool items
        not yet labelled) or "new"; None with the estimate off.
    audited : ndarray of shape (n_audited,)
        Indices into ``X_pool`` of the labelled items that were audit draws.
    """

    curve: pd.DataFrame
    queried: np.ndarray
    strategy: str
    estimate_target: str | None = None
    audited: np.ndarray | None = None

    def labels_to(self, accuracy: float) -> int | None:
        """The fewest labels at which the test accuracy reached ``accuracy`` (None: never)."""
        reached = self.curve.loc[self.curve["accuracy"] >= accuracy, "n_labels"]
        return int(reached.iloc[0]) if len(reached) else None


def _n_rows(X: Any) -> int:
    if sp.issparse(X) or isinstance(X, np.ndarray | pd.DataFrame | pd.Series):
        return X.shape[0]
    return len(X)


def _as_labels(y: Any) -> np.ndarray:
    # The learner trains on str(label); compare predictions in the same form.
    return np.asarray([str(v) for v in (y.tolist() if hasattr(y, "tolist") else y)], dtype=object)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def _check_inputs(X_pool, y_pool, X_test, y_test, initial, batch_size, budget, shuffle_prop):
    n_pool, n_test = _n_rows(X_pool), _n_rows(X_test)
    if n_pool != len(y_pool):
        raise ValueError(
            f"X_pool has {n_pool} rows but y_pool has {len(y_pool)} labels; they must match."
        )
    if n_test != len(y_test):
        raise ValueError(
            f"X_test has {n_test} rows but y_test has {len(y_test)} labels; they must match."
        )
    if n_test == 0:
        raise ValueError("The test set is empty; the learning curve needs at least one test item.")
    initial = _check_int("initial", initial, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    budget = _check_int("budget", budget, 1)
    if budget < initial:
        raise ValueError(
            f"budget ({budget}) is smaller than initial ({initial}); the budget counts the "
            "initial labels too, so it must be at least as large."
        )
    if budget > n_pool:
        raise ValueError(
            f"budget ({budget}) is larger than the pool ({n_pool} items); lower the budget or "
            "give a larger pool."
        )
    if len(set(_as_labels(y_pool).tolist())) < 2:
        raise ValueError("y_pool has fewer than 2 classes; there is nothing to learn.")
    if not 0.0 <= float(shuffle_prop) <= 1.0:
        raise ValueError(f"shuffle_prop must be between 0 and 1, got {shuffle_prop!r}.")
    return initial, batch_size, budget


def simulate(
    X_pool: Any,
    y_pool: Sequence,
    X_test: Any,
    y_test: Sequence,
    model: Any,
    strategy: str | Callable | None = None,
    initial: int = 10,
    batch_size: int = 1,
    budget: int = 300,
    shuffle_prop: float = 0.0,
    random_state: int | np.random.RandomState | None = 0,
    audit_share: float = DEFAULT_AUDIT_SHARE,
    estimate: bool = True,
    learner_params: dict | None = None,
) -> SimulationResult:
    """Run active learning on labelled data, with the known labels as the oracle.

    The first ``initial`` items come from the strategy's cold start when it is
    informed (``informed_cold_start``: the project default picks representative
    items), otherwise they are a
    uniformly random draw from ``random_state`` — the same draw for every plain
    strategy, so their curves start from the same labels. Should those items
    all carry one class, items keep coming from the same order, one at a time,
    until a second class appears (as a labeller would), and the first retrain
    happens then. After that, each retrain orders the unlabelled items and the
    first ``batch_size`` of the order are labelled next, until ``budget``
    labels are spent (the last batch may be smaller).

    Parameters
    ----------
    X_pool : array-like of shape (n_pool, ...)
        Features of the pool, in any form the model accepts (ndarray,
        DataFrame, list of strings, sparse matrix).
    y_pool : sequence of length n_pool
        The true label of every pool item (the oracle).
    X_test : array-like of shape (n_test, ...)
        Held-out items to score each fitted model on.
    y_test : sequence of length n_test
    model : estimator with ``fit`` and ``predict_proba``
        Cloned for every fit; never modified.
    strategy : str, Strategy or callable, optional
        A name in :data:`superintendent_core.strategies.STRATEGIES`, a
        :class:`~superintendent_core.strategies.base.Strategy` or a plain
        ordering function; None means the project's default.
    initial : int, default=10
        Labels before the first retrain.
    batch_size : int, default=1
        Items labelled between two retrains.
    budget : int, default=300
        Total labels, the initial ones included.
    shuffle_prop : float, default=0.0
        Proportion of each order's positions shuffled (see
        :func:`~superintendent_core.strategies.shuffle_positions`).
    random_state : int, RandomState instance or None, default=0
        Seed for the initial draw, the strategy and the shuffle.
    audit_share : float in [0, 1], default=DEFAULT_AUDIT_SHARE
        The project setting: expected share of served items drawn at random for
        the estimate (see :class:`~superintendent_core.learning.learner.Learner`).
        0: no draws, no estimate.
    estimate : bool, default=True
        Compute the estimate after every retrain (needs 3-fold
        cross-validation, the app's, so it is slower). The order, and so the
        learning curve, does not depend on it.
    learner_params : dict, optional
        Further :class:`~superintendent_core.learning.learner.Learner`
        parameters (e.g. ``audit_from``), for benchmarks.

    Returns
    -------
    SimulationResult
        ``.curve`` (DataFrame with ``n_labels`` and ``accuracy``, one row per
        retrain) and ``.queried`` (pool indices in labelling order).

    Raises
    ------
    ValueError
        For mismatched lengths, an empty test set, a budget smaller than
        ``initial`` or larger than the pool, ``batch_size`` < 1, a pool with
        fewer than 2 classes, an unknown strategy.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_digits(return_X_y=True)
    >>> result = simulate(X[:300] / 16, y[:300], X[300:] / 16, y[300:],
    ...                   LogisticRegression(max_iter=2000), strategy="margin",
    ...                   initial=10, batch_size=10, budget=50)
    >>> result.curve["n_labels"].tolist()
    [10, 20, 30, 40, 50]
    """
    initial, batch_size, budget = _check_inputs(
        X_pool, y_pool, X_test, y_test, initial, batch_size, budget, shuffle_prop
    )
    n_pool = _n_rows(X_pool)
    y_all = _as_labels(y_pool)
    y_true_test = _as_labels(y_test)

    # Two independent streams from one seed: the initial draw does not depend on
    # the strategy, and the strategy's randomness does not shift the draw.
    seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=2)
    learner = Learner(
        model,
        strategy=strategy,
        shuffle_prop=shuffle_prop,
        cv=None,
        batch_size=batch_size,
        random_state=np.random.RandomState(seeds[1]),
        audit_share=audit_share,
        **(learner_params or {}),
    )
    if estimate:
        learner.cv = 3
    spec = DEFAULT_STRATEGY if strategy is None else strategy
    resolved, name = registry.resolve_named(spec)
    if resolved.informed_cold_start:
        start_order = np.asarray(learner.cold_start(X_pool))
    else:
        start_order = np.random.RandomState(seeds[0]).permutation(n_pool)

    queried = list(start_order[:initial])
    served = initial
    while len(set(y_all[queried].tolist())) < 2 and served < budget:
        queried.append(start_order[served])  # keep labelling until a second class shows up
        served += 1
    if len(set(y_all[queried].tolist())) < 2:
        raise ValueError(
            f"All {len(queried)} items served within the budget carry the label {y_all[queried[0]]!r}; "
            "a model needs 2 classes. Raise the budget or give a more varied pool."
        )

    labelled = np.zeros(n_pool, dtype=bool)
    labelled[queried] = True
    records: dict[int, tuple[float, int, int]] = {}  # pool index -> (q, support, seq) of an audit draw
    rows: list[dict] = []
    while True:
        lab = np.asarray(queried)
        pool = np.flatnonzero(~labelled)
        audited = None
        if estimate:
            position = {int(i): r for r, i in enumerate(lab)}
            audited = pd.DataFrame(
                [(position[i], q, m, seq) for i, (q, m, seq) in records.items()],
                columns=["row", "probability", "support", "seq"],
            )
        result = learner.retrain(
            _safe_indexing(X_pool, lab), y_all[lab].tolist(), _safe_indexing(X_pool, pool), audited=audited
        )
        predicted = _as_labels(result.model.predict(X_test))
        row = {"n_labels": len(queried), "accuracy": float(np.mean(predicted == y_true_test))}
        if estimate:
            est = result.estimate
            row |= {
                "estimate": np.nan if est.value is None else est.value,
                "estimate_low": np.nan if est.low is None else est.low,
                "estimate_high": np.nan if est.high is None else est.high,
                "estimate_n": est.n_audited,
                "unlabelled_accuracy": (
                    float(np.mean(_as_labels(result.model.predict(_safe_indexing(X_pool, pool))) == y_all[pool]))
                    if pool.size else np.nan
                ),
            }
        rows.append(row)
        if len(queried) >= budget:
            break
        take = min(batch_size, budget - len(queried))
        chosen = pool[result.order[:take]]
        if result.audit is not None and len(result.audit):
            served = set(result.order[:take].tolist())
            for i, q, m in zip(result.audit.ids, result.audit.probability, result.audit.support, strict=True):
                if int(i) in served:
                    records[int(pool[i])] = (float(q), int(m), len(queried))
        queried.extend(chosen.tolist())
        labelled[chosen] = True

    curve = pd.DataFrame(rows)
    return SimulationResult(
        curve=curve,
        queried=np.asarray(queried, dtype=np.intp),
        strategy=name,
        estimate_target="unlabelled" if estimate else None,
        audited=np.asarray(sorted(records), dtype=np.intp),
    )
