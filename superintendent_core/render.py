"""Display helpers for items: crisp small images, fitted photos, readable text and rows.

Nothing here imports Streamlit or scikit-learn, so the Label page can call these
on every rerun. Every function is a pure transformation of an item's payload.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "DISPLAY_SIZE",
    "THUMBNAIL_SIZE",
    "data_url",
    "display_image",
    "escape_markdown",
    "format_row",
    "format_text",
    "format_value",
    "shortcut_keys",
    "thumbnail",
]

#: Longest side, in pixels, of an image on the Label page.
DISPLAY_SIZE = 320
#: Longest side, in pixels, of a thumbnail in the Review table.
THUMBNAIL_SIZE = 48


def _open(data: bytes):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types for damaged data
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
def display_image(data: bytes, size: int = DISPLAY_SIZE) -> bytes:
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

    Returns
    -------
    bytes
        PNG bytes.

    Raises
    ------
    ValueError
        The bytes are not a readable image.
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}.")
    image = _open(data)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    return _png(_scaled(image, size))


def thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A small PNG of an item's image (see :func:`display_image`)."""
    return display_image(data, size)


def data_url(png: bytes, mime: str = "image/png") -> str:
    """``data:`` URL of image bytes, for image columns in tables."""
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def format_text(text: Any, width: int = 100, max_chars: int = 5000) -> str:
    """A text item, wrapped for reading and cut to ``max_chars`` (with a note).

    Paragraph breaks are kept; very long lines are wrapped at ``width`` columns.
    """
    text = "" if text is None else str(text)
    cut = len(text) > max_chars
    text = text[:max_chars]
    paragraphs = [
        "\n".join(textwrap.wrap(p, width=width, break_long_words=True, replace_whitespace=False)) or ""
        for p in text.splitlines()
    ]
    out = "\n".join(paragraphs)
    return out + (f"\n… ({len(text):,}+ characters, cut)" if cut else "")


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>$~:")


def escape_markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer: special characters escaped, line breaks kept."""
    escaped = "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))
    return escaped.replace("\n", "  \n")


def format_value(value: Any, digits: int = 6) -> str:
    """One value as display text: floats to ``digits`` significant digits (large ones whole,
    with thousands separators), missing values empty.

    >>> format_value(0.2991062739999961, digits=3), format_value(2.0), format_value(float("nan"))
    ('0.299', '2', '')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isfinite(value) and abs(value) >= 10**digits:
            return f"{value:,.0f}"  # 1,234,567 rather than 1.23e+06
        return f"{value:.{digits}g}"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def format_row(row: Mapping[str, Any], max_chars: int = 200) -> list[tuple[str, str]]:
    """A table row as ``(column, value)`` pairs of display strings.

    Floats are shown with 6 significant digits, missing values as empty text,
    long values cut to ``max_chars``.
    """
    out = []
    for column, value in row.items():
        text = format_value(value)
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        out.append((str(column), text))
    return out


def shortcut_keys(classes: Sequence[str] | int, *, reserved: Iterable[str]) -> list[str | None]:
    """Keyboard shortcuts for the class buttons, in class order.

    A class whose name is one digit or letter gets that key (the digits demo's
    class ``"7"`` is key 7); the others take the first free key of ``1``–``9``,
    ``0``, then letters. The ``reserved`` keys are never used; classes
    beyond the available keys get ``None``.

    Parameters
    ----------
    classes : sequence of str, or int
        The class names (or just how many classes, for the plain sequence).
    reserved : iterable of str
        Keys the caller uses for something else (the app: Streamlit's ``C`` and
        ``R``, its own Skip key ``S``); letters are compared in upper case.

    Returns
    -------
    list of (str or None), one per class
    """
    taken = {str(k).upper() for k in reserved}
    names = [""] * classes if isinstance(classes, int) else [str(c) for c in classes]
    sequence = [str(i) for i in range(1, 10)] + ["0"] + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sequence = [k for k in sequence if k not in taken]
    keys: list[str | None] = [None] * len(names)
    used: set[str] = set()
    for i, name in enumerate(names):
        own = name.upper()
        if len(own) == 1 and own in sequence and own not in used:
            keys[i] = own
            used.add(own)
    free = (k for k in sequence if k not in used)
    for i in range(len(names)):
        if keys[i] is None:
            key = next(free, None)
            if key is not None:
                used.add(key)
                free = (k for k in sequence if k not in used)
            keys[i] = key
    return keys
