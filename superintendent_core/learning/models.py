"""The model registry: the classifiers a project can choose by name.

Each entry is a factory that builds a fresh, unfitted scikit-learn estimator with
``predict_proba``. Names are what a project's settings store
(``ProjectSettings.model``); the app lists :data:`MODELS` in a select box.

Importing this module is cheap: scikit-learn is imported only when a factory
runs (a retrain), never on the Label page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "make_model",
    "model_label",
    "models_for",
    "register_model",
]

#: The model a new project uses.
DEFAULT_MODEL = "logistic_regression"


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes
    ----------
    name : str
        Key stored in the project settings.
    label : str
        What the app shows.
    factory : callable () -> estimator
        Builds a new unfitted estimator with ``fit`` and ``predict_proba``.
    text : bool
        Whether the factory accepts raw text (a list of strings) as features.
    """

    name: str
    label: str
    factory: Callable[[], Any]
    text: bool = False


def _logistic_regression():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


def _random_forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=200, n_jobs=1, random_state=0)


def _knn():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5)


def _gaussian_nb():
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


def _multinomial_nb():
    from sklearn.naive_bayes import MultinomialNB

    return MultinomialNB()


def _svc():
    from .svm import CalibratedSVC  # SVC(probability=True) is deprecated in scikit-learn 1.9

    return CalibratedSVC(random_state=0)


def _gradient_boosting():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=0)


def _text_logistic_regression():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=1), LogisticRegression(max_iter=2000))


def _text_multinomial_nb():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=1), MultinomialNB())


#: name -> ModelSpec, in the order the app lists them.
MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, label: str, factory: Callable[[], Any], *, text: bool = False) -> None:
    """Add (or replace) a model in the registry.

    Parameters
    ----------
    name : str
        Key stored in project settings.
    label : str
        Human-readable name.
    factory : callable
        Returns a new unfitted estimator with ``fit`` and ``predict_proba``.
    text : bool, default=False
        The estimator takes raw text (e.g. a pipeline starting with a vectoriser).
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"model name must be non-empty text, got {name!r}.")
    if not callable(factory):
        raise ValueError(f"model {name!r}: factory must be callable, got {type(factory).__name__}.")
    MODELS[name] = ModelSpec(name, label, factory, text)


for _name, _label, _factory, _text in [
    ("logistic_regression", "Logistic regression", _logistic_regression, False),
    ("random_forest", "Random forest", _random_forest, False),
    ("knn", "k-nearest neighbours (k=5)", _knn, False),
    ("gaussian_nb", "Gaussian naive Bayes", _gaussian_nb, False),
    ("multinomial_nb", "Multinomial naive Bayes (counts, non-negative)", _multinomial_nb, False),
    ("svc", "Support vector machine (RBF, with probabilities)", _svc, False),
    ("gradient_boosting", "Gradient boosting (histogram)", _gradient_boosting, False),
    ("text_logistic_regression", "TF-IDF + logistic regression (text)", _text_logistic_regression, True),
    ("text_multinomial_nb", "TF-IDF + multinomial naive Bayes (text)", _text_multinomial_nb, True),
]:
    register_model(_name, _label, _factory, text=_text)


def models_for(feature_kind: str) -> list[str]:
    """Names of the models that accept a feature kind (``"array"``, ``"text"``, ``"table"``)."""
    if feature_kind == "text":
        return [name for name, spec in MODELS.items() if spec.text]
    return [name for name, spec in MODELS.items() if not spec.text]


def model_label(name: str) -> str:
    """The human-readable name of a registered model (the name itself if unknown)."""
    spec = MODELS.get(name)
    return spec.label if spec else name


def make_model(name: str | None) -> Any:
    """A new unfitted estimator for a registered name.

    Parameters
    ----------
    name : str or None
        A key of :data:`MODELS`; None means :data:`DEFAULT_MODEL`.

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid ones.
    """
    name = DEFAULT_MODEL if name is None else name
    spec = MODELS.get(name)
    if spec is None:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return spec.factory()
