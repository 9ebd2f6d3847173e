"""Every registered data kind shows, previews and picks a model for a real item of its kind.

The expected values are what the pages computed before the registry existed
(``ui/widgets.py`` and ``pages/review.py`` tested ``item.kind`` themselves), so the
registry changes nothing the user sees.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from superintendent_core.kinds import (
    KINDS,
    Picture,
    Rows,
    Text,
    default_model,
    display_of,
    get_kind,
    kind_names,
    preview_of,
)
from superintendent_core.kinds.image import data_url, display_image, thumbnail
from superintendent_core.kinds.table import format_row
from superintendent_core.kinds.text import format_text
from superintendent_core.learning.models import MODELS, models_for
from superintendent_core.store.protocol import DATA_KINDS, FEATURE_KINDS

from .kind_samples import sample_store


@pytest.fixture(params=kind_names())
def store(request, tmp_path):
    with sample_store(request.param, tmp_path / request.param) as store:
        yield store


def _old_preview(item) -> str:
    """pages/review.py's ``_preview`` before the registry."""
    if item.kind == "image":
        try:
            return data_url(thumbnail(item.payload))
        except ValueError:
            return ""
    if item.kind == "text":
        return format_text(item.payload, width=10_000, max_chars=160)
    return ", ".join(f"{c}={v}" for c, v in format_row(item.payload, max_chars=30))[:160]


def test_the_registered_kinds_are_the_stores_kinds():
    assert kind_names() == list(DATA_KINDS) == list(KINDS)


def test_every_kind_shows_an_item_as_the_label_page_did(store):
    for item_id in range(len(store)):
        item = store.item(item_id)
        view = display_of(item)
        assert view.caption == item.name
        if item.kind == "image":
            assert isinstance(view, Picture) and view.png == display_image(item.payload, 320)
            assert display_of(item, 64).png == display_image(item.payload, 64)
            assert Image.open(io.BytesIO(view.png)).format == "PNG"
        elif item.kind == "text":
            assert isinstance(view, Text) and view.text == format_text(item.payload)
        else:
            assert isinstance(view, Rows) and list(view.rows) == format_row(item.payload)


def test_every_kind_previews_an_item_as_the_review_page_did(store):
    kind = get_kind(store.settings.kind)
    for item_id in range(len(store)):
        item = store.item(item_id)
        preview = preview_of(item)
        assert preview == _old_preview(item) and preview
        assert preview.startswith("data:image/png;base64,") == (kind.preview_format == "image")
        assert "\n" not in preview


def test_every_kind_has_a_default_model_that_takes_its_features(store):
    settings = store.settings
    kind = get_kind(settings.kind)
    name = kind.default_model(settings.feature_kind)
    assert settings.model == name and name in MODELS
    assert name in models_for(settings.feature_kind)


@pytest.mark.parametrize("kind", kind_names())
@pytest.mark.parametrize("feature_kind", FEATURE_KINDS)
def test_default_models_are_the_data_pages_former_rule(kind, feature_kind):
    before = "text_logistic_regression" if feature_kind == "text" else "logistic_regression"
    assert default_model(kind, feature_kind) == before
    assert default_model(kind, feature_kind) in models_for(feature_kind)


def test_unreadable_image_bytes_are_a_value_error_and_an_empty_preview():
    from superintendent_core.store import Item

    broken = Item(0, "broken.png", "image", b"not an image", "image/png")
    with pytest.raises(ValueError, match="cannot be read"):
        display_of(broken)
    assert preview_of(broken) == ""


def test_a_row_that_is_not_a_mapping_shows_no_rows():
    from superintendent_core.store import Item

    assert display_of(Item(0, "r", "table", "oops")).rows == ()
