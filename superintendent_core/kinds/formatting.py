"""Display text shared by every data kind: one value as text, text shown literally in Markdown.

Pure functions, no Streamlit (the kind modules and the pages both use them).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["escape_markdown", "format_value"]

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
