"""How a label is written down: one class name, or several joined by ``"|"``.

A multi-label item's label is a tuple of class names in memory; in the store,
exports and imports it is one string, the names joined by :data:`SEPARATOR` in
the project's class order (so class names may not contain it). The empty tuple,
"none of these", is the empty string. Every module that writes or reads that
string goes through these helpers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["SEPARATOR", "cell_value", "classes_in", "join_labels", "split_labels"]

#: Joins the classes of a multi-label value (a class name may not contain it).
SEPARATOR = "|"


def split_labels(text: Any) -> tuple[str, ...]:
    """The class names of a joined multi-label string (``""`` or None: none; a tuple or list: its names)."""
    if text is None:
        return ()
    if isinstance(text, tuple | list):
        return tuple(str(part) for part in text if part)
    text = str(text)
    return tuple(part for part in text.split(SEPARATOR) if part)


def join_labels(label: Any) -> str:
    """One string for a label: a sequence of classes joined by :data:`SEPARATOR`, else ``str``."""
    if isinstance(label, tuple | list | np.ndarray | set | frozenset):
        return SEPARATOR.join(str(v) for v in label)
    return str(label)


def cell_value(text: Any, multi_label: bool) -> str | tuple[str, ...]:
    """A label cell of an import or an edit as the store takes it.

    Multi-label projects read ``"a|b"`` as the classes ``("a", "b")``; single-label
    ones take the text as it is.
    """
    return split_labels(text) if multi_label else str(text)


def classes_in(values: Iterable[Any], multi_label: bool = False) -> list[str]:
    """Distinct class names in label cells (None skipped), sorted."""
    found: set[str] = set()
    for v in values:
        if v is None:
            continue
        found.update(split_labels(v) if multi_label else [str(v)])
    return sorted(p for p in found if p)
