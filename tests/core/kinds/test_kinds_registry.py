"""The data-kind registry: lookups, validation, featurisers and importers, and what importing it loads."""

from __future__ import annotations

import functools
import io
import zipfile

import numpy as np
import pytest
from fresh_python import run_fresh
from PIL import Image

import superintendent_core.data as data
from superintendent_core.kinds import (
    IMAGE,
    KINDS,
    DataKind,
    Featuriser,
    Text,
    get_kind,
    kind_names,
    register_kind,
)


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'audio'.*'image', 'text', 'table'"):
        get_kind("audio")


def test_every_kind_has_a_label_display_preview_and_importers():
    for name in kind_names():
        kind = get_kind(name)
        assert kind.name == name and kind.label
        assert callable(kind.display) and callable(kind.preview)
        assert kind.importers, name


def test_an_unknown_feature_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'array', 'text', 'table'"):
        get_kind("image").default_model("pixels")


def _show(item, size=None):
    return Text(str(item.payload), item.name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "non-empty"),
        ({"display": "not callable"}, "display must be callable"),
        ({"preview_format": "audio"}, "preview_format must be one of 'image', 'text'"),
        ({"default_models": {"pixels": "knn"}}, "unknown feature kind.*'pixels'"),
        ({"default_featuriser": "mfcc"}, "default_featuriser 'mfcc' is not one of"),
    ],
)
def test_a_kind_is_checked_when_it_is_made(kwargs, message):
    arguments = {"name": "audio", "label": "Audio", "display": _show, "preview": str, **kwargs}
    with pytest.raises(ValueError, match=message):
        DataKind(**arguments)


def test_register_kind_takes_only_a_data_kind():
    with pytest.raises(ValueError, match="DataKind"):
        register_kind("audio")


def test_the_image_importers_are_the_public_ones_with_the_default_featuriser():
    image = get_kind("image")
    assert image.featuriser().function is data.thumbnail_features
    for name, function in [("zip", data.images_from_zip), ("folder", data.images_from_folder),
                           ("files", data.images_from_files)]:
        bound = image.importer(name)
        assert isinstance(bound, functools.partial) and bound.func is function
        assert bound.keywords == {"featurize": data.thumbnail_features}
    assert image.importer("demo") is data.digits_batch
    with pytest.raises(ValueError, match="no importer 'mp3'; valid ones are 'zip', 'folder', 'files', 'demo'"):
        image.importer("mp3")
    with pytest.raises(ValueError, match="no featuriser 'onnx'; valid ones are 'thumbnail'"):
        image.importer("zip", featuriser="onnx")


def test_the_text_and_table_importers_are_the_public_table_readers():
    for name in ("text", "table"):
        kind = get_kind(name)
        assert kind.featuriser() is None
        for importer_name, function in [("table", data.table_batch), ("file", data.table_import)]:
            bound = kind.importer(importer_name)
            assert bound.func is function and bound.keywords == {"kind": name}
        with pytest.raises(ValueError, match="does not take a featuriser"):
            kind.importer("file", featuriser="thumbnail")
        with pytest.raises(ValueError, match="no featuriser"):
            kind.featuriser("thumbnail")


def _zip_of_images(n: int = 3) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(n):
            raw = io.BytesIO()
            Image.new("RGB", (20, 10), (10 * i, 0, 0)).save(raw, "PNG")
            zf.writestr(f"img{i}.png", raw.getvalue())
    return out.getvalue()


def test_a_new_image_featuriser_registers_in_the_kind_without_touching_a_page(monkeypatch):
    """How pretrained image features plug in: a featuriser added to the image kind, made its default."""
    def mean_colour(image):
        return np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)) / 255

    monkeypatch.setitem(KINDS, "image", IMAGE)
    register_kind(IMAGE.with_featuriser(Featuriser("colour", "Mean colour", mean_colour), default=True))
    image = get_kind("image")
    assert [f.name for f in image.featurisers] == ["thumbnail", "colour"] and image.default_featuriser == "colour"
    batch = image.importer("zip")(_zip_of_images()).batch
    assert batch.features.shape == (3, 3)
    assert image.importer("zip", featuriser="thumbnail")(_zip_of_images()).batch.features.shape == (3, 256)
    assert IMAGE.default_featuriser == "thumbnail"  # the registered kinds are values; the original is unchanged


def test_importing_the_kinds_loads_neither_scikit_learn_nor_streamlit():
    code = (
        "import sys\n"
        "import superintendent_core.kinds as kinds\n"
        "print(kinds.kind_names(), 'sklearn' in sys.modules, 'streamlit' in sys.modules)\n"
    )
    assert run_fresh(code).strip() == "['image', 'text', 'table'] False False"


def test_the_registry_is_filled_by_the_package_itself():
    # Importing one kind's module fills the registry with every kind, in order, through the package's __init__.
    code = "import superintendent_core.kinds.text as t, superintendent_core.kinds as k\nprint(k.kind_names())\n"
    assert run_fresh(code).strip() == "['image', 'text', 'table']"
