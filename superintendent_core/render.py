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

from collections.abc import Iterable, Sequence

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
