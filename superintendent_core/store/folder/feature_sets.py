"""Feature sets of a folder project: float32 (or float16) ``.npy`` chunks, memory-mapped on read.

Layout, under the project folder::

    featuresets/<name>/meta.json          {"dim": d} or {"dim": d, "dtype": "float16"}
                                          (written once, by the first chunk; no "dtype": float32)
    featuresets/<name>/c000001.npy        float32 or float16 (k, d): the chunk's rows
    featuresets/<name>/c000001.ids.npy    int64 (k,): the chunk's item ids

A chunk is committed when its ids file exists: the rows file is written
atomically first (temporary file, fsync, rename), then the ids file the same way,
so a crash leaves either a whole chunk or an orphan rows file (ignored;
the next chunk takes a later number). Reading maps the rows files (``np.load(mmap_mode="r")``):
a process never decodes a set whole; the pages it touches are shared with
every session through the OS page cache; a float16 set is widened to float32
only for the rows a read asks for. An earlier version refuses a float16 set
with a message (its rows are not float32) and reads the rest of the project. The rules are in
:mod:`superintendent_core.store.feature_sets`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput, VersionError
from ..feature_sets import FeatureSetIndex, check_feature_rows, check_set_name, set_dtype
from .files import fsync_dir, write_atomic

__all__ = ["FolderFeatureSets"]

FOLDER = "featuresets"
_CHUNK = re.compile(r"^c(\d{6,})\.ids\.npy$")


def _save_npy(array: np.ndarray) -> Any:
    def write(path: Path) -> None:
        with open(path, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
    return write


class FolderFeatureSets:
    """The feature-set methods of :class:`~.store.FolderStore` (state: ``_fsets``, set up lazily)."""

    def _fsets_state(self) -> dict[str, FeatureSetIndex]:
        state = getattr(self, "_fsets", None)
        if state is None:
            state = {}
            root = self.path / FOLDER
            if root.is_dir():
                for d in sorted(root.iterdir()):
                    if d.is_dir() and (d / "meta.json").exists():
                        state[d.name] = self._load_set(d)
            self._fsets = state
        return state

    def _load_set(self, folder: Path) -> FeatureSetIndex:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            index = FeatureSetIndex(int(meta["dim"]), meta.get("dtype", "float32"))
            chunks = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _CHUNK.match(p.name)))
            for _, ids_path in chunks:
                rows_path = ids_path.with_name(ids_path.name[: -len(".ids.npy")] + ".npy")
                ids = np.load(ids_path, allow_pickle=False)
                rows = np.load(rows_path, mmap_mode="r", allow_pickle=False)
                if rows.dtype != np.dtype(index.dtype) or rows.shape != (len(ids), index.dim):
                    raise ValueError(f"{rows_path.name} holds {rows.dtype} {rows.shape}, "
                                     f"expected {index.dtype} ({len(ids)}, {index.dim})")
                index.add(ids.astype(np.int64, copy=False), rows)
        except (OSError, ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise VersionError(
                f"The feature set {folder.name!r} of the project cannot be read ({exc}). Delete the folder "
                f"{folder} to compute it again; labels are not affected."
            ) from None
        return index

    def feature_sets(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            self._check_open()
            return {name: (s.dim, s.n_stored) for name, s in self._fsets_state().items()}

    def feature_set_dtypes(self) -> dict[str, str]:
        with self._lock:
            self._check_open()
            return {name: s.dtype for name, s in self._fsets_state().items()}

    def missing_feature_ids(self, name: str) -> np.ndarray:
        with self._lock:
            self._check_open()
            check_set_name(name)
            s = self._fsets_state().get(name)
            return np.arange(len(self), dtype=np.int64) if s is None else s.missing(len(self))

    def write_feature_set(
        self, name: str, ids: Sequence[int] | np.ndarray, matrix: Any, *, dtype: str | None = None
    ) -> int:
        with self._lock:
            self._check_open()
            check_set_name(name)
            state = self._fsets_state()
            s = state.get(name)
            dtype = set_dtype(name, None if s is None else s.dtype, dtype, self._settings.feature_dtype)
            id_arr, rows = check_feature_rows(ids, matrix, n_items=len(self), dim=None if s is None else s.dim,
                                              dtype=dtype)
            folder = self.path / FOLDER / name
            if s is None:
                folder.mkdir(parents=True, exist_ok=True)
                fsync_dir(folder.parent)
                meta = json.dumps({"dim": int(rows.shape[1])} | ({} if dtype == "float32" else {"dtype": dtype}))
                write_atomic(folder / "meta.json", lambda p: p.write_bytes(meta.encode()))
                s = state[name] = FeatureSetIndex(rows.shape[1], dtype)
            new = s.new_ids(id_arr)
            if not new.any():
                return 0
            id_arr, rows = id_arr[new], rows[new]
            numbers = [int(m.group(1)) for p in folder.iterdir() if (m := re.match(r"^c(\d{6,})\.", p.name))]
            stem = f"c{max(numbers, default=0) + 1:06d}"
            write_atomic(folder / f"{stem}.npy", _save_npy(rows))
            try:
                write_atomic(folder / f"{stem}.ids.npy", _save_npy(id_arr))
            except BaseException:
                (folder / f"{stem}.npy").unlink(missing_ok=True)
                raise
            s.add(id_arr, np.load(folder / f"{stem}.npy", mmap_mode="r", allow_pickle=False))
            return len(id_arr)

    def _feature_set_files(self) -> list[str]:
        """Paths (relative, ``/``-separated) of every committed file of every feature set (under the lock).

        Chunks are only ever added (never rewritten), so open handles to these stay a consistent copy.
        """
        out: list[str] = []
        for name in self._fsets_state():
            folder = self.path / FOLDER / name
            out.append(f"{FOLDER}/{name}/meta.json")
            for p in sorted(folder.iterdir()):
                if _CHUNK.match(p.name):
                    out += [f"{FOLDER}/{name}/{p.name[: -len('.ids.npy')]}.npy", f"{FOLDER}/{name}/{p.name}"]
        return out

    def _feature_set_rows(self, name: str, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of the feature set ``name`` for ``ids`` (each must be stored), whether active or not (copies)."""
        with self._lock:
            self._check_open()
            return self._set_features(check_set_name(name), self._check_ids(ids))

    def _set_features(self, name: str, ids: np.ndarray) -> np.ndarray:
        """Rows of the active set for ``ids`` (called under the lock by ``_features``)."""
        s = self._fsets_state().get(name)
        if s is None:
            raise InvalidInput(f"The project's feature set {name!r} does not exist; choose another in the settings.")
        return s.gather(ids, name)

    def _set_in_use(self) -> str:
        name = self._settings.feature_set
        if not name:
            return ""
        s = self._fsets_state().get(name)
        return name if s is not None and s.n_stored >= len(self) else ""

    def features_in_use(self) -> str:
        with self._lock:
            self._check_open()
            return self._set_in_use()

    def _check_feature_set_setting(self, name: str) -> None:
        """Refuse making ``name`` the project's features unless it holds every item."""
        if name == "":
            return
        check_set_name(name)
        s = self._fsets_state().get(name)
        if s is None:
            raise InvalidInput(f"There is no feature set {name!r}; the project has {sorted(self._fsets_state())}.")
        missing = s.missing(len(self))
        if len(missing):
            raise InvalidInput(
                f"The feature set {name!r} has no features for {len(missing)} item(s) yet; it can become the "
                "project's features once it holds every item."
            )
