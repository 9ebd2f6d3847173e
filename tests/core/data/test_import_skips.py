"""Issue 14: some bad images in a zip or folder — the good ones come in, the bad ones are listed by name."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image

from superintendent_core.data import images_from_files, images_from_folder, images_from_zip
from superintendent_core.store import InvalidInput

REPR = re.compile(r"<[^>]* object at 0x|BytesIO")


def picture(size=(20, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def damaged() -> dict[str, bytes]:
    """Corrupt and truncated images, made here."""
    big = picture((200, 200))
    return {
        "bad/garbage.png": b"this is not a png at all",
        "bad/truncated.png": big[: len(big) // 2],
        "bad/header-only.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "bad/empty.png": b"",
    }


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def good() -> dict[str, bytes]:
    return {f"good/{i}.png": picture((10 + i, 10)) for i in range(3)}


def test_a_zip_with_bad_images_imports_the_good_ones_and_lists_the_bad():
    result = images_from_zip(zipped({**good(), **damaged()}), on_error="skip")
    assert result.batch.names == tuple(good())
    assert [name for name, _ in result.skipped] == list(damaged())
    for name, reason in result.skipped:
        assert reason and not REPR.search(reason), (name, reason)
    assert "4 unreadable image(s)" in result.notes[-1] and "bad/garbage.png" in result.notes[-1]


def test_a_folder_with_bad_images_imports_the_good_ones(tmp_path):
    for name, data in {**good(), **damaged()}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    result = images_from_folder(tmp_path, on_error="skip")
    assert sorted(result.batch.names) == sorted(good())
    assert sorted(n for n, _ in result.skipped) == sorted(damaged())


def test_refuse_names_every_file_and_shows_no_python_repr():
    with pytest.raises(InvalidInput) as info:
        images_from_zip(zipped({**good(), **damaged()}), on_error="refuse")
    text = str(info.value)
    assert "nothing was imported" in text and "bad/garbage.png" in text and "bad/truncated.png" in text
    assert not REPR.search(text), text


@pytest.mark.parametrize("name", list(damaged()))
def test_no_message_holds_a_python_object_repr(name):
    with pytest.raises(InvalidInput) as info:
        images_from_files([(name, damaged()[name])])
    assert name in str(info.value) and not REPR.search(str(info.value)), str(info.value)


def test_the_api_default_refuses_and_raise_is_the_same():
    files = [("good.png", picture()), ("bad.png", b"junk")]
    for kwargs in ({}, {"on_error": "raise"}):
        with pytest.raises(InvalidInput, match="bad.png"):
            images_from_files(files, **kwargs)
    with pytest.raises(InvalidInput, match="'skip' or 'refuse'"):
        images_from_files(files, on_error="ignore")


def test_all_bad_is_refused_even_when_skipping():
    with pytest.raises(InvalidInput, match="None of the images could be read"):
        images_from_zip(zipped(damaged()), on_error="skip")


def test_a_zip_bomb_is_refused_even_when_skipping():
    # a hostile entry refuses the whole zip: skipping is for damaged pictures, not for attacks
    bomb = zipped({**good(), "bad/bomb.bmp": b"\0" * (3 * 1024**2)})
    with pytest.raises(InvalidInput, match="refused"):
        images_from_zip(bomb, on_error="skip", max_entry_bytes=2 * 1024**2)


def test_progress_reaches_the_end_when_images_are_skipped():
    seen = []
    images_from_zip(zipped({**good(), **damaged()}), on_error="skip", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (7, 7)
