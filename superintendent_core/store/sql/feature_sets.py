"""Feature sets in the SQL store: one row per written chunk (ids and float32/float16 rows as raw bytes).

Tables (created by :func:`create_feature_set_tables`, ``CREATE TABLE IF NOT
EXISTS``, when a store opens; older databases gain them the same way)::

    si_feature_sets        (name TEXT PRIMARY KEY, dim INTEGER NOT NULL, created DOUBLE NOT NULL)
    si_feature_set_chunks  (name TEXT NOT NULL, seq BIGINT NOT NULL, n BIGINT NOT NULL,
                            ids BLOB/BYTEA NOT NULL,   -- int64 little-endian, n values
                            data BLOB/BYTEA NOT NULL,  -- float32 or float16 little-endian, n x dim, C order
                            PRIMARY KEY (name, seq))

A chunk's dtype is its byte count (``n * dim * 4`` float32, ``* 2`` float16:
:func:`~superintendent_core.store.feature_sets.chunk_dtype`), so float16 sets
need no new column nor schema version; a set's dtype is its first chunk's, and
every later chunk is written in it. (An earlier version cannot read a float16
chunk: it fails on its size rather than misreading it.)

A chunk is one transaction; the set's row is locked (``FOR UPDATE`` on
PostgreSQL, the write lock on SQLite) while a chunk is numbered and checked
against what is stored, so two processes writing one set never both store an id.
Chunks are never updated: a process keeps the decoded chunks it has read and
asks only for chunks after the last one it knows. The rules are in
:mod:`superintendent_core.store.feature_sets`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from ..errors import InvalidInput, VersionError
from ..feature_sets import (
    FeatureSetIndex,
    check_feature_rows,
    check_set_name,
    chunk_dtype,
    set_dtype,
)
from .engine import Dialect

__all__ = ["FEATURE_SET_DDL", "SQLFeatureSets", "create_feature_set_tables"]


def FEATURE_SET_DDL(d: Dialect) -> tuple[str, ...]:  # noqa: N802  (a constant per dialect)
    """The statements that create the feature-set tables (idempotent)."""
    blob = "BYTEA" if d.pg else "BLOB"
    real = "DOUBLE PRECISION" if d.pg else "REAL"
    return (
        "CREATE TABLE IF NOT EXISTS si_feature_sets ("
        f"name TEXT PRIMARY KEY, dim INTEGER NOT NULL, created {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS si_feature_set_chunks ("
        f"name TEXT NOT NULL, seq BIGINT NOT NULL, n BIGINT NOT NULL, ids {blob} NOT NULL, "
        f"data {blob} NOT NULL, PRIMARY KEY (name, seq))",
    )


def create_feature_set_tables(conn: Connection, d: Dialect) -> None:
    """Create the feature-set tables if they are missing (in the open transaction)."""
    for ddl in FEATURE_SET_DDL(d):
        conn.exec_driver_sql(ddl)


class SQLFeatureSets:
    """The feature-set methods of :class:`~.store.SQLStore`."""

    def _fset_cache(self) -> tuple[threading.Lock, dict[str, tuple[FeatureSetIndex, int]]]:
        cache = getattr(self, "_fsets", None)
        if cache is None:
            cache = self._fsets = (threading.Lock(), {})
        return cache

    def _refresh_set(self, conn: Connection, name: str) -> FeatureSetIndex | None:
        lock, cache = self._fset_cache()
        with lock:
            entry = cache.get(name)
            if entry is None:
                row = self._x(conn, "SELECT dim FROM si_feature_sets WHERE name = :n", {"n": name}).first()
                if row is None:
                    return None
                entry = (FeatureSetIndex(int(row[0])), 0)
            index, last = entry
            rows = self._x(
                conn, "SELECT seq, n, ids, data FROM si_feature_set_chunks WHERE name = :n AND seq > :s ORDER BY seq",
                {"n": name, "s": last},
            ).all()
            for seq, n, ids_blob, data_blob in rows:
                ids = np.frombuffer(bytes(ids_blob), dtype="<i8", count=int(n)).astype(np.int64, copy=False)
                data_blob = bytes(data_blob)
                try:
                    dtype = chunk_dtype(len(data_blob), int(n), index.dim)
                    if index.chunks and dtype != index.dtype:
                        raise ValueError(f"chunk {seq} is {dtype}, the set's first chunk {index.dtype}")
                except ValueError as exc:
                    raise VersionError(
                        f"The feature set {name!r} of the project cannot be read ({exc}); delete it to compute "
                        "it again. Labels are not affected."
                    ) from None
                if not index.chunks:
                    index.dtype = dtype  # a set's dtype is its first chunk's
                data = np.frombuffer(data_blob, dtype=np.dtype(dtype).newbyteorder("<")).reshape(int(n), index.dim)
                index.add(ids, data)
                last = int(seq)
            cache[name] = (index, last)
            return index

    def feature_sets(self) -> dict[str, tuple[int, int]]:
        def work(conn: Connection) -> dict[str, tuple[int, int]]:
            names = [r[0] for r in self._x(conn, "SELECT name FROM si_feature_sets ORDER BY name").all()]
            out = {}
            for name in names:
                index = self._refresh_set(conn, name)
                if index is not None:
                    out[name] = (index.dim, index.n_stored)
            return out

        self._check_open()
        return self._read(work)

    def feature_set_dtypes(self) -> dict[str, str]:
        def work(conn: Connection) -> dict[str, str]:
            names = [r[0] for r in self._x(conn, "SELECT name FROM si_feature_sets ORDER BY name").all()]
            return {name: index.dtype for name in names if (index := self._refresh_set(conn, name)) is not None}

        self._check_open()
        return self._read(work)

    def missing_feature_ids(self, name: str) -> np.ndarray:
        check_set_name(name)
        self._check_open()

        def work(conn: Connection) -> np.ndarray:
            n = int(self._x(conn, "SELECT n_items FROM si_project WHERE id = 1").scalar_one())
            index = self._refresh_set(conn, name)
            return np.arange(n, dtype=np.int64) if index is None else index.missing(n)

        return self._read(work)

    def write_feature_set(
        self, name: str, ids: Sequence[int] | np.ndarray, matrix: Any, *, dtype: str | None = None
    ) -> int:
        check_set_name(name)
        self._check_open()

        def work(conn: Connection) -> int:
            n_items = int(self._x(conn, "SELECT n_items FROM si_project WHERE id = 1").scalar_one())
            row = self._x(conn, "SELECT dim FROM si_feature_sets WHERE name = :n {d.for_update}",
                          {"n": name}).first()
            default = self._parse_settings(
                self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()).feature_dtype

            def stored_dtype() -> str | None:  # None: no chunk yet, the set's dtype is not fixed
                index = self._refresh_set(conn, name)
                return index.dtype if index is not None and index.chunks else None

            want = set_dtype(name, None if row is None else stored_dtype(), dtype, default)
            id_arr, rows = check_feature_rows(ids, matrix, n_items=n_items, dim=None if row is None else int(row[0]),
                                              dtype=want)
            if row is None:  # a new set; another process may be creating it at this moment
                self._x(conn, "INSERT INTO si_feature_sets (name, dim, created) VALUES (:n, :d, :t) "
                        "ON CONFLICT (name) DO NOTHING", {"n": name, "d": int(rows.shape[1]), "t": time.time()})
                row = self._x(conn, "SELECT dim FROM si_feature_sets WHERE name = :n {d.for_update}",
                              {"n": name}).first()
                want = set_dtype(name, stored_dtype(), dtype, want)  # the other process's, if it won
                id_arr, rows = check_feature_rows(ids, matrix, n_items=n_items, dim=int(row[0]), dtype=want)
            index = self._refresh_set(conn, name)
            if index is None:  # created in this transaction
                last = 0
            else:
                new = index.new_ids(id_arr)
                id_arr, rows = id_arr[new], rows[new]
                last = self._fset_cache()[1][name][1]
            if len(id_arr) == 0:
                return 0
            top = self._x(conn, "SELECT MAX(seq) FROM si_feature_set_chunks WHERE name = :n", {"n": name}).scalar()
            seq = max(int(top or 0), last) + 1
            self._x(conn, "INSERT INTO si_feature_set_chunks (name, seq, n, ids, data) VALUES (:n, :s, :k, :i, :x)",
                    {"n": name, "s": seq, "k": len(id_arr), "i": id_arr.astype("<i8").tobytes(),
                     "x": rows.astype(rows.dtype.newbyteorder("<")).tobytes()})
            return len(id_arr)

        return self._run(work)

    def _set_features(self, conn: Connection, name: str, ids: np.ndarray) -> np.ndarray:
        index = self._refresh_set(conn, name)
        if index is None:
            raise InvalidInput(f"The project's feature set {name!r} does not exist; choose another in the settings.")
        return index.gather(ids, name)

    def _set_in_use(self, conn: Connection, settings_set: str) -> str:
        """The set ``features`` returns: the setting's set while it holds every item, else ``""``."""
        if not settings_set:
            return ""
        n_items = int(self._x(conn, "SELECT n_items FROM si_project WHERE id = 1").scalar_one())
        index = self._refresh_set(conn, settings_set)
        return settings_set if index is not None and index.n_stored >= n_items else ""

    def features_in_use(self) -> str:
        self._check_open()
        return self._read(lambda conn: self._set_in_use(
            conn, self._parse_settings(self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one())
            .feature_set))

    def _check_feature_set_setting(self, conn: Connection, name: str, n_items: int) -> None:
        if name == "":
            return
        check_set_name(name)
        index = self._refresh_set(conn, name)
        if index is None:
            raise InvalidInput(f"There is no feature set {name!r} in this project.")
        missing = index.missing(n_items)
        if len(missing):
            raise InvalidInput(
                f"The feature set {name!r} has no features for {len(missing)} item(s) yet; it can become the "
                "project's features once it holds every item."
            )
