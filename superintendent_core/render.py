"""Display helpers for items, and the Label page's keyboard shortcuts.

The per-kind display helpers live with their data kind in
:mod:`superintendent_core.kinds` (images: :mod:`~superintendent_core.kinds.image`,
text: :mod:`~superintendent_core.kinds.text`, table rows:
:mod:`~superintendent_core.kinds.table`; shared: :mod:`~superintendent_core.kinds.formatting`);
they are re-exported here so ``superintendent_core.render.X`` keeps working.

Nothing here imports Streamlit or scikit-learn, so the Label page can call these
on every rerun.
"""

from __future__ import annotations

from collections.abc import Sequence

from .kinds.formatting import escape_markdown, format_value
from .kinds.image import DISPLAY_SIZE, THUMBNAIL_SIZE, data_url, display_image, thumbnail
from .kinds.table import format_row
from .kinds.text import format_text

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

#: Keys Streamlit reserves (``C``, ``R``) and the ones the Label page uses for Skip (``S``).
_RESERVED_LETTERS = frozenset("CRS")


def shortcut_keys(classes: Sequence[str] | int) -> list[str | None]:
    """Keyboard shortcuts for the class buttons, in class order.

    A class whose name is one digit or letter gets that key (the digits demo's
    class ``"7"`` is key 7); the others take the first free key of ``1``–``9``,
    ``0``, then letters. Letters Streamlit reserves (``C``, ``R``) and the Label
    page's Skip key (``S``) are never used; classes beyond the available keys
    get ``None``.

    Parameters
    ----------
    classes : sequence of str, or int
        The class names (or just how many classes, for the plain sequence).

    Returns
    -------
    list of (str or None), one per class
    """
    names = [""] * classes if isinstance(classes, int) else [str(c) for c in classes]
    sequence = [str(i) for i in range(1, 10)] + ["0"]
    sequence += [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in _RESERVED_LETTERS]
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
