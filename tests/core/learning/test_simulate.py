"""simulate: active learning replayed with an oracle, through the app's own Learner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from superintendent_core.acquisition import margin
from superintendent_core.learning.simulation import SimulationResult, simulate


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:400], y[:400], X[400:700], y[400:700]


def _model():
    return LogisticRegression(max_iter=500)


def _run(digits, **kw):
    X_pool, y_pool, X_test, y_test = digits
    kw.setdefault("budget", 30)
    return simulate(X_pool, y_pool, X_test, y_test, _model(), **kw)


# --------------------------------------------------------------------------- the result


def test_curve_and_queried(digits):
    result = _run(digits, strategy="margin", initial=10, batch_size=5, budget=30)
    assert isinstance(result, SimulationResult)
    assert isinstance(result.curve, pd.DataFrame)
    assert list(result.curve.columns) == [
        "n_labels", "accuracy", "estimate", "estimate_low", "estimate_high", "estimate_n", "unlabelled_accuracy",
    ]
    assert result.estimate_target == "unlabelled"
    assert result.curve["n_labels"].tolist() == [10, 15, 20, 25, 30]
    assert result.curve["accuracy"].between(0, 1).all()
    assert result.queried.shape == (30,)
    assert len(set(result.queried.tolist())) == 30  # never the same item twice
    assert result.queried.min() >= 0 and result.queried.max() < 400
    assert result.strategy == "margin"


def test_accuracy_is_the_test_accuracy_of_a_model_on_those_labels(digits):
    X_pool, y_pool, X_test, y_test = digits
    result = _run(digits, strategy="margin", initial=10, batch_size=10, budget=30)
    first20 = result.queried[:20]
    expected = (_model().fit(X_pool[first20], y_pool[first20].astype(str)).predict(X_test) == y_test.astype(str)).mean()
    assert result.curve.loc[result.curve["n_labels"] == 20, "accuracy"].item() == pytest.approx(expected)


def test_queries_follow_the_strategy(digits):
    """Each batch is the head of the strategy's order over the unlabelled items (audit draws off)."""
    X_pool, y_pool, X_test, y_test = digits
    result = _run(digits, strategy="margin", initial=10, batch_size=3, budget=13, audit_share=0)
    lab = result.queried[:10]
    pool = np.setdiff1d(np.arange(400), lab)
    model = _model().fit(X_pool[lab], y_pool[lab].astype(str))
    expected = pool[margin(model.predict_proba(X_pool[pool]))[:3]]
    assert result.queried[10:].tolist() == expected.tolist()
    # With audit draws, the batch's other positions keep the strategy's order; the audited items were drawn.
    audited = _run(digits, strategy="margin", initial=10, batch_size=3, budget=13, audit_share=1.0,
                   learner_params={"audit_from": 0})
    assert set(audited.audited.tolist()) == set(audited.queried[10:].tolist())


def test_last_batch_is_cut_to_the_budget(digits):
    result = _run(digits, strategy="entropy", initial=10, batch_size=7, budget=30)
    assert result.curve["n_labels"].tolist() == [10, 17, 24, 30]
    assert len(result.queried) == 30


def test_budget_equal_to_initial_is_one_retrain(digits):
    result = _run(digits, strategy="margin", initial=12, budget=12)
    assert result.curve["n_labels"].tolist() == [12]


def test_labels_to(digits):
    result = _run(digits, strategy="margin", initial=10, batch_size=10, budget=40)
    curve = result.curve
    best = curve["accuracy"].max()
    assert result.labels_to(best) == int(curve.loc[curve["accuracy"] >= best, "n_labels"].iloc[0])
    assert result.labels_to(1.01) is None


# --------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("strategy", ["margin", "random", None])
def test_same_seed_same_simulation(digits, strategy):
    a = _run(digits, strategy=strategy, batch_size=4, random_state=3)
    b = _run(digits, strategy=strategy, batch_size=4, random_state=3)
    assert np.array_equal(a.queried, b.queried)
    pd.testing.assert_frame_equal(a.curve, b.curve)


def test_other_seed_other_initial_draw(digits):
    a = _run(digits, strategy="margin", random_state=0)
    b = _run(digits, strategy="margin", random_state=1)
    assert not np.array_equal(a.queried[:10], b.queried[:10])


def test_initial_draw_is_identical_across_plain_strategies(digits):
    heads = [
        _run(digits, strategy=s, initial=10, budget=12, random_state=5).queried[:10].tolist()
        for s in ("margin", "entropy", "certainty", "random")
    ]
    assert all(head == heads[0] for head in heads)


def test_callable_strategy_gets_the_same_initial_draw(digits):
    reverse = lambda p: np.arange(len(p))[::-1]  # noqa: E731
    a = _run(digits, strategy=reverse, budget=12, random_state=5)
    b = _run(digits, strategy="margin", budget=12, random_state=5)
    assert a.queried[:10].tolist() == b.queried[:10].tolist()
    assert a.strategy == "<lambda>"


def test_a_strategy_with_a_cold_start_chooses_the_initial_items(digits):
    def head_first(probabilities, *, features=None, batch_size=1, random_state=None):
        return margin(probabilities)

    head_first.needs_features = True
    head_first.cold_start = lambda features, random_state=None: np.arange(len(features))[::-1]
    result = _run(digits, strategy=head_first, initial=10, budget=15)
    assert result.queried[:10].tolist() == list(range(399, 389, -1))


def test_default_strategy_runs_and_is_named(digits):
    from superintendent_core.strategies.neighbourhood import DEFAULT_STRATEGY

    result = _run(digits, strategy=None, batch_size=5, budget=30)
    assert result.strategy == DEFAULT_STRATEGY
    assert len(set(result.queried.tolist())) == 30


def test_one_class_at_first_keeps_serving_until_a_second_class(digits):
    X_pool, y_pool, X_test, y_test = digits
    zeros_first = np.argsort(y_pool != 0, kind="stable")  # every 0 first
    n_zeros = int((y_pool == 0).sum())

    def zeros_cold_start(probabilities, *, features=None, batch_size=1, random_state=None):
        return margin(probabilities)

    zeros_cold_start.needs_features = True
    zeros_cold_start.cold_start = lambda features, random_state=None: zeros_first
    result = simulate(X_pool, y_pool, X_test, y_test, _model(), strategy=zeros_cold_start, initial=10, budget=n_zeros + 5)
    assert result.curve["n_labels"].iloc[0] == n_zeros + 1  # the first item that is not a 0


def test_shuffle_prop_changes_the_queries(digits):
    a = _run(digits, strategy="margin", shuffle_prop=0.0)
    b = _run(digits, strategy="margin", shuffle_prop=0.5)
    assert a.queried[:10].tolist() == b.queried[:10].tolist()
    assert a.queried[10:].tolist() != b.queried[10:].tolist()


# --------------------------------------------------------------------------- other inputs


def test_dataframe_pool_and_string_labels(digits):
    X_pool, y_pool, X_test, y_test = digits
    names = np.array(list("abcdefghij"))
    result = simulate(
        pd.DataFrame(X_pool), names[y_pool], pd.DataFrame(X_test), names[y_test], _model(), strategy="margin", budget=20
    )
    assert result.curve["accuracy"].iloc[-1] > 0.3


def test_text_pipeline():
    words = {0: "cat kitten purr meow", 1: "dog puppy bark woof"}
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 60)
    texts = [" ".join(rng.choice(words[c].split(), 3)) for c in y]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    result = simulate(texts[:40], y[:40], texts[40:], y[40:], model, strategy="margin", initial=4, budget=10)
    assert result.curve["accuracy"].iloc[-1] == 1.0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"initial": 10, "budget": 5}, "budget .*smaller than initial"),
        ({"budget": 10_000}, "larger than the pool"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"initial": 0}, "initial must be at least 1"),
        ({"initial": 2.5}, "initial must be an integer"),
        ({"budget": None}, "budget must be an integer"),
        ({"shuffle_prop": 2.0}, "shuffle_prop"),
        ({"strategy": "nope"}, "Unknown strategy 'nope'"),
    ],
)
def test_bad_parameters(digits, kwargs, words):
    with pytest.raises(ValueError, match=words):
        _run(digits, **kwargs)


def test_mismatched_pool_lengths(digits):
    X_pool, y_pool, X_test, y_test = digits
    with pytest.raises(ValueError, match="X_pool has 400 rows but y_pool has 399"):
        simulate(X_pool, y_pool[:-1], X_test, y_test, _model())


def test_mismatched_test_lengths(digits):
    X_pool, y_pool, X_test, y_test = digits
    with pytest.raises(ValueError, match="X_test has 300 rows but y_test has 10"):
        simulate(X_pool, y_pool, X_test, y_test[:10], _model())


def test_empty_test_set(digits):
    X_pool, y_pool, X_test, y_test = digits
    with pytest.raises(ValueError, match="test set is empty"):
        simulate(X_pool, y_pool, X_test[:0], y_test[:0], _model())


def test_single_class_pool(digits):
    X_pool, _, X_test, y_test = digits
    with pytest.raises(ValueError, match="fewer than 2 classes"):
        simulate(X_pool, np.zeros(400), X_test, y_test, _model(), budget=20)


def test_model_without_predict_proba(digits):
    from sklearn.svm import LinearSVC

    with pytest.raises(ValueError, match="LinearSVC has no predict_proba"):
        simulate(*digits, LinearSVC(), strategy="margin", budget=12)


def test_the_users_model_is_not_fitted(digits):
    model = _model()
    simulate(*digits, model, strategy="margin", budget=12)
    assert not hasattr(model, "coef_")
