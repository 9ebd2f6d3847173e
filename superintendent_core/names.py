"""Labeller names: what a name may be, and when two names are the same person's.

The name recorded with every label is :func:`check_labeller_name`'s result;
:func:`labeller_key` decides whether a name someone picks is another person's
(:meth:`superintendent_core.auth.AuthConfig.check_shared_name`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = ["check_labeller_name", "labeller_key"]

_NAME_MAX = 64
#: Unicode categories refused in a name: controls, format characters (direction marks and
#: overrides, zero-width spaces and joiners, the BOM), surrogates, private use, unassigned,
#: line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Combining marks allowed in a row (more stack into unreadable "zalgo" text).
_MAX_COMBINING = 3
_SPACES = re.compile(r"\s+")


def check_labeller_name(name: Any) -> str:
    """Validate and normalise a labeller's name (as typed, or from the URL).

    Parameters
    ----------
    name : str
        What the person typed. Surrounding spaces are removed and Unicode is
        normalised (NFC), so "Zoë" typed two ways is one labeller.

    Returns
    -------
    str
        The name to record with every label.

    Raises
    ------
    ValueError
        Not text; empty; longer than 64 characters; containing control or
        invisible characters (direction overrides, zero-width spaces, line
        separators, unassigned code points); more than 3 combining marks in a
        row; or no letter or digit at all. The message says what to type.
    """
    if not isinstance(name, str):
        raise ValueError("Labeller name: type your name (text).")
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise ValueError("Labeller name: it is empty; type your name.")
    if len(text) > _NAME_MAX:
        raise ValueError(f"Labeller name: at most {_NAME_MAX} characters, please shorten it.")
    combining = 0
    for ch in text:
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES:
            raise ValueError(
                "Labeller name: it contains control or invisible characters (such as tabs, "
                "direction marks or zero-width spaces); type it again as plain text."
            )
        combining = combining + 1 if category in ("Mn", "Me") else 0
        if combining > _MAX_COMBINING:
            raise ValueError("Labeller name: too many accents on one letter; type it as plain text.")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise ValueError("Labeller name: it needs at least one letter or digit.")
    return text


def labeller_key(name: str) -> str:
    """What two names must share to be *the same person*: NFKC, case-folded, spaces collapsed.

    "Alice", "ALICE", "Ａｌｉｃｅ" (full-width) and "alice" with a no-break space
    all have one key. Used to decide whether a name is someone else's; the name
    recorded with labels stays as :func:`check_labeller_name` returns it.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return _SPACES.sub(" ", folded).strip()
