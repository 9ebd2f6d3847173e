"""Image importers: formats, folders, zips, and every kind of bad input (fixtures built here)."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from superintendent_core.data import images_from_files, images_from_folder, images_from_zip
from superintendent_core.data.images import thumbnail_features
from superintendent_core.store import InvalidInput, ProjectSettings
from superintendent_core.store.folder import FolderStore

FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "bmp": "BMP", "webp": "WEBP", "tiff": "TIFF"}


def picture(fmt: str = "PNG", size=(20, 12), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", size, colour)
    img.putpixel((0, 0), (0, 0, 0))
    img.save(out, format=fmt)
    return out.getvalue()


def make_zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return out.getvalue()


def test_every_format_is_read_and_displayable():
    files = [(f"a/img.{ext}", picture(fmt)) for ext, fmt in FORMATS.items()]
    result = images_from_files(files, featurize="pixels")
    b = result.batch
    assert b.names == tuple(n for n, _ in files)
    assert b.features.shape == (6, 256) and b.features.dtype == np.float32
    assert 0 <= b.features.min() and b.features.max() <= 1
    for payload in b.payloads:
        assert payload[:8] == b"\x89PNG\r\n\x1a\n" or payload[:3] == b"\xff\xd8\xff"
        Image.open(io.BytesIO(payload)).load()
    assert result.notes == []


def test_huge_image_is_downscaled_for_display():
    big = picture("PNG", size=(4000, 300))
    b = images_from_files([("wide.png", big)]).batch
    assert max(Image.open(io.BytesIO(b.payloads[0])).size) == 1600


def test_pluggable_features():
    b = images_from_files([("x.png", picture())], featurize=lambda im: np.array(im.size, dtype=float)).batch
    assert b.features.tolist() == [[20.0, 12.0]]


def test_default_features_are_grey_thumbnails():
    f = thumbnail_features(Image.new("L", (30, 30), 255), size=8)
    assert f.shape == (64,) and np.allclose(f, 1.0)


def test_folder_import_with_labels_from_subfolders(tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(2):
            (tmp_path / label / f"{i}.png").write_bytes(picture())
    (tmp_path / "notes.txt").write_text("hello")
    result = images_from_folder(tmp_path, labels_from_folders=True)
    assert result.batch.names == ("cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png")
    assert result.batch.labels == ["cat", "cat", "dog", "dog"]
    assert "notes.txt" in result.notes[0]
    with FolderStore(tmp_path / "proj", settings=ProjectSettings(classes=("cat", "dog"))) as store:
        store.add_items(result.batch)
        assert store.progress().labelled == 4
        assert store.item(2).mime == "image/png"


def test_zip_import_skips_non_images_with_a_note():
    data = make_zip({"a.png": picture(), "b/c.jpg": picture("JPEG"), "readme.txt": b"hi",
                     "__MACOSX/._a.png": b"junk", ".DS_Store": b"x", "sub/": b""})
    result = images_from_zip(data)
    assert result.batch.names == ("a.png", "b/c.jpg")
    assert "Skipped 3 file(s) that are not images" in result.notes[0]


def test_zip_from_file_object_and_path(tmp_path):
    data = make_zip({"a.png": picture()})
    assert images_from_zip(io.BytesIO(data)).batch.names == ("a.png",)
    (tmp_path / "u.zip").write_bytes(data)
    assert images_from_zip(tmp_path / "u.zip").batch.names == ("a.png",)


@pytest.mark.parametrize("raw", [b"", b"\x89PNG\r\n\x1a\n\x00\x00", None], ids=["empty", "truncated-header", "truncated"])
def test_corrupt_or_truncated_image_refuses_whole_import(raw):
    good = picture()
    if raw is None:
        raw = picture("PNG", size=(200, 200))[:300]
    with pytest.raises(InvalidInput, match=r"bad\.png .*nothing was imported|nothing was imported: bad\.png"):
        images_from_files([("good.png", good), ("bad.png", raw)])


def test_corrupt_image_skipped_on_request():
    result = images_from_files([("good.png", picture()), ("bad.jpg", b"not a jpeg at all")], on_error="skip")
    assert result.batch.names == ("good.png",)
    assert "bad.jpg" in result.notes[-1]


def test_decompression_bomb_is_refused():
    # A tiny file that claims many pixels: the limit is checked from the header, before decoding.
    with pytest.raises(InvalidInput, match="above the limit of 1,000 pixels"):
        images_from_files([("bomb.png", picture("PNG", size=(100, 100)))], max_pixels=1000)


def test_pillow_decompression_bomb_error_is_readable(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(InvalidInput, match="bomb"):
        images_from_files([("bomb.png", picture("PNG", size=(100, 100)))], max_pixels=10**9)


@pytest.mark.parametrize("name", ["/etc/evil.png", "../evil.png", "a/../../evil.png", "C:/evil.png"])
def test_zip_slip_names_are_refused(name, tmp_path):
    data = make_zip({"ok.png": picture(), name: picture()})
    before = set(os.listdir(tmp_path))
    with pytest.raises(InvalidInput, match="The zip is refused"):
        images_from_zip(data)
    assert set(os.listdir(tmp_path)) == before  # nothing written anywhere


def test_zip_symlink_refused():
    with pytest.raises(InvalidInput, match="symbolic link"):
        images_from_zip(make_zip({"ok.png": picture()}, symlink="link.png"))


def test_zip_bomb_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.png", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(InvalidInput, match="zip bomb"):
        images_from_zip(out.getvalue())


def test_duplicate_names_in_zip_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("a.png", picture())
        zf.writestr("a.png", picture())
    with pytest.raises(InvalidInput, match="twice"):
        images_from_zip(out.getvalue())


@pytest.mark.parametrize("data,message", [(b"", "empty"), (b"hello, not a zip", "not a zip"),
                                          (make_zip({}), "No images found"),
                                          (make_zip({"readme.md": b"x"}), "only other files")],
                         # ids, not the bytes: a zip holds the time it was made, and pytest-xdist's
                         # workers must collect the same test names
                         ids=["empty", "not-a-zip", "zip-without-files", "zip-of-other-files"])
def test_empty_or_wrong_uploads(data, message):
    with pytest.raises(InvalidInput, match=message):
        images_from_zip(data)


def test_empty_file_object_and_missing_path(tmp_path):
    with pytest.raises(InvalidInput, match="empty"):
        images_from_zip(io.BytesIO(b""))
    (tmp_path / "zero.zip").write_bytes(b"")
    with pytest.raises(InvalidInput, match="empty"):
        images_from_zip(tmp_path / "zero.zip")
    with pytest.raises(InvalidInput, match="not a folder"):
        images_from_folder(tmp_path / "missing")


def test_bad_import_leaves_project_untouched(tmp_path):
    with FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a",))) as store:
        store.add_items(images_from_files([("one.png", picture())]).batch)
        store.submit(0, "a", "ann")
        with pytest.raises(InvalidInput):
            store.add_items(images_from_files([("one.png", picture()), ("two.png", picture())]).batch)
        assert len(store) == 1 and len(store.labels()) == 1
