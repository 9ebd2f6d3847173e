"""Keyboard shortcuts of the Label page's class buttons (pure Python, no Streamlit).

Which keys are taken is the app's business: Streamlit's own ``C`` (clear cache)
and ``R`` (rerun), the Label page's Skip key ``S`` and, in multi-label projects,
its "None of these" key ``N``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["ACCEPT_KEY", "MULTI_RESERVED_SHORTCUTS", "NONE_KEY", "RESERVED_SHORTCUTS", "SKIP_KEY", "shortcut_keys"]

#: The Label page's Skip key.
SKIP_KEY = "S"
#: The multi-label "None of these" key (records the empty label on purpose).
NONE_KEY = "N"
#: The Label page's "Accept pre-annotation" key.
ACCEPT_KEY = "P"
#: Keys a class button may not take: Streamlit's own (``C``: clear cache, ``R``: rerun), Skip's and Accept's.
RESERVED_SHORTCUTS = frozenset({"C", "R", SKIP_KEY, ACCEPT_KEY})
#: Keys a class toggle of a multi-label project may not take: the above and "None of these".
MULTI_RESERVED_SHORTCUTS = RESERVED_SHORTCUTS | {NONE_KEY}


def shortcut_keys(
    classes: Sequence[str] | int, *, reserved: Iterable[str] = RESERVED_SHORTCUTS
) -> list[str | None]:
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
