"""The learner: retraining any scikit-learn-style model, and its readable refusals."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from superintendent_core import Learner, TrainingError


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y.astype(str)


def _learner(**kw):
    kw.setdefault("strategy", "margin")
    kw.setdefault("random_state", 0)
    return Learner(LogisticRegression(max_iter=500), **kw)


def test_retrain_returns_everything(digits):
    X, y = digits
    result = _learner().retrain(X[:120], y[:120], X[120:])
    assert 0.6 < result.score <= 1.0
    assert result.metric == "accuracy"
    assert result.cv_folds == 3
    assert sorted(result.order.tolist()) == list(range(len(X) - 120))
    assert sum(result.label_counts.values()) == 120
    assert set(result.label_counts) == set(y[:120])
    assert set(result.timings) == {"fit", "scoring", "predict", "ordering", "total"}
    assert result.timings["total"] >= result.timings["fit"] + result.timings["scoring"]
    assert result.model.predict(X[:3]).shape == (3,)
    assert result.cv_predictions.shape == (120,)
    assert result.n_labels == 120


def test_order_is_margin_of_the_fitted_model(digits):
    X, y = digits
    result = _learner().retrain(X[:100], y[:100], X[100:])
    from superintendent_core import margin

    expected = margin(result.model.predict_proba(X[100:]))
    assert np.array_equal(result.order, expected)


def test_users_estimator_is_never_mutated(digits):
    X, y = digits
    model = LogisticRegression(max_iter=300, C=0.5)
    before = copy.deepcopy(model.__dict__)
    Learner(model, strategy="margin").retrain(X[:60], y[:60], X[60:])
    assert model.__dict__ == before
    assert not hasattr(model, "coef_")


def test_reproducible_with_random_state(digits):
    X, y = digits
    a = _learner(shuffle_prop=0.3).retrain(X[:80], y[:80], X[80:])
    b = _learner(shuffle_prop=0.3).retrain(X[:80], y[:80], X[80:])
    assert a.score == b.score
    assert np.array_equal(a.order, b.order)


def test_one_class_only_names_the_label(digits):
    X, _ = digits
    with pytest.raises(TrainingError, match=r"Need at least 2 classes to train; so far every label is '3'"):
        _learner().retrain(X[:5], ["3"] * 5, X[5:])


def test_no_labels(digits):
    X, _ = digits
    with pytest.raises(TrainingError, match="No labels yet"):
        _learner().retrain(X[:0], [], X)


def test_mismatched_lengths(digits):
    X, y = digits
    with pytest.raises(TrainingError, match="10 labelled items but 9 labels"):
        _learner().retrain(X[:10], y[:9], X)


def test_small_class_uses_fewer_folds_and_says_so(digits):
    X, y = digits
    labels = ["a"] * 10 + ["b"] * 2
    result = _learner().retrain(X[:12], labels, X[12:])
    assert result.cv_folds == 2
    assert any("2-fold" in m and "'b'" in m for m in result.messages)


def test_singleton_class_skips_cv_but_still_ranks(digits):
    X, _ = digits
    labels = ["a"] * 6 + ["b"]
    result = _learner().retrain(X[:7], labels, X[7:])
    assert result.score is None and result.cv_folds == 0
    assert any("skipped" in m for m in result.messages)
    assert len(result.order) == len(X) - 7


def test_model_without_predict_proba_is_named(digits):
    X, y = digits
    with pytest.raises(TrainingError, match=r"SVC has no predict_proba \(for SVC, use superintendent_core.CalibratedSVC"):
        Learner(SVC()).retrain(X[:30], y[:30], X[30:])


def test_calibrated_svc_works(digits):
    # scikit-learn's own replacement for the deprecated SVC(probability=True).
    X, y = digits
    model = CalibratedClassifierCV(SVC(), ensemble=False, cv=2)
    result = Learner(model, strategy="entropy", random_state=0).retrain(
        X[:60], y[:60], X[60:200]
    )
    assert len(result.order) == 140


class _Broken(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("out of cheese")

    def predict_proba(self, X):  # pragma: no cover
        return np.ones((len(X), 2)) / 2


def test_model_that_cannot_fit_gives_a_readable_reason(digits):
    X, y = digits
    with pytest.raises(TrainingError, match="_Broken could not be fitted.*out of cheese"):
        Learner(_Broken(), strategy="margin").retrain(X[:30], y[:30], X[30:])


def test_preprocess_is_applied_to_labelled_and_pool(digits):
    X, y = digits
    seen = []

    def preprocess(x, labels):
        seen.append(labels is None)
        return np.asarray(x) * 2.0, labels

    Learner(LogisticRegression(max_iter=300), preprocess=preprocess, strategy="margin").retrain(
        X[:40], y[:40], X[40:]
    )
    assert seen == [False, True]


def test_preprocess_changing_row_count_is_refused(digits):
    X, y = digits
    with pytest.raises(TrainingError, match="preprocess returned 39 rows for 40 items"):
        Learner(preprocess=lambda x, labels: (x[1:], labels), strategy="margin").retrain(X[:40], y[:40], X[40:])


def test_preprocess_that_raises_is_reported(digits):
    X, y = digits

    def preprocess(x, labels):
        raise KeyError("column 'age'")

    with pytest.raises(TrainingError, match="preprocess failed: KeyError"):
        Learner(preprocess=preprocess, strategy="margin").retrain(X[:40], y[:40], X[40:])


def test_text_pipeline_with_list_of_strings():
    texts = ["good movie", "great film", "bad movie", "awful film", "loved it", "hated it"] * 5
    labels = ["pos", "pos", "neg", "neg", "pos", "neg"] * 5
    pool = ["good film", "awful movie", "it was fine"]
    pipe = make_pipeline(TfidfVectorizer(), MultinomialNB())
    result = Learner(pipe, strategy="entropy", random_state=0).retrain(texts, labels, pool)
    assert sorted(result.order.tolist()) == [0, 1, 2]
    assert result.score == 1.0


def test_dataframe_through_users_pipeline():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 60), "income": rng.normal(50, 10, 60)})
    labels = np.where(frame["age"] > 45, "old", "young")
    pipe = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["age", "income"])]), LogisticRegression()
    )
    result = Learner(pipe, strategy="margin", random_state=0).retrain(frame[:40], labels[:40], frame[40:])
    assert len(result.order) == 20
    assert result.score > 0.8


def test_sparse_features(digits):
    X, y = digits
    Xs = sp.csr_matrix(X)
    result = _learner().retrain(Xs[:80], y[:80], Xs[80:])
    assert len(result.order) == len(X) - 80


def test_empty_pool_gives_empty_order(digits):
    X, y = digits
    result = _learner().retrain(X[:50], y[:50], X[:0])
    assert result.order.shape == (0,)


def test_multi_label(digits):
    X, y = digits
    Y = [[d] + (["even"] if int(d) % 2 == 0 else []) for d in y[:150]]
    learner = _learner(multi_label=True)
    result = learner.retrain(X[:150], Y, X[150:])
    assert result.metric == "f1_samples"
    assert result.label_counts["even"] == sum("even" in labels for labels in Y)
    assert sorted(result.order.tolist()) == list(range(len(X) - 150))
    suggestion = learner.suggest(X[150:151])[0]
    assert isinstance(suggestion.label, tuple)
    assert 0.0 <= suggestion.probability <= 1.0


def test_multi_label_survives_a_label_every_item_has(digits):
    X, _ = digits
    Y = [["digit", "small"], ["digit"], ["digit", "small"], ["digit"]] * 3
    result = _learner(multi_label=True).retrain(X[:12], Y, X[12:40])
    assert len(result.order) == 28


def test_multi_label_refuses_plain_strings(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="expected a list of labels"):
        _learner(multi_label=True).retrain(X[:4], ["a", "b", "a", "b"], X[4:])


def test_suggest_needs_a_model_then_gives_labels(digits):
    X, y = digits
    learner = _learner()
    with pytest.raises(TrainingError, match="retrain first"):
        learner.suggest(X[:2])
    learner.retrain(X[:100], y[:100], X[100:])
    suggestions = learner.suggest(X[100:105])
    assert [s.label for s in suggestions] == learner.model_.predict(X[100:105]).tolist()
    assert all(0.1 <= s.probability <= 1.0 for s in suggestions)


@pytest.mark.parametrize("param, value, words", [("shuffle_prop", 2.0, "shuffle_prop"), ("cv", 1, "cv"),
                                                  ("batch_size", 0, "batch_size")])
def test_bad_parameters(digits, param, value, words):
    X, y = digits
    with pytest.raises(ValueError, match=words):
        _learner(**{param: value}).retrain(X[:30], y[:30], X[30:])


def test_unknown_strategy(digits):
    X, y = digits
    with pytest.raises(ValueError, match="Unknown strategy 'best'"):
        _learner(strategy="best").retrain(X[:30], y[:30], X[30:])


def test_cv_none_skips_scoring(digits):
    X, y = digits
    result = _learner(cv=None).retrain(X[:30], y[:30], X[30:])
    assert result.score is None and result.timings["scoring"] == 0.0


def test_cold_start_plain_strategy_is_a_seeded_permutation(digits):
    X, _ = digits
    a = _learner().cold_start(X)
    assert sorted(a.tolist()) == list(range(len(X)))
    assert np.array_equal(a, _learner().cold_start(X))


def test_cold_start_without_numeric_features_is_a_random_order():
    """Raw text and a model with no unsupervised front: the default's coverage cold start cannot run."""
    from sklearn.naive_bayes import MultinomialNB

    texts = ["a b", "c d", "e f", "g h"]
    order = Learner(MultinomialNB(), random_state=0).cold_start(texts)
    assert sorted(order.tolist()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- feature-aware strategies


class _Recorder:
    """A feature-aware strategy that records what the learner gives it and returns margin's order."""

    needs_features = True

    def __init__(self, needs_labelled_features: bool) -> None:
        self.needs_labelled_features = needs_labelled_features
        self.calls: list[dict] = []
        self.__name__ = "recorder"

    def __call__(self, probabilities, *, features=None, batch_size=1, random_state=None, **extra):
        self.calls.append({"features": features, "batch_size": batch_size, **extra})
        from superintendent_core import margin

        return margin(probabilities)


def test_labelled_features_go_through_the_pipelines_transforms(digits):
    from sklearn.decomposition import PCA

    X, y = digits
    recorder = _Recorder(needs_labelled_features=True)
    model = make_pipeline(StandardScaler(), PCA(n_components=5, random_state=0), LogisticRegression(max_iter=500))
    result = Learner(model, strategy=recorder, cv=None, batch_size=4, random_state=0).retrain(
        X[:60], y[:60], X[60:200]
    )
    (call,) = recorder.calls
    front = result.model[:-1]
    assert call["batch_size"] == 4
    assert call["features"].shape == (140, 5)
    assert call["labelled_features"].shape == (60, 5)  # the pool's representation, not the raw 64 pixels
    np.testing.assert_allclose(call["labelled_features"], front.transform(X[:60]))
    np.testing.assert_allclose(call["features"], front.transform(X[60:200]))


def test_labelled_features_without_a_pipeline_are_the_labelled_rows(digits):
    X, y = digits
    recorder = _Recorder(needs_labelled_features=True)
    _learner(strategy=recorder, cv=None).retrain(X[:40], y[:40], X[40:100])
    (call,) = recorder.calls
    np.testing.assert_array_equal(call["labelled_features"], X[:40])
    np.testing.assert_array_equal(call["features"], X[40:100])


def test_labelled_features_only_for_strategies_that_ask(digits):
    X, y = digits
    recorder = _Recorder(needs_labelled_features=False)
    _learner(strategy=recorder, cv=None).retrain(X[:40], y[:40], X[40:100])
    (call,) = recorder.calls
    assert "labelled_features" not in call
    assert call["features"].shape == (60, 64)


def test_labelled_features_follow_the_preprocess(digits):
    X, y = digits
    recorder = _Recorder(needs_labelled_features=True)
    _learner(strategy=recorder, cv=None, preprocess=lambda x, y: (x[:, :10] * 2, y)).retrain(
        X[:40], y[:40], X[40:100]
    )
    (call,) = recorder.calls
    np.testing.assert_array_equal(call["labelled_features"], X[:40, :10] * 2)


def test_text_pipeline_gives_no_labelled_features():
    """Sparse TF-IDF rows are no dense representation: the strategy gets None for both."""
    recorder = _Recorder(needs_labelled_features=True)
    texts = ["good film", "bad film", "great film", "awful film", "fine film", "poor film"]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    Learner(model, strategy=recorder, cv=None).retrain(texts[:4], ["+", "-", "+", "-"], texts[4:])
    (call,) = recorder.calls
    assert call["features"] is None and call["labelled_features"] is None


@pytest.mark.parametrize("multi_label", [False, True])
def test_pool_suggestions_match_suggest(digits, multi_label):
    """The retrain's suggestions (from the order's predict_proba) are what suggest() gives, as codes."""
    from superintendent_core.labels import join_labels

    X, y = digits
    labels = [[d] + (["even"] if int(d) % 2 == 0 else []) for d in y[:150]] if multi_label else y[:150]
    learner = _learner(multi_label=multi_label)
    result = learner.retrain(X[:150], labels, X[150:])
    expected = learner.suggest(X[150:])
    got = result.suggestions
    assert len(got) == len(expected) == len(X) - 150
    assert got.labels().tolist() == [join_labels(s.label) for s in expected]
    np.testing.assert_allclose(got.probability, [s.probability for s in expected], rtol=1e-12)
    assert got.codes.dtype == np.int32 and len(set(got.names)) == len(got.names)
    empty = learner.retrain(X[:150], labels, X[:0]).suggestions
    assert len(empty) == 0 and empty.labels().tolist() == []
