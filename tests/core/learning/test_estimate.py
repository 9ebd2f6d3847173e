"""The accuracy estimate: audit draws, the estimator, the Learner's and simulate's use of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from superintendent_core.learning.estimate import (
    ESTIMATORS,
    MIN_AUDITED,
    AccuracyEstimate,
    AuditDraws,
    audit_proposal,
    estimate_accuracy,
    weave_audit,
)
from superintendent_core.learning.learner import Learner, TrainingError
from superintendent_core.learning.simulation import simulate

# --------------------------------------------------------------------------- weave_audit


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 60),
    batch=st.integers(1, 20),
    share=st.floats(0.0, 1.0),
    power=st.sampled_from([0.0, 1.0, 4.0]),
    uniform=st.sampled_from([0.05, 0.2, 1.0]),
    seed=st.integers(0, 2**31 - 2),
)
def test_weave_keeps_a_permutation_with_valid_draws(n, batch, share, power, uniform, seed):
    rng = np.random.RandomState(seed)
    probabilities = rng.dirichlet(np.ones(3), n) if n else np.empty((0, 3))
    order = rng.permutation(n)
    out, draws = weave_audit(order, probabilities, share=share, rng=rng, batch_size=batch, power=power, uniform=uniform)
    assert sorted(out.tolist()) == list(range(n))
    k = min(batch, n)
    assert len(draws) <= k
    assert np.all((draws.probability > 0) & (draws.probability <= 1))
    assert len(set(draws.ids.tolist())) == len(draws)
    # Draws sit in the first k positions; each was drawn from the items not drawn before it.
    assert set(draws.ids.tolist()) <= set(out[:k].tolist())
    assert draws.support.tolist() == [n - j for j in range(len(draws))]
    # The strategy's order is kept, in its own order, at the other positions.
    rest = [i for i in out.tolist() if i not in set(draws.ids.tolist())]
    assert rest == [i for i in order.tolist() if i not in set(draws.ids.tolist())]


def test_weave_share_zero_and_one():
    rng = np.random.RandomState(0)
    p = rng.dirichlet(np.ones(4), 50)
    order = np.arange(50)
    out, draws = weave_audit(order, p, share=0.0, rng=rng, batch_size=10)
    assert len(draws) == 0 and out.tolist() == order.tolist()
    out, draws = weave_audit(order, p, share=1.0, rng=rng, batch_size=10)
    assert len(draws) == 10 and sorted(draws.ids.tolist()) == sorted(out[:10].tolist())
    with pytest.raises(ValueError, match="share"):
        weave_audit(order, p, share=1.5, rng=rng)


def test_weights_make_an_unbiased_mean():
    """E[value / (support · q)] is the mean over each draw's support: the weights are right."""
    rng = np.random.RandomState(1)
    n = 40
    p = rng.dirichlet(np.ones(3) * 0.4, n)
    values = rng.rand(n)
    estimates, weights = [], []
    for _ in range(8000):
        _, draws = weave_audit(np.arange(n), p, share=1.0, rng=rng, batch_size=1, power=4.0, uniform=0.1)
        i, q, m = draws.ids[0], draws.probability[0], draws.support[0]
        estimates.append(values[i] / (m * q))
        weights.append(1 / (m * q))
    assert abs(np.mean(weights) - 1) < 0.05
    assert abs(np.mean(estimates) - values.mean()) < 0.03


def test_proposal_is_a_distribution_favouring_unsure_items():
    p = np.array([[0.5, 0.5], [0.99, 0.01], [0.7, 0.3]])
    q = audit_proposal(p, power=2.0, uniform=0.1)
    assert q.sum() == pytest.approx(1.0) and np.all(q > 0)
    assert q[0] > q[2] > q[1]
    assert audit_proposal(p, power=0.0, uniform=1.0) == pytest.approx(np.full(3, 1 / 3))
    with pytest.raises(ValueError):
        audit_proposal(p, uniform=0.0)


# --------------------------------------------------------------------------- the estimator, known truth


def _known_pool(n=3000, seed=0):
    """A fixed classifier's confidence on a pool, and whether it is right: miscalibrated on purpose."""
    rng = np.random.RandomState(seed)
    confidence = rng.beta(5, 2, n)  # mostly confident
    truly_right = rng.rand(n) < np.clip(confidence - 0.12, 0, 1)  # overconfident by 0.12
    probabilities = np.column_stack([confidence, 1 - confidence])
    return probabilities, confidence, truly_right.astype(float)


@pytest.mark.parametrize("method", ["difference", "error_ratio", "hajek"])
def test_estimator_is_unbiased_and_covers_on_a_known_pool(method):
    probabilities, confidence, right = _known_pool()
    truth = right.mean()
    rng = np.random.RandomState(2)
    n = len(right)
    values, covered = [], []
    for _ in range(300):
        _, draws = weave_audit(np.arange(n), probabilities, share=1.0, rng=rng, batch_size=60)
        ids = draws.ids
        e = estimate_accuracy(
            correct=right[ids], confidence=confidence[ids], probability=draws.probability,
            support=draws.support,
            # the model's confidence on the pool: the same fixed classifier (no fold-size effect here)
            pool_confidence=confidence, n_labels=60, method=method,
        )
        values.append(e.value)
        covered.append(e.low <= truth <= e.high)
        assert e.target == "unlabelled" and e.n_audited == 60
    # Unbiased: the mean of 300 estimates is within 3 standard errors (+ 0.005) of the truth.
    assert abs(np.mean(values) - truth) < 3 * np.std(values) / np.sqrt(len(values)) + 0.005
    assert np.mean(covered) >= 0.8


def _estimate(m, pool=100, **kw):
    args = dict(
        correct=np.ones(m), confidence=np.full(m, 0.9), probability=np.full(m, 1 / pool), support=np.full(m, pool),
        pool_confidence=np.full(pool, 0.9), n_labels=m,
    )
    return estimate_accuracy(**(args | kw))


def test_too_few_audits_gives_a_reason_and_no_number():
    e = _estimate(4)
    assert e.value is None and e.low is None and e.high is None
    assert e.reason.startswith(f"not enough audited labels yet: 4 of the {MIN_AUDITED} needed")
    entry = e.to_entry()
    assert entry == {
        "estimate": None, "estimate_low": None, "estimate_high": None, "estimate_target": "unlabelled",
        "estimate_n": 4, "estimate_note": e.reason,
    }


def test_empty_pool_gives_a_reason():
    e = _estimate(20, pool_confidence=np.empty(0))
    assert e.value is None and "every item is labelled" in e.reason


def test_estimate_is_clipped_to_0_1():
    e = _estimate(20, pool_confidence=np.full(100, 0.99), confidence=np.full(20, 0.5))
    assert e.value is not None and 0 <= e.low <= e.value <= e.high <= 1


def test_no_audited_error_still_gives_an_interval():
    e = _estimate(20)  # every audited item right: the interval must not shrink to a point
    assert e.value == 1.0 and e.high == 1.0 and e.low < 0.99


def test_absurd_probabilities_give_a_reason_not_a_number():
    e = _estimate(20, probability=np.full(20, 1e-320), support=np.full(20, 1.0))
    assert e.value is None and "no usable estimate" in e.reason


def test_unknown_method_and_mismatched_lengths():
    with pytest.raises(ValueError, match="method"):
        _estimate(20, method="magic")
    with pytest.raises(ValueError, match="same length"):
        _estimate(20, probability=np.ones(3))
    assert "difference" in ESTIMATORS


# --------------------------------------------------------------------------- the Learner


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y.astype(str)


def _learner(**kw):
    kw.setdefault("random_state", 0)
    kw.setdefault("strategy", "margin")
    return Learner(LogisticRegression(max_iter=300), **kw)


def _audited(rows, q=0.01, support=100):
    return pd.DataFrame({"row": rows, "probability": q, "support": support, "seq": 0})


def test_retrain_estimate_from_audited_rows(digits):
    X, y = digits
    result = _learner(batch_size=10, audit_share=0.5).retrain(X[:120], y[:120], X[120:400], audited=_audited(range(0, 120, 3)))
    e = result.estimate
    assert isinstance(e, AccuracyEstimate) and e.value is not None
    assert 0.5 < e.value <= 1 and e.low <= e.value <= e.high
    assert e.n_audited == 40 and e.n_labels == 120 and e.target == "unlabelled"
    assert isinstance(result.audit, AuditDraws) and len(result.audit) <= 10
    assert result.cv_probabilities.shape == (120, 10)
    assert np.allclose(result.cv_probabilities.sum(axis=1), 1)


def test_retrain_without_records_or_only_imported_labels(digits):
    X, y = digits
    assert _learner().retrain(X[:60], y[:60], X[60:200]).estimate is None
    e = _learner().retrain(X[:60], y[:60], X[60:200], audited=_audited([])).estimate
    assert e.value is None and e.reason.startswith("not enough audited labels yet: 0 of the")


def test_hostile_records_are_ignored(digits):
    X, y = digits
    bad = pd.DataFrame({
        "row": [0, 0, -1, 10**9, 3.5, "x", 5, 6],
        "probability": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 2.0],
        "support": [10, 10, 10, 10, 10, 10, 10, 10],
        "seq": [0] * 8,
    })
    e = _learner().retrain(X[:60], y[:60], X[60:200], audited=bad).estimate
    assert e.value is None and e.n_audited == 1  # only the first row-0 record is usable
    e = _learner().retrain(X[:60], y[:60], X[60:200], audited=pd.DataFrame({"what": [1]})).estimate
    assert e.value is None and e.n_audited == 0


def test_no_cross_validation_no_estimate(digits):
    X, y = digits
    e = _learner(cv=None).retrain(X[:60], y[:60], X[60:200], audited=_audited(range(30))).estimate
    assert e.value is None and "cross-validation is off" in e.reason
    y1 = y[:60].copy()
    y1[0] = "lonely"  # a class with one label: no folds
    e = _learner().retrain(X[:60], y1, X[60:200], audited=_audited(range(30))).estimate
    assert e.value is None and "at least 2 labels" in e.reason


def test_one_class_and_no_labels_are_training_errors(digits):
    X, y = digits
    with pytest.raises(TrainingError, match="2 classes"):
        _learner().retrain(X[:5], ["a"] * 5, X[5:50], audited=_audited(range(5)))
    with pytest.raises(TrainingError, match="No labels"):
        _learner().retrain(X[:0], [], X[5:50], audited=_audited([]))


def test_multi_label_exact_set_estimate(digits):
    X, y = digits
    labels = [(v,) if int(v) % 3 else (v, "round") for v in y[:150]]
    learner = Learner(LogisticRegression(max_iter=300), multi_label=True, random_state=0)
    e = learner.retrain(X[:150], labels, X[150:400], audited=_audited(range(0, 150, 5))).estimate
    assert e.value is not None and 0 <= e.low <= e.value <= e.high <= 1 and e.n_audited == 30


def test_empty_pool_estimate(digits):
    X, y = digits
    e = _learner().retrain(X[:60], y[:60], X[:0], audited=_audited(range(30))).estimate
    assert e.value is None and "every item is labelled" in e.reason


@pytest.mark.parametrize("strategy", ["margin", None, "random"])
def test_orders_reproducible_and_independent_of_cv(digits, strategy):
    X, y = digits

    def run(**kw):
        rng = np.random.RandomState(7)
        learner = _learner(strategy=strategy, batch_size=10, audit_share=0.3, audit_from=0, random_state=rng, **kw)
        out = []
        for n in (40, 50):
            r = learner.retrain(X[:n], y[:n], X[n:600], audited=_audited(range(0, n, 2)) if kw.get("cv", 3) else None)
            out.append((r.order.tolist(), r.audit.ids.tolist(), r.audit.probability.tolist()))
        return out

    first = run()
    assert first == run()
    assert first == run(cv=None)


def test_a_fixed_integer_seed_still_varies_the_audit_draws(digits):
    """The app passes the project's integer seed to every retrain: the draws must not repeat."""
    X, y = digits
    slots = []
    for n in range(60, 100):
        r = _learner(batch_size=1, audit_share=0.5, random_state=3).retrain(X[:n], y[:n], X[n:600])
        slots.append(len(r.audit))
    assert 0 < sum(slots) < len(slots)  # sometimes an audit slot, sometimes not
    again = _learner(batch_size=1, audit_share=0.5, random_state=3).retrain(X[:60], y[:60], X[60:600])
    first = _learner(batch_size=1, audit_share=0.5, random_state=3).retrain(X[:60], y[:60], X[60:600])
    assert again.order.tolist() == first.order.tolist()  # still reproducible


def test_random_strategy_audits_every_served_position(digits):
    X, y = digits
    r = _learner(strategy="random", batch_size=10).retrain(X[:40], y[:40], X[40:600])
    assert sorted(r.audit.ids.tolist()) == sorted(r.order[:10].tolist())
    assert np.allclose(r.audit.probability, 1 / r.audit.support)


def test_audit_share_zero_is_off(digits):
    X, y = digits
    r = _learner(audit_share=0).retrain(X[:40], y[:40], X[40:600])
    assert r.audit is None
    with pytest.raises(ValueError, match="audit_share"):
        _learner(audit_share=1.5).retrain(X[:40], y[:40], X[40:600])


# --------------------------------------------------------------------------- simulate


def test_simulate_reports_the_estimate(digits):
    X, y = digits
    kw = dict(strategy="margin", initial=10, batch_size=10, budget=120, random_state=0, audit_share=0.5)
    on = simulate(X[:600], y[:600], X[600:900], y[600:900], LogisticRegression(max_iter=300), **kw)
    assert on.estimate_target == "unlabelled"
    for column in ("estimate", "estimate_low", "estimate_high", "estimate_n", "unlabelled_accuracy"):
        assert column in on.curve.columns
    known = on.curve.dropna(subset=["estimate"])
    assert len(known) and (known["estimate_low"] <= known["estimate"]).all()
    assert (known["estimate"] <= known["estimate_high"]).all()
    assert (on.curve["estimate_n"].diff().dropna() >= 0).all()
    off = simulate(X[:600], y[:600], X[600:900], y[600:900], LogisticRegression(max_iter=300), estimate=False, **kw)
    assert off.estimate_target is None and "estimate" not in off.curve.columns
    assert on.queried.tolist() == off.queried.tolist()  # the order does not depend on the estimate
    assert set(on.audited.tolist()) <= set(on.queried.tolist())
