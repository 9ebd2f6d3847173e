"""Synthetic MNIST-shaped images for the store benchmarks (made here: nothing is downloaded)."""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_mnist"]


def synthetic_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mostly black 28×28 uint8 images with grey strokes, one of 10 prototypes each, plus noise.

    Returns
    -------
    X : ndarray of shape (n, 784), uint8
    y : ndarray of shape (n,), int64
        The prototype (class) of each image, 0..9.
    """
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 28, 28)) > 0.82).astype(np.float32)
    for _ in range(2):
        protos = (protos + np.roll(protos, 1, 1) + np.roll(protos, 1, 2)) / 3
    y = rng.integers(0, 10, n)
    X = np.empty((n, 784), dtype=np.uint8)
    for start in range(0, n, 10_000):  # in chunks: the float images of a 1M pool would not fit
        sl = slice(start, min(n, start + 10_000))
        noise = rng.normal(0, 0.15, (sl.stop - sl.start, 28, 28))
        img = np.clip(protos[y[sl]] + noise, 0, 1)
        img[img < 0.3] = 0
        X[sl] = (img * 255).astype(np.uint8).reshape(-1, 784)
    return X, y
