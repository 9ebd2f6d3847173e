"""Real-photo stand-ins built only from images that ship inside installed packages (no download).

Used by ``bench_photos.py`` (labelling efficiency) and ``bench_image_features.py``
(speed and memory). Needs scikit-image (``pip install scikit-image``: benchmarks only, not a
requirement of the app or the tests) and scikit-learn's sample images. Every set is
reproducible from its ``seed``.

- :func:`textures`: grey crops of scikit-image's brick / grass / gravel photos
  (and optionally moon / cell), each crop with variants (size, position, flips,
  brightness); the class is the texture.
- :func:`faces`: scikit-image's ``lfw_subset``: 100 faces and 100 non-faces, 25×25 grey.
- :func:`photo_crops`: colour crops of 9 photos (scikit-learn's china and flower,
  scikit-image's astronaut, chelsea, coffee, rocket, hubble deep field, retina,
  immunohistochemistry) with variants (size, position, flip, brightness,
  saturation); the class is the source photo. Crops of one photo overlap, so
  this measures "find the other variants of this photo", not new photos.
- :func:`jpeg_photos`: camera-sized JPEG bytes (crops upscaled to 800×600), for speed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

TEXTURES = ("brick", "grass", "gravel")
MORE_TEXTURES = ("brick", "grass", "gravel", "moon", "cell")
PHOTOS = ("china", "flower", "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
          "immunohistochemistry")


def _source(name: str) -> Image.Image:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(f"{name}.jpg"))
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)())


def _crop(rng: np.random.Generator, image: Image.Image, low: float, high: float, out: int) -> Image.Image:
    w, h = image.size
    side = int(min(w, h) * rng.uniform(low, high))
    left = int(rng.integers(0, w - side + 1))
    top = int(rng.integers(0, h - side + 1))
    crop = image.crop((left, top, left + side, top + side))
    if rng.random() < 0.5:
        crop = ImageOps.mirror(crop)
    if rng.random() < 0.3:
        crop = ImageOps.flip(crop)
    crop = ImageEnhance.Brightness(crop).enhance(float(rng.uniform(0.75, 1.25)))
    if crop.mode == "RGB":
        crop = ImageEnhance.Color(crop).enhance(float(rng.uniform(0.7, 1.3)))
    return crop.resize((out, out), Image.Resampling.BILINEAR)


def textures(n_per_class: int = 120, seed: int = 0, classes: tuple[str, ...] = TEXTURES):
    """(images, labels): grey 128×128 texture crops, ``n_per_class`` of each class."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for name in classes:
        src = _source(name).convert("L")
        for _ in range(n_per_class):
            images.append(_crop(rng, src, 0.15, 0.4, 128))
            labels.append(name)
    return images, np.asarray(labels)


def faces():
    """(images, labels): scikit-image's lfw_subset, 25×25 grey; the first 100 are faces."""
    import skimage.data

    arr = skimage.data.lfw_subset()
    images = [Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8), mode="L") for a in arr]
    return images, np.asarray(["face"] * 100 + ["not a face"] * 100)


def photo_crops(n_per_class: int = 50, seed: int = 0, classes: tuple[str, ...] = PHOTOS):
    """(images, labels): colour 160×160 crops, ``n_per_class`` per source photo."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for name in classes:
        src = _source(name).convert("RGB")
        for _ in range(n_per_class):
            images.append(_crop(rng, src, 0.3, 0.6, 160))
            labels.append(name)
    return images, np.asarray(labels)


def jpeg_photos(n: int = 2000, seed: int = 0, size: tuple[int, int] = (800, 600)):
    """``n`` JPEG byte strings, camera-like: colour crops upscaled to ``size``, quality 90."""
    rng = np.random.default_rng(seed)
    sources = [_source(name).convert("RGB") for name in PHOTOS]
    out = []
    for k in range(n):
        src = sources[k % len(sources)]
        crop = _crop(rng, src, 0.4, 0.9, 200).resize(size, Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        crop.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out
