"""The built-in demo: scikit-learn's handwritten digits (1,797 images of 8×8 pixels).

The true digit of every image is kept as the items' hidden ``true_labels``:
never displayed, used by tests and the simulation page.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from ..store.errors import StoreError
from ..store.protocol import ItemBatch, LabelStore, ProjectSettings

__all__ = ["DIGIT_CLASSES", "digits_batch", "digits_settings", "load_digits_demo"]

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))


def digits_settings(name: str = "Digits demo") -> ProjectSettings:
    """Settings of the demo project: classes "0".."9", images, array features."""
    return ProjectSettings(name=name, kind="image", classes=DIGIT_CLASSES, feature_kind="array")


def _digits_file() -> Path:
    """scikit-learn's own copy of the digits (``load_digits`` reads the same file)."""
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("The digits demo needs scikit-learn installed (pip install scikit-learn).")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(_digits_file(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float32)
    pixels = data[:, :-1].astype(np.uint8)
    pixels.flags.writeable = False
    target = data[:, -1].astype(np.int64)
    target.flags.writeable = False
    return pixels, target


def digits_batch(n: int | None = None) -> ItemBatch:
    """The digits as an :class:`ItemBatch` (features: 64 uint8 values 0..16 per image).

    The same data as :func:`sklearn.datasets.load_digits`, read from the file it
    ships, without importing scikit-learn (which costs ~2 s of the app's cold start).

    Parameters
    ----------
    n : int, optional
        Only the first ``n`` images (tests); default all 1,797.
    """
    X, y = _digits_arrays()
    if n is not None:
        X, y = X[:n], y[:n]
    return ItemBatch(
        names=tuple(f"digit-{i:04d}" for i in range(len(X))),
        kind="image",
        features=X,
        image_shape=(8, 8),
        pixel_max=16.0,
        true_labels=[str(v) for v in y],
    )


def load_digits_demo(store: LabelStore) -> np.ndarray:
    """Fill an empty project with the digits demo (sets the classes); returns the new ids.

    A project that already has items is left alone (returns an empty array), so
    calling this on every app start is safe.
    """
    if len(store):
        return np.empty(0, dtype=np.int64)
    if not store.settings.classes:
        store.update_settings(classes=DIGIT_CLASSES, name=store.settings.name if store.settings.name != "project"
                              else "Digits demo")
    return store.add_items(digits_batch())
