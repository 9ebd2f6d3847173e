"""Data kinds: one module per kind of item, and the registry the app asks about them.

Each kind (:mod:`.image`, :mod:`.text`, :mod:`.table`) states how its items are
imported, featurised and shown, and which model a new project starts with:

>>> from superintendent_core.kinds import get_kind, kind_names
>>> kind_names()
['image', 'text', 'table']
>>> get_kind("text").default_model("text")
'text_logistic_regression'

The pages draw what :func:`display_of` returns (a :class:`Picture`, :class:`Text`
or :class:`Rows`) and list what :func:`preview_of` returns, so a new kind needs a
module here and one line below, not a page change. The registry is filled here,
explicitly, when this package is imported.

Nothing here imports Streamlit or scikit-learn.
"""

from __future__ import annotations

from .formatting import escape_markdown, format_value
from .image import IMAGE
from .registry import (
    FEATURE_DEFAULT_MODELS,
    KINDS,
    DataKind,
    Featuriser,
    Importer,
    default_model,
    display_of,
    get_kind,
    kind_names,
    preview_of,
    register_kind,
)
from .table import TABLE
from .text import TEXT
from .views import Picture, Rows, Text, View

__all__ = [
    "FEATURE_DEFAULT_MODELS",
    "IMAGE",
    "KINDS",
    "TABLE",
    "TEXT",
    "DataKind",
    "Featuriser",
    "Importer",
    "Picture",
    "Rows",
    "Text",
    "View",
    "default_model",
    "display_of",
    "escape_markdown",
    "format_value",
    "get_kind",
    "kind_names",
    "preview_of",
    "register_kind",
]

for _kind in (IMAGE, TEXT, TABLE):
    register_kind(_kind)
del _kind
