"""The strategy contract, over every registered strategy: through the protocol and through rank().

A strategy (:class:`~superintendent_core.strategies.base.Strategy`) returns, from
a :class:`~superintendent_core.strategies.base.PoolContext`, a permutation of the
pool's rows as an integer array, for any pool size, any number of outputs, with
or without features; it is reproducible from its random state; it refuses
invalid probabilities with a ValueError saying what is wrong; its cold start is
a permutation. A plain function registered by a user works through the Learner.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, ClassifierMixin

from superintendent_core import STRATEGIES, Learner, margin, rank, register_strategy, simulate
from superintendent_core.strategies import (
    FunctionStrategy,
    PoolContext,
    Strategy,
    as_strategy,
    order_pool,
    resolve_strategy,
    strategy_names,
)

NAMES = strategy_names()

#: Every registered strategy is either deterministic (ties keep row order) or randomised.
#: A new registration fails test_every_strategy_is_classified until it is listed here.
DETERMINISTIC = {"margin", "entropy", "certainty", "neighbourhood"}
RANDOMISED = {"random"}


def _probabilities(n: int, k: int = 3, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, k)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def _features(n: int, d: int = 5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _assert_permutation(order, n: int) -> None:
    order = np.asarray(order)
    assert order.shape == (n,)
    assert order.dtype.kind in "iu", order.dtype
    assert sorted(order.tolist()) == list(range(n))


def _context(p, *, features=None, labelled=None, batch_size=1, seed=0) -> PoolContext:
    return PoolContext(p, features, labelled, batch_size, np.random.RandomState(seed))


# --------------------------------------------------------------------------- the registry


def test_the_registry_lists_the_project_strategies_in_order():
    assert NAMES[:5] == ["margin", "entropy", "certainty", "random", "neighbourhood"]


def test_every_strategy_is_classified():
    assert set(NAMES) == DETERMINISTIC | RANDOMISED


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_strategy_resolves_to_the_protocol(name):
    strategy = resolve_strategy(name)
    assert isinstance(strategy, Strategy)
    assert isinstance(strategy.name, str) and strategy.name
    assert isinstance(strategy.uses_features, bool) and isinstance(strategy.informed_cold_start, bool)
    # what was registered stays in STRATEGIES, and the resolved strategy still calls as it did
    registered = STRATEGIES[name]
    assert strategy is registered or strategy.function is registered
    p = _probabilities(12)
    kwargs = {"random_state": 0} if name in RANDOMISED else {}
    assert np.array_equal(np.asarray(strategy(p, **kwargs)), np.asarray(registered(p, **kwargs)))


# --------------------------------------------------------------------------- permutations


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2, 37])
def test_order_is_an_integer_permutation_via_the_protocol(name, n):
    _assert_permutation(order_pool(resolve_strategy(name), _context(_probabilities(n))), n)
    _assert_permutation(resolve_strategy(name).order(_context(_probabilities(n))), n)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2, 37])
@pytest.mark.parametrize("shuffle_prop", [0.0, 0.5])
def test_order_is_an_integer_permutation_via_rank(name, n, shuffle_prop):
    _assert_permutation(rank(_probabilities(n), name, shuffle_prop=shuffle_prop, random_state=0), n)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2, 60])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_features_given_or_not(name, n, batch_size):
    p = _probabilities(n)
    with_features = _context(p, features=_features(n), labelled=_features(9, seed=2), batch_size=batch_size)
    _assert_permutation(order_pool(resolve_strategy(name), with_features), n)
    _assert_permutation(order_pool(resolve_strategy(name), _context(p, batch_size=batch_size)), n)


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_without_features_the_order_does_not_depend_on_the_batch_size(name):
    p = _probabilities(50)
    one = order_pool(resolve_strategy(name), _context(p, batch_size=1))
    assert np.array_equal(one, order_pool(resolve_strategy(name), _context(p, batch_size=7, seed=3)))


@pytest.mark.parametrize("name", [name for name in NAMES if not resolve_strategy(name).uses_features])
def test_strategies_without_features_ignore_them(name):
    strategy = resolve_strategy(name)
    p = _probabilities(40)
    plain = order_pool(strategy, _context(p))
    assert np.array_equal(plain, order_pool(strategy, _context(p, features=_features(40), batch_size=5)))


def test_the_default_without_features_is_plain_margin():
    p = _probabilities(80)
    assert np.array_equal(order_pool(resolve_strategy("neighbourhood"), _context(p)), margin(p))


@pytest.mark.parametrize("name", NAMES)
def test_multi_output_probabilities(name):
    outputs = [_probabilities(30, 2, seed=4), _probabilities(30, 4, seed=5)]
    _assert_permutation(rank(outputs, name, random_state=0), 30)
    _assert_permutation(order_pool(resolve_strategy(name), _context(outputs, features=_features(30))), 30)


# --------------------------------------------------------------------------- ties and reproducibility


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
@pytest.mark.parametrize("seed", [0, 1])
def test_ties_keep_row_order(name, seed):
    """Documented: rows that tie keep their original order (here every row ties)."""
    p = np.tile([[0.2, 0.5, 0.3]], (25, 1))
    assert rank(p, name, random_state=seed).tolist() == list(range(25))
    assert order_pool(resolve_strategy(name), _context(p, seed=seed)).tolist() == list(range(25))


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_ties_among_distinct_rows_keep_row_order(name):
    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    assert rank(p, name).tolist() == [1, 3, 4, 0, 2]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shuffle_prop", [0.0, 0.3])
def test_reproducible_with_a_fixed_random_state(name, shuffle_prop):
    p, X, L = _probabilities(300), _features(300), _features(20, seed=3)
    a = rank(p, name, shuffle_prop=shuffle_prop, random_state=7)
    assert np.array_equal(a, rank(p, name, shuffle_prop=shuffle_prop, random_state=7))
    strategy = resolve_strategy(name)
    b = order_pool(strategy, _context(p, features=X, labelled=L, batch_size=5, seed=7), shuffle_prop)
    assert np.array_equal(b, order_pool(strategy, _context(p, features=X, labelled=L, batch_size=5, seed=7), shuffle_prop))


def test_random_depends_on_the_random_state():
    p = _probabilities(100)
    assert not np.array_equal(rank(p, "random", random_state=0), rank(p, "random", random_state=1))


def test_rank_draws_the_strategy_then_the_shuffle_from_one_stream():
    """The random baseline's permutation comes first from the stream, the shuffle after it."""
    p = _probabilities(50)
    rng = np.random.RandomState(3)
    expected = rng.permutation(50)
    positions = rng.choice(50, size=25, replace=False)
    expected[positions] = expected[rng.permutation(positions)]
    assert rank(p, "random", shuffle_prop=0.5, random_state=3).tolist() == expected.tolist()


# --------------------------------------------------------------------------- invalid probabilities


BAD = [
    (np.array([[np.nan, 0.5], [0.5, 0.5]]), "NaN"),
    (np.array([[-0.1, 1.1], [0.5, 0.5]]), "negative"),
    (np.array([[0.2, 0.2], [0.5, 0.5]]), "sum to 1"),
    (np.array([0.5, 0.5]), "2-D"),
    (np.ones((2, 2, 2)) / 2, "2-D"),
    ([np.ones((3, 2)) / 2, np.ones((4, 2)) / 2], "rows"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, words", BAD)
def test_invalid_probabilities_raise_value_error_naming_the_problem(name, bad, words):
    with pytest.raises(ValueError, match=words):
        rank(bad, name, random_state=0)
    n = len(bad[0]) if isinstance(bad, list) else len(bad)
    with pytest.raises(ValueError, match=words):
        order_pool(resolve_strategy(name), _context(bad, features=_features(n), batch_size=2))


# --------------------------------------------------------------------------- cold start


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 3, 200])
def test_cold_start_is_a_reproducible_permutation(name, n):
    strategy = resolve_strategy(name)
    X = _features(n)
    a = strategy.cold_start(X, np.random.RandomState(0))
    _assert_permutation(a, n)
    assert np.array_equal(a, strategy.cold_start(X, random_state=0))
    learned = Learner(strategy=name, random_state=0).cold_start(X)
    _assert_permutation(learned, n)
    if strategy.informed_cold_start:  # the learner hands it the pool's features and its random state
        assert np.array_equal(learned, a)
    else:  # the protocol's default: a random permutation of the pool
        assert np.array_equal(learned, np.random.RandomState(0).permutation(n))


# --------------------------------------------------------------------------- through the learner


class _FixedProbabilities(ClassifierMixin, BaseEstimator):
    """A tiny estimator: P(class "b") is the first feature, whatever the labels."""

    def fit(self, X, y):
        self.classes_ = np.array(["a", "b"])
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        return np.column_stack([1 - X[:, 0], X[:, 0]])

    def predict(self, X):
        return self.classes_[(np.asarray(X)[:, 0] >= 0.5).astype(int)]


def _pool(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.random(n), rng.normal(size=(n, 3))])
    return X


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_size", [1, 10])
@pytest.mark.parametrize("shuffle_prop", [0.0, 0.25])
def test_the_learner_gives_each_strategy_its_context(name, batch_size, shuffle_prop):
    """The learner's order is the strategy's, from exactly this context and this random state."""
    X_lab, X_pool = _pool(20, seed=1), _pool(120, seed=2)
    y = ["a", "b"] * 10
    learner = Learner(_FixedProbabilities(), strategy=name, cv=None, batch_size=batch_size,
                      shuffle_prop=shuffle_prop, random_state=5, audit_share=0)  # no audit draws woven in
    result = learner.retrain(X_lab, y, X_pool)
    strategy = resolve_strategy(name)
    p = _FixedProbabilities().predict_proba(X_pool)
    context = PoolContext(p, X_pool, X_lab if strategy.uses_features else None, batch_size, np.random.RandomState(5))
    expected = order_pool(strategy, context, shuffle_prop).tolist()
    assert result.order.tolist() == expected
    assert result.strategy == name
    # With the accuracy estimate's audit draws, the positions not drawn keep the strategy's order.
    learner.audit_share, learner.audit_from = 1.0, 0
    audited = learner.retrain(X_lab, y, X_pool)
    drawn = set(audited.audit.ids.tolist())
    assert 0 < len(drawn) <= batch_size
    assert [i for i in audited.order.tolist() if i not in drawn] == [i for i in expected if i not in drawn]


def test_a_learner_on_fixed_probabilities_orders_by_margin_exactly():
    X_pool = np.array([[0.9, 0], [0.5, 0], [0.7, 0], [0.45, 0], [0.1, 0]])
    result = Learner(_FixedProbabilities(), strategy="margin", cv=None).retrain(X_pool[:2], ["a", "b"], X_pool)
    assert result.order.tolist() == [1, 3, 2, 0, 4]


def _user_strategy(probabilities, *, n_items=None, random_state=None):
    """Lowest P(first class) first; ties by row order."""
    order = np.argsort(np.asarray(probabilities)[:, 0], kind="stable")
    return order if n_items is None else order[:n_items]


@pytest.fixture
def registered():
    """Register ``_user_strategy`` as "lowest_a" for one test."""
    assert "lowest_a" not in STRATEGIES
    register_strategy("lowest_a", _user_strategy)
    yield "lowest_a"
    del STRATEGIES["lowest_a"]


def test_a_user_registered_plain_function_works_through_the_learner(registered):
    assert STRATEGIES["lowest_a"] is _user_strategy  # the registry keeps what was registered
    assert isinstance(resolve_strategy("lowest_a"), FunctionStrategy)
    X_pool = np.array([[0.9, 0], [0.5, 0], [0.7, 0], [0.45, 0], [0.1, 0]])
    by_name = Learner(_FixedProbabilities(), strategy="lowest_a", cv=None).retrain(X_pool[:2], ["a", "b"], X_pool)
    assert by_name.order.tolist() == [0, 2, 1, 3, 4] and by_name.strategy == "lowest_a"
    by_callable = Learner(_FixedProbabilities(), strategy=_user_strategy, cv=None).retrain(
        X_pool[:2], ["a", "b"], X_pool
    )
    assert by_callable.order.tolist() == [0, 2, 1, 3, 4] and by_callable.strategy == "_user_strategy"
    assert rank(_FixedProbabilities().predict_proba(X_pool), "lowest_a").tolist() == [0, 2, 1, 3, 4]


def test_a_user_registered_function_runs_a_simulation(registered):
    X = _pool(200, seed=3)
    y = np.where(X[:, 0] >= 0.5, "b", "a")
    result = simulate(X[:150], y[:150], X[150:], y[150:], _FixedProbabilities(), strategy="lowest_a",
                      initial=10, batch_size=5, budget=30, random_state=0)
    assert result.strategy == "lowest_a"
    assert len(set(result.queried.tolist())) == 30


# --------------------------------------------------------------------------- the adapter


def test_as_strategy_keeps_a_strategy_and_wraps_a_function():
    from superintendent_core.strategies.neighbourhood import neighbourhood

    assert as_strategy(neighbourhood) is neighbourhood
    wrapped = as_strategy(margin)
    assert isinstance(wrapped, FunctionStrategy) and wrapped.function is margin and wrapped.name == "margin"
    assert not wrapped.uses_features and not wrapped.informed_cold_start
    with pytest.raises(ValueError, match="not a strategy"):
        as_strategy(42)


def test_a_function_not_returning_a_permutation_is_named():
    def broken(p):
        return np.zeros(len(p), dtype=int)

    with pytest.raises(ValueError, match="strategy 'broken' did not return a permutation of the 3 rows"):
        order_pool(as_strategy(broken), _context(_probabilities(3)))


def test_a_legacy_flagged_object_is_adapted_in_one_place():
    """Objects written for the older protocol (needs_features, cold_start attributes) keep working."""
    calls = []

    class Legacy:
        needs_features = True
        needs_labelled_features = True

        def __call__(self, probabilities, *, features=None, labelled_features=None, batch_size=1, random_state=None):
            calls.append((features, labelled_features, batch_size, random_state))
            return margin(probabilities)

        def cold_start(self, features, random_state=None):
            return np.arange(len(features))[::-1]

    strategy = as_strategy(Legacy())
    assert strategy.uses_features and strategy.informed_cold_start
    p, X, L = _probabilities(10), _features(10), _features(4)
    context = _context(p, features=X, labelled=L, batch_size=3)
    assert np.array_equal(order_pool(strategy, context), margin(p))
    ((features, labelled, batch_size, random_state),) = calls
    assert features is X and labelled is L and batch_size == 3 and random_state is context.random_state
    assert strategy.cold_start(X, 0).tolist() == list(range(9, -1, -1))


def test_a_native_strategy_needs_no_adapter():
    class Reverse(Strategy):
        name = "reverse"

        def order(self, context):
            return np.arange(context.n_items)[::-1]

    assert as_strategy(Reverse()).name == "reverse"
    assert rank(_probabilities(4), Reverse()).tolist() == [3, 2, 1, 0]
    result = Learner(_FixedProbabilities(), strategy=Reverse(), cv=None).retrain(
        _pool(4)[:2], ["a", "b"], _pool(4)
    )
    assert result.order.tolist() == [3, 2, 1, 0] and result.strategy == "reverse"
    _assert_permutation(Reverse().cold_start(_features(6), 0), 6)


# --------------------------------------------------------------------------- properties


@st.composite
def pools(draw, max_rows=40, max_classes=5):
    n = draw(st.integers(0, max_rows))
    k = draw(st.integers(1, max_classes))
    raw = draw(arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0, allow_nan=False, width=32)))
    raw = np.round(raw, 1) + 1e-9  # coarse values, so that ties occur
    p = raw / raw.sum(axis=1, keepdims=True)
    features = draw(arrays(np.float64, (n, 3), elements=st.floats(-5, 5, allow_nan=False, width=32)))
    return p, features


@settings(max_examples=60, deadline=None)
@given(pool=pools(), name=st.sampled_from(NAMES), batch_size=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
       shuffle=st.sampled_from([0.0, 0.2, 1.0]))
def test_property_a_reproducible_permutation_with_features(pool, name, batch_size, seed, shuffle):
    p, X = pool
    strategy = resolve_strategy(name)
    L = X[: len(X) // 3]
    a = order_pool(strategy, _context(p, features=X, labelled=L, batch_size=batch_size, seed=seed), shuffle)
    _assert_permutation(a, len(p))
    b = order_pool(strategy, _context(p, features=X, labelled=L, batch_size=batch_size, seed=seed), shuffle)
    assert np.array_equal(a, b)
