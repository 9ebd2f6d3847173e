"""Find similar: exact cosine neighbours (superintendent_core.learning.similar)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from superintendent_core.learning.similar import build_index, clear_cache, index_for, similar_items
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore


def brute(X: np.ndarray, i: int, k: int) -> list[int]:
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-30)
    s = Xn @ Xn[i]
    s[i] = -np.inf
    return np.lexsort((np.arange(len(X)), -s))[:k].tolist()


def test_array_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 12)).astype(np.float32)
    index = build_index(X, "array")
    for i in (0, 17, 499):
        ids, scores = index.query(i, 10)
        assert ids.tolist() == brute(X.astype(np.float64), i, 10)
        assert np.all(np.diff(scores) <= 1e-6) and i not in ids.tolist()


def test_cosine_ignores_length_and_ties_go_to_the_smaller_id():
    X = np.array([[1, 0], [2, 0], [0, 3], [5, 0], [1, 1], [0, 0]], dtype=np.float32)
    ids, scores = build_index(X, "array").query(0, 3)
    assert ids.tolist() == [1, 3, 4]  # 1 and 3 point the same way as 0: tie, smaller id first
    assert scores[:2].tolist() == pytest.approx([1.0, 1.0])


def test_exclude_and_k_larger_than_the_pool():
    X = np.eye(4, dtype=np.float32) + 0.1
    ids, _ = build_index(X, "array").query(0, 10, exclude=[2])
    assert sorted(ids.tolist()) == [1, 3]


@pytest.mark.parametrize("bad", [-1, 4, 1.5, True])
def test_bad_item_or_k_is_refused(bad):
    index = build_index(np.ones((4, 2), np.float32), "array")
    with pytest.raises(ValueError):
        index.query(bad, 2)
    with pytest.raises(ValueError):
        index.query(0, 0)


def test_table_features_are_standardised_before_the_cosine():
    # column b's unit is 1000x larger; unstandardised, b decides everything
    df = pd.DataFrame({"a": [0.0, 0.1, 1.0, 0.0], "b": [1000.0, 5000.0, 1000.0, 5000.0]})
    ids, _ = build_index(df, "table").query(0, 1)
    raw = brute(df.to_numpy(), 0, 1)
    assert raw == [3] and ids.tolist() == [2]


def test_text_uses_tfidf():
    texts = ["red apples and pears", "the stock market fell", "green apples and pears", "market rallies", ""]
    ids, _ = build_index(texts, "text").query(0, 1)
    assert ids.tolist() == [2]
    ids, scores = build_index(["", ""], "text").query(0, 1)
    assert scores.tolist() == [0.0]


def test_store_index_is_cached_and_follows_new_items(tmp_path):
    clear_cache()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 8)).astype(np.float32)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")), sync=False) as store:
        store.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(50)), kind="image", features=X,
                                  image_shape=(2, 4), pixel_max=1.0))
        first = index_for(store)
        assert index_for(store) is first
        ids, _ = similar_items(store, 3, 5)
        assert ids.tolist() == brute(X.astype(np.float64), 3, 5)
        store.add_items(ItemBatch(names=("new",), kind="image", features=X[3:4] * 2, image_shape=(2, 4),
                                  pixel_max=1.0))
        ids, _ = similar_items(store, 3, 1)
        assert ids.tolist() == [50]
        assert index_for(store) is not first


def test_threads_share_one_build(tmp_path):
    clear_cache()
    X = np.random.default_rng(2).normal(size=(200, 4)).astype(np.float32)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")), sync=False) as store:
        store.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(200)), kind="image", features=X,
                                  image_shape=(2, 2), pixel_max=1.0))
        got = []
        threads = [threading.Thread(target=lambda: got.append(index_for(store))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 4 and all(g is got[0] for g in got)


def test_neighbours_table_lists_unlabelled_first_and_says_who_labelled(tmp_path):
    from superintendent_core.learning.similar import neighbours_table

    clear_cache()
    X = np.array([[1, 0], [0.99, 0.1], [0.98, 0.2], [0.9, 0.4], [0, 1]], dtype=np.float32)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")), sync=False) as store:
        store.add_items(ItemBatch(names=tuple(f"<b>i{i}</b>" for i in range(5)), kind="image", features=X,
                                  image_shape=(1, 2), pixel_max=1.0))
        store.submit(1, "a", "ann")
        store.submit(1, "b", "bob")
        store.bulk_label([2], "b", "bob")
        t = neighbours_table(store, 0, "ann", k=3)
        assert t["item_id"].tolist() == [3, 1, 2]
        assert t["labelled"].tolist() == [False, True, True] and t["mine"].tolist() == [False, True, False]
        assert t["labels"].tolist() == ["", "ann: a; bob: b", "bob: b"]
        assert t["name"].tolist()[0] == "<b>i3</b>"


def test_the_cache_is_bounded_in_bytes(tmp_path, monkeypatch):
    from superintendent_core.learning import similar

    clear_cache()
    monkeypatch.setattr(similar, "CACHE_BYTES", 1000)  # each matrix below is 100 x 4 x 4 = 1600 bytes
    stores = []
    for k in range(2):
        s = FolderStore(tmp_path / f"p{k}", settings=ProjectSettings(classes=("a", "b")), sync=False)
        s.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(100)), kind="image",
                              features=np.random.default_rng(k).normal(size=(100, 4)).astype(np.float32),
                              image_shape=(2, 2), pixel_max=1.0))
        stores.append(s)
    first = index_for(stores[0])
    index_for(stores[1])
    assert len(similar._cache) == 1  # the newest only
    assert index_for(stores[0]) is not first  # rebuilt
    for s in stores:
        s.close()


def test_the_index_follows_a_feature_set_that_completes_without_a_settings_change(tmp_path):
    clear_cache()
    X = np.eye(4, dtype=np.float32)
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")), sync=False) as store:
        store.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(4)), kind="image", features=X,
                                  image_shape=(2, 2), pixel_max=1.0))
        mine = np.array([[1, 0], [1, 0.01], [0, 1], [0, 1], [1, 0.02]], dtype=np.float32)
        store.write_feature_set("mine", [0, 1, 2, 3], mine[:4])
        store.update_settings(feature_set="mine")
        store.add_items(ItemBatch(names=("i4",), kind="image", features=np.ones((1, 4), np.float32),
                                  image_shape=(2, 2), pixel_max=1.0))
        assert store.features_in_use() == ""  # "mine" lacks the new item: the import features are used
        before = index_for(store)
        settings = store.settings
        store.write_feature_set("mine", [4], mine[4:])
        assert store.settings == settings and store.features_in_use() == "mine"
        after = index_for(store)
        assert after is not before and after.matrix.shape[1] == 2
        ids, _ = similar_items(store, 0, 1)
        assert ids.tolist() == [1]
