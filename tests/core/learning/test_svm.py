"""CalibratedSVC: the app's "svc" model, without scikit-learn's deprecated SVC(probability=True)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.svm import SVC

from superintendent_core import CalibratedSVC, Learner
from superintendent_core.learning.models import make_model


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def _check_probabilities(model, X):
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(model.classes_))
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    return proba


def test_two_labels_per_class_is_calibrated(digits):
    X, y = digits
    model = CalibratedSVC(random_state=0).fit(X[:60], y[:60])  # every digit at least 5 times
    assert model.calibrated_
    proba = _check_probabilities(model, X[1000:])
    # Calibrated on held-out decision values: confident where the SVM is right, accurate overall.
    assert (model.predict(X[1000:]) == y[1000:]).mean() > 0.75
    right = model.predict(X[1000:]) == y[1000:]
    assert proba.max(axis=1)[right].mean() > proba.max(axis=1)[~right].mean()


def test_predictions_agree_with_the_svm(digits):
    # Temperature scaling keeps the SVM's ranking of classes: its argmax is the SVM's own.
    X, y = digits
    model = CalibratedSVC(random_state=0).fit(X[:200], y[:200])
    svm = SVC(random_state=0).fit(X[:200], y[:200])
    assert (model.predict(X[1000:]) == svm.predict(X[1000:])).mean() > 0.99


def test_a_class_with_one_label_still_fits(digits):
    X, y = digits
    X12, y12 = X[:12], y[:12]  # 0..9 once each, then 0 and 1 again
    model = CalibratedSVC(random_state=0).fit(X12, y12)
    assert not model.calibrated_
    proba = _check_probabilities(model, X[100:200])
    assert not np.allclose(proba, proba[0])  # it tells items apart


def test_binary_fallback_is_the_sigmoid_of_the_decision(digits):
    X, y = digits
    keep = np.isin(y, [3, 8])
    X2, y2 = X[keep][:5], np.array([3, 8, 8, 8, 8])  # one '3': nothing to cross-validate
    model = CalibratedSVC(random_state=0).fit(X2, y2)
    assert not model.calibrated_
    values = model.decision_function(X[keep][5:50])
    proba = _check_probabilities(model, X[keep][5:50])
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-values)))
    calibrated = CalibratedSVC(random_state=0).fit(X[keep][:40], y[keep][:40])
    assert calibrated.calibrated_
    _check_probabilities(calibrated, X[keep][40:])


def test_reproducible_and_clonable(digits):
    X, y = digits
    a = CalibratedSVC(random_state=3).fit(X[:80], y[:80]).predict_proba(X[500:600])
    b = clone(CalibratedSVC(random_state=3)).fit(X[:80], y[:80]).predict_proba(X[500:600])
    np.testing.assert_array_equal(a, b)


def test_sparse_features(digits):
    X, y = digits
    dense = CalibratedSVC(random_state=0).fit(X[:80], y[:80]).predict_proba(X[500:600])
    sparse = (
        CalibratedSVC(random_state=0)
        .fit(sp.csr_matrix(X[:80]), y[:80])
        .predict_proba(sp.csr_matrix(X[500:600]))
    )
    np.testing.assert_allclose(dense, sparse, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "labels", "message"),
    [
        ({}, [1, 1, 1, 1], "at least 2 classes"),
        ({"cv": 1}, [0, 1, 0, 1], "cv must be an integer of at least 2"),
        ({"cv": True}, [0, 1, 0, 1], "cv must be an integer of at least 2"),
    ],
)
def test_bad_input(digits, kwargs, labels, message):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        CalibratedSVC(**kwargs).fit(X[: len(labels)], labels)


def test_unfitted_model_says_so(digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CalibratedSVC().predict_proba(digits[0][:2])


def test_the_apps_svc_model_trains_from_the_first_labels_without_deprecation_warnings(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        first = Learner(make_model("svc"), random_state=0).retrain(X[:12], y[:12], X[12:300])
        later = Learner(make_model("svc"), random_state=0).retrain(X[:60], y[:60], X[60:300])
    assert isinstance(first.model, CalibratedSVC) and not first.model.calibrated_
    assert (
        first.score is None and len(first.order) == 288
    )  # one label of '2': no cross-validation yet
    assert later.model.calibrated_ and later.score > 0.7 and len(later.order) == 240
