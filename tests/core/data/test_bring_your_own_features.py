"""Bring your own features: a vector column, a .npy / parquet file matched by name, the featurize hook."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from superintendent_core.data import images_from_files
from superintendent_core.data.tables import table_batch
from superintendent_core.data.vectors import import_feature_set, read_feature_file
from superintendent_core.store import InvalidInput, ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore


def test_a_list_column_and_a_json_column_become_array_features():
    df = pd.DataFrame({"text": ["a", "b"], "emb": [[1.0, 2.0], np.array([3, 4])], "js": ["[1, 2]", " [3.5,4]"]})
    for col, want in (("emb", [[1, 2], [3, 4]]), ("js", [[1, 2], [3.5, 4]])):
        batch = table_batch(df, kind="text", display_columns="text", feature_columns=col)
        assert batch.features.dtype == np.float32 and batch.features.tolist() == want
        batch = table_batch(df, kind="table", display_columns=["text"], feature_columns=[col])
        assert batch.features.shape == (2, 2)


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        ([[1, 2], [1, 2, 3]], "3 numbers; the first row has 2"),
        ([[1, float("nan")], [1, 2]], "NaN or infinite"),
        (["[1, 2]", "[1, Infinity]"], "NaN or infinite"),
        ([["a", "b"], [1, 2]], "not a vector of numbers"),
        (["[1, 2]", "{\"a\": 1}"], "not a vector of numbers"),
        (["[1, 2]", None], "no vector"),
        ([[], []], "non-empty"),
        ([[[1, 2]], [[1, 2]]], "flat"),
    ],
)
def test_bad_vector_columns_are_refused_with_the_row(cells, match):
    df = pd.DataFrame({"text": ["a", "b"], "emb": cells, "id": ["x", "y"]})
    with pytest.raises(InvalidInput, match=match):
        table_batch(df, kind="text", display_columns="text", feature_columns="emb", name_column="id")


@pytest.fixture
def store(tmp_path):
    s = FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")))
    s.add_items(ItemBatch(names=("x.png", "y.png", "z.png"), kind="image",
                          features=np.zeros((3, 4), dtype=np.uint8), image_shape=(2, 2), pixel_max=1))
    yield s
    s.close()


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a))
    return buf.getvalue()


def _parquet(df) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


def test_an_npy_with_names_is_matched_by_name_and_can_become_the_projects_features(store):
    names, X = read_feature_file(_npy([[3.0, 3], [1, 1], [2, 2]]), "f.npy", names_data=b"z.png\nx.png\ny.png\n")
    assert import_feature_set(store, "mine", names, X) == 3
    store.update_settings(feature_set="mine", feature_extractor="mine")
    np.testing.assert_array_equal(store.features([0, 1, 2]), [[1, 1], [2, 2], [3, 3]])


def test_a_parquet_of_name_and_vector_works_too(store):
    df = pd.DataFrame({"name": ["y.png", "x.png", "z.png"], "vector": [[2.0], [1.0], [3.0]]})
    names, X = read_feature_file(_parquet(df), "f.parquet")
    import_feature_set(store, "pq", names, X)
    assert store.feature_sets() == {"pq": (1, 3)}


@pytest.mark.parametrize(
    ("names", "matrix", "match"),
    [
        (["x.png", "y.png"], [[1.0], [2.0]], "no vector for 1 item"),
        (["x.png", "y.png", "z.png", "w.png"], [[1.0]] * 4, "not items of the project"),
        (["x.png", "x.png", "z.png"], [[1.0]] * 3, "appears twice"),
        (["x.png", "y.png", "z.png"], [[1.0], [np.nan], [2.0]], "NaN or infinite"),
    ],
)
def test_a_bad_feature_file_is_refused_whole(store, names, matrix, match):
    with pytest.raises(InvalidInput, match=match):
        import_feature_set(store, "bad", names, np.asarray(matrix))
    assert store.feature_sets() == {}


def test_a_second_file_of_another_dimension_goes_to_a_new_set_and_a_taken_name_is_refused(store):
    import_feature_set(store, "one", ["x.png", "y.png", "z.png"], np.ones((3, 2)))
    with pytest.raises(InvalidInput, match="already"):
        import_feature_set(store, "one", ["x.png", "y.png", "z.png"], np.ones((3, 5)))
    assert store.feature_sets() == {"one": (2, 3)}


def test_a_float16_project_stores_a_file_as_float16_and_refuses_it_whole_beyond_65504(store, monkeypatch):
    from superintendent_core.data import vectors

    monkeypatch.setattr(vectors, "WRITE_ROWS", 1)  # one write per row: only the whole-file check keeps it whole
    store.update_settings(feature_dtype="float16")
    names = ["x.png", "y.png", "z.png"]
    bad = np.ones((3, 2))
    bad[2, 1] = 70000.0  # the last row written
    with pytest.raises(InvalidInput, match="float16's range.*nothing was written"):
        import_feature_set(store, "big", names, bad)
    assert store.feature_sets() == {}
    assert import_feature_set(store, "big", names, bad, dtype="float32") == 3  # the same file as float32
    X = np.array([[0.1, -2.5], [3.14159, 1e-3], [65504.0, -65504.0]])
    assert import_feature_set(store, "half", names, X) == 3
    assert store.feature_set_dtypes() == {"big": "float32", "half": "float16"}
    store.update_settings(feature_set="half")
    got = store.features([0, 1, 2])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, X.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (b"garbage", {}, "not a readable .npy"),
        (_npy(np.array(["a", "b"])), {"names_data": b"a\nb"}, "features must be numbers"),
        (_npy(np.ones(3)), {"names_data": b"a\nb\nc"}, "1-D array"),
        (_npy(np.ones((2, 2))), {}, "no item names"),
        (_npy(np.ones((2, 2))), {"names_data": b"a\n"}, "1 name"),
    ],
)
def test_bad_npy_files_are_refused(data, kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        read_feature_file(data, "f.npy", **kwargs)


def test_an_object_npy_is_refused_without_unpickling():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInput, match="not a readable"):
        read_feature_file(buf.getvalue(), "f.npy", names_data=b"a")


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_the_featurize_hook_is_validated():
    files = [("a.png", _png((255, 0, 0))), ("b.png", _png((0, 255, 0)))]
    ok = images_from_files(files, featurize=lambda im: np.asarray(im).mean(axis=(0, 1)))
    assert ok.batch.features.shape == (2, 3) and ok.extractor == ""
    with pytest.raises(InvalidInput, match="different lengths"):
        images_from_files(files, featurize=lambda im: np.ones(3 if im.getpixel((0, 0))[0] else 4))
    for bad, match in ((lambda im: np.array([np.nan, 1.0]), "NaN or infinite values for a.png"),
                       (lambda im: ["x", "y"], "not numbers"), (lambda im: np.array([]), "no numbers")):
        with pytest.raises(InvalidInput, match=match):
            images_from_files(files, featurize=bad, on_error="skip")  # refused whole, even when skipping
