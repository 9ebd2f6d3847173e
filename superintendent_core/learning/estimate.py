"""An honest estimate of the current model's accuracy, from audited labels.

Why: cross-validation on actively chosen labels reads far too low (they were chosen
*because* the model found them hard). This module estimates the accuracy of the
current model on **the pool items not yet labelled** (target "unlabelled"), with a
90 % interval, from what a project has: its labels, and for some of them a record
that the item was served from an *audit slot* of the order, drawn at random with a
known probability.

Audit draws (:func:`weave_audit`)
    Among the first ``batch_size`` positions of each order (what is served before
    the next retrain) a share ``audit_share`` (default 0.2) is, on average, filled
    by a random draw instead of the strategy's pick: ``floor(share·K + U)`` slots
    (U uniform) at random positions of the first K. Each slot is filled, in
    position order, by a draw from the pool items not drawn before, with
    probability q ∝ (1 − margin)² mixed with 20 % of the uniform distribution
    (every item keeps q ≥ 0.2 / support, so no weight exceeds 5). No draws before
    ``audit_from`` (50) labels: the first picks matter most for the learning
    curve. The strategy's order fills the other positions. The random strategy
    needs no extra draws: every served position is an audit slot with uniform q,
    from the first retrain on.

Estimator (:func:`estimate_accuracy`, method "error_ratio")
    Each audited label m, drawn with probability q_m out of N_m items, gets the
    weight 1 / (N_m · q_m) (Horvitz–Thompson; Farquhar et al. 2021, "On
    Statistical Bias in Active Learning"; Kossen et al. 2021, "Active Testing"),
    self-normalised (Hajek). It is scored by the retrain's cross-validation fold
    model that did not train on it (out of fold: no extra fits). The weighted
    ratio R = (error of those models on the audited items) / (error they predicted,
    1 − their confidence) calibrates the current model's own predicted error on
    the unlabelled pool: estimate = 1 − R · mean(1 − confidence). The current
    model carries the estimate (no fold-size lag); the audits only calibrate it.
    The 90 % interval is the t-interval of the ratio (linearised), widened by half
    the gap between the estimate and the fold models' own weighted accuracy: the
    step from models trained on 2/3 of the labels to the current one is an
    extrapolation, and the interval says so. Clipped to [0, 1].

How it was chosen (``benchmarks/bench_estimate.py``, batch 10, seeds 0–4, from 100
labels on; digits / digits with pixel noise / a synthetic 4-class set; MAE and
mean width over the five strategies): "error_ratio" 0.017–0.033 / 0.039–0.062 /
0.064–0.131 MAE; the plain Horvitz–Thompson mean of out-of-fold correctness ("ht",
LURE-style) up to 0.22 MAE with widths 0.43–0.65 on the hard sets (the weights'
variance); its self-normalised form ("hajek") reads low by the fold-size bias
(0.03–0.15 MAE); the difference estimator ("difference": pool confidence +
weighted residual, the brief's (b)) 0.054–0.143 on the hard sets, with 46–59 %
coverage under the random strategy (fold models are less confident than the
current one, so their residual does not carry over); "hajek_curve" (the fold
models' error scaled along an n^-0.5 learning curve) covers well but is 40 %
wider. Tried and dropped: a correction for the items labelled since each draw
(they left the pool the estimate is about; exact from their out-of-fold values):
no gain in bias, 7 % wider; proposals (1 − margin)^4 with 10 % uniform (weights
up to 10: widths 0.3–0.5 on hard data) and starting audits at 0 labels (labels to
95 % on digits at batch 1: 136–155 instead of 109).

Limits, measured (5 seeds, batch 1 and 10, every strategy; README "Measured"): on
digits every strategy meets MAE ≤ 0.04, coverage ≥ 80 %, width ≤ 0.20. On data where
the model stays at 65–75 % the interval is 0.26–0.53 wide at 100–300 labels with 20 %
audits (the binomial floor with 10–50 audited labels is 0.2–0.45) and the error
0.056–0.147; only the random strategy, every label of which is audited, reaches
widths of 0.13–0.17. On an overconfident model whose confidence falls as it learns
(the synthetic set) the scaling misleads: coverage 63–95 %.

Multi-label projects: the same method on exact-set accuracy (an item is right when
its predicted label set equals the given set; confidence = product over classes of
max(p, 1 − p)).

Imported, bulk, relabelled, undone and skipped labels: only labels of items served
from an audit slot carry a draw record (the store keeps it with the first label);
every other label trains the model and the fold models but is never an audited
label. A relabel keeps the record (the latest label is the truth); an undo voids it.
None of them can bias the weights; they only change the models being estimated.
A skipped audit item has no label and is left out: if labellers skip the items the
model gets wrong, the estimate reads high (skipped audit draws are not yet counted).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..store.audit import AuditDraws  # the canonical home: the store keeps the draws
from ..strategies import uncertainty

__all__ = [
    "DEFAULT_AUDIT_FROM",
    "DEFAULT_AUDIT_SHARE",
    "MIN_AUDITED",
    "AccuracyEstimate",
    "AuditDraws",
    "audit_proposal",
    "estimate_accuracy",
    "weave_audit",
]

#: Share of served positions drawn at random for the estimate (0: off).
DEFAULT_AUDIT_SHARE = 0.2
#: No audit draws while fewer labels than this exist (the model's first picks matter most).
DEFAULT_AUDIT_FROM = 50
#: The proposal: q ∝ (1 − margin) ** AUDIT_POWER, mixed with AUDIT_UNIFORM of the uniform distribution.
AUDIT_POWER = 2.0
AUDIT_UNIFORM = 0.2
#: Audited labels needed before a number is given.
MIN_AUDITED = 10
#: Two-sided level of the interval.
LEVEL = 0.90

TARGETS = {"new": "new items like the pool", "unlabelled": "the pool items not yet labelled"}


@dataclass(frozen=True)
class AccuracyEstimate:
    """The estimated accuracy of the current model, or why there is none.

    Attributes
    ----------
    value, low, high : float or None
        The estimate and its 90 % interval; None when it cannot be known.
    target : {"new", "unlabelled"}
        What it estimates: accuracy on new items like the pool, or on the pool
        items not yet labelled.
    n_audited : int
        Audited labels it rests on.
    n_labels : int
        Labels the model was trained on.
    reason : str
        Plain words: what it rests on, or why there is no number.
    """

    value: float | None
    low: float | None
    high: float | None
    target: str
    n_audited: int
    n_labels: int
    reason: str

    @classmethod
    def unknown(cls, reason: str, *, n_audited: int = 0, n_labels: int = 0, target: str = "unlabelled") -> AccuracyEstimate:
        return cls(None, None, None, target, int(n_audited), int(n_labels), reason)

    def to_entry(self) -> dict:
        """The history entry's keys (``store.record_retrain``)."""
        return {
            "estimate": self.value,
            "estimate_low": self.low,
            "estimate_high": self.high,
            "estimate_target": self.target,
            "estimate_n": int(self.n_audited),
            "estimate_note": self.reason,
        }


# --------------------------------------------------------------------------- audit draws


def top_two(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second-largest probability of each row, in one pass over (already validated) values.

    A chunk of rows at a time, transposed into a small buffer (as
    :mod:`~superintendent_core.strategies.uncertainty` does): on 70,000 × 10
    about a third of ``p.max(axis=1)`` plus a margin scan.
    """
    p = np.asarray(probabilities)
    n, k = p.shape
    first = np.empty(n, dtype=np.float64)
    second = np.zeros(n, dtype=np.float64)
    if n == 0 or k == 0:
        return first[:0] if n == 0 else np.ones(n), second
    if k == 1:
        first[:] = p[:, 0]
        return first, second
    rows = min(n, 4096)
    buffer = np.empty((k, rows), dtype=p.dtype)
    tmp = np.empty(rows, dtype=p.dtype)
    for start in range(0, n, rows):
        m = min(rows, n - start)
        columns = buffer[:, :m]
        np.copyto(columns, p[start : start + m].T)
        f, s_, t = first[start : start + m], second[start : start + m], tmp[:m]
        np.maximum(columns[0], columns[1], out=f)
        np.minimum(columns[0], columns[1], out=s_)
        for j in range(2, k):
            np.minimum(f, columns[j], out=t)
            np.maximum(s_, t, out=s_)
            np.maximum(f, columns[j], out=f)
    return first, second


def pool_uncertainty(probabilities) -> np.ndarray:
    """1 − margin per row (0: sure, 1: torn between two classes), averaged over a multi-output model's outputs."""
    if isinstance(probabilities, np.ndarray) and probabilities.ndim == 2:
        first, second = top_two(probabilities)
        second -= first
        second += 1.0
        return np.clip(second, 0.0, 1.0, out=second)
    key = uncertainty._key(probabilities, "margin")  # validated; in [0, 1], small = unsure
    return np.clip(1.0 - key.astype(np.float64), 0.0, 1.0)


def audit_proposal(
    probabilities, *, power: float = AUDIT_POWER, uniform: float = AUDIT_UNIFORM, unsure: np.ndarray | None = None
) -> np.ndarray:
    """The audit draws' proposal over the pool: q ∝ (1 − margin)^power mixed with ``uniform``.

    Parameters
    ----------
    probabilities : ndarray of shape (n, n_classes) or list of such arrays
        The current model's probabilities for the pool.
    power : float ≥ 0
    uniform : float in (0, 1]
        Share of the uniform distribution in the mixture.
    unsure : ndarray of shape (n,), optional
        :func:`pool_uncertainty` of ``probabilities``, when already computed.

    Returns
    -------
    ndarray of shape (n,)
        Probabilities summing to 1 (empty for an empty pool).
    """
    if not 0.0 < float(uniform) <= 1.0:
        raise ValueError(f"uniform must be in (0, 1], got {uniform!r}.")
    if float(power) < 0:
        raise ValueError(f"power must be at least 0, got {power!r}.")
    u = pool_uncertainty(probabilities) if unsure is None else np.asarray(unsure, dtype=np.float64)
    n = u.shape[0]
    if n == 0:
        return np.empty(0)
    if power == 0:
        w = np.ones(n)
    elif power == 2:
        w = u * u
    else:
        w = u**power
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(n, 1.0 / n)
    w *= (1.0 - uniform) / total
    w += uniform / n
    return w


def weave_audit(
    order: np.ndarray,
    probabilities,
    *,
    share: float,
    rng: np.random.RandomState,
    batch_size: int = 1,
    power: float = AUDIT_POWER,
    uniform: float = AUDIT_UNIFORM,
    unsure: np.ndarray | None = None,
) -> tuple[np.ndarray, AuditDraws]:
    """Fill a share of the first ``batch_size`` positions of ``order`` with random draws of known probability.

    ``floor(share · K + U)`` of the first ``K = min(batch_size, n)`` positions
    (U uniform on [0, 1), so the expected count is ``share · K``) are chosen at
    random; each is filled, in position order, by a draw from the pool items not
    drawn before, with probability proportional to :func:`audit_proposal`
    restricted to them. The other positions keep the strategy's order (items drawn
    for an audit slot are skipped there).

    Parameters
    ----------
    order : ndarray of shape (n,)
        The strategy's order (a permutation of ``range(n)``).
    probabilities : ndarray of shape (n, n_classes) or list of such arrays
        The current model's probabilities for the pool rows.
    share : float in [0, 1]
        Expected share of the first ``K`` positions that are audit draws.
    rng : RandomState
        Every draw comes from it.
    batch_size : int, default=1
    power, uniform : float
        The proposal (see :func:`audit_proposal`); ``power=0, uniform=1`` is uniform.
    unsure : ndarray of shape (n,), optional
        :func:`pool_uncertainty` of ``probabilities``, when already computed.

    Returns
    -------
    order : ndarray of shape (n,)
        A permutation of ``range(n)``.
    draws : AuditDraws
        The drawn rows, their q and support (empty when no slot was drawn).
    """
    order = np.asarray(order)
    n = order.size
    if not 0.0 <= float(share) <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share!r}.")
    k = min(int(batch_size), n)
    if share == 0 or k == 0:
        return order, AuditDraws.empty()
    n_slots = min(k, int(math.floor(share * k + rng.uniform())))
    if n_slots == 0:
        return order, AuditDraws.empty()
    slots = np.sort(rng.choice(k, n_slots, replace=False))
    base = audit_proposal(probabilities, power=power, uniform=uniform, unsure=unsure)
    if base.size != n:
        raise ValueError(f"probabilities have {base.size} rows but the order has {n}.")
    weights = base.copy()
    drawn = np.empty(n_slots, dtype=np.int64)
    q = np.empty(n_slots, dtype=np.float64)
    support = np.empty(n_slots, dtype=np.int64)
    for j in range(n_slots):
        total = weights.sum()
        cumulative = np.cumsum(weights)
        pick = int(np.searchsorted(cumulative, rng.uniform() * total, side="right"))
        pick = min(pick, n - 1)
        while weights[pick] <= 0:  # float edge: land on an item still available
            pick -= 1
        drawn[j] = pick
        q[j] = weights[pick] / total
        support[j] = n - j
        weights[pick] = 0.0
    taken = np.zeros(n, dtype=bool)
    taken[drawn] = True
    rest = order[~taken[order]]
    out = np.empty(n, dtype=order.dtype if order.dtype.kind in "iu" else np.intp)
    is_slot = np.zeros(n, dtype=bool)
    is_slot[slots] = True
    out[slots] = drawn
    out[~is_slot] = rest
    return out, AuditDraws(drawn, np.minimum(q, 1.0), support)


# --------------------------------------------------------------------------- confidence and correctness


def confidence_and_prediction(probabilities, multi_label: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The model's confidence in its own answer, and its answer, per row.

    Single-label: (largest probability, index of its class). Multi-label
    (``probabilities`` of shape (n, n_classes), P(class present)): (product over
    classes of max(p, 1 − p), the 0/1 predicted set).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"expected a 2-D array of probabilities, got shape {p.shape}.")
    if multi_label:
        chosen = (p >= 0.5).astype(np.int8)
        return np.prod(np.where(chosen == 1, p, 1.0 - p), axis=1), chosen
    if p.shape[0] == 0:
        return np.empty(0), np.empty(0, dtype=np.intp)
    return p.max(axis=1), p.argmax(axis=1)


def pool_confidence(probabilities, multi_label: bool = False) -> np.ndarray:
    """The model's confidence in its answer for each pool row (see :func:`confidence_and_prediction`), fast."""
    if multi_label:
        if isinstance(probabilities, list | tuple) and len(probabilities):
            stacked = np.column_stack([p[:, -1] for p in probabilities])
        else:  # an empty pool
            return np.empty(0)
        return confidence_and_prediction(stacked, multi_label=True)[0]
    return top_two(np.asarray(probabilities))[0]


# --------------------------------------------------------------------------- the estimate


@functools.lru_cache(maxsize=256)
def _t_quantile(df: int) -> float:
    return float(stats.t.ppf(0.5 + LEVEL / 2, df))


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean of ``values`` and the half-width of its two-sided ``LEVEL`` t-interval."""
    m = values.size
    mean = float(values.mean())
    if m < 2:
        return mean, math.inf
    sd = float(values.std(ddof=1))
    return mean, _t_quantile(m - 1) * sd / math.sqrt(m)


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


#: Estimators the benchmark compares; :data:`METHOD` is the app's.
ESTIMATORS = ("error_ratio", "hajek_curve", "difference", "hajek_difference", "hajek", "ht")
#: Learning-curve exponent for "hajek_curve": error ∝ labels ** -CURVE_EXPONENT.
CURVE_EXPONENT = 0.5
METHOD = "error_ratio"
#: Share of the extrapolation from the fold models to the current model added to the interval's half-width.
ALLOWANCE = 0.5


def estimate_accuracy(
    *,
    correct: np.ndarray,
    confidence: np.ndarray,
    probability: np.ndarray,
    support: np.ndarray,
    pool_confidence: np.ndarray,
    n_labels: int,
    method: str = METHOD,
    min_audited: int = MIN_AUDITED,
    train_share: float = 2 / 3,
) -> AccuracyEstimate:
    """Estimate the current model's accuracy on the unlabelled pool from audited labels.

    Parameters
    ----------
    correct, confidence : ndarray of shape (m,)
        For each audited label: 1 where the out-of-fold model's answer equals the
        label (else 0), and that model's confidence in its answer.
    probability, support : ndarray of shape (m,)
        Each audited label's draw: q, and the number of items it was drawn from.
    pool_confidence : ndarray of shape (n_pool,)
        The current model's confidence on each unlabelled pool item.
    n_labels : int
        Labels the current model was trained on.
    method : str, default=METHOD
        "error_ratio" (the app's): the pool's predicted error (1 − confidence)
        scaled by the ratio of the audited items' actual to predicted error;
        "difference": the pool's confidence plus the weighted mean residual
        (correct − confidence); "hajek_difference": the same with self-normalised
        weights; "hajek" / "ht": the weighted out-of-fold accuracy, self-normalised
        or not (the fold models' accuracy: no extrapolation to the current model);
        "hajek_curve": "hajek" with the fold models' error scaled to the current
        model's number of labels along a learning curve error ∝ n^-0.5, the
        scaling added to the interval's half-width (exponents 0 to 1).
    min_audited : int
        Fewer audited labels than this: no number.
    train_share : float, default=2/3
        Share of the labels each fold model trained on ((k − 1) / k).

    Returns
    -------
    AccuracyEstimate
        Target "unlabelled".
    """
    if method not in ESTIMATORS:
        raise ValueError(f"method must be one of {ESTIMATORS}, got {method!r}.")
    correct = np.asarray(correct, dtype=np.float64)
    confidence = np.asarray(confidence, dtype=np.float64)
    q = np.asarray(probability, dtype=np.float64)
    n_support = np.asarray(support, dtype=np.float64)
    pool_confidence = np.asarray(pool_confidence, dtype=np.float64)
    m = correct.size
    if not (confidence.size == q.size == n_support.size == m):
        raise ValueError("correct, confidence, probability and support must have the same length.")
    target = "unlabelled"
    n_pool = pool_confidence.size
    if n_pool == 0:
        return AccuracyEstimate.unknown(
            "every item is labelled: there are no unlabelled items left to estimate the accuracy on.",
            n_audited=m, n_labels=n_labels, target=target,
        )
    if m < min_audited:
        return AccuracyEstimate.unknown(
            f"not enough audited labels yet: {m} of the {min_audited} needed (labels of items served at "
            "random for the estimate).",
            n_audited=m, n_labels=n_labels, target=target,
        )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked below
        base = float(pool_confidence.mean())
        weight = 1.0 / (n_support * q)  # 1 / (support · q): each draw's weight in its pool's mean
        v = weight / weight.mean()  # self-normalised (Hajek) weights
        fold_accuracy = float(np.mean(v * correct))  # the fold models' own accuracy (Hajek)
        allowance = 0.0
        if method == "ht":
            value, half = _t_interval(weight * correct)
        elif method in ("hajek", "hajek_curve"):
            value = fold_accuracy
            _, half = _t_interval(v * (correct - value))
            if method == "hajek_curve":
                allowance = (1.0 - fold_accuracy) * (1.0 - train_share**CURVE_EXPONENT)
                value += allowance
        elif method == "difference":
            correction, half = _t_interval(weight * (correct - confidence))
            value = base + correction
        elif method == "hajek_difference":
            correction = float(np.mean(v * (correct - confidence)))
            _, half = _t_interval(v * (correct - confidence - correction))
            value = base + correction
        else:  # error_ratio
            wrong, predicted = 1.0 - correct, 1.0 - confidence
            denominator = float(np.mean(v * predicted))
            if denominator <= 0:  # the fold models were sure of everything: nothing to scale by
                return AccuracyEstimate.unknown(
                    "the models were certain of every audited item; the estimate needs some uncertainty to scale.",
                    n_audited=m, n_labels=n_labels, target=target,
                )
            ratio = float(np.mean(v * wrong)) / denominator
            _, half = _t_interval(v * (wrong - ratio * predicted))
            half *= (1.0 - base) / denominator  # the ratio's interval, in accuracy on the pool
            value = 1.0 - (1.0 - base) * ratio
            # What the audits measure is the fold models (2/3 of the labels); scaling to the current
            # model is an extrapolation: half its size joins the interval.
            allowance = ALLOWANCE * abs(value - fold_accuracy)
            if ratio == 0:  # no audited error: the t-interval is empty; 3 errors is the 95 % bound on none seen
                half = (1.0 - base) * 3.0 / (denominator * m)
        half += allowance
    if not (math.isfinite(value) and math.isfinite(half)):  # e.g. records with absurd q (corrupt or hostile)
        return AccuracyEstimate.unknown(
            f"the {m} audit records give no usable estimate (their draw probabilities are out of any "
            "sensible range).",
            n_audited=m, n_labels=n_labels, target=target,
        )
    low, high = _clip(value - half), _clip(value + half)
    if method in ("hajek", "ht", "hajek_curve"):
        reason = (
            f"How often the model was right on {m} audited labels (items served at random for the estimate, "
            "each scored by a model that had not seen it)."
        )
    else:
        reason = (
            f"The model's confidence on the {n_pool:,} unlabelled items, calibrated on {m} audited labels "
            "(items served at random for the estimate, each scored by a model that had not seen it)."
        )
    return AccuracyEstimate(_clip(value), low, high, target, m, int(n_labels), reason)
