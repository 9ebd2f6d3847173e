"""Zip bombs and pixel bombs: refused while reading, with bounded memory and a message naming the limit."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from PIL import Image

from superintendent_core.data import images_from_files, images_from_zip, import_project_zip
from superintendent_core.data.images import MAX_PIXELS
from superintendent_core.kinds.image import display_image
from superintendent_core.store import InvalidInput

MiB = 1024**2


def png(size=(20, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def claimed_png(width: int, height: int) -> bytes:
    """A real 1×1 PNG whose header (IHDR, CRC fixed) claims ``width × height`` pixels."""
    data = bytearray(png((1, 1)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def zeros_zip(n: int, entry_bytes: int, *, name="junk{}.png", extra: dict | None = None) -> bytes:
    out = io.BytesIO()
    block = b"\0" * entry_bytes
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name_, data in (extra or {}).items():
            zf.writestr(name_, data)
        for i in range(n):
            zf.writestr(name.format(i), block)
    return out.getvalue()


def peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / MiB


# --------------------------------------------------------------------------- zips


def test_bomb_of_many_small_entries_is_refused_with_bounded_memory():
    # 60 entries of 8 MiB (each under the old 10 MiB exemption), about 8 KB each compressed.
    data = zeros_zip(60, 8 * MiB)
    assert len(data) < 1 * MiB

    def attempt():
        with pytest.raises(InvalidInput, match=r"expands more than 200× .*zip bomb"):
            images_from_zip(data)

    assert peak_mib(attempt) < 100


def test_total_limit_is_named():
    data = zeros_zip(20, 8 * MiB)
    with pytest.raises(InvalidInput, match="more than the 64 MiB allowed"):
        images_from_zip(data, max_ratio=10**9, max_zip_bytes=64 * MiB)


def test_total_is_counted_on_the_bytes_really_read():
    from superintendent_core.data.images import ZipBudget, read_zip_member

    zf = zipfile.ZipFile(io.BytesIO(zeros_zip(3, 8 * MiB)))
    budget = ZipBudget(20 * MiB)
    read_zip_member(zf, zf.infolist()[0], max_ratio=10**9, budget=budget)
    read_zip_member(zf, zf.infolist()[1], max_ratio=10**9, budget=budget)
    with pytest.raises(InvalidInput, match="more than the 20 MiB allowed for one zip"):
        read_zip_member(zf, zf.infolist()[2], max_ratio=10**9, budget=budget)
    assert budget.used <= 20 * MiB + 1 * MiB  # stopped within one chunk of the limit


def test_per_entry_limit_is_named():
    data = zeros_zip(1, 9 * MiB)
    with pytest.raises(InvalidInput, match=r"junk0\.png.*more than the 4 MiB allowed per file"):
        images_from_zip(data, max_ratio=10**9, max_entry_bytes=4 * MiB)


def test_entries_are_read_and_decoded_one_at_a_time():
    # Six 40 MiB junk entries (ratio allowed): refused after reading the first, holding one entry at most.
    data = zeros_zip(6, 40 * MiB)

    def attempt():
        with pytest.raises(InvalidInput, match="cannot be read"):
            images_from_zip(data, max_ratio=10**9)

    assert peak_mib(attempt) < 100  # all six read first: 240 MiB


def _patch_sizes(data: bytes, name: str, new_size: int) -> bytes:
    """Rewrite the uncompressed size of ``name`` in its local header and the central directory."""
    out = bytearray(data)
    encoded = name.encode()
    for sig, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = out.find(sig)
        while pos >= 0:
            n = struct.unpack("<H", out[pos + name_len_at:pos + name_len_at + 2])[0]
            if bytes(out[pos + name_at:pos + name_at + n]) == encoded:
                out[pos + size_at:pos + size_at + 4] = struct.pack("<I", new_size)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def test_header_that_understates_the_size_is_refused():
    data = _patch_sizes(zeros_zip(1, 20 * MiB, extra={"ok.png": png()}), "junk0.png", 1000)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("junk0.png").file_size == 1000
    with pytest.raises(InvalidInput, match=r"junk0\.png .*(damaged|size)"):
        images_from_zip(data, max_ratio=10**9)


def test_header_that_overstates_the_size_is_refused():
    data = _patch_sizes(zeros_zip(1, 1000, extra={"ok.png": png()}), "junk0.png", 3 * 1024**3)
    with pytest.raises(InvalidInput, match="allowed per file"):
        images_from_zip(data)


@pytest.mark.parametrize("name", ["../x.png", "/abs.png", "C:/x.png", "..\\x.png", "a/../../x.png"])
def test_hostile_entry_names_are_refused(name):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("ok.png", png())
        zf.writestr(name, png())
    with pytest.raises(InvalidInput, match="The zip is refused"):
        images_from_zip(out.getvalue())


def test_nul_in_an_entry_name_is_refused():
    # Python's zipfile ends a name at its first NUL: "a.png\0../../x" would read as "a.png", and
    # "dog/\0.png" as the folder "dog/" (the image silently gone): a name holding a NUL refuses the zip.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.pngZ/../../x.png", png())
    data = out.getvalue().replace(b"a.pngZ", b"a.png\0")
    with pytest.raises(InvalidInput, match="NUL character"):
        images_from_zip(data)


def test_project_zip_bomb_is_refused_without_writing(tmp_path):
    data = zeros_zip(30, 8 * MiB, name="items-{:06d}.parquet")
    with pytest.raises(InvalidInput):
        import_project_zip(data, tmp_path / "p", max_bytes=64 * MiB)
    assert not (tmp_path / "p").exists() and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- pixels


def test_huge_image_header_is_refused_before_decoding():
    bomb = claimed_png(20_000, 20_000)
    assert len(bomb) < 100

    def attempt():
        with pytest.raises(InvalidInput, match=r"bomb\.png .*above the limit of 40,000,000 pixels"):
            images_from_files([("ok.png", png()), ("bomb.png", bomb)])

    assert peak_mib(attempt) < 20


def test_image_between_our_limit_and_pillows_is_refused():
    # 48 MP: below Pillow's own limit (89 MP), above ours.
    with pytest.raises(InvalidInput, match=r"big\.png is 8,000×6,000 pixels, above the limit of 40,000,000"):
        images_from_files([("big.png", claimed_png(8000, 6000))])


def test_pixel_limit_applies_to_zips_and_is_configurable():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.png", png((20, 12)))
    with pytest.raises(InvalidInput, match="above the limit of 100 pixels"):
        images_from_zip(out.getvalue(), max_pixels=100)
    assert MAX_PIXELS == 40_000_000


@pytest.mark.parametrize("size", [(20_000, 20_000), (8000, 6000)])
def test_display_refuses_a_stored_huge_image(size):
    with pytest.raises(ValueError, match="above the limit of 40,000,000 pixels"):
        display_image(claimed_png(*size))
