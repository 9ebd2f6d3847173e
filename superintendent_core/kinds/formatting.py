"""Display text shared by every data kind: one value as text, text shown literally in Markdown.

Pure functions, no Streamlit (the kind modules and the pages both use them).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["escape_markdown", "format_value", "markdown_code"]

#: Characters escaped wherever they are: emphasis, code, links and images, HTML tags and
#: entities, LaTeX, tables, e-mail autolinks.
_ALWAYS = frozenset("\\`*_~[]<>$&|@")
#: What a line may not begin with: a heading, a list, a quote, a setext underline.
_LINE_START = re.compile(r"^( {0,3})(\d{1,9}(?=[.)])|)([#+\-=>.)])")
_WWW = re.compile(r"(?i)\b(www)\.")


def escape_markdown(text: str) -> str:
    r"""Text shown literally by a Markdown renderer; ordinary prose is left as it is.

    Covers what Streamlit's Markdown (``st.markdown``, captions, messages, widget
    labels, radio options, tooltips) would interpret: images ``![](…)`` and links,
    autolinks, HTML tags and entities, emphasis and code, ``:red[…]`` colour
    directives, ``:material/…:`` icons and emoji shortcodes (a colon before a
    non-space), ``$…$`` LaTeX, tables, and headings, lists and quotes at the start
    of a line. Line breaks (``\n``, ``\r``) are kept as line breaks.

    >>> print(escape_markdown("![x](http://h/x.png) **b** :red[y]"))
    !\[x\](http\://h/x.png) \*\*b\*\* \:red\[y\]
    >>> escape_markdown("Not valid (any more): ask again.")
    'Not valid (any more): ask again.'
    """
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out = []
        for i, ch in enumerate(line):
            if ch in _ALWAYS or (ch == ":" and i + 1 < len(line) and not line[i + 1].isspace()):
                out.append("\\")
            out.append(ch)
        escaped = _WWW.sub(r"\1\\.", "".join(out))
        escaped = _LINE_START.sub(r"\1\2\\\3", escaped, count=1)
        lines.append(escaped)
    return "  \n".join(lines)


def markdown_code(text: str) -> str:
    """Text as a Markdown code span (shown literally, in a monospace font): for paths and file names.

    >>> markdown_code("a`b")
    '`` a`b ``'
    """
    text = str(text).replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


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
