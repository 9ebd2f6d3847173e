"""Multi-label models: an item may carry several labels at once.

The user's estimator is wrapped in scikit-learn's
:class:`~sklearn.multioutput.MultiOutputClassifier`, one binary output per label.
A label that every labelled item has (or none has) cannot be learnt by a binary
classifier; it gets a constant probability instead of a crash, so a project can
retrain from its first few labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.multioutput import MultiOutputClassifier

__all__ = ["MultiLabelModel", "binarize_labels"]


def binarize_labels(y: Sequence[Sequence[str]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Turn label sets into an indicator matrix.

    Parameters
    ----------
    y : sequence of length n_samples of sequences of str
        The labels of each item (possibly empty).

    Returns
    -------
    Y : ndarray of shape (n_samples, n_labels), dtype int8
    classes : tuple of str, length n_labels, sorted
    """
    sets = []
    for i, labels in enumerate(y):
        if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray | set | frozenset):
            raise ValueError(
                f"multi-label: item {i} has label {labels!r}; expected a list of labels, e.g. ['cat', 'outdoor']."
            )
        sets.append({str(label) for label in labels})
    classes = tuple(sorted(set().union(*sets))) if sets else ()
    index = {c: j for j, c in enumerate(classes)}
    Y = np.zeros((len(sets), len(classes)), dtype=np.int8)
    for i, labels in enumerate(sets):
        for label in labels:
            Y[i, index[label]] = 1
    return Y, classes


class MultiLabelModel(ClassifierMixin, BaseEstimator):
    """One binary classifier per label, through ``MultiOutputClassifier``.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        Cloned for each label that varies among the training items.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, Y: np.ndarray) -> MultiLabelModel:
        """Fit on features ``X`` and an indicator matrix ``Y`` of shape (n_samples, n_labels)."""
        Y = np.asarray(Y)
        if Y.ndim != 2:
            raise ValueError(f"Y must be an indicator matrix of shape (n_samples, n_labels), got {Y.shape}.")
        totals = Y.sum(axis=0)
        self.varying_ = [j for j in range(Y.shape[1]) if 0 < totals[j] < Y.shape[0]]
        self.constant_ = {j: float(Y[0, j]) for j in range(Y.shape[1]) if j not in self.varying_}
        self.n_outputs_ = Y.shape[1]
        self.estimator_ = None
        if self.varying_:
            self.estimator_ = MultiOutputClassifier(clone(self.estimator)).fit(X, Y[:, self.varying_])
        return self

    def predict_proba(self, X: Any) -> list[np.ndarray]:
        """Per label, an array of shape (n_samples, 2): P(label absent), P(label present)."""
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        learnt = dict(zip(self.varying_, self.estimator_.predict_proba(X), strict=True)) if self.varying_ else {}
        out = []
        for j in range(self.n_outputs_):
            if j in learnt:
                out.append(np.asarray(learnt[j], dtype=float))
            else:
                p = self.constant_[j]
                out.append(np.tile([1.0 - p, p], (n, 1)))
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Indicator matrix of shape (n_samples, n_labels)."""
        probabilities = self.predict_proba(X)
        if not probabilities:
            n = X.shape[0] if hasattr(X, "shape") else len(X)
            return np.zeros((n, 0), dtype=np.int8)
        return np.column_stack([p[:, 1] >= 0.5 for p in probabilities]).astype(np.int8)
