"""Image items: crisp small images, fitted photos, thumbnails; imported from zips and folders.

Display: PNG bytes, small images (an 8×8 digit) enlarged by a whole factor with
nearest-neighbour sampling so each pixel stays a crisp square, large photos
reduced (Lanczos). Features: a grey 16×16 thumbnail by default
(:func:`~superintendent_core.data.images.thumbnail_features`); another featuriser
(e.g. pretrained image features) is added with :meth:`DataKind.with_featuriser`.
"""

from __future__ import annotations

import base64
import functools
import io

from ..data.demo import digits_batch
from ..data.images import (
    MAX_PIXELS,
    images_from_files,
    images_from_folder,
    images_from_zip,
    thumbnail_features,
)
from ..store.protocol import Item
from .registry import DataKind, Featuriser, Importer
from .views import Picture

__all__ = [
    "DISPLAY_SIZE",
    "IMAGE",
    "THUMBNAIL_SIZE",
    "data_url",
    "display",
    "display_image",
    "preview",
    "thumbnail",
]

#: Longest side, in pixels, of an image on the Label page.
DISPLAY_SIZE = 320
#: Longest side, in pixels, of a thumbnail in the Review table.
THUMBNAIL_SIZE = 48


def _too_big(max_pixels: int, size: str) -> ValueError:
    return ValueError(
        f"This item's image {size}, above the limit of {max_pixels:,} pixels; it is not shown "
        "(a decompression bomb, or a huge scan)."
    )


def _open(data: bytes, max_pixels: int = MAX_PIXELS):
    """The decoded image; its size is checked from the header first (``Image.open`` is lazy)."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _too_big(max_pixels, "has more pixels than Pillow accepts") from None
    except Exception as exc:  # Pillow raises many types for damaged data
        raise ValueError(f"This item's image cannot be read ({type(exc).__name__}: {exc}).") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise _too_big(max_pixels, f"is {width:,}×{height:,} pixels")
    try:
        image.load()
    except Exception as exc:
        raise ValueError(f"This item's image cannot be read ({type(exc).__name__}: {exc}).") from exc
    return image


def _scaled(image, size: int):
    """Scale so the longest side is ``size``: NEAREST when enlarging (pixels stay sharp)."""
    from PIL import Image

    width, height = image.size
    longest = max(width, height)
    if longest == size or longest == 0:
        return image
    if longest < size:
        factor = max(1, size // longest)  # integer factor: every source pixel becomes a square
        return image.resize((width * factor, height * factor), Image.NEAREST)
    scale = size / longest
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.resize(new, Image.LANCZOS)


def _png(image) -> bytes:
    out = io.BytesIO()
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGB")
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


@functools.lru_cache(maxsize=256)
def display_image(data: bytes, size: int = DISPLAY_SIZE, max_pixels: int = MAX_PIXELS) -> bytes:
    """An item's image ready for the Label page, as PNG bytes.

    Small images (an 8×8 digit) are enlarged by a whole factor with
    nearest-neighbour sampling, so each pixel stays a crisp square; large photos
    are reduced to fit ``size`` (Lanczos). Results are cached by content.

    Parameters
    ----------
    data : bytes
        PNG, JPEG, GIF, BMP, WebP or TIFF bytes.
    size : int, default=DISPLAY_SIZE
        Longest side of the result, in pixels (small images get the largest
        whole multiple of their size that does not exceed it, at least 1×).
    max_pixels : int, default=MAX_PIXELS
        Larger images (width × height, read from the header) are refused
        before any pixel is decoded.

    Returns
    -------
    bytes
        PNG bytes.

    Raises
    ------
    ValueError
        The bytes are not a readable image, or it has more than ``max_pixels`` pixels.
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}.")
    image = _open(data, max_pixels)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    return _png(_scaled(image, size))


def thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A small PNG of an item's image (see :func:`display_image`)."""
    return display_image(data, size)


def data_url(png: bytes, mime: str = "image/png") -> str:
    """``data:`` URL of image bytes, for image columns in tables."""
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def display(item: Item, size: int | None = None) -> Picture:
    """The item's image as PNG bytes fitted to ``size`` (default :data:`DISPLAY_SIZE`), captioned by its name.

    Raises
    ------
    ValueError
        The item's bytes are not a readable image.
    """
    return Picture(display_image(item.payload, DISPLAY_SIZE if size is None else size), caption=item.name)


def preview(item: Item) -> str:
    """A ``data:`` URL of the item's thumbnail; ``""`` when the image cannot be read."""
    try:
        return data_url(thumbnail(item.payload))
    except ValueError:
        return ""


#: The image kind, registered by :mod:`superintendent_core.kinds`.
IMAGE = DataKind(
    name="image",
    label="Images",
    display=display,
    preview=preview,
    preview_format="image",
    default_models={"array": "logistic_regression"},
    featurisers=(Featuriser("thumbnail", "Grey 16×16 thumbnail", thumbnail_features),),
    default_featuriser="thumbnail",
    importers=(
        Importer("zip", "Images: a .zip", images_from_zip, featurises=True),
        Importer("folder", "Images: a folder on the server", images_from_folder, featurises=True),
        Importer("files", "Images: (name, bytes) pairs", images_from_files, featurises=True),
        Importer("demo", "Digits demo (1,797 handwritten digits)", digits_batch),
    ),
)
