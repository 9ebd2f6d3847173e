"""Importing pre-annotations (data/preannotations.py): suggestions another model made, never labels."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import export, formats
from superintendent_core.data import preannotations as pre
from superintendent_core.data.preannotations import import_preannotations
from superintendent_core.store import InvalidInput, ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore


@pytest.fixture
def store(tmp_path):
    s = FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("cat", "dog", "=cmd")), sync=False)
    s.add_items(ItemBatch(names=("a.png", "b.png", "c.png", "<script>x</script>"), kind="image",
                          features=np.arange(16, dtype=np.uint8).reshape(4, 4), image_shape=(2, 2), pixel_max=16))
    yield s
    s.close()


def test_csv_with_scores(store):
    data = b"name,label,score\na.png,cat,0.9\nb.png,dog,\n<script>x</script>,'=cmd,0.2\nc.png,,0.5\n"
    assert import_preannotations(store, data, name="resnet50") == 3
    p = store.preannotations()
    assert p["item_id"].tolist() == [0, 1, 3]
    assert p["label"].tolist() == ["cat", "dog", "=cmd"]  # our CSV export's quote before "=" is removed
    assert p["score"].tolist()[0] == 0.9 and np.isnan(p["score"].tolist()[1])
    assert set(p["source"]) == {"resnet50"}


def test_jsonl_and_parquet(store):
    lines = [{"name": "a.png", "label": "dog", "score": 0.7}, {"name": "c.png", "labels": ["cat"]}]
    assert import_preannotations(store, "\n".join(json.dumps(x) for x in lines).encode()) == 2
    buf = io.BytesIO()
    pd.DataFrame({"name": ["b.png"], "label": ["cat"]}).to_parquet(buf)
    assert import_preannotations(store, buf.getvalue()) == 1
    assert store.preannotations()["label"].tolist() == ["dog", "cat", "cat"]


@pytest.mark.parametrize("data, message", [
    (b"name,label\na.png,cat\nzzz.png,dog\nyyy,cat\n", r"2 name\(s\) are not items.*'zzz.png', 'yyy'"),
    (b"name,label\na.png,cat\na.png,dog\n", r"given more than once.*'a.png'"),
    (b"name,label\na.png,horse\nb.png,cow\n", r"2 pre-annotation\(s\) name a class.*'horse'"),
    (b"name,label,score\na.png,cat,high\n", r"not a number"),
    (b"name,label,score\na.png,cat,inf\n", r"finite"),
    (b"name,lbl\na.png,cat\n", r"needs a 'label' column"),
    (b'{"name": "a.png", "label": "cat"}\n{"name": "b.png"\n', r"Line 2 is not valid JSON"),
    (b'{"name": "a.png", "label": 3}\n', r"class name"),
    (b"", r"empty"),
    (b"name,label\n", r"no rows"),
])
def test_bad_files_are_refused_whole(store, data, message):
    store.save_preannotations([2], ["dog"], source="earlier")
    before = store.preannotations()
    with pytest.raises(InvalidInput, match=message):
        import_preannotations(store, data)
    pd.testing.assert_frame_equal(store.preannotations(), before)


def test_a_huge_file_is_refused_before_it_is_parsed(store, monkeypatch):
    monkeypatch.setattr(pre, "MAX_BYTES", 100)
    with pytest.raises(InvalidInput, match="at most"):
        import_preannotations(store, b"name,label\n" + b"a.png,cat\n" * 20)
    assert store.preannotations().empty


def test_never_in_training_data_progress_or_exports(store):
    import_preannotations(store, b"name,label\na.png,cat\nb.png,dog\n")
    store.submit(2, "dog", "ann")
    ids, _, y = store.training_data()
    assert ids.tolist() == [2] and y == ["dog"]
    assert store.progress().labelled == 1 and store.audit_records().empty
    csv = export.labels_csv(store).decode()
    assert "a.png" not in csv and "b.png" not in csv and "c.png" in csv
    out = io.BytesIO()
    assert formats.write_labels_jsonl(store, out).items == 1
    assert [json.loads(x)["name"] for x in out.getvalue().splitlines()] == ["c.png"]
