"""The display helpers moved from ``superintendent_core.render`` to the kinds: both paths work, and are the same.

The render tests of ``tests/core/test_app_services.py`` (old path) run here over both paths.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import superintendent_core.render as render
from superintendent_core.kinds import formatting, image, table, text

NEW_PATHS = {
    "DISPLAY_SIZE": image, "THUMBNAIL_SIZE": image, "data_url": image, "display_image": image, "thumbnail": image,
    "format_text": text, "format_row": table, "format_value": formatting, "escape_markdown": formatting,
}
OLD = SimpleNamespace(**{name: getattr(render, name) for name in NEW_PATHS})
NEW = SimpleNamespace(**{name: getattr(module, name) for name, module in NEW_PATHS.items()})


def test_render_re_exports_every_moved_name_as_the_same_object():
    assert set(NEW_PATHS) | {"shortcut_keys"} == set(render.__all__)
    for name, module in NEW_PATHS.items():
        assert getattr(render, name) is getattr(module, name), name
    assert render.shortcut_keys(["cat", "dog"]) == ["1", "2"]  # stays in render.py


@pytest.fixture(params=[OLD, NEW], ids=["render", "kinds"])
def helpers(request):
    return request.param


def _png(size, mode="L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, "PNG")
    return out.getvalue()


def test_small_images_are_enlarged_with_crisp_pixels(helpers):
    small = Image.new("L", (2, 2))
    small.putdata([0, 255, 255, 0])
    raw = io.BytesIO()
    small.save(raw, "PNG")
    out = Image.open(io.BytesIO(helpers.display_image(raw.getvalue(), 320)))
    assert out.format == "PNG" and out.size == (320, 320)
    assert set(np.asarray(out).ravel().tolist()) == {0, 255}  # nearest neighbour: no blurred greys


def test_large_images_are_reduced_to_fit(helpers):
    out = Image.open(io.BytesIO(helpers.display_image(_png((2000, 1000), "RGB"), 320)))
    assert out.size == (320, 160)
    thumb = Image.open(io.BytesIO(helpers.thumbnail(_png((2000, 1000), "RGB"))))
    assert thumb.size == (helpers.THUMBNAIL_SIZE, helpers.THUMBNAIL_SIZE // 2)
    assert helpers.data_url(b"\x89PNG").startswith("data:image/png;base64,")


def test_unreadable_image_is_a_value_error(helpers):
    with pytest.raises(ValueError, match="cannot be read"):
        helpers.display_image(b"not an image")


def test_text_and_rows_are_formatted(helpers):
    assert helpers.format_text("a " * 100, width=20).count("\n") >= 9
    assert helpers.format_text("x" * 50, max_chars=10).endswith("cut)")
    assert helpers.format_row({"a": 1.23456789, "b": None, "c": float("nan")}) == [("a", "1.23457"), ("b", ""), ("c", "")]
    assert helpers.escape_markdown("*x*") == "\\*x\\*"


def test_format_value_rounds_floats_and_hides_missing_values(helpers):
    assert helpers.format_value(0.2991062739999961, digits=3) == "0.299"
    assert helpers.format_value(2.0) == "2" and helpers.format_value(1234.5678, digits=3) == "1,235"
    assert helpers.format_value(float("nan")) == "" and helpers.format_value(None) == ""
    assert helpers.format_value("app") == "app" and helpers.format_value(b"abc") == "<3 bytes>"
