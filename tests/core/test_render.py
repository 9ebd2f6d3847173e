"""Display helpers: crisp images, readable text and rows, keyboard shortcuts for the class buttons."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from superintendent_core.render import (
    display_image,
    escape_markdown,
    format_row,
    format_text,
    format_value,
    shortcut_keys,
)

#: What the app passes: Streamlit's C and R, and its Skip key S.
APP_RESERVED = frozenset("CRS")


def _png(size, mode="L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, "PNG")
    return out.getvalue()


def test_small_images_are_enlarged_with_crisp_pixels():
    image = Image.new("L", (2, 2))
    image.putdata([0, 255, 255, 0])
    raw = io.BytesIO()
    image.save(raw, "PNG")
    out = Image.open(io.BytesIO(display_image(raw.getvalue(), 320)))
    assert out.format == "PNG" and out.size == (320, 320)
    values = set(np.asarray(out).ravel().tolist())
    assert values == {0, 255}  # nearest neighbour: no blurred greys


def test_large_images_are_reduced_to_fit():
    out = Image.open(io.BytesIO(display_image(_png((2000, 1000), "RGB"), 320)))
    assert out.size == (320, 160)


def test_unreadable_image_is_a_value_error():
    with pytest.raises(ValueError, match="cannot be read"):
        display_image(b"not an image")


def test_text_and_rows_are_formatted():
    assert format_text("a " * 100, width=20).count("\n") >= 9
    assert format_text("x" * 50, max_chars=10).endswith("cut)")
    assert format_row({"a": 1.23456789, "b": None, "c": float("nan")}) == [("a", "1.23457"), ("b", ""), ("c", "")]
    assert escape_markdown("*x*") == "\\*x\\*"


@given(st.lists(st.text(min_size=1, max_size=3), max_size=60, unique=True))
@settings(max_examples=60, deadline=None)
def test_shortcuts_are_unique_and_avoid_reserved_keys(classes):
    keys = shortcut_keys(classes, reserved=APP_RESERVED)
    assert len(keys) == len(classes)
    given_keys = [k for k in keys if k is not None]
    assert len(given_keys) == len(set(given_keys))
    assert not {"C", "R", "S"} & set(given_keys)
    for name, key in zip(classes, keys, strict=True):  # a one-character class keeps its own key if it can
        if len(name) == 1 and len(classes) <= 30 and name.isascii() and name.isalnum():
            assert key is not None
            if name.upper() not in "CRS" and [c.upper() for c in classes].count(name.upper()) == 1:
                assert key == name.upper()


def test_shortcuts_for_digits_and_words():
    assert shortcut_keys([str(i) for i in range(10)], reserved=APP_RESERVED) == [str(i) for i in range(10)]
    assert shortcut_keys(["cat", "dog"], reserved=APP_RESERVED) == ["1", "2"]
    assert shortcut_keys(12, reserved=APP_RESERVED)[:12] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "A", "B"]
    assert shortcut_keys(60, reserved=APP_RESERVED).count(None) > 0


def test_shortcuts_leave_the_callers_reserved_keys_free():
    # The engine reserves nothing itself: the caller says which keys are taken (any case).
    assert shortcut_keys(["c", "r", "s"], reserved=()) == ["C", "R", "S"]
    assert shortcut_keys(["c", "r", "s"], reserved=APP_RESERVED) == ["1", "2", "3"]
    assert shortcut_keys(["s", "x"], reserved=["s", "1"]) == ["2", "X"]
    letters = shortcut_keys(40, reserved="crs")
    assert not {"C", "R", "S"} & set(letters)




def test_format_value_rounds_floats_and_hides_missing_values():
    assert format_value(0.2991062739999961, digits=3) == "0.299"
    assert format_value(2.0) == "2" and format_value(1234.5678, digits=3) == "1,235"
    assert format_value(float("nan")) == "" and format_value(None) == ""
    assert format_value("app") == "app" and format_value(b"abc") == "<3 bytes>"
