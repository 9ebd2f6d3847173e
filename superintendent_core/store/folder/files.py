"""The project folder's files: names, format version, and writing a file so a crash cannot tear it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DISPLAY_GROUP_BYTES",
    "FORMAT",
    "FORMAT_VERSION",
    "LOG",
    "MANIFEST",
    "OWN_PREFIXES",
    "fsync_dir",
    "repair_hint",
    "utc_times",
    "write_atomic",
]

FORMAT = "superintendent-project"
FORMAT_VERSION = 1
MANIFEST = "project.json"
LOG = "labels.log"
OWN_PREFIXES = ("items-", "labels-", "order-", "history-", "suggestions-")
DISPLAY_GROUP_BYTES = 1 << 20


def repair_hint(path: Path) -> str:
    """How to repair a damaged project (the sentence every refusal ends with)."""
    return (f"Keep a copy of {path} as it is, then restore the project from its last project zip "
            "(Review & export page, or superintendent_core.import_project_zip).")


def fsync_dir(path: Path) -> None:
    """fsync a folder, so the names of files just created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file via ``write(tmp_path)``, fsync it, rename it into place, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def utc_times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as UTC timestamps, to the microsecond (so they survive a round trip)."""
    us = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")

