"""What the app draws for an item, as plain values: a picture, a text or rows.

A data kind's ``display`` returns one of these; the app has one way of drawing
each (``ui.widgets.draw_item``), so a new data kind whose items are shown as a
picture, a text or rows needs no change to any page.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Picture", "Rows", "Text", "View"]


@dataclass(frozen=True)
class Picture:
    """An image to show.

    Attributes
    ----------
    png : bytes
        PNG bytes, already sized for display.
    caption : str
    """

    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class Text:
    """A text to read, shown literally (never interpreted as Markdown).

    Attributes
    ----------
    text : str
        Already wrapped and cut for reading.
    caption : str
    """

    text: str
    caption: str = ""


@dataclass(frozen=True)
class Rows:
    """A small two-column table of ``(column, value)`` display strings.

    Attributes
    ----------
    rows : tuple of (str, str)
    caption : str
    """

    rows: tuple[tuple[str, str], ...]
    caption: str = ""


#: Any of the views above.
View = Picture | Text | Rows
