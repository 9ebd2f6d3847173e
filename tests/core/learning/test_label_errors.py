"""The label-error finder: out-of-fold evidence only, ranked, refusals with reasons, cached per revision."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from superintendent_core.data.demo import digits_batch
from superintendent_core.learning.label_errors import (
    METHODS,
    MIN_LABELS,
    LabelErrorFinder,
    find_label_errors,
    out_of_fold_probabilities,
    project_label_errors,
)
from superintendent_core.store import ProjectSettings, open_store


def _blobs(n=120, flips=6, seed=0):
    """Three well separated classes; ``flips`` labels moved to another class. Returns X, noisy y, flipped positions."""
    X, y = make_blobs(n_samples=n, centers=[[-6, 0], [0, 6], [6, 0]], cluster_std=1.0, random_state=seed)
    y = np.array(["a", "b", "c"], dtype=object)[y]
    rng = np.random.RandomState(seed)
    flipped = np.sort(rng.choice(n, flips, replace=False))
    noisy = y.copy()
    for i in flipped:
        noisy[i] = {"a": "b", "b": "c", "c": "a"}[y[i]]
    return X, noisy, flipped


@pytest.mark.parametrize("method", ["self_confidence", "margin"])
def test_planted_errors_come_first(method):
    X, y, flipped = _blobs()
    found = find_label_errors(LogisticRegression(max_iter=1000), X, y, method=method, random_state=0)
    assert found.ran and found.n_labels == 120 and found.n_folds == 5
    top = found.candidates["item_id"].to_numpy()[: len(flipped)]
    assert sorted(top.tolist()) == flipped.tolist()
    first = found.candidates.iloc[0]
    assert first["given"] != first["suggested"] and first["p_given"] < first["p_suggested"]
    assert "did not see this label" in first["evidence"]
    assert "checked by a model fitted without it" in found.reason


def test_confident_learning_lists_fewer_but_only_planted_errors():
    X, y, flipped = _blobs()
    found = find_label_errors(LogisticRegression(max_iter=1000), X, y, method="confident_learning", random_state=0)
    listed = set(found.candidates["item_id"])
    assert listed and listed <= set(flipped.tolist())
    assert found.method == "confident_learning" and "confident_learning" in METHODS


def test_ranked_by_the_out_of_fold_probability_of_the_given_label():
    X, y, _ = _blobs(flips=10, seed=3)
    found = find_label_errors(LogisticRegression(max_iter=1000), X, y, random_state=0)
    p = found.candidates["p_given"].to_numpy()
    assert len(p) >= 10 and (np.diff(p) >= 0).all()


def test_ids_are_the_callers_and_opinions_cover_every_label():
    X, y, flipped = _blobs()
    ids = np.arange(len(y)) * 10 + 7
    found = find_label_errors(LogisticRegression(max_iter=1000), X, y, ids, random_state=0)
    assert set(found.candidates["item_id"].head(len(flipped))) == set(ids[flipped].tolist())
    assert found.opinions["item_id"].tolist() == ids.tolist()
    np.testing.assert_array_equal(found.opinion_of(ids[flipped]), found.opinions.set_index("item_id").loc[ids[flipped], "suggested"].to_numpy())
    assert found.opinion_of([3])[0] is None  # not a labelled id


def test_a_model_that_memorises_its_training_labels_still_finds_the_flips():
    """1-NN and a full-depth tree give every training label probability 1 in-sample: an in-sample list would be
    empty or arbitrary. Out-of-fold, the flipped labels come first."""
    X, y, flipped = _blobs(seed=1)
    for model in (KNeighborsClassifier(n_neighbors=1), DecisionTreeClassifier(random_state=0)):
        in_sample = model.fit(X, y).predict(X)
        assert (in_sample == y).all()  # it memorises: an in-sample check sees no error at all
        found = find_label_errors(model, X, y, random_state=0)
        # 0/1 probabilities tie: every flip is among the first 2 × (number flipped)
        assert set(flipped.tolist()) <= set(found.candidates["item_id"].head(2 * len(flipped)))


def test_the_estimator_passed_in_is_never_fitted():
    X, y, _ = _blobs()
    model = LogisticRegression(max_iter=1000)
    find_label_errors(model, X, y)
    assert not hasattr(model, "coef_")


def test_same_seed_same_list():
    X, y, _ = _blobs(flips=12, seed=5)
    a = find_label_errors(LogisticRegression(max_iter=1000), X, y, random_state=4)
    b = find_label_errors(LogisticRegression(max_iter=1000), X, y, random_state=4)
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    pd.testing.assert_frame_equal(a.opinions, b.opinions)


def test_folds_each_hold_out_their_items():
    X, y, _ = _blobs()
    probabilities, classes, k = out_of_fold_probabilities(LogisticRegression(max_iter=1000), X, y, n_folds=4)
    assert classes == ("a", "b", "c") and k == 4
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("y", "words"),
    [
        ([], "No labels yet"),
        (["a", "b"] * 4, f"at least {MIN_LABELS}"),
        (["a"] * 20, "every label is 'a'"),
        (["a"] * 10 + ["b"] * 9 + ["c"], "class 'c' has only 1 label"),
    ],
)
def test_refuses_with_a_reason_when_out_of_fold_evidence_cannot_be_made(y, words):
    X = np.random.RandomState(0).normal(size=(len(y), 2))
    found = find_label_errors(LogisticRegression(), X, y)
    assert not found.ran and found.n_folds == 0
    assert found.candidates.empty and found.opinions.empty
    assert words in found.reason
    assert found.opinion_of([0])[0] is None


def test_a_class_with_two_labels_uses_two_folds():
    X, y, _ = _blobs(n=60, flips=0)
    y = y.copy()
    y[:2] = "d"
    found = find_label_errors(LogisticRegression(max_iter=1000), X, y, n_folds=5)
    assert found.ran and found.n_folds == 2


def test_a_model_that_cannot_fit_says_so():
    X, y, _ = _blobs()
    from sklearn.naive_bayes import MultinomialNB

    found = find_label_errors(MultinomialNB(), X - 100, y)  # negative counts
    assert not found.ran and "could not be fitted" in found.reason and "MultinomialNB" in found.reason


def test_bad_arguments_raise():
    X, y, _ = _blobs()
    with pytest.raises(ValueError, match="method"):
        find_label_errors(LogisticRegression(), X, y, method="vibes")
    with pytest.raises(ValueError, match="must match"):
        find_label_errors(LogisticRegression(), X, y[:-1])


def test_multi_label_per_class():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(150, 2))
    truth = [tuple(c for c, on in (("left", x < 0), ("top", t > 0)) if on) for x, t in X]
    noisy = list(truth)
    flipped = [3, 40, 77, 101]
    for i in flipped[:2]:  # a class removed
        noisy[i] = tuple(c for c in truth[i] if c != "left") if "left" in truth[i] else (*truth[i], "left")
    for i in flipped[2:]:  # a class added or removed
        noisy[i] = tuple(c for c in truth[i] if c != "top") if "top" in truth[i] else (*truth[i], "top")
    X_far = X * 5  # well separated from the boundaries
    found = find_label_errors(LogisticRegression(max_iter=1000), X_far, noisy, multi_label=True, random_state=0)
    assert found.ran and found.method == "per_class"
    assert set(found.candidates["item_id"].head(len(flipped))) == set(flipped)
    first = found.candidates.iloc[0]
    assert first["given"] != first["suggested"]


def test_multi_label_with_a_class_that_is_never_withheld_twice_says_so():
    X = np.random.RandomState(0).normal(size=(12, 2))
    found = find_label_errors(LogisticRegression(), X, [("a",)] * 12, multi_label=True)
    assert not found.ran and "Not enough labels" in found.reason


# --------------------------------------------------------------------------- a project, in the background


@pytest.fixture
def digits_store(tmp_path):
    settings = ProjectSettings(name="d", kind="image", classes=tuple(str(i) for i in range(10)))
    store = open_store(tmp_path / "p", settings=settings)
    store.add_items(digits_batch(300))
    yield store
    store.close()


def _label(store, n, wrong=(), labeller="t"):
    ids = []
    for k in range(n):
        item = store.next_item(labeller)
        truth = store.true_labels([item])[0]
        store.submit(item, str((int(truth) + 1) % 10) if k in wrong else truth, labeller)
        ids.append(item)
    return ids


def test_project_label_errors_finds_a_projects_mistakes(digits_store):
    ids = _label(digits_store, 80, wrong={5, 30, 61})
    found = project_label_errors(digits_store)
    assert found.ran and found.n_labels == 80
    assert {ids[5], ids[30], ids[61]} <= set(found.candidates["item_id"].head(6))


def test_project_with_too_few_labels_gets_a_reason(digits_store):
    _label(digits_store, 6)
    found = project_label_errors(digits_store)
    assert not found.ran and "Not enough" in found.reason


def test_the_finder_computes_once_per_revision_in_the_background(digits_store):
    ids = _label(digits_store, 60, wrong={10})
    calls = []
    gate = threading.Event()

    def runner(store):
        gate.wait(10)
        calls.append(store.revision())
        return project_label_errors(store)

    finder = LabelErrorFinder(digits_store, runner=runner, pace=0)
    result, fresh = finder.current()
    assert result is None and not fresh and finder.running  # never waits
    gate.set()
    assert finder.wait(30)
    result, fresh = finder.current()
    assert fresh and result.ran and not finder.running and len(calls) == 1
    assert ids[10] in set(result.candidates["item_id"].head(3))
    finder.current()
    finder.wait(30)
    assert len(calls) == 1  # same labels: no new computation
    # a correction: the item leaves the list at once (before the new computation) ...
    digits_store.relabel(ids[10], digits_store.true_labels([ids[10]])[0], "t")
    stale, fresh = finder.current()
    assert not fresh and ids[10] not in set(finder.shown(stale, digits_store.labels())["item_id"])
    finder.wait(30)
    assert len(calls) == 2  # ... and the new labels are computed again
    new, fresh = finder.current()
    assert fresh and ids[10] not in set(new.candidates["item_id"].head(3))


def test_label_is_right_keeps_the_item_off_the_list_while_it_keeps_that_label(digits_store):
    ids = _label(digits_store, 60, wrong={10})
    finder = LabelErrorFinder(digits_store)
    finder.current()
    finder.wait(30)
    result, _ = finder.current()
    first = result.candidates.iloc[0]
    finder.dismiss(int(first["item_id"]), first["given"])
    shown = finder.shown(result, digits_store.labels())
    assert int(first["item_id"]) not in set(shown["item_id"]) and len(shown) == len(result.candidates) - 1
    assert ids  # labelled


def test_a_failing_computation_is_reported_and_not_retried_until_the_labels_change(digits_store):
    _label(digits_store, 20)
    calls = []

    def broken(store):
        calls.append(1)
        raise RuntimeError("disk gone")

    finder = LabelErrorFinder(digits_store, runner=broken, pace=0)
    finder.current()
    finder.wait(10)
    assert finder.error == "RuntimeError: disk gone" and finder.failed()
    finder.current()
    finder.wait(10)
    assert len(calls) == 1
    _label(digits_store, 1)
    assert not finder.failed()
    finder.current()
    finder.wait(10)
    assert len(calls) == 2


def test_the_finder_rests_after_each_computation(digits_store):
    _label(digits_store, 20)
    calls = []

    def slow(store):
        calls.append(1)
        time.sleep(0.05)
        return project_label_errors(store)

    finder = LabelErrorFinder(digits_store, runner=slow, pace=10_000)
    finder.current()
    finder.wait(30)
    assert finder.settled() and len(calls) == 1  # fresh
    _label(digits_store, 1)
    result, fresh = finder.current()
    assert not fresh and not finder.running and len(calls) == 1  # resting: the old result stays
    assert not finder.settled()  # a waiting page keeps waiting
    finder.pace = 0.0
    assert finder.settled()
    finder.current()
    finder.wait(30)
    assert len(calls) == 2 and finder.current()[1]


def test_the_cache_key_follows_the_model_setting(digits_store):
    _label(digits_store, 30)
    finder = LabelErrorFinder(digits_store, runner=lambda store: SimpleNamespace(key=None))
    before = finder.key()
    digits_store.update_settings(model="knn")
    assert finder.key() != before


def test_text_and_table_features():
    from superintendent_core.learning.models import make_model

    words = {"pos": ["great", "lovely", "superb", "fine"], "neg": ["awful", "poor", "dreadful", "bad"]}
    rng = np.random.RandomState(0)
    y = np.array(["pos", "neg"] * 20, dtype=object)
    texts = [" ".join(rng.choice(words[c], 3)) for c in y]
    noisy = y.copy()
    noisy[[4, 17]] = ["neg", "pos"]
    found = find_label_errors(make_model("text_logistic_regression"), texts, noisy, random_state=0)
    assert set(found.candidates["item_id"].head(2)) == {4, 17}
    X, y3, flipped = _blobs()
    frame = pd.DataFrame(X, columns=["width", "height"])
    found = find_label_errors(LogisticRegression(max_iter=1000), frame, y3, random_state=0)
    assert set(found.candidates["item_id"].head(len(flipped))) == set(flipped.tolist())


def test_the_evidence_never_rounds_a_probability_to_100_or_0_percent():
    from superintendent_core.learning.label_errors import _percent

    assert _percent(0.998) == "over 99 %" and _percent(1.0) == "100 %"
    assert _percent(0.004) == "under 1 %" and _percent(0.0) == "0 %"
    assert _percent(0.5) == "50 %"


def test_a_multi_label_opinion_equal_as_a_set_is_not_a_disagreement():
    from superintendent_core.learning.label_errors import disagreeing

    got = disagreeing(["cat|dog", "dog", None, "b"], ["dog|cat", "cat|dog", "dog", "a"], multi_label=True)
    assert got.tolist() == [False, True, False, True]
    assert disagreeing(["a", "b"], ["a", "a"], multi_label=False).tolist() == [False, True]
