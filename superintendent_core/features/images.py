"""Images as a feature extractor reads them: opened safely, then 8-bit RGB whatever their mode.

:func:`open_image` opens a path or bytes with the importers' pixel limit
(:data:`superintendent_core.data.images.MAX_PIXELS`, checked from the header
before any pixel is decoded) and, for a JPEG much larger than the network needs,
lets the decoder scale it down by 2, 4 or 8 while decoding (``Image.draft``).
:func:`to_rgb` turns any Pillow mode into RGB the same way every time.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..data.images import MAX_PIXELS
from ..store.errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image, ImageOps
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    Image = lazy_module("PIL.Image")
    ImageOps = lazy_module("PIL.ImageOps")

__all__ = ["DRAFT_SIDE", "open_image", "to_rgb"]

#: A JPEG opened from a file is decoded at the smallest 1/2, 1/4, 1/8 scale whose sides stay at least this long.
DRAFT_SIDE = 512

_ALPHA_MODES = {"RGBA", "LA", "La", "RGBa", "PA"}


def _white(rgba: Image.Image) -> Image.Image:
    """Transparent pixels shown on white (as a viewer shows them), as RGB."""
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB, upright.

    - EXIF orientation is applied (a phone photo stored sideways comes out upright);
    - an animated image (GIF, WebP, APNG) gives its first frame;
    - transparency (RGBA, LA, palette with a transparent colour) is laid on white;
    - 16-bit grey (``I;16``) is scaled to 8 bits (value / 257); a 32-bit integer
      image (``I``) the same when its values pass 255, else kept; a float image
      (``F``) is read as 0..1 when its maximum is at most 1, else as 0..255;
    - CMYK, YCbCr, LAB, HSV, 1-bit and grey images are converted by Pillow.

    The caller's image is not changed (except its current frame, set to the first).
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I" or mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        top = float(finite.max()) if finite.size else 0.0
        if mode == "F":
            arr = arr * 255.0 if top <= 1.0 else arr
        elif mode.startswith("I;16") or top > 255:
            arr = arr / 257.0
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        grey = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
        return grey.convert("RGB")
    if mode == "P" and "transparency" in image.info or mode in _ALPHA_MODES:
        return _white(image.convert("RGBA"))
    return image.convert("RGB")


def _describe(source: Any, index: int) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return f"image {index + 1}"


def open_image(source: Any, *, index: int = 0, max_pixels: int | None = None) -> Image.Image:
    """A decoded PIL image from a path, bytes or a PIL image, or ``InvalidInput`` naming it and why.

    Parameters
    ----------
    source : str, os.PathLike, bytes or PIL.Image
    index : int
        Its position in the caller's list, to name it when it is not a path.
    max_pixels : int, default=MAX_PIXELS
        Larger images (width × height) are refused from the header, before decoding.
    """
    limit = int(max_pixels or MAX_PIXELS)
    name = _describe(source, index)
    if isinstance(source, Image.Image):
        width, height = source.size
        if width * height > limit:
            raise InvalidInput(f"{name} is {width:,}×{height:,} pixels, above the limit of {limit:,} pixels.")
        return source
    try:
        if isinstance(source, bytes | bytearray):
            if not source:
                raise InvalidInput(f"{name} is empty (0 bytes).")
            image = Image.open(io.BytesIO(bytes(source)))
        elif isinstance(source, str | os.PathLike):
            with open(source, "rb") as fh:
                raw = fh.read()
            if not raw:
                raise InvalidInput(f"{name} is empty (0 bytes).")
            image = Image.open(io.BytesIO(raw))
        else:
            raise InvalidInput(f"{name} is a {type(source).__name__}; give a path, bytes or a PIL image.")
        width, height = image.size
        if width * height > limit:
            raise InvalidInput(
                f"{name} is {width:,}×{height:,} pixels, above the limit of {limit:,} pixels "
                "(a decompression bomb, or a huge scan); shrink it first."
            )
        if image.format == "JPEG" and min(width, height) > 2 * DRAFT_SIDE:
            image.draft(None, (DRAFT_SIDE, DRAFT_SIDE))
        image.load()
        return image
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"{name} has more pixels than Pillow accepts (a decompression bomb?).") from None
    except Image.UnidentifiedImageError:
        raise InvalidInput(f"{name} is not a readable image (not an image format Pillow knows, or damaged).") from None
    except FileNotFoundError:
        raise InvalidInput(f"{name} does not exist.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise InvalidInput(f"{name} is not a readable image (corrupt or truncated: {reason}).") from None
