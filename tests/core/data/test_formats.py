"""Standard exports (JSONL, image-folder zip, Hugging Face parquet) and their round trips through the importers."""

from __future__ import annotations

import importlib.util
import io
import json
import unicodedata
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import require
from PIL import Image

from superintendent_core.data.formats import (
    MAX_NAME_BYTES,
    prepare_export,
    write_hf_parquet,
    write_image_folder_zip,
    write_labels_jsonl,
)
from superintendent_core.data.image_parquet import images_from_parquet, is_image_parquet
from superintendent_core.data.images import images_from_zip
from superintendent_core.data.label_import import import_labels_file
from superintendent_core.store import InvalidInput, ItemBatch, ProjectSettings, open_store

CLASSES = ("cat", "dog", "owl")
COLOURS = ["red", "blue", "green", "white", "black", "yellow", "pink", "cyan", "orange", "purple", "brown", "grey"]
#: Item names an export must make safe: folders, traversal, absolute paths, NUL, Windows names,
#: unicode, a case-only duplicate, a very long name, a hidden file, no extension, a stored format
#: that differs from the extension.
NAMES = ("x.png", "sub/x.png", "../evil.png", "/abs/y.png", "a\x00b.png", "CON.jpg", "ünï côté.jpg",
         "X.PNG", "n" * 300 + ".png", ".hidden.png", "noext", "pic.bmp")


def picture(colour: str, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(out, fmt)
    return out.getvalue()


PAYLOADS = [picture(c, "JPEG" if n.endswith(".jpg") else "PNG") for c, n in zip(COLOURS, NAMES, strict=True)]


def new_store(tmp_path, backend: str, name: str = "p", *, multi: bool = False, classes=CLASSES):
    where = tmp_path / name if backend == "folder" else f"sqlite:///{tmp_path / name}.db"
    store = open_store(where, settings=ProjectSettings(classes=classes, multi_label=multi, kind="image"))
    store.add_items(ItemBatch(names=NAMES, kind="image", features=np.zeros((len(NAMES), 4), np.float32),
                              payloads=PAYLOADS))
    return store


def label_some(store, multi: bool) -> None:
    """Labels in force by two people, a relabel, an overlap and (multi-label) "none of the classes"."""
    if multi:
        store.submit(0, ["cat", "owl"], "ann")
        store.submit(1, [], "ann")
        store.submit(2, ["dog"], "bob")
        store.submit(2, ["dog", "cat"], "ann")  # overlap: two labellers on item 2
        store.submit(5, ["owl"], "Zoë")
    else:
        for i in range(len(NAMES) - 1):  # the last item stays unlabelled
            store.submit(i, CLASSES[i % 3], "ann")
        store.submit(3, "owl", "bob")  # overlap: bob's label is the one in force
        store.relabel(4, "cat", "ann")


def in_force(store) -> dict[str, str]:
    """name -> the label each item is trained on."""
    df = store.labels().drop_duplicates("item_id", keep="last")
    return dict(zip(df["name"], df["label"], strict=True))


def every_label(store) -> set[tuple[str, str, str]]:
    return {(n, lab, who) for n, lab, who in store.labels()[["name", "label", "labeller"]].itertuples(index=False)}


@pytest.fixture(params=["folder", "sqlite"])
def backend(request):
    return request.param


# --------------------------------------------------------------------------- JSONL


@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
def test_jsonl_round_trips_through_the_labels_import(tmp_path, backend, multi):
    source = new_store(tmp_path, backend, "src", multi=multi)
    label_some(source, multi)
    out = io.BytesIO()
    result = write_labels_jsonl(source, out)
    assert result.items == len(in_force(source))
    target = new_store(tmp_path, backend, "dst", multi=multi)
    n = import_labels_file(target, out.getvalue(), labeller="importer")
    assert n == len(source.labels())  # every labeller's label in force, not just one per item
    assert every_label(target) == every_label(source)
    assert in_force(target) == in_force(source)
    _, _, y_src = source.training_data()
    _, _, y_dst = target.training_data()
    assert y_dst == y_src
    source.close()
    target.close()


def test_jsonl_objects(tmp_path, backend):
    store = new_store(tmp_path, backend)
    label_some(store, multi=False)
    out = io.BytesIO()
    write_labels_jsonl(store, out)
    lines = out.getvalue().decode("utf-8").splitlines()
    objs = [json.loads(line) for line in lines]
    assert len(objs) == len(NAMES) - 1
    by_name = {o["name"]: o for o in objs}
    shared = by_name[NAMES[3]]
    assert shared["label"] == "owl" and shared["labeller"] == "bob" and shared["source"] == "human"
    assert [(e["labeller"], e["label"]) for e in shared["labels_by"]] == [("ann", "cat"), ("bob", "owl")]
    for o in objs:
        assert set(o) == {"name", "label", "labeller", "time", "source", "labels_by"}
        assert pd.Timestamp(o["time"]).tzinfo is not None and o["time"].endswith("Z")
    assert by_name["ünï côté.jpg"]["label"] == "cat"  # unicode kept as text, not escaped
    assert "ünï côté" in out.getvalue().decode("utf-8")
    store.close()


def test_jsonl_names_with_line_separators_inside_round_trip(tmp_path):
    """JSON leaves U+2028, U+2029 and U+0085 unescaped: a reader splitting at them would break the line."""
    names = ("a\u2028b.png", "c\u2029d.png", "e\x85f.png", "g\r\nh.png")
    stores = []
    for where in ("src", "dst"):
        store = open_store(tmp_path / where, settings=ProjectSettings(classes=CLASSES, kind="image"))
        store.add_items(ItemBatch(names=names, kind="image", features=np.zeros((4, 2), np.float32),
                                  payloads=PAYLOADS[:4]))
        stores.append(store)
    for i in range(4):
        stores[0].submit(i, CLASSES[i % 3], "ann")
    out = io.BytesIO()
    write_labels_jsonl(stores[0], out)
    assert out.getvalue().count(b"\n") == 4
    assert import_labels_file(stores[1], out.getvalue(), labeller="me") == 4
    assert every_label(stores[1]) == every_label(stores[0])
    for store in stores:
        store.close()


def test_jsonl_multi_label_uses_a_list(tmp_path):
    store = new_store(tmp_path, "folder", multi=True)
    label_some(store, multi=True)
    out = io.BytesIO()
    write_labels_jsonl(store, out)
    objs = {o["name"]: o for o in map(json.loads, out.getvalue().decode().splitlines())}
    assert objs["x.png"]["labels"] == ["cat", "owl"] and "label" not in objs["x.png"]
    assert objs["sub/x.png"]["labels"] == []  # "none of the classes"
    store.close()


BAD_JSONL = {
    "broken line": (b'{"name": "x.png", "label": "cat"}\n{"name": "sub/x.png", "lab', "Line 2 is not valid JSON"),
    "not an object": (b'{"name": "x.png", "label": "cat"}\n["sub/x.png", "cat"]\n', "Line 2 is not a JSON object"),
    "no name": (b'{"name": "x.png", "label": "cat"}\n{"label": "dog"}\n', "Line 2 has no 'name'"),
    "name not text": (b'{"name": 3, "label": "dog"}\n', "Line 1 has no 'name'"),
    "no label": (b'{"name": "x.png", "label": "cat"}\n{"name": "sub/x.png"}\n', "Line 2 has no 'label'"),
    "wrong class": (b'{"name": "x.png", "label": "cat"}\n{"name": "sub/x.png", "label": "zebra"}\n',
                    "Line 2: 'zebra' is not one of the project's classes"),
    "unknown item": (b'{"name": "x.png", "label": "cat"}\n{"name": "nope.png", "label": "dog"}\n',
                     "Line 2: 'nope.png' is not an item of this project"),
    "several labels, single-label project": (b'{"name": "x.png", "labels": ["cat", "dog"]}\n',
                                             "2 classes given, but this project takes one label"),
    "label not text": (b'{"name": "x.png", "label": 1}\n', "'label' must be a class name"),
    "labeller not text": (b'{"name": "x.png", "label": "cat", "labeller": ["a"]}\n', "'labeller' must be a name"),
    "empty labeller": (b'{"name": "x.png", "label": "cat", "labeller": " "}\n', "'labeller' must be a name"),
    "bad labels_by": (b'{"name": "x.png", "label": "cat", "labels_by": [{"label": "dog"}]}\n',
                      "an entry of 'labels_by' has no 'labeller'"),
    "wrong class in labels_by": (b'{"name": "x.png", "label": "cat", "labels_by": [{"labeller": "z", "label": "emu"}]}\n',
                                 "'emu' is not one of the project's classes"),
    "nested too deeply": (b'{"name": "x.png", "label": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "not valid JSON"),
    "not UTF-8": (b'{"name": "x\xff.png", "label": "cat"}\n', "not UTF-8"),
    "only blank lines": (b"\n  \n", "The labels file is empty"),
    "only a BOM": (b"\xef\xbb\xbf\n", "The labels file is empty"),
}


@pytest.mark.parametrize("case", list(BAD_JSONL))
def test_bad_jsonl_is_refused_whole(tmp_path, backend, case):
    data, message = BAD_JSONL[case]
    store = new_store(tmp_path, backend)
    store.submit(7, "dog", "ann")
    before = every_label(store)
    with pytest.raises(InvalidInput, match=message) as info:
        import_labels_file(store, data, labeller="me")
    assert "nothing was imported" in str(info.value) or "empty" in str(info.value)
    assert every_label(store) == before  # nothing half-imported
    store.close()


def test_jsonl_is_told_apart_from_csv(tmp_path):
    store = new_store(tmp_path, "folder")
    csv = b"name,label\r\nx.png,cat\r\n"
    jsonl = '\ufeff{"name": "sub/x.png", "label": "dog"}\n\n'.encode()  # a BOM and a blank line are fine
    assert import_labels_file(store, csv, labeller="me") == 1
    assert import_labels_file(store, jsonl, labeller="me") == 1
    assert in_force(store) == {"x.png": "cat", "sub/x.png": "dog"}
    store.close()


# --------------------------------------------------------------------------- image-folder zip


def check_safe(path: str) -> None:
    folder, file_name = path.split("/")
    for part in (folder, file_name):
        assert part and not part.startswith(".") and part not in (".", "..")
        assert "\\" not in part and ":" not in part and "\x00" not in part
        assert not any(unicodedata.category(ch) == "Cc" for ch in part)
        assert len(part.encode("utf-8")) <= MAX_NAME_BYTES
        assert part.split(".")[0].upper() not in ("CON", "NUL", "PRN", "AUX")


def test_image_folder_zip_round_trips_through_images_from_zip(tmp_path, backend):
    store = new_store(tmp_path, backend)
    label_some(store, multi=False)
    out = io.BytesIO()
    result = write_image_folder_zip(store, out)
    labels = in_force(store)
    assert result.items == len(labels)
    zf = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert zf.testzip() is None
    paths = zf.namelist()
    assert len(paths) == len(labels) and len({p.casefold() for p in paths}) == len(paths)  # unique, any disk
    for path in paths:
        check_safe(path)
        assert path.rsplit(".", 1)[1] in ("png", "jpg", "jpeg")
    # every file holds its item's stored bytes, unchanged, in its class folder
    stored = {store.item(i).payload: store.names([i])[0] for i in range(len(NAMES))}
    for path in paths:
        name = stored[zf.read(path)]
        assert path.split("/")[0] == labels[name]
    back = images_from_zip(out.getvalue(), labels_from_folders=True)
    assert sorted(back.batch.names) == sorted(paths)
    got = {stored[p]: lab for p, lab in zip(back.batch.payloads, back.batch.labels, strict=True)}
    assert got == labels
    store.close()


def test_image_folder_names_follow_the_rules():
    from superintendent_core.data.formats import safe_file_name

    png, jpg = PAYLOADS[0], PAYLOADS[5]
    assert safe_file_name("../../etc/passwd", png, fallback="f") == "passwd.png"
    assert safe_file_name("C:\\Users\\x.png", png, fallback="f") == "x.png"
    assert safe_file_name("..", png, fallback="item-3") == "item-3.png"
    assert safe_file_name("a\x00b\u202e.png", png, fallback="f") == "a_b_.png"
    assert safe_file_name("photo.JPEG", jpg, fallback="f") == "photo.jpeg"
    assert safe_file_name("photo.jpg", png, fallback="f") == "photo.jpg.png"  # the extension tells the truth
    assert safe_file_name("nul.png", png, fallback="f") == "_nul.png"
    long = safe_file_name("é" * 500 + ".png", png, fallback="f")
    assert len(long.encode()) <= MAX_NAME_BYTES and long.endswith(".png")


def test_class_names_that_cannot_be_folders_are_renamed_with_a_note(tmp_path):
    store = new_store(tmp_path, "folder", classes=("a/b", "..", "Cat", "cat"))
    for i, cls in enumerate(("a/b", "..", "Cat", "cat")):
        store.submit(i, cls, "ann")
    out = io.BytesIO()
    result = write_image_folder_zip(store, out)
    folders = sorted({p.split("/")[0] for p in zipfile.ZipFile(out).namelist()})
    assert folders == ["Cat", "a_b", "cat (2)", "class-1"]
    assert len(result.notes) == 3 and "'a/b' is in the folder 'a_b'" in result.notes[0]
    store.close()


def test_image_folder_zip_refuses_multi_label_and_non_images(tmp_path):
    store = new_store(tmp_path, "folder", multi=True)
    store.submit(0, ["cat", "dog"], "ann")
    with pytest.raises(InvalidInput, match="multi-label"):
        write_image_folder_zip(store, io.BytesIO())
    store.close()
    text = open_store(tmp_path / "t", settings=ProjectSettings(classes=CLASSES, kind="text", feature_kind="text"))
    text.add_items(ItemBatch(names=("a",), kind="text", features=["hello"], payloads=["hello"]))
    for write in (write_image_folder_zip, write_hf_parquet):
        with pytest.raises(InvalidInput, match="holds images"):
            write(text, io.BytesIO())
    out = io.BytesIO()
    text.submit(0, "cat", "ann")
    assert write_labels_jsonl(text, out).items == 1  # JSONL works for every kind
    text.close()


def test_empty_classes_get_no_folder(tmp_path):
    store = new_store(tmp_path, "folder")
    store.submit(0, "cat", "ann")
    out = io.BytesIO()
    result = write_image_folder_zip(store, out)
    assert zipfile.ZipFile(out).namelist() == ["cat/x.png"]
    assert "2 class(es) have no labelled image" in result.notes[0]
    store.close()


# --------------------------------------------------------------------------- Hugging Face parquet


@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
def test_hf_parquet_round_trips_through_images_from_parquet(tmp_path, backend, multi):
    store = new_store(tmp_path, backend, multi=multi)
    label_some(store, multi)
    out = io.BytesIO()
    result = write_hf_parquet(store, out)
    labels = in_force(store)
    assert result.items == len(labels)
    schema = pq.read_schema(io.BytesIO(out.getvalue()))
    assert str(schema.field("image").type) == "struct<bytes: binary, path: string>"
    assert str(schema.field("labels" if multi else "label").type) == ("list<element: int64>" if multi else "int64")
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert features["image"] == {"_type": "Image"}
    class_label = features["labels"]["feature"] if multi else features["label"]
    assert class_label == {"names": list(CLASSES), "_type": "ClassLabel"}
    assert pq.ParquetFile(io.BytesIO(out.getvalue())).metadata.row_group(0).num_rows == len(labels)
    assert is_image_parquet(out.getvalue())
    back = images_from_parquet(out.getvalue())
    assert set(back.batch.names) == set(labels)  # the item names themselves come back
    by_name = {n: store.item(i).payload for i, n in enumerate(store.names(range(len(NAMES))))}
    for name, payload, label in zip(back.batch.names, back.batch.payloads, back.batch.labels, strict=True):
        assert payload == by_name[name]  # the stored bytes, not re-encoded
        assert (("|".join(label)) if multi else label) == labels[name]
    # ... and go into a new project with the same labels
    target = open_store(tmp_path / "back", settings=ProjectSettings(classes=CLASSES, multi_label=multi, kind="image"))
    target.add_items(back.batch)
    assert in_force(target) == labels
    store.close()
    target.close()


def test_hf_parquet_row_groups_hold_100_rows(tmp_path):
    store = open_store(tmp_path / "big", settings=ProjectSettings(classes=CLASSES, kind="image"))
    n = 230
    store.add_items(ItemBatch(names=tuple(f"{k}.png" for k in range(n)), kind="image",
                              features=np.zeros((n, 2), np.float32), payloads=[PAYLOADS[0]] * n))
    store.import_labels(list(range(n)), ["cat"] * n, "ann")
    spool, result = prepare_export(store, "hf_parquet")
    with spool:
        meta = pq.ParquetFile(spool).metadata
        assert [meta.row_group(k).num_rows for k in range(meta.num_row_groups)] == [100, 100, 30]
    assert result.items == n
    store.close()


def test_hf_parquet_loads_in_datasets_with_images_and_class_labels(tmp_path, monkeypatch):
    require(importlib.util.find_spec("datasets") is not None, "the datasets package (requirements-test.txt)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a local file: nothing may be asked of the hub
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    for multi in (False, True):
        store = new_store(tmp_path, "folder", f"p{multi}", multi=multi)
        label_some(store, multi)
        path = tmp_path / f"export-{multi}.parquet"
        write_hf_parquet(store, path)
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
        column = "labels" if multi else "label"
        feature = ds.features[column].feature if multi else ds.features[column]
        assert isinstance(ds.features["image"], datasets.Image)
        assert isinstance(feature, datasets.ClassLabel) and feature.names == list(CLASSES)
        labels = in_force(store)
        assert len(ds) == len(labels)
        for row in ds:
            assert row["image"].size == (12, 10)
            names = [feature.int2str(v) for v in row[column]] if multi else feature.int2str(row[column])
            assert ("|".join(names) if multi else names) == labels[row["name"]]
        # the same schema as datasets writes for an Image and a ClassLabel column
        own = datasets.Dataset.from_dict(
            {"image": [{"bytes": PAYLOADS[0], "path": "x.png"}], column: [[0]] if multi else [0]},
            features=datasets.Features({"image": datasets.Image(),
                                        column: datasets.Sequence(datasets.ClassLabel(names=list(CLASSES)))
                                        if multi else datasets.ClassLabel(names=list(CLASSES))}),
        )
        own.to_parquet(tmp_path / "own.parquet")
        theirs, ours = pq.read_schema(tmp_path / "own.parquet"), pq.read_schema(path)
        for name in ("image", column):
            assert ours.field(name).type == theirs.field(name).type
        assert (datasets.Features.from_arrow_schema(ours)[column]
                == datasets.Features.from_arrow_schema(theirs)[column])
        store.close()


def hf_like(rows: dict, features: dict | None = None) -> bytes:
    import pyarrow as pa

    table = pa.table(rows)
    if features is not None:
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


IMAGE = {"_type": "Image"}
LABEL = {"names": ["cat", "dog"], "_type": "ClassLabel"}


def test_a_parquet_from_elsewhere_without_names_or_labels(tmp_path):
    images = [{"bytes": PAYLOADS[0], "path": None}, {"bytes": PAYLOADS[1], "path": None}]
    back = images_from_parquet(hf_like({"image": images, "label": [1, -1]}, {"image": IMAGE, "label": LABEL}))
    assert back.batch.names == ("image-000001", "image-000002")
    assert back.batch.labels == ["dog", None]  # -1: no label, as in datasets
    text_labels = hf_like({"image": images, "label": ["owl", None]})
    assert images_from_parquet(text_labels).batch.labels == ["owl", None]


BAD_PARQUET = {
    "not parquet": (b"PAR1 not really", "not a readable parquet"),
    "no image column": (lambda: hf_like({"name": ["a"], "label": ["cat"]}), "no image column"),
    "class index out of range": (lambda: hf_like({"image": [{"bytes": PAYLOADS[0], "path": "a.png"}], "label": [5]},
                                                 {"image": IMAGE, "label": LABEL}), "not a class index"),
    "duplicate names": (lambda: hf_like({"image": [{"bytes": PAYLOADS[0], "path": "a"}] * 2, "name": ["a", "a"]}),
                        "'a' is there twice"),
    "empty name": (lambda: hf_like({"image": [{"bytes": PAYLOADS[0], "path": "a"}], "name": [""]}), "has no name"),
    "no rows": (lambda: hf_like({"image": pd.Series([], dtype=object).tolist(), "name": []}), "no image column|no rows"),
    "image bytes that are not an image": (lambda: hf_like({"image": [{"bytes": b"nope", "path": "a.png"}]}),
                                          "cannot be read; nothing was imported"),
    "no bytes": (lambda: hf_like({"image": [{"bytes": None, "path": "a.png"}, {"bytes": PAYLOADS[0], "path": "b"}]}),
                 "a.png has no image bytes"),
}


@pytest.mark.parametrize("case", list(BAD_PARQUET))
def test_bad_parquet_is_refused(case):
    data, message = BAD_PARQUET[case]
    with pytest.raises(InvalidInput, match=message):
        images_from_parquet(data() if callable(data) else data)


def test_parquet_limits(tmp_path):
    data = hf_like({"image": [{"bytes": PAYLOADS[0], "path": "a.png"}] * 3})
    with pytest.raises(InvalidInput, match="more than the"):
        images_from_parquet(data, max_bytes=100)
    with pytest.raises(InvalidInput, match="allowed per image"):
        images_from_parquet(data, max_entry_bytes=10)
    skipped = images_from_parquet(hf_like({"image": [{"bytes": b"x", "path": "a.png"},
                                                     {"bytes": PAYLOADS[0], "path": "b.png"}]}), on_error="skip")
    assert skipped.batch.names == ("b.png",) and skipped.skipped[0][0] == "a.png"


# --------------------------------------------------------------------------- hostile zips on import


@pytest.mark.parametrize("name", ["../x.png", "/abs/x.png", "C:/x.png", "a/../../x.png", "..\\x.png"])
def test_a_zip_with_a_hostile_name_is_refused(name):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("cat/ok.png", PAYLOADS[0])
        zf.writestr(name, PAYLOADS[1])
    with pytest.raises(InvalidInput, match="refused"):
        images_from_zip(out.getvalue(), labels_from_folders=True)


def test_zip_names_with_nul_duplicates_or_great_length():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("cat/a.png", PAYLOADS[0])
        zf.writestr("cat/a.png", PAYLOADS[1])
    with pytest.raises(InvalidInput, match="twice"):
        images_from_zip(out.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("cat/" + "l" * 5000 + ".png", PAYLOADS[0])
        info = zipfile.ZipInfo("dog/b.png")
        zf.writestr(info, PAYLOADS[1])
    back = images_from_zip(out.getvalue(), labels_from_folders=True)
    assert back.batch.labels == ["cat", "dog"]  # a 5,000-character name is only a long name
    # zipfile cuts a name at a NUL: "dog/<NUL>.png" would read as the folder "dog/" and vanish silently
    raw = out.getvalue().replace(b"dog/b.png", b"dog/\x00.png")
    with pytest.raises(InvalidInput, match="NUL character"):
        images_from_zip(raw, labels_from_folders=True)


def test_which_formats_a_project_is_offered_and_unknown_ones(tmp_path):
    from superintendent_core.data.formats import export_formats

    assert export_formats("image", False) == ["jsonl", "imagefolder", "hf_parquet"]
    assert export_formats("image", True) == ["jsonl", "hf_parquet"]
    assert export_formats("text", False) == export_formats("table", True) == ["jsonl"]
    store = new_store(tmp_path, "folder")
    with pytest.raises(InvalidInput, match="Unknown export format 'csv'"):
        prepare_export(store, "csv")
    spool, result = prepare_export(store, "jsonl")  # nothing labelled: an empty file, not an error
    with spool:
        assert spool.read() == b"" and result.items == 0
    store.close()


def test_an_image_over_the_limit_refuses_the_whole_parquet_even_when_skipping(tmp_path):
    """One stored value standing for every row (dictionary encoding) is checked per row, before it is copied."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from superintendent_core.data.image_parquet import images_from_parquet
    from superintendent_core.store.errors import InvalidInput

    big = b"\0" * (2 * 1024 * 1024)
    table = pa.table({"image": pa.array([{"bytes": big, "path": f"p{k}.png"} for k in range(8)],
                                        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))})
    path = tmp_path / "bomb.parquet"
    pq.write_table(table, path, compression="zstd", use_dictionary=True)
    assert path.stat().st_size < 100_000
    with pytest.raises(InvalidInput, match="more than the 1 MiB allowed per image; the parquet is refused"):
        images_from_parquet(str(path), on_error="skip", max_entry_bytes=1024 * 1024)
