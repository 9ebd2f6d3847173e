"""Label exports and the project zip: round trip, and refusal of newer / tampered / hostile zips."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile

import numpy as np
import pandas as pd
import pytest
from store_contract import CLASSES, image_batch

from superintendent_core.data import (
    export_project_zip,
    import_project_zip,
    labels_csv,
    labels_parquet,
)
from superintendent_core.store import InvalidInput, LockedError, ProjectSettings, VersionError
from superintendent_core.store.folder import FolderStore


@pytest.fixture
def project(tmp_path):
    store = FolderStore(tmp_path / "src", settings=ProjectSettings(classes=CLASSES, multi_label=True))
    store.add_items(image_batch(6, true_labels=["cat"] * 6))
    store.submit(0, ["cat", "owl"], "ann", seconds=1.25)
    store.submit(1, ["dog"], "bob")
    store.submit(1, [], "ann")
    store.set_order([5, 4])
    store.record_retrain({"n_labels": 2, "score": 0.5})
    yield store
    store.close()


def test_labels_csv_and_parquet(project):
    df = pd.read_csv(io.BytesIO(labels_csv(project)), keep_default_na=False)
    assert list(df.columns) == ["item_id", "name", "label", "labeller", "time", "seconds", "bulk"]
    assert df[["item_id", "name", "label", "labeller"]].values.tolist() == [
        [0, "img0.png", "cat|owl", "ann"], [1, "img1.png", "dog", "bob"], [1, "img1.png", "", "ann"]]
    assert df["time"].str.endswith("Z").all()
    pq = pd.read_parquet(io.BytesIO(labels_parquet(project)))
    pd.testing.assert_frame_equal(pq, project.labels(), check_dtype=False)


def test_project_zip_round_trip(project, tmp_path):
    data = export_project_zip(project)
    project.submit(2, ["cat"], "ann")  # after the export: not in the zip
    dest = import_project_zip(data, tmp_path / "copy")
    with FolderStore(dest, create=False) as copy:
        assert copy.settings == project.settings
        assert len(copy.labels()) == 3
        assert copy.history()["score"].tolist() == [0.5]
        assert copy.next_item("zed") == 5
        np.testing.assert_array_equal(copy.features([3]), project.features([3]))
        assert copy.item(4).payload == project.item(4).payload
        assert copy.true_labels([0]).tolist() == ["cat"]


def test_export_to_file_while_labelling(project, tmp_path):
    export_project_zip(project, tmp_path / "p.zip")
    assert zipfile.ZipFile(tmp_path / "p.zip").testzip() is None


def rewrite(data: bytes, change) -> bytes:
    """Copy a zip, letting ``change(name, bytes, manifest)`` edit entries (return None to drop)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(src.read("MANIFEST.json"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename == "MANIFEST.json":
                continue
            body = change(info.filename, src.read(info), manifest)
            if body is not None:
                dst.writestr(info.filename, body)
        extra = change("MANIFEST.json", None, manifest)
        if isinstance(extra, dict):
            for name, body in extra.items():
                if isinstance(body, zipfile.ZipInfo):
                    dst.writestr(body, b"x")
                else:
                    dst.writestr(name, body)
        dst.writestr("MANIFEST.json", json.dumps(manifest))
    return out.getvalue()


def test_tampered_file_refused(project, tmp_path):
    data = export_project_zip(project)

    def flip(name, body, manifest):
        if name.startswith("labels-"):
            return body[:-20] + bytes(20)
        return body

    with pytest.raises(InvalidInput, match="fails its checksum"):
        import_project_zip(rewrite(data, flip), tmp_path / "t")
    assert not (tmp_path / "t").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]  # no staging left behind


def test_extra_or_missing_file_refused(project, tmp_path):
    data = export_project_zip(project)
    with pytest.raises(InvalidInput, match="not in its manifest"):
        import_project_zip(rewrite(data, lambda n, b, m: {"evil.parquet": b"x"} if b is None else b),
                           tmp_path / "a")
    with pytest.raises(InvalidInput, match="missing"):
        import_project_zip(rewrite(data, lambda n, b, m: None if n.startswith("order-") else b), tmp_path / "b")


def test_newer_version_refused(project, tmp_path):
    data = export_project_zip(project)

    def newer(name, body, manifest):
        manifest["project_format_version"] = 7
        return body

    with pytest.raises(VersionError, match="newer version"):
        import_project_zip(rewrite(data, newer), tmp_path / "n")


def test_newer_project_json_inside_refused(project, tmp_path):
    data = export_project_zip(project)

    def newer(name, body, manifest):
        if name == "project.json":
            pj = json.loads(body)
            pj["format_version"] = 5
            body = json.dumps(pj).encode()
            manifest["files"][name] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        return body

    with pytest.raises(VersionError, match="newer version"):
        import_project_zip(rewrite(data, newer), tmp_path / "n")
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize("name", [
    "../escape.parquet", "/abs.parquet", "sub/items-000001.parquet",
    # feature-set files are allowed only exactly as featuresets/<set name>/<chunk or meta.json>
    "featuresets/../escape.parquet", "featuresets/../../escape.npy", "featuresets/./meta.json",
    "featuresets/../meta.json", "featuresets/.hidden/meta.json", "featuresets/a/b/meta.json",
    "featuresets/a/../../escape.npy", "featuresets/a/evil.py", "featuresets/a/meta.json\n",
    "featuresets//meta.json", "/featuresets/a/meta.json", "featuresets\\a\\meta.json",
])
def test_hostile_names_refused(project, tmp_path, name):
    data = export_project_zip(project)

    def add(n, body, manifest):
        if body is None:
            manifest["files"][name] = {"sha256": "0", "size": 1}
            return {name: b"x"}
        return body

    with pytest.raises(InvalidInput, match="refused"):
        import_project_zip(rewrite(data, add), tmp_path / "h")
    assert not (tmp_path.parent / "escape.parquet").exists()


def test_symlink_entry_refused(project, tmp_path):
    data = export_project_zip(project)
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(InvalidInput, match="symbolic link"):
        import_project_zip(rewrite(data, lambda n, b, m: {"link": info} if b is None else b), tmp_path / "s")


@pytest.mark.parametrize("data,message", [(b"", "empty"), (b"junk", "not a zip")])
def test_not_a_project_zip(tmp_path, data, message):
    with pytest.raises(InvalidInput, match=message):
        import_project_zip(data, tmp_path / "x")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.png", b"x")
    with pytest.raises(InvalidInput, match="no MANIFEST"):
        import_project_zip(out.getvalue(), tmp_path / "x")


def test_replace_keeps_old_project_and_refuses_open_one(project, tmp_path):
    data = export_project_zip(project)
    target = tmp_path / "live"
    with FolderStore(target, settings=ProjectSettings(classes=("x",))) as live:
        live.add_items(image_batch(1))
        with pytest.raises(InvalidInput, match="already holds files"):
            import_project_zip(data, target)
        with pytest.raises(LockedError):
            import_project_zip(data, target, replace=True)
    import_project_zip(data, target, replace=True)
    with FolderStore(target, create=False) as s:
        assert s.settings.classes == CLASSES
    backups = [p for p in tmp_path.iterdir() if p.name.startswith("live.replaced-")]
    assert len(backups) == 1
    with FolderStore(backups[0], create=False) as old:
        assert old.settings.classes == ("x",)
    assert not [p for p in tmp_path.iterdir() if ".importing-" in p.name]
    assert os.listdir(tmp_path / "live")


class OtherBackend:
    """Any LabelStore that is not a folder (stands in for the SQL backend): plain delegation."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def __len__(self):
        return len(self._store)


def test_zip_of_another_backend_goes_through_the_protocol(project, tmp_path):
    data = export_project_zip(OtherBackend(project))
    dest = import_project_zip(data, tmp_path / "copy")
    with FolderStore(dest, create=False) as copy:
        pd.testing.assert_frame_equal(copy.labels(), project.labels())
        assert copy.settings == project.settings
        assert copy.item(3).payload == project.item(3).payload
        np.testing.assert_array_equal(copy.features([0, 5]), project.features([0, 5]))
        assert copy.true_labels([2]).tolist() == ["cat"]
        assert copy.history()["score"].tolist() == [0.5]
        assert copy.progress() == project.progress()


def test_restore_labels_validates_everything_first(project, tmp_path):
    with FolderStore(tmp_path / "r", settings=project.settings) as other:
        other.add_items(image_batch(6))
        bad = project.labels()
        bad.loc[1, "label"] = "fish"
        with pytest.raises(InvalidInput, match="fish"):
            other.restore_labels(bad)
        assert other.labels().empty
        other.restore_labels(project.labels())
        pd.testing.assert_frame_equal(other.labels(), project.labels())


def test_project_zip_carries_the_feature_sets(project, tmp_path):
    """The zip holds featuresets/<set>/...: the imported project keeps the set its settings name."""
    n = len(project)
    rows = np.random.default_rng(1).random((n, 8), dtype=np.float32)
    project.write_feature_set("clip", np.arange(n), rows[:, :8])
    project.update_settings(feature_set="clip")
    data = export_project_zip(project)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert json.loads(zf.read("MANIFEST.json"))["format_version"] == 2
    assert "featuresets/clip/meta.json" in names and "featuresets/clip/c000001.ids.npy" in names
    dest = import_project_zip(data, tmp_path / "imported")
    t = FolderStore(dest, create=False)
    try:
        assert t.settings.feature_set == "clip" and t.features_in_use() == "clip"
        assert t.feature_sets() == {"clip": (8, n)}
        np.testing.assert_array_equal(t.features([0, n - 1]), rows[[0, n - 1]])
    finally:
        t.close()


def test_project_zip_without_feature_sets_keeps_zip_format_1(project):
    with zipfile.ZipFile(io.BytesIO(export_project_zip(project))) as zf:
        assert json.loads(zf.read("MANIFEST.json"))["format_version"] == 1


@pytest.mark.parametrize("backend", ["folder", "sqlite"])
def test_copy_project_keeps_import_features_and_feature_sets(tmp_path, backend):
    """copy_project copies the items' own features (not the active set's rows) and the sets themselves."""
    from superintendent_core.data.export import copy_project
    from superintendent_core.store.sql import SQLStore

    settings = ProjectSettings(classes=CLASSES)
    src = (FolderStore(tmp_path / "src", settings=settings) if backend == "folder"
           else SQLStore(f"sqlite:///{tmp_path / 'src.db'}", settings=settings))
    try:
        batch = image_batch(6)
        src.add_items(batch)
        rows = np.random.default_rng(2).random((6, 3), dtype=np.float32)
        src.write_feature_set("clip", np.arange(6), rows)
        src.write_feature_set("part", [1, 4], rows[[1, 4]])  # an incomplete set is copied too
        src.update_settings(feature_set="clip")
        out = copy_project(src, tmp_path / "copy")
        try:
            assert out.settings.feature_set == "clip" and out.features_in_use() == "clip"
            assert out.feature_sets() == {"clip": (3, 6), "part": (3, 2)}
            np.testing.assert_array_equal(out.features(np.arange(6)), rows)
            np.testing.assert_array_equal(out._base_features(np.arange(6)), np.asarray(batch.features, np.float32))
            out.update_settings(feature_set="")  # the import features are there to fall back to
            assert out.features(np.arange(6)).shape == (6, 16)
        finally:
            out.close()
    finally:
        src.close()
