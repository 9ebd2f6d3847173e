"""Folder store: a manifest says format 3 only when the project needs it; else 2 (older code opens it)."""

from __future__ import annotations

import json

import numpy as np

from superintendent_core.store.folder import FolderStore
from superintendent_core.store.folder.files import FORMAT_VERSION_BASE, FORMAT_VERSION_BULK
from superintendent_core.store.protocol import ItemBatch, ProjectSettings


def _version(path) -> int:
    return json.loads((path / "project.json").read_bytes())["format_version"]


def test_text_project_without_bulk_labels_is_written_as_format_2(tmp_path):
    s = FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")))
    s.add_items(ItemBatch(names=("x", "y", "z"), kind="text", features=["a", "b", "c"], payloads=["a", "b", "c"]))
    s.submit(0, "a", "alice")
    s.set_order([2, 1, 0])
    s.close()
    assert _version(tmp_path / "p") == FORMAT_VERSION_BASE == 2
    s = FolderStore(tmp_path / "p", create=False)
    s.bulk_label([1, 2], "b", "alice")  # bulk labels need format 3
    assert _version(tmp_path / "p") == FORMAT_VERSION_BULK == 3
    s.close()
    s = FolderStore(tmp_path / "p", create=False)
    assert len(s.labels()) == 3
    s.close()


def test_project_with_npy_features_is_written_as_format_3(tmp_path):
    s = FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")))
    s.add_items(ItemBatch(names=("x", "y"), kind="image", image_shape=(2, 2), pixel_max=1.0,
                          features=np.zeros((2, 4), np.float32)))
    batches = json.loads((tmp_path / "p" / "project.json").read_bytes())["batches"]
    assert any(b.get("features_file") for b in batches)
    assert _version(tmp_path / "p") == 3
    s.close()
