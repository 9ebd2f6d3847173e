"""The model registry: every model fits a project's first labels and predicts probabilities."""

from __future__ import annotations

import pytest

from superintendent_core.learning.models import DEFAULT_MODEL, MODELS, make_model, models_for

# --------------------------------------------------------------------------- models


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_has_predict_proba(name):
    model = make_model(name)
    assert hasattr(model, "fit") and hasattr(model, "predict_proba")
    assert make_model(name) is not model  # a fresh object each time


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_retrains_on_a_projects_first_labels(name):
    # A class with a single label, as on every project's first retrains; and no warning
    # about a deprecated scikit-learn feature (SVC(probability=True) used to give one).
    import warnings

    from sklearn.datasets import load_digits

    from superintendent_core import Learner

    X, y = load_digits(return_X_y=True)
    if MODELS[name].text:
        words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        X = [f"the digit {words[v]} drawn {i % 7} times" for i, v in enumerate(y[:300])]
    else:
        X = X[:300] / 16
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        result = Learner(make_model(name), random_state=0).retrain(X[:12], y[:12], X[12:])
    assert len(result.order) == 288 and sorted(result.order) == list(range(288))
    assert len(result.model.predict_proba(X[12:20])) == 8


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="logistic_regression"):
        make_model("perceptron")


def test_models_for_text_and_arrays():
    assert DEFAULT_MODEL in models_for("array")
    assert "text_logistic_regression" in models_for("text")
    assert DEFAULT_MODEL not in models_for("text")
