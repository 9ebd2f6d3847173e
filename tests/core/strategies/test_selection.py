"""The default strategy: neighbourhood-smoothed margin, diverse batches, coverage cold start."""

from __future__ import annotations

import numpy as np
import pytest
from fresh_python import run_fresh
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from superintendent_core import acquisition
from superintendent_core.learning.learner import Learner
from superintendent_core.strategies.base import Strategy
from superintendent_core.strategies.coverage import (
    coverage_continuation,
    coverage_order,
    squared_distances,
)
from superintendent_core.strategies.neighbourhood import (
    DEFAULT_STRATEGY,
    NeighbourhoodMargin,
    neighbourhood,
)


def _is_permutation(order, n):
    order = np.asarray(order)
    return order.shape == (n,) and order.dtype.kind in "iu" and sorted(order.tolist()) == list(range(n))


def _probabilities(n, k=3, seed=0):
    return np.random.RandomState(seed).dirichlet(np.ones(k), n)


def _two_probability(gaps):
    """Two-class probabilities whose margin is exactly ``gaps``."""
    gaps = np.asarray(gaps, dtype=float)
    return np.column_stack([(1 + gaps) / 2, (1 - gaps) / 2])


# --------------------------------------------------------------------------- registration


def test_default_is_registered():
    assert DEFAULT_STRATEGY == "neighbourhood"
    assert acquisition.STRATEGIES[DEFAULT_STRATEGY] is neighbourhood
    assert acquisition.resolve_strategy(DEFAULT_STRATEGY) is neighbourhood
    assert isinstance(neighbourhood, Strategy)
    assert neighbourhood.uses_features and neighbourhood.informed_cold_start


def test_names_resolve_in_a_fresh_interpreter():
    """A fresh interpreter: the public path lists the default, whatever was imported first."""
    code = (
        "from superintendent_core import acquisition\n"
        "assert 'neighbourhood' in acquisition.strategy_names()\n"
        "strategy = acquisition.resolve_strategy('neighbourhood')\n"
        "import numpy as np\n"
        "order = acquisition.rank(np.array([[0.9, 0.1], [0.5, 0.5]]), 'neighbourhood')\n"
        "print(type(strategy).__name__, order.tolist())\n"
    )
    out = run_fresh(code)
    assert out.split() == ["NeighbourhoodMargin", "[1,", "0]"]


def test_an_unknown_name_lists_the_default_among_the_valid_names():
    with pytest.raises(ValueError, match="Unknown strategy 'best'.*'neighbourhood'"):
        acquisition.resolve_strategy("best")


def test_learner_resolves_none_to_the_default():
    X, y = load_digits(return_X_y=True)
    learner = Learner(LogisticRegression(max_iter=300), strategy=None, cv=None, random_state=0)
    result = learner.retrain(X[:60] / 16, y[:60], X[60:300] / 16)
    assert result.strategy == DEFAULT_STRATEGY
    assert _is_permutation(result.order, 240)
    assert _is_permutation(learner.cold_start(X[60:300] / 16), 240)


# --------------------------------------------------------------------------- ordering contract


def test_without_features_it_is_margin():
    p = _probabilities(200, 4)
    assert np.array_equal(neighbourhood(p), acquisition.margin(p))
    assert np.array_equal(acquisition.rank(p, DEFAULT_STRATEGY), acquisition.margin(p))


@pytest.mark.parametrize("batch_size", [1, 3, 50])
def test_permutation_with_features(batch_size):
    rng = np.random.RandomState(0)
    p, X = _probabilities(300, 5), rng.normal(size=(300, 8))
    order = neighbourhood(p, features=X, labelled_features=rng.normal(size=(20, 8)), batch_size=batch_size, random_state=0)
    assert _is_permutation(order, 300)


def test_reproducible_with_random_state():
    rng = np.random.RandomState(1)
    p, X = _probabilities(3000, 4), rng.normal(size=(3000, 6))  # larger than n_reference: sampled
    a = neighbourhood(p, features=X, batch_size=5, random_state=4)
    b = neighbourhood(p, features=X, batch_size=5, random_state=4)
    assert np.array_equal(a, b)


def test_multi_output_probabilities():
    outputs = [_probabilities(40, 2, seed=s) for s in range(3)]
    X = np.random.RandomState(0).normal(size=(40, 3))
    assert _is_permutation(neighbourhood(outputs, features=X, batch_size=2, random_state=0), 40)


def test_float32_and_integer_features():
    p = _probabilities(100)
    X = np.random.RandomState(0).randint(0, 16, size=(100, 64))
    a = neighbourhood(p, features=X.astype(np.float32), random_state=0)
    b = neighbourhood(p, features=X, random_state=0)
    assert _is_permutation(a, 100) and _is_permutation(b, 100)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_pools(n):
    p = _probabilities(n) if n else np.empty((0, 3))
    order = neighbourhood(p, features=np.zeros((n, 2)), batch_size=3, random_state=0)
    assert _is_permutation(order, n)


@pytest.mark.parametrize("n", [300, 5000])  # the whole pool / a sample of it
def test_after_the_batch_comes_plain_margin(n):
    rng = np.random.RandomState(0)
    p, X = _probabilities(n, 3), rng.normal(size=(n, 4))
    order = NeighbourhoodMargin(n_candidates=50, n_reference=200)(p, features=X, batch_size=7, random_state=0)
    batch = set(order[:7].tolist())
    assert order[7:].tolist() == [i for i in acquisition.margin(p).tolist() if i not in batch]


# --------------------------------------------------------------------------- what it is for


def _duplicates_pool():
    """Two tight groups of uncertain items far apart, and confident items elsewhere."""
    rng = np.random.RandomState(0)
    a = rng.normal(0, 0.01, size=(15, 2)) + [0, 0]
    b = rng.normal(0, 0.01, size=(15, 2)) + [10, 0]
    c = rng.normal(0, 1.0, size=(70, 2)) + [5, 10]
    X = np.vstack([a, b, c])
    gaps = np.concatenate([np.linspace(0.0, 0.05, 15), np.linspace(0.06, 0.1, 15), np.linspace(0.6, 0.99, 70)])
    return X, _two_probability(gaps)


def test_a_batch_is_not_made_of_near_duplicates():
    X, p = _duplicates_pool()
    plain = acquisition.margin(p)[:2]
    assert set(plain.tolist()) <= set(range(15))  # margin takes two items of group a
    order = NeighbourhoodMargin(n_neighbours=5)(p, features=X, batch_size=2, random_state=0)
    groups = {int(i) // 15 for i in order[:2]}
    assert groups == {0, 1}  # one from each group


def test_labelled_items_count_as_covered():
    X, p = _duplicates_pool()
    strategy = NeighbourhoodMargin(n_neighbours=5, handover_per_class=0)  # 60 labels, 2 classes
    assert strategy(p, features=X, random_state=0)[0] < 15  # group a: smallest margins
    labelled_near_a = np.random.RandomState(1).normal(0, 0.01, size=(60, 2))  # a's neighbours are labelled
    first = strategy(p, features=X, labelled_features=labelled_near_a, random_state=0)[0]
    assert 15 <= first < 30  # group b, since a is already covered by labels


def test_handover_cannot_come_before_the_coverage_ends():
    with pytest.raises(ValueError, match=r"handover_per_class \(3\) must be 0 or at least cover_per_class \(5\)"):
        NeighbourhoodMargin(cover_per_class=5, handover_per_class=3)
    assert NeighbourhoodMargin(cover_per_class=5, handover_per_class=0).handover_per_class == 0
    assert NeighbourhoodMargin(cover_per_class=5, handover_per_class=5).handover_per_class == 5


def test_from_handover_per_class_on_batch_1_is_plain_margin():
    X, p = _duplicates_pool()
    labelled = np.random.RandomState(1).normal(0, 0.01, size=(24, 2))  # 12 per class, near group a
    order = NeighbourhoodMargin(n_neighbours=5)(p, features=X, labelled_features=labelled, random_state=0)
    np.testing.assert_array_equal(order, acquisition.margin(p))  # group a first, labels nearby or not
    # One label fewer: still by neighbourhood, and group a counts as covered.
    before = NeighbourhoodMargin(n_neighbours=5)(p, features=X, labelled_features=labelled[:23], random_state=0)
    assert 15 <= before[0] < 30


def test_after_the_handover_a_batch_is_still_spread():
    X, p = _duplicates_pool()
    labelled = np.random.RandomState(1).normal(0, 1.0, size=(24, 2)) + [5, 10]  # among the confident items
    order = NeighbourhoodMargin(n_neighbours=5)(
        p, features=X, labelled_features=labelled, batch_size=2, random_state=0
    )
    assert _is_permutation(order, len(X))
    assert order[0] == acquisition.margin(p)[0]  # the smallest margin first
    assert 15 <= order[1] < 30  # then group b, not a near-duplicate from group a


def test_uncertain_crowd_beats_an_uncertain_outlier():
    rng = np.random.RandomState(0)
    X = np.vstack([[[50.0, 50.0]], rng.normal(0, 0.1, size=(20, 2)), rng.normal(5, 1, size=(79, 2))])
    gaps = np.concatenate([[0.0], np.full(20, 0.05), np.full(79, 0.9)])
    order = NeighbourhoodMargin(n_neighbours=5)(_two_probability(gaps), features=X, random_state=0)
    assert acquisition.margin(_two_probability(gaps))[0] == 0  # margin asks for the outlier
    assert 1 <= order[0] <= 20  # ours asks inside the uncertain crowd


# --------------------------------------------------------------------------- bad input


def test_features_with_the_wrong_number_of_rows():
    with pytest.raises(ValueError, match="n_samples = 10"):
        neighbourhood(_probabilities(10), features=np.zeros((9, 2)))


def test_labelled_features_with_the_wrong_width():
    with pytest.raises(ValueError, match="labelled_features.*3 columns.*features have 2"):
        neighbourhood(_probabilities(10), features=np.zeros((10, 2)), labelled_features=np.zeros((4, 3)))


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        neighbourhood(_probabilities(10), features=np.zeros((10, 2)), batch_size=0)


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0]]), np.array([[0.2, 0.2]])])
def test_bad_probabilities(bad):
    with pytest.raises(ValueError, match="probabilities"):
        neighbourhood(bad, features=np.zeros((1, 2)))


@pytest.mark.parametrize(
    "param", ["n_neighbours", "n_candidates", "n_reference", "cover_per_class", "handover_per_class"]
)
@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_bad_parameters(param, value):
    if param in ("cover_per_class", "handover_per_class") and value == 0:
        assert getattr(NeighbourhoodMargin(**{param: 0}), param) == 0  # 0: never
        return
    with pytest.raises(ValueError, match=param):
        NeighbourhoodMargin(**{param: value})


# --------------------------------------------------------------------------- properties


@st.composite
def pools(draw):
    n = draw(st.integers(0, 60))
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 5))
    raw = draw(arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0, allow_nan=False, width=32))) + 1e-9
    raw = np.round(raw, 1) + 1e-9  # ties
    X = draw(arrays(np.float64, (n, d), elements=st.sampled_from([0.0, 1.0, 2.5, -3.0])))  # duplicates
    return raw / raw.sum(axis=1, keepdims=True), X


@settings(max_examples=150, deadline=None)
@given(pool=pools(), batch_size=st.integers(1, 70), n_neighbours=st.integers(1, 15), labelled=st.booleans())
def test_property_always_a_permutation(pool, batch_size, n_neighbours, labelled):
    p, X = pool
    strategy = NeighbourhoodMargin(n_neighbours=n_neighbours, n_candidates=20, n_reference=25)
    L = X[:5] + 0.5 if labelled else None
    assert _is_permutation(strategy(p, features=X, labelled_features=L, batch_size=batch_size, random_state=0), len(p))


# --------------------------------------------------------------------------- cold start


def _blobs(sizes, seed=0):
    rng = np.random.RandomState(seed)
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20], [40, 40]], dtype=float)[: len(sizes)]
    X = np.vstack([rng.normal(c, 1.0, size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    blob = np.repeat(np.arange(len(sizes)), sizes)
    return X, blob


def test_cold_start_first_items_cover_every_blob():
    X, blob = _blobs([200, 100, 60, 40, 30])
    order = coverage_order(X, random_state=0)
    assert _is_permutation(order, len(X))
    assert set(blob[order[:5]].tolist()) == {0, 1, 2, 3, 4}
    random_hits = [len(set(blob[np.random.RandomState(s).permutation(len(X))[:5]])) for s in range(20)]
    assert np.mean(random_hits) < 4  # a random start misses blobs


def test_cold_start_picks_typical_items_not_outliers():
    X, blob = _blobs([200, 100])
    X = np.vstack([X, [[500.0, 500.0]]])  # one far outlier
    order = coverage_order(X, random_state=0)
    assert 300 not in order[:2].tolist()


def test_cold_start_on_a_sample_is_reproducible_and_still_covers():
    X, blob = _blobs([3000, 1500, 800, 400, 300])
    a = coverage_order(X, random_state=3, n_sample=500)
    b = coverage_order(X, random_state=3, n_sample=500)
    assert np.array_equal(a, b)
    assert _is_permutation(a, len(X))
    assert set(blob[a[:5]].tolist()) == {0, 1, 2, 3, 4}


def test_cold_start_identical_items():
    order = coverage_order(np.ones((50, 3)), random_state=0)
    assert _is_permutation(order, 50)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_cold_start_tiny_pools(n):
    assert _is_permutation(coverage_order(np.zeros((n, 2)), random_state=0), n)


def test_cold_start_needs_features():
    with pytest.raises(ValueError, match="random order"):
        coverage_order(None)
    with pytest.raises(ValueError, match="2-D"):
        coverage_order(np.zeros(5))


def test_strategy_cold_start_is_the_coverage_order():
    X, _ = _blobs([50, 50])
    assert np.array_equal(neighbourhood.cold_start(X, random_state=2), coverage_order(X, random_state=2))


def test_squared_distances():
    rng = np.random.RandomState(0)
    A, B = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    expected = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(A, B), expected, atol=1e-9)
    assert (squared_distances(A, A) >= 0).all()


def test_principal_components_are_scikit_learns_randomized_svd():
    """Our own randomized SVD computes what sklearn's does (up to each component's sign)."""
    from sklearn.utils.extmath import randomized_svd

    from superintendent_core.strategies.coverage import _PCA_ROWS, principal_components

    rng = np.random.RandomState(0)
    for shape in [(1200, 784), (700, 64), (90, 40)]:  # wide (SVD of the transpose), tall, few rows
        X = (rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1]))).astype(np.float32)
        fit = X[:: max(1, X.shape[0] // _PCA_ROWS)][:_PCA_ROWS]
        mean = fit.mean(axis=0)
        _, _, components = randomized_svd(fit - mean, 32, n_iter=2, random_state=0)
        expected = (X - mean) @ components.T.astype(np.float32)
        got = principal_components(X, 32)
        assert got.shape == (shape[0], 32) and got.dtype == np.float32
        signs = np.sign((got * expected).sum(axis=0))
        assert (signs != 0).all()
        np.testing.assert_allclose(got * signs, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
        # Distances, all that the strategies use, do not depend on the signs.
        np.testing.assert_allclose(
            squared_distances(got[:50], got), squared_distances(expected[:50], expected),
            rtol=1e-3, atol=1e-3 * np.abs(expected).max() ** 2,
        )


@pytest.mark.parametrize("n", [1_100, 1_500, 30_000])  # a permutation of the pool / draws with repeats dropped
def test_reference_draw_is_distinct_and_avoids_the_head(n):
    from superintendent_core.strategies.neighbourhood import _draw_others

    head = np.arange(0, 1000, 10)
    for seed in range(5):
        draw = _draw_others(n, head, 1000, np.random.RandomState(seed))
        assert draw.shape == (1000,) and draw.dtype.kind == "i"
        assert np.unique(draw).size == 1000
        assert draw.min() >= 0 and draw.max() < n
        assert not np.isin(draw, head).any()
        np.testing.assert_array_equal(draw, _draw_others(n, head, 1000, np.random.RandomState(seed)))


def test_reference_draw_from_a_large_pool_is_uniform():
    from superintendent_core.strategies.neighbourhood import _draw_others

    n, head, rng = 20_000, np.arange(100), np.random.RandomState(0)
    counts = np.zeros(n)
    for _ in range(400):
        counts[_draw_others(n, head, 500, rng)] += 1
    assert counts[head].sum() == 0
    rest = counts[100:]  # each row: Binomial(400, 500 / 19,900), mean 10.05, sd 3.2
    assert abs(rest.mean() - 400 * 500 / 19_900) < 1e-9  # exactly 500 rows per draw
    assert 2.9 < rest.std() < 3.5
    # No region of the pool is favoured: the 20 blocks of 995 rows get equal shares.
    blocks = rest.reshape(20, -1).sum(axis=1)
    assert np.abs(blocks / blocks.mean() - 1).max() < 0.05


def test_float64_features_order_like_their_float32_values():
    """The sample is gathered as float32 either way, so the order only depends on the values."""
    rng = np.random.RandomState(0)
    X32 = rng.normal(size=(3_000, 50)).astype(np.float32)
    P = _probabilities(3_000, k=4)
    lab32 = rng.normal(size=(40, 50)).astype(np.float32)
    a = neighbourhood(P, features=X32, labelled_features=lab32, batch_size=10, random_state=3)
    b = neighbourhood(
        P, features=X32.astype(np.float64), labelled_features=lab32.astype(np.float64), batch_size=10,
        random_state=3,
    )
    assert _is_permutation(a, 3_000)
    np.testing.assert_array_equal(a, b)


def test_strategy_names_list_the_default_in_a_fresh_interpreter():
    """What the Model page offers: the default's name too, before anything imported its module."""
    code = (
        "from superintendent_core.acquisition import strategy_names\n"
        "print(' '.join(strategy_names()))\n"
    )
    out = run_fresh(code)
    assert out.split() == ["margin", "entropy", "certainty", "random", "neighbourhood"]


# --------------------------------------------------------------------------- few labels: keep covering


def _blob_pool(n_classes=50):
    """Five equal blobs; the model (``n_classes`` classes) is unsure only in blob 0."""
    X, blob = _blobs([60] * 5)
    rng = np.random.RandomState(0)
    p = np.full((len(X), n_classes), 0.01 / (n_classes - 1))
    p[np.arange(len(X)), rng.randint(0, n_classes, len(X))] = 0.99  # sure elsewhere
    p[blob == 0] = rng.dirichlet(np.ones(n_classes) * 50, size=60)  # nearly uniform: unsure
    return X, blob, p


def test_coverage_continuation_goes_where_no_label_is():
    X, blob = _blobs([60] * 5)
    labelled = X[blob <= 2][::2]  # half of blobs 0, 1, 2 labelled
    picks = coverage_continuation(X, labelled, 2, random_state=0)
    assert sorted(blob[picks].tolist()) == [3, 4]
    one_label_each = X[[0, 60, 120]]  # a label covers only its ball: big unlabelled parts still come first
    assert set(blob[coverage_continuation(X, one_label_each, 5, random_state=0)].tolist()) == {0, 1, 2, 3, 4}


def test_coverage_continuation_stops_when_everything_is_covered():
    X, _ = _blobs([200, 100])
    picks = coverage_continuation(X, X[::2], 5, random_state=0)  # every other item labelled
    assert picks.size == 0


def test_below_two_labels_per_class_the_batch_keeps_covering():
    X, blob, p = _blob_pool()
    labelled = X[blob <= 2][::2] + 0.01  # 90 labels for 50 classes: below 2 per class
    covering = neighbourhood(p, features=X, labelled_features=labelled, batch_size=2, random_state=0)
    assert sorted(blob[covering[:2]].tolist()) == [3, 4]  # the blobs without a label
    # Without the rule, the model's uncertainty sends both into blob 0.
    plain = NeighbourhoodMargin(cover_per_class=0)(
        p, features=X, labelled_features=labelled, batch_size=2, random_state=0
    )
    assert blob[plain[:2]].tolist() == [0, 0]
    assert _is_permutation(covering, len(X))


def test_with_two_labels_per_class_uncertainty_takes_over():
    X, blob, p = _blob_pool()
    labelled = np.vstack([X[blob <= 2][::2], X[blob <= 2][1::2][:10]]) + 0.01  # 100 labels, 50 classes
    order = neighbourhood(p, features=X, labelled_features=labelled, batch_size=2, random_state=0)
    plain = NeighbourhoodMargin(cover_per_class=0)(
        p, features=X, labelled_features=labelled, batch_size=2, random_state=0
    )
    np.testing.assert_array_equal(order, plain)
    assert blob[order[:2]].tolist() == [0, 0]


def test_when_coverage_runs_out_the_batch_is_filled_by_uncertainty():
    X, blob, p = _blob_pool(n_classes=100)
    labelled = X[::2] + 0.01  # 150 labels, every region has one nearby; 100 classes want 200
    assert coverage_continuation(X, labelled, 4, random_state=0).size < 4
    order = neighbourhood(p, features=X, labelled_features=labelled, batch_size=4, random_state=0)
    assert _is_permutation(order, len(X))
    assert len(set(order[:4].tolist())) == 4
    assert (blob[order[:4]] == 0).all()  # the unsure blob fills the batch


def test_no_dip_after_the_first_retrain():
    """Digits, batch 10: the second batch used to make the model worse (0.83 -> 0.70-0.74 at 20 labels)."""
    from sklearn.model_selection import train_test_split

    from superintendent_core import simulate

    X, y = load_digits(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(X / 16, y, test_size=1 / 3, stratify=y, random_state=0)
    at_20 = []
    for seed in range(3):
        curve = simulate(
            X_pool, y_pool, X_test, y_test, LogisticRegression(max_iter=2000), batch_size=10, budget=20,
            random_state=seed,
        ).curve
        assert curve["n_labels"].tolist() == [10, 20]
        at_20.append(curve["accuracy"].iloc[1])
    assert np.mean(at_20) > 0.78


def test_coverage_continuation_bad_shapes():
    with pytest.raises(ValueError, match="same number of columns"):
        coverage_continuation(np.zeros((10, 2)), np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match="2-D"):
        coverage_continuation(np.zeros(10), np.zeros((3, 1)), 2)


def test_gaussian_cache_serves_every_row_count_from_one_matrix_per_width():
    from superintendent_core.strategies import coverage as cold_start

    cold_start._GAUSSIAN.clear()
    for rows in (37, 500, 120, 501, 3):
        got = cold_start._gaussian(rows, 42)
        np.testing.assert_array_equal(got, np.random.RandomState(0).normal(size=(rows, 42)).astype(np.float32))
    assert list(cold_start._GAUSSIAN) == [42] and cold_start._GAUSSIAN[42].shape == (501, 42)
