"""A new data kind (a fake "audio" one) needs no page change: the app draws and previews it through the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from superintendent_core.kinds import (
    KINDS,
    DataKind,
    Text,
    default_model,
    display_of,
    get_kind,
    kind_names,
    preview_of,
    register_kind,
)
from superintendent_core.store import Item

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # ui/ for the drawing test, whatever directory pytest runs from
    sys.path.insert(0, str(ROOT))


def _audio_display(item, size=None):
    seconds = len(item.payload) / 8000
    return Text(f"{seconds:.1f} s of audio", caption=item.name)


def _audio_preview(item):
    return f"♪ {len(item.payload) / 8000:.1f} s"


AUDIO = DataKind(
    name="audio", label="Audio clips", display=_audio_display, preview=_audio_preview,
    default_models={"array": "knn"},
)
CLIP = Item(0, "clip.wav", "audio", b"\0" * 12000, "audio/wav")


@pytest.fixture
def audio(monkeypatch):
    monkeypatch.setattr("superintendent_core.kinds.registry.KINDS", dict(KINDS))
    return register_kind(AUDIO)


def test_a_registered_kind_is_shown_previewed_and_given_a_model(audio):
    assert kind_names() == ["image", "text", "table", "audio"] and get_kind("audio") is AUDIO
    assert display_of(CLIP) == Text("1.5 s of audio", "clip.wav")
    assert preview_of(CLIP) == "♪ 1.5 s"
    assert default_model("audio", "array") == "knn"
    assert default_model("audio", "text") == "text_logistic_regression"  # feature kinds it does not name


def test_the_registry_is_left_as_it_was():
    assert "audio" not in kind_names()


@pytest.mark.parametrize("path", ["ui/widgets.py", "pages/review.py"])
def test_the_pages_ask_the_registry_instead_of_testing_kinds(path):
    source = (ROOT / path).read_text()
    for literal in ('kind == "image"', 'kind == "text"', 'kind == "table"'):
        assert literal not in source, f"{path} decides by data kind ({literal}); ask superintendent_core.kinds"


def test_the_data_page_asks_the_registry_for_the_default_model():
    assert "text_logistic_regression" not in (ROOT / "pages/data.py").read_text()


def _draw_an_audio_item():
    from superintendent_core.kinds import DataKind, Text, register_kind
    from superintendent_core.store import Item
    from ui.widgets import draw_item

    register_kind(DataKind(name="audio", label="Audio clips", preview=str,
                           display=lambda item, size=None: Text(f"{len(item.payload)} bytes of *audio*", item.name)))
    draw_item(Item(0, "clip.wav", "audio", b"\0" * 12000, "audio/wav"))


def test_the_app_draws_a_new_kind_with_its_existing_widgets(audio):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_draw_an_audio_item).run()
    assert not at.exception and not at.error
    assert at.markdown[0].value == "12000 bytes of \\*audio\\*"  # shown literally, as text items are
    assert at.caption[0].value == "clip.wav"
