"""The display helpers of the kinds: crisp small images, fitted photos, readable text and rows."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from superintendent_core.kinds.formatting import escape_markdown, format_value
from superintendent_core.kinds.image import THUMBNAIL_SIZE, data_url, display_image, thumbnail
from superintendent_core.kinds.table import format_row
from superintendent_core.kinds.text import format_text


def _png(size, mode="L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, "PNG")
    return out.getvalue()


def test_small_images_are_enlarged_with_crisp_pixels():
    small = Image.new("L", (2, 2))
    small.putdata([0, 255, 255, 0])
    raw = io.BytesIO()
    small.save(raw, "PNG")
    out = Image.open(io.BytesIO(display_image(raw.getvalue(), 320)))
    assert out.format == "PNG" and out.size == (320, 320)
    assert set(np.asarray(out).ravel().tolist()) == {0, 255}  # nearest neighbour: no blurred greys


def test_large_images_are_reduced_to_fit():
    out = Image.open(io.BytesIO(display_image(_png((2000, 1000), "RGB"), 320)))
    assert out.size == (320, 160)
    thumb = Image.open(io.BytesIO(thumbnail(_png((2000, 1000), "RGB"))))
    assert thumb.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
    assert data_url(b"\x89PNG").startswith("data:image/png;base64,")


def test_unreadable_image_is_a_value_error():
    with pytest.raises(ValueError, match="cannot be read"):
        display_image(b"not an image")


def test_text_and_rows_are_formatted():
    assert format_text("a " * 100, width=20).count("\n") >= 9
    assert format_text("x" * 50, max_chars=10).endswith("cut)")
    assert format_row({"a": 1.23456789, "b": None, "c": float("nan")}) == [("a", "1.23457"), ("b", ""), ("c", "")]
    assert escape_markdown("*x*") == "\\*x\\*"


def test_format_value_rounds_floats_and_hides_missing_values():
    assert format_value(0.2991062739999961, digits=3) == "0.299"
    assert format_value(2.0) == "2" and format_value(1234.5678, digits=3) == "1,235"
    assert format_value(float("nan")) == "" and format_value(None) == ""
    assert format_value("app") == "app" and format_value(b"abc") == "<3 bytes>"
