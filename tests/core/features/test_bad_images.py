"""Awkward and broken images through the pretrained extractor: each works, or is refused with a named reason."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from superintendent_core.data import images_from_files
from superintendent_core.features import image_features, to_rgb
from superintendent_core.store.errors import InvalidInput

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(FIXTURES / "coffee.png").convert("RGB")


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _one(source) -> np.ndarray:
    return image_features([source], threads=1)[0]


def _close(a: np.ndarray, b: np.ndarray, atol: float = 1e-5) -> bool:
    return bool(np.abs(a - b).max() <= atol)


def test_exif_rotated_image_gives_the_upright_images_features(photo):
    upright = _one(photo)
    for orientation, stored in ((6, photo.transpose(Image.Transpose.ROTATE_90)),
                                (8, photo.transpose(Image.Transpose.ROTATE_270)),
                                (3, photo.transpose(Image.Transpose.ROTATE_180))):
        exif = Image.Exif()
        exif[0x0112] = orientation
        raw = _save(stored, "PNG", exif=exif)  # lossless: the same pixels once turned upright
        assert _close(_one(raw), upright), orientation
    assert not _close(_one(photo.transpose(Image.Transpose.ROTATE_90)), upright)  # orientation matters


def test_cmyk_jpeg_works(photo):
    features = _one(_save(photo.convert("CMYK"), "JPEG", quality=95))
    rgb = _one(_save(photo, "JPEG", quality=95))
    assert np.isfinite(features).all()
    cos = features @ rgb / (np.linalg.norm(features) * np.linalg.norm(rgb))
    assert cos > 0.95


def test_16_bit_grey_png_is_scaled_to_8_bits(photo):
    grey8 = photo.convert("L")
    grey16 = Image.fromarray(np.asarray(grey8).astype(np.uint16) * 257)
    raw = _save(grey16, "PNG")
    assert Image.open(io.BytesIO(raw)).mode.startswith("I")
    assert _close(_one(raw), _one(grey8))


def test_16_bit_tiff_works(photo):
    grey16 = Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257)
    raw = _save(grey16, "TIFF")
    assert Image.open(io.BytesIO(raw)).mode == "I;16"
    assert _close(_one(raw), _one(photo.convert("L")))


def test_palette_and_transparency_are_laid_on_white(photo):
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    assert np.isfinite(_one(_save(palette, "PNG"))).all()
    transparent = Image.new("RGBA", (100, 80), (255, 0, 0, 0))  # fully transparent red
    assert _close(_one(_save(transparent, "PNG")), _one(Image.new("RGB", (100, 80), "white")))
    la = Image.new("LA", (100, 80), (0, 0))
    assert _close(_one(_save(la, "PNG")), _one(Image.new("RGB", (100, 80), "white")))
    p_transparent = Image.new("P", (50, 50), 0)
    p_transparent.putpalette([0, 0, 0, 255, 255, 255])
    raw = _save(p_transparent, "PNG", transparency=0)
    assert _close(_one(raw), _one(Image.new("RGB", (50, 50), "white")))


def test_animated_gif_uses_its_first_frame(photo):
    small = photo.resize((120, 80))
    frames = [small.convert("P", palette=Image.Palette.ADAPTIVE), Image.new("RGB", (120, 80), "blue").convert("P")]
    raw = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = Image.open(io.BytesIO(raw))
    assert gif.n_frames == 2
    gif.seek(1)  # even when the caller left it on another frame
    first = _save(frames[0], "GIF")
    assert _close(_one(gif), _one(first))
    assert _close(_one(raw), _one(first))


def test_other_modes_work():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (60, 90), dtype=np.uint8)
    for image in (
        Image.fromarray(arr).convert("1"),
        Image.fromarray(arr.astype(np.int32) * 100, mode="I"),
        Image.fromarray(arr.astype(np.float32) / 255.0, mode="F"),
        Image.fromarray(arr).convert("RGB").convert("YCbCr"),
        Image.fromarray(arr).convert("RGB").convert("LAB"),
    ):
        assert np.isfinite(_one(image)).all(), image.mode
    f = Image.fromarray(np.full((20, 20), np.nan, dtype=np.float32), mode="F")
    assert np.isfinite(to_rgb(f).getextrema()[0]).all()


def test_a_huge_image_is_downscaled_on_decode_and_gives_nearly_the_same_features(photo):
    big = photo.resize((3000, 2000), Image.Resampling.BICUBIC)
    raw = _save(big, "JPEG", quality=92)
    small = _one(_save(photo.resize((600, 400), Image.Resampling.BICUBIC), "JPEG", quality=92))
    features = _one(raw)
    cos = features @ small / (np.linalg.norm(features) * np.linalg.norm(small))
    assert cos > 0.97
    decoded_in_full = _one(Image.open(io.BytesIO(raw)).convert("RGB"))  # a decoded image: reduced, not drafted
    cos = decoded_in_full @ small / (np.linalg.norm(decoded_in_full) * np.linalg.norm(small))
    assert cos > 0.97


def test_above_the_pixel_limit_is_refused_before_decoding(tmp_path):
    path = tmp_path / "scan.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(InvalidInput, match=r"scan\.png is 300×200 pixels, above the limit of 50,000"):
        image_features([path], max_pixels=50_000)
    with pytest.raises(InvalidInput, match="image 1 is 300×200 pixels"):
        image_features([Image.new("RGB", (300, 200))], max_pixels=50_000)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image"),
    ],
    ids=["empty", "text", "broken-png-header"],
)
def test_unreadable_bytes_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidInput, match=f"image 2 .*{reason}|image 2 is {reason}"):
        image_features([Image.new("RGB", (40, 40)), raw])


def test_truncated_jpeg_is_refused_with_a_reason(photo, tmp_path):
    raw = _save(photo, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InvalidInput, match=r"cut\.jpg is not a readable image \(corrupt or truncated"):
        image_features([path])
    with pytest.raises(InvalidInput, match="does not exist"):
        image_features([tmp_path / "missing.jpg"])
    with pytest.raises(InvalidInput, match="give a path, bytes or a PIL image"):
        image_features([12])


def test_the_importer_skips_the_bad_ones_by_name_and_featurises_the_rest(photo):
    good = _save(photo, "JPEG", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    files = [
        ("ok.jpg", good),
        ("cmyk.jpg", _save(photo.convert("CMYK"), "JPEG")),
        ("grey16.png", _save(Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257), "PNG")),
        ("palette.png", _save(photo.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
        ("rotated.png", _save(photo.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif)),
        ("cut.jpg", good[: len(good) // 2]),
        ("junk.png", b"not an image"),
    ]
    result = images_from_files(files, featurize="efficientnet_lite0", on_error="skip")
    assert list(result.batch.names) == ["ok.jpg", "cmyk.jpg", "grey16.png", "palette.png", "rotated.png"]
    assert result.batch.features.shape == (5, 1280) and np.isfinite(result.batch.features).all()
    skipped = dict(result.skipped)
    assert set(skipped) == {"cut.jpg", "junk.png"}
    assert "truncated" in skipped["cut.jpg"] and "not a readable image" in skipped["junk.png"]
