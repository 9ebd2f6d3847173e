"""One contract suite over every registered ordering, plus the hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from superintendent_core import STRATEGIES, certainty, entropy, margin, rank
from superintendent_core.acquisition import shuffle_positions

ISSUE_EXAMPLE = np.array([[0.7, 0.3], [0.55, 0.45], [0.5, 0.5], [0.9, 0.1]])


def _probabilities(n: int, k: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, k)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def _is_permutation(order: np.ndarray, n: int) -> bool:
    return order.shape == (n,) and sorted(order.tolist()) == list(range(n))


@st.composite
def probability_arrays(draw, max_rows=40, max_classes=6):
    n = draw(st.integers(0, max_rows))
    k = draw(st.integers(1, max_classes))
    raw = draw(arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0, allow_nan=False, width=32)))
    raw = raw + 1e-9  # no all-zero row
    # Coarse values so that ties actually occur.
    raw = np.round(raw, 1) + 1e-9
    return raw / raw.sum(axis=1, keepdims=True)


ALL = sorted(STRATEGIES)
assert "neighbourhood" in ALL  # the contract covers the default strategy too


# --------------------------------------------------------------------------- hand-made orders


def test_margin_issue_example():
    assert margin(ISSUE_EXAMPLE).tolist() == [2, 1, 0, 3]


def test_entropy_highest_first():
    assert entropy(ISSUE_EXAMPLE).tolist() == [2, 1, 0, 3]
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    assert entropy(p).tolist() == [1, 2, 0]


def test_certainty_lowest_top_probability_first():
    p = np.array([[0.6, 0.3, 0.1], [0.4, 0.4, 0.2], [0.9, 0.05, 0.05], [0.5, 0.5, 0.0]])
    assert certainty(p).tolist() == [1, 3, 0, 2]


def test_margin_uses_top_two_not_first_two_columns():
    p = np.array([[0.1, 0.2, 0.7], [0.05, 0.5, 0.45], [0.34, 0.33, 0.33]])
    assert margin(p).tolist() == [2, 1, 0]


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
def test_ties_keep_row_order(name):
    p = np.array([[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.5, 0.5]])
    order = STRATEGIES[name](p).tolist()
    assert order[:3] == [0, 2, 4]
    assert order[3:] == [1, 3]


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
def test_single_class_column(name):
    order = STRATEGIES[name](np.ones((3, 1)))
    assert order.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- contract, every strategy


@pytest.mark.parametrize("name", ALL)
def test_returns_permutation(name):
    p = _probabilities(50, 4)
    assert _is_permutation(np.asarray(rank(p, name, random_state=0)), 50)


@pytest.mark.parametrize("name", ALL)
def test_empty_pool_gives_empty_order(name):
    order = rank(np.empty((0, 3)), name, random_state=0)
    assert order.shape == (0,)


@pytest.mark.parametrize("name", ALL)
def test_reproducible_with_random_state(name):
    p = _probabilities(200, 5)
    a = rank(p, name, shuffle_prop=0.3, random_state=7)
    b = rank(p, name, shuffle_prop=0.3, random_state=7)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_multi_output_list(name):
    outputs = [_probabilities(30, 2, seed=s) for s in range(3)]
    assert _is_permutation(np.asarray(rank(outputs, name, random_state=0)), 30)


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
def test_multi_output_averages_scores(name):
    a = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]])
    b = np.array([[0.99, 0.01], [0.5, 0.5], [0.6, 0.4]])
    # Row 2 is middling in both outputs; rows 0 and 1 are extreme in opposite ways.
    order = STRATEGIES[name]([a, b])
    single = STRATEGIES[name](np.vstack([a, b]))
    assert _is_permutation(order, 3)
    assert not np.array_equal(order, single[:3])  # it is not just the first output
    if name == "margin":
        gaps = (np.abs(a[:, 0] - a[:, 1]) + np.abs(b[:, 0] - b[:, 1])) / 2
        assert order.tolist() == np.argsort(gaps, kind="stable").tolist()


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
def test_shuffle_prop_zero_is_the_plain_order(name):
    p = _probabilities(100, 3)
    assert np.array_equal(rank(p, name, shuffle_prop=0.0, random_state=1), STRATEGIES[name](p))


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
def test_shuffle_prop_one_moves_almost_everything(name):
    p = _probabilities(500, 3)
    plain = STRATEGIES[name](p)
    shuffled = rank(p, name, shuffle_prop=1.0, random_state=1)
    assert _is_permutation(shuffled, 500)
    assert np.mean(shuffled == plain) < 0.05


def test_shuffle_prop_moves_only_that_proportion():
    order = np.arange(1000)
    shuffled = shuffle_positions(order, 0.2, random_state=3)
    assert np.sum(shuffled != order) <= 200
    assert np.sum(shuffled != order) > 150


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    "bad, words",
    [
        (np.array([0.5, 0.5]), "2-D"),
        (np.ones((2, 2, 2)) / 2, "2-D"),
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), "NaN"),
        (np.array([[-0.1, 1.1], [0.5, 0.5]]), "negative"),
        (np.array([[0.2, 0.2], [0.5, 0.5]]), "sum to 1"),
        ([np.ones((3, 2)) / 2, np.ones((4, 2)) / 2], "rows"),
        (np.array([["a", "b"]]), "numbers"),
    ],
)
def test_bad_probabilities_raise_value_error_saying_which(name, bad, words):
    with pytest.raises(ValueError, match=words):
        rank(bad, name, random_state=0)


def test_unknown_strategy_lists_the_valid_names():
    with pytest.raises(ValueError, match="'nope'.*margin.*entropy"):
        rank(ISSUE_EXAMPLE, "nope")


def test_callable_strategy_is_accepted():
    reverse = lambda p: np.arange(len(p))[::-1]  # noqa: E731
    assert rank(ISSUE_EXAMPLE, reverse).tolist() == [3, 2, 1, 0]


@pytest.mark.parametrize(
    "result",
    [lambda p: np.zeros(len(p), dtype=int), lambda p: np.arange(len(p) - 1), lambda p: np.arange(len(p)) * 1.0],
)
def test_callable_not_returning_a_permutation_is_named(result):
    def my_strategy(p):
        return result(p)

    with pytest.raises(ValueError, match="my_strategy.*permutation"):
        rank(ISSUE_EXAMPLE, my_strategy)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_shuffle_prop(bad):
    with pytest.raises(ValueError, match="shuffle_prop"):
        rank(ISSUE_EXAMPLE, "margin", shuffle_prop=bad)


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(p=probability_arrays(), name=st.sampled_from(ALL), shuffle=st.floats(0, 1))
def test_property_always_a_permutation(p, name, shuffle):
    assert _is_permutation(np.asarray(rank(p, name, shuffle_prop=shuffle, random_state=0)), len(p))


@settings(max_examples=150, deadline=None)
@given(p=probability_arrays(), name=st.sampled_from(["margin", "entropy", "certainty"]), k=st.integers(0, 45))
def test_property_first_k_equals_head_of_full_order(p, name, k):
    function = STRATEGIES[name]
    assert function(p, n_items=k).tolist() == function(p)[:k].tolist()


@settings(max_examples=100, deadline=None)
@given(p=probability_arrays(max_rows=30, max_classes=4))
def test_property_margin_keys_are_non_decreasing_along_the_order(p):
    order = margin(p)
    s = np.sort(p, axis=1)
    gaps = s[:, -1] - (s[:, -2] if p.shape[1] > 1 else 0)
    along = gaps[order]
    assert np.all(np.diff(along) >= -1e-12)
    # ties in row order
    for a, b in zip(order[:-1], order[1:], strict=False):
        if gaps[a] == gaps[b]:
            assert a < b


# --------------------------------------------------------------------------- large arrays (chunked scan)


def _reference_order(p: np.ndarray, name: str) -> np.ndarray:
    s = np.sort(p, axis=1)
    if name == "margin":
        key = s[:, -1] - s[:, -2]
    elif name == "certainty":
        key = s[:, -1]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            key = np.nansum(p * np.log(p), axis=1)
    return np.argsort(key, kind="stable")


@pytest.mark.parametrize("name", ["margin", "entropy", "certainty"])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_matches_reference_across_chunks(name, layout):
    p = _probabilities(10_007, 7, seed=3)
    p[5000:5400] = p[10]  # 400 exact ties, in several chunks
    p = np.asarray(p, order=layout)
    order = STRATEGIES[name](p)
    reference = _reference_order(p, name)
    if name == "entropy":  # the sum order differs in the last bit: compare keys, not indices
        assert sorted(order.tolist()) == list(range(len(p)))
        s = -np.nansum(p * np.log(p), axis=1)
        assert np.all(np.diff(-s[order]) >= -1e-12)
    else:
        assert np.array_equal(order, reference)
    assert np.array_equal(STRATEGIES[name](p, n_items=500), order[:500])


def test_widespread_ties_use_the_stable_path():
    p = np.tile([[0.9, 0.1], [0.5, 0.5]], (5000, 1))
    order = margin(p)
    assert order[:5000].tolist() == list(range(1, 10_000, 2))


def test_bad_value_deep_in_a_large_array_names_its_row():
    p = _probabilities(20_000, 5)
    p[17_321, 2] = np.nan
    with pytest.raises(ValueError, match="row 17321"):
        margin(p)


def test_float32_probabilities_are_accepted():
    p = _probabilities(100, 4).astype(np.float32)
    assert _is_permutation(entropy(p), 100)


def test_zero_probabilities_in_entropy():
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert entropy(p).tolist() == [1, 0]
