"""Importing images from a folder or an uploaded zip.

Every file is read and checked before anything is returned. A corrupt or
truncated image, or one above the pixel limit (:data:`MAX_PIXELS`, checked from
the header before any pixel is decoded), is either skipped — the good images are
imported and :attr:`ImportResult.skipped` lists each skipped file by name and
reason — with ``on_error="skip"`` (what the app does, showing the list), or
refuses the whole import with a message naming the files with
``on_error="refuse"`` (the API's default, so a script never loses images
silently). Files that are not images by their extension (a README, ``__MACOSX/``
resource forks, ``.DS_Store``) are skipped with a note. Messages name files,
never Python objects.

Zips are read in memory — nothing is ever extracted to disk — one entry at a
time: each entry is read and decoded before the next is read. Zips with
absolute paths, ``..``, drive letters, symlinks, a NUL in a name or encrypted
entries are refused, and so is a zip bomb: while an entry is read, its real decompressed
size (never the size its header claims) is counted against a per-file limit
(:data:`MAX_ENTRY_BYTES`), a compression-ratio limit (:data:`MAX_ZIP_RATIO`)
and a limit for the whole zip (:data:`MAX_ZIP_BYTES`); reading stops at the
first one passed. Every limit is a keyword argument of the importers.

The model's default features are small grey thumbnails (:func:`thumbnail_features`);
pass any ``featurize(PIL.Image) -> 1-D array`` instead, or the name of an
extractor from :mod:`superintendent_core.features` (``featurize="efficientnet_lite0"``
for 1280 pretrained ImageNet features of photos).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..store.errors import InvalidInput
from ..store.protocol import ItemBatch

if TYPE_CHECKING:
    from PIL import Image, ImageOps
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    Image = lazy_module("PIL.Image")
    ImageOps = lazy_module("PIL.ImageOps")

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_ENTRY_BYTES",
    "MAX_PIXELS",
    "MAX_ZIP_BYTES",
    "MAX_ZIP_RATIO",
    "ImportResult",
    "images_from_files",
    "images_from_folder",
    "images_from_zip",
    "thumbnail_features",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
#: Longest side of the picture kept for display; larger images are downscaled.
DISPLAY_MAX_SIDE = 1600
#: Largest image accepted, in pixels (width × height): about 40 megapixels. Checked from the
#: file's header before decoding; ``max_pixels=`` changes it.
MAX_PIXELS = 40_000_000
#: Refuse a zip whose files add up to more than this when uncompressed (``max_zip_bytes=``).
MAX_ZIP_BYTES = 2 * 1024**3
#: Refuse a zip entry larger than this when uncompressed (``max_entry_bytes=``).
MAX_ENTRY_BYTES = 128 * 1024**2
#: Refuse a zip entry that expands more than this many times (uncompressed / compressed) …
MAX_ZIP_RATIO = 200
#: … once it is past this size (a small plain BMP or TIFF can compress 500×; it cannot grow far).
RATIO_GRACE_BYTES = 1024**2
_CHUNK = 1024 * 1024

Featurize = Callable[["Image.Image"], np.ndarray]


def _featurizer(featurize: Featurize | str) -> Featurize:
    """A feature function, or the extractor registered under that name in :mod:`superintendent_core.features`."""
    if isinstance(featurize, str):
        # features builds on this module, so it is imported only when a name is used
        from ..features import get_extractor

        try:
            return get_extractor(featurize)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    if not callable(featurize):
        raise InvalidInput(f"featurize must be a function or an extractor's name, not {type(featurize).__name__}.")
    return featurize


@dataclass(frozen=True)
class ImportResult:
    """An importer's output: the batch to add, and notes for the user.

    Attributes
    ----------
    batch : ItemBatch
    notes : list of str
        Readable notes (skipped files, guessed encodings …) to show after import.
    skipped : list of (str, str)
        Each image file that was left out, as ``(file name, reason)``
        (``on_error="skip"``); empty when every image was imported.
    extractor : str
        The name of the extractor that made ``batch.features`` (``"pixels"``,
        ``"efficientnet_lite0"``); ``""`` for a feature function of your own.
    """

    batch: ItemBatch
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    extractor: str = ""

#: How many images ``featurize="auto"`` looks at to pick the extractor (the first ones).
AUTO_SAMPLE = 16


def _auto_extractor(candidates: list[tuple[str, bytes | Callable[[], bytes]]], limit: int) -> str:
    """The rule of :func:`superintendent_core.features.choose_image_extractor` over the first readable images."""
    from ..features import choose_image_extractor

    sample = []
    for _name, raw in candidates[: AUTO_SAMPLE * 2]:
        try:
            data = raw() if callable(raw) else raw
            choose_image_extractor([data], max_pixels=limit)  # readable? (decode_images names those that are not)
        except (InvalidInput, OSError, ValueError):
            continue
        sample.append(data)
        if len(sample) == AUTO_SAMPLE:
            break
    return choose_image_extractor(sample, max_pixels=limit) if sample else "pixels"


def thumbnail_features(image: Image.Image, size: int = 16) -> np.ndarray:
    """Grey ``size × size`` thumbnail as float32 in [0, 1], shape ``(size * size,)``."""
    grey = ImageOps.exif_transpose(image).convert("L")
    thumb = grey.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(thumb, dtype=np.float32).reshape(-1) / 255.0


def _is_image_name(name: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and "__MACOSX" not in name and base.lower().endswith(IMAGE_EXTENSIONS)


def _display_bytes(image: Image.Image, raw: bytes) -> bytes:
    """PNG/JPEG bytes for display: the original when it is already small PNG/JPEG."""
    if image.format in ("PNG", "JPEG") and max(image.size) <= DISPLAY_MAX_SIDE:
        return raw
    img = ImageOps.exif_transpose(image)
    if max(img.size) > DISPLAY_MAX_SIDE:
        img = img.copy()
        img.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if img.mode in ("RGB", "L") and image.format in ("JPEG", "WEBP", "TIFF") or img.mode == "CMYK":
        img.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
            img = img.convert("RGBA")
        img.save(out, format="PNG")
    return out.getvalue()


def _too_many_pixels(name: str, limit: int, size: tuple[int, int] | None = None) -> InvalidInput:
    shown = f" is {size[0]:,}×{size[1]:,} pixels," if size else " has more pixels than Pillow accepts,"
    return InvalidInput(
        f"{name}{shown} above the limit of {limit:,} pixels (a decompression bomb, or a huge scan); "
        "shrink it first."
    )


def _read_image(name: str, raw: bytes, featurize: Featurize, max_pixels: int) -> tuple[bytes, np.ndarray]:
    """(display bytes, features) or InvalidInput naming the file.

    The size is read from the header (``Image.open`` is lazy) and checked before
    any pixel is decoded.
    """
    if not raw:
        raise InvalidInput(f"{name} is empty (0 bytes).")
    try:
        image = Image.open(io.BytesIO(raw))
        w, h = image.size
        if w * h > max_pixels:
            raise _too_many_pixels(name, max_pixels, (w, h))
        image.load()
        feats = _features_of(name, featurize, image)
        display = _display_bytes(image, raw)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name, max_pixels) from None
    except Image.UnidentifiedImageError:
        raise InvalidInput(f"{name} is not a readable image (not an image format Pillow knows, or damaged).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"{name} is not a readable image (corrupt or truncated: {_reason(exc)}).") from None
    return display, feats


class FeatureFunctionError(InvalidInput):
    """The feature function's output cannot be features (not numbers, NaN/inf): the whole import is refused."""


def _features_of(name: str, featurize: Featurize, image: Image.Image) -> np.ndarray:
    out = featurize(image)
    try:
        arr = np.asarray(out)
        if arr.dtype == object or arr.dtype.kind not in "iufb":
            raise TypeError(arr.dtype)
        arr = arr.astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise FeatureFunctionError(
            f"The feature function returned {type(out).__name__} values for {name} that are not numbers; "
            "it must return a 1-D array of numbers. Nothing was imported."
        ) from None
    if arr.size == 0:
        raise FeatureFunctionError(f"The feature function returned no numbers for {name}. Nothing was imported.")
    if not np.isfinite(arr).all():
        raise FeatureFunctionError(
            f"The feature function returned NaN or infinite values for {name}. Nothing was imported."
        )
    return arr.astype(np.float32)


def _reason(exc: BaseException) -> str:
    """The library's reason, without any Python object repr (``<_io.BytesIO object at …>``) in it."""
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip(" :")
    return text or type(exc).__name__



def images_from_files(
    files: Iterable[tuple[str, bytes | Callable[[], bytes]]],
    *,
    featurize: Featurize | str = "auto",
    labels_from_folders: bool = False,
    on_error: str = "refuse",
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Images from ``(name, bytes)`` pairs (the other importers end here).

    Parameters
    ----------
    files : iterable of (str, bytes or callable)
        Names (relative paths, "/"-separated) and file contents, or zero-argument
        callables that read them (called one at a time, just before decoding, so
        only one file's bytes are held at once: the folder and zip importers).
    featurize : callable PIL.Image -> 1-D array, or str, default="auto"
        The model's features of one image; every image must give the same length.
        A name picks an extractor of :mod:`superintendent_core.features`:
        ``"efficientnet_lite0"`` (1280 pretrained ImageNet features, for photos)
        or ``"pixels"`` (the grey 16×16 thumbnail). ``"auto"`` applies the rule
        of :func:`superintendent_core.features.choose_image_extractor` to the
        first readable images (up to :data:`AUTO_SAMPLE`): ``"pixels"`` when every
        one is grey and at most 16 pixels on its longest side (the 8×8 digits),
        else ``"efficientnet_lite0"``. ``ImportResult.extractor`` says which.
    labels_from_folders : bool, default=False
        Use each file's top folder as its existing label (``cat/001.jpg`` -> ``"cat"``).
    on_error : {"refuse", "skip"}, default="refuse"
        ``"refuse"`` (``"raise"`` is the same): an unreadable image (corrupt,
        truncated, empty, above the pixel limit) refuses the whole import with
        ``InvalidInput`` naming the files. ``"skip"``: the readable images are
        imported and each unreadable one is listed in ``ImportResult.skipped``
        as ``(name, reason)`` (and summed up in ``notes``); when none is
        readable the import is refused all the same. The app uses ``"skip"``.
    max_pixels : int, default=MAX_PIXELS
        Largest image accepted (width × height), checked from the header before
        decoding. Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 179
        million pixels refused outright) still applies above it.
    progress : callable (done, total), optional
        Called after each image (also after one that is skipped).

    Returns
    -------
    ImportResult
        ``batch.features``: float32 ``(n, d)``; ``batch.payloads``: PNG/JPEG bytes;
        ``skipped``: the images left out, by name and reason.
    """
    if on_error not in ("refuse", "raise", "skip"):
        raise InvalidInput(f"on_error must be 'skip' or 'refuse', not {on_error!r}.")
    limit = int(max_pixels or MAX_PIXELS)
    files = list(files)
    notes: list[str] = []
    skipped = [n for n, _ in files if not _is_image_name(n)]
    candidates = [(n, b) for n, b in files if _is_image_name(n)]
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        notes.append(f"Skipped {len(skipped)} file(s) that are not images ({shown}).")
    if not candidates:
        raise InvalidInput(
            f"No images found (looked for {', '.join(IMAGE_EXTENSIONS)}); "
            + ("only other files were there." if skipped else "the upload is empty.")
        )
    if isinstance(featurize, str) and featurize == "auto":
        featurize = _auto_extractor(candidates, limit)
    name = featurize if isinstance(featurize, str) else ""
    result = decode_images(candidates, notes, featurize=_featurizer(featurize),
                           labels_from_folders=labels_from_folders, on_error=on_error, limit=limit,
                           progress=progress)
    return dataclasses.replace(result, extractor=name)


def decode_images(
    candidates: list[tuple[str, bytes | Callable[[], bytes]]],
    notes: list[str],
    *,
    featurize: Featurize,
    labels_from_folders: bool,
    on_error: str,
    limit: int,
    progress: Callable[[int, int], None] | None,
) -> ImportResult:
    """Decode image files whatever their names (:func:`images_from_files` after its name filter; the parquet importer)."""
    names, payloads, feats, errors = [], [], [], []
    unreadable: list[tuple[str, str]] = []
    for k, (name, raw) in enumerate(candidates):
        try:
            if callable(raw):
                raw = raw()  # a zip entry or a file: read now (limits checked there), dropped after decoding
            display, f = _read_image(name, raw, featurize, limit)
        except InvalidInput as exc:
            if isinstance(exc, ZipRefused | FeatureFunctionError):
                raise  # a hostile zip (bomb, size lie) refuses the whole zip, whatever on_error says
            errors.append(str(exc))
            unreadable.append((name, _skip_reason(name, str(exc))))
        except OSError as exc:  # a folder's file vanished or cannot be read
            errors.append(f"{name} cannot be read ({exc.strerror or type(exc).__name__}).")
            unreadable.append((name, f"cannot be read ({exc.strerror or type(exc).__name__})"))
        else:
            names.append(name)
            payloads.append(display)
            feats.append(f)
        if progress is not None:
            progress(k + 1, len(candidates))
    if errors:
        if on_error != "skip" or not names:
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            hint = "" if names else " None of the images could be read."
            raise InvalidInput(
                f"{len(errors)} image(s) cannot be read; nothing was imported: " + " ".join(errors[:3]) + more + hint
            )
        shown = ", ".join(n for n, _ in unreadable[:5]) + (f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else "")
        notes.append(f"Skipped {len(unreadable)} unreadable image(s): {shown}.")
    lengths = {len(f) for f in feats}
    if len(lengths) != 1:
        raise InvalidInput("The feature function returned arrays of different lengths for different images.")
    labels = None
    if labels_from_folders:
        labels = [PurePosixPath(n).parts[0] if len(PurePosixPath(n).parts) > 1 else None for n in names]
    features = np.vstack(feats).astype(np.float32)
    side = int(round(np.sqrt(features.shape[1])))
    batch = ItemBatch(
        names=tuple(names), kind="image", features=features, payloads=payloads, labels=labels,
        image_shape=(side, side) if side * side == features.shape[1] else None, pixel_max=1.0,
    )
    return ImportResult(batch, notes, unreadable)


def _skip_reason(name: str, message: str) -> str:
    """``"bad.png is not a readable image (…)."`` -> ``"is not a readable image (…)"``: the name is shown beside it."""
    return message.removeprefix(name).strip().rstrip(".") or message


def images_from_folder(path: str | os.PathLike, **kwargs: Any) -> ImportResult:
    """Images from every file under a folder (recursively; symlinks are not followed).

    Keyword arguments are those of :func:`images_from_files`; names are paths
    relative to ``path``.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder; give the path of a folder of images.")
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if p.is_symlink() or not p.is_file():
                continue
            rel = p.relative_to(root).as_posix()
            files.append((rel, p.read_bytes if _is_image_name(rel) else b""))  # read one at a time
    return images_from_files(files, **kwargs)


def _check_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is hostile, or None."""
    name = info.filename
    mode = info.external_attr >> 16
    if "\x00" in info.orig_filename:  # zipfile cuts the name there: "dog/\0.png" would pass as the folder "dog/"
        return f"{info.orig_filename.replace(chr(0), '<NUL>')!r} has a NUL character in its name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"{name!r} has an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return f"{name!r} points outside the zip with '..'"
    if stat.S_ISLNK(mode):
        return f"{name!r} is a symbolic link"
    if info.flag_bits & 0x1:
        return f"{name!r} is encrypted"
    return None


class ZipRefused(InvalidInput):
    """A hostile zip (a bomb, a size its header lies about): the whole zip is refused, never one entry skipped."""


def _mib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def _check_ratio(info: zipfile.ZipInfo, size: int, max_ratio: float) -> None:
    if size > RATIO_GRACE_BYTES and size > max_ratio * max(info.compress_size, 1):
        raise ZipRefused(
            f"The zip is refused: {info.filename!r} expands more than {max_ratio:g}× its compressed size "
            f"(a zip bomb?). Nothing was imported."
        )


def safe_zip_members(
    zf: zipfile.ZipFile,
    *,
    max_bytes: int = MAX_ZIP_BYTES,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
) -> list[zipfile.ZipInfo]:
    """The file entries of a zip, or ``InvalidInput`` when the zip is hostile.

    Checks names and the sizes the headers claim (a quick refusal); the sizes
    are checked again, for real, while each entry is read (:func:`read_zip_member`).
    """
    infos = zf.infolist()
    for info in infos:
        problem = _check_member(info)
        if problem:
            raise InvalidInput(f"The zip is refused: {problem}. Nothing was imported.")
    files = [i for i in infos if not i.is_dir()]
    seen: set[str] = set()
    for info in files:
        if info.filename in seen:
            raise InvalidInput(f"The zip holds {info.filename!r} twice; every file name must be unique.")
        seen.add(info.filename)
        if info.file_size > max_entry_bytes:
            raise InvalidInput(
                f"The zip is refused: {info.filename!r} is {_mib(info.file_size)} uncompressed, more than the "
                f"{_mib(max_entry_bytes)} allowed per file. Nothing was imported."
            )
        _check_ratio(info, info.file_size, max_ratio)
    total = sum(i.file_size for i in files)
    if total > max_bytes:
        raise InvalidInput(
            f"The zip expands to {_mib(total)}, more than the {_mib(max_bytes)} allowed. Nothing was imported."
        )
    return files


class ZipBudget:
    """The decompressed bytes still allowed for one zip (shared by its entries, read one at a time)."""

    def __init__(self, max_bytes: int = MAX_ZIP_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.max_bytes:
            raise ZipRefused(
                f"The zip is refused: its files expand to more than the {_mib(self.max_bytes)} allowed "
                "for one zip (a zip bomb?). Nothing was imported."
            )


def read_zip_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
    budget: ZipBudget | None = None,
    sink: IO[bytes] | None = None,
) -> bytes:
    """Read one entry in chunks, counting its REAL decompressed size (never the header's).

    Reading stops, with ``InvalidInput``, as soon as the entry passes
    ``max_entry_bytes``, expands more than ``max_ratio`` times its compressed
    size, or the zip's ``budget`` is spent. Returns the bytes, or ``b""`` when
    they went to ``sink`` (a file: then nothing is held in memory).
    """
    budget = budget if budget is not None else ZipBudget()
    out = io.BytesIO()  # getvalue() shares its buffer: one copy of the entry in memory, not two
    size = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                if size > max_entry_bytes:
                    raise ZipRefused(
                        f"The zip is refused: {info.filename!r} expands to more than the {_mib(max_entry_bytes)} "
                        "allowed per file. Nothing was imported."
                    )
                _check_ratio(info, size, max_ratio)
                budget.take(len(chunk))
                (sink or out).write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise InvalidInput(f"{info.filename} is damaged inside the zip ({_reason(exc)}).") from None
    if size != info.file_size:
        raise ZipRefused(f"{info.filename} does not have the size the zip says; the zip is refused.")
    return out.getvalue()


def open_zip(source: str | os.PathLike | bytes | IO[bytes]) -> zipfile.ZipFile:
    """A ZipFile from a path, bytes or a file object, or ``InvalidInput`` with a readable reason."""
    if isinstance(source, bytes | bytearray):
        if not source:
            raise InvalidInput("The upload is empty (0 bytes); choose the file again.")
        source = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        p = Path(source)
        if not p.is_file():
            raise InvalidInput(f"{p} does not exist or is not a file.")
        if p.stat().st_size == 0:
            raise InvalidInput(f"{p.name} is empty (0 bytes).")
    elif not (hasattr(source, "read") and hasattr(source, "seek")):
        raise InvalidInput(f"The zip must be a path, bytes or a file object, not {type(source).__name__}.")
    else:
        pos = source.tell()
        source.seek(0, io.SEEK_END)
        empty = source.tell() == 0
        source.seek(pos)
        if empty:
            raise InvalidInput("The upload is empty (0 bytes); choose the file again.")
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise InvalidInput("This file is not a zip archive (or it is damaged); upload a .zip file.") from None


def images_from_zip(
    source: str | os.PathLike | bytes | IO[bytes],
    *,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
    **kwargs: Any,
) -> ImportResult:
    """Images from a zip (a path, bytes, or an uploaded file object), read in memory one entry at a time.

    Parameters
    ----------
    source : path, bytes or file object
    max_zip_bytes : int, default=MAX_ZIP_BYTES
        Most bytes all entries may expand to together (2 GiB).
    max_entry_bytes : int, default=MAX_ENTRY_BYTES
        Most bytes one entry may expand to (128 MiB).
    max_ratio : float, default=MAX_ZIP_RATIO
        Most an entry past 1 MiB may expand (uncompressed / compressed).
    **kwargs
        Those of :func:`images_from_files`; names are the paths inside the zip.
    """
    with open_zip(source) as zf:
        members = safe_zip_members(zf, max_bytes=max_zip_bytes, max_entry_bytes=max_entry_bytes, max_ratio=max_ratio)
        budget = ZipBudget(max_zip_bytes)

        def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
            return lambda: read_zip_member(
                zf, info, max_entry_bytes=max_entry_bytes, max_ratio=max_ratio, budget=budget
            )

        files = [(i.filename, reader(i) if _is_image_name(i.filename) else b"") for i in members]
        return images_from_files(files, **kwargs)
