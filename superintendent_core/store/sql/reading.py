"""Reading a SQL project's items: names, what to display, features (cached chunks), true labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ..items import PoolShape, render_grey_png
from ..protocol import Item, ProjectSettings
from .features import Chunk, decode_chunk

__all__ = ["SQLReading"]


def _mime(data: bytes) -> str:
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"


class SQLReading:
    """Reading items: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def _ensure_chunks(self, conn: Connection, ids: np.ndarray) -> np.ndarray:
        """Index into the chunk list of each id (reloads the list when ids are beyond it)."""
        if not self._cache.covers(ids):
            rows = self._x(
                conn,
                "SELECT start_id, stop_id, image_h, image_w, pixel_max, codec, dtype, n_features "
                "FROM si_features ORDER BY start_id",
            ).all()
            self._cache.set_chunks(
                [
                    Chunk(
                        int(r[0]),
                        int(r[1]),
                        (int(r[2]), int(r[3])) if r[2] is not None else None,
                        float(r[4]) if r[4] is not None else 255.0,
                        r[5],
                        r[6],
                        None if r[7] is None else int(r[7]),
                    )
                    for r in rows
                ]
            )
        return self._cache.which(ids)

    def _chunk_data(
        self, conn: Connection, which: Sequence[int], feature_kind: str
    ) -> dict[int, Any]:
        def fetch(starts: list[int]) -> dict[int, Any]:
            names = ("start_id", "encoding", "codec", "dtype", "n_features", "raw_bytes", "data")
            cols = ", ".join(names)
            if self.d.pg:
                # Binary result format: bytea arrives as bytes, not as hex text twice its size.
                raw = conn.connection.driver_connection
                with raw.cursor(binary=True) as cur:
                    cur.execute(
                        f"SELECT {cols} FROM si_features WHERE start_id = ANY(%s)", (starts,)
                    )
                    rows = cur.fetchall()
            else:
                marks = ",".join("?" * len(starts))
                rows = conn.exec_driver_sql(
                    f"SELECT {cols} FROM si_features WHERE start_id IN ({marks})", tuple(starts)
                ).all()
            return {
                int(r[0]): decode_chunk(dict(zip(names, r, strict=True)), feature_kind)
                for r in rows
            }

        return self._cache.get(which, fetch)

    def _features(
        self, conn: Connection, ids: np.ndarray, shape: PoolShape | None, feature_kind: str,
        feature_set: str = "",
    ) -> Any:
        if feature_set and (name := self._set_in_use(conn, feature_set)):  # a feature set (feature_sets.py)
            return self._set_features(conn, name, ids)
        if shape is None or len(ids) == 0:
            if feature_kind == "array":
                return np.empty((0, shape.n_features if shape else 0), dtype=np.float32)
            if feature_kind == "text":
                return []
            return pd.DataFrame(columns=list(shape.feature_columns) if shape else [])
        kind = shape.feature_kind
        which = self._ensure_chunks(conn, ids)
        uniq = np.unique(which).tolist()
        data = self._chunk_data(conn, uniq, kind)
        chunks = self._cache.chunks
        if kind == "array":
            out = np.empty((len(ids), shape.n_features), dtype=np.float32)
            for k in uniq:
                mask = which == k
                out[mask] = data[k][ids[mask] - chunks[k].start]
            return out
        if kind == "text":
            texts: list[Any] = [None] * len(ids)
            for k in uniq:
                for pos in np.flatnonzero(which == k).tolist():
                    texts[pos] = data[k][int(ids[pos]) - chunks[k].start]
            return texts
        parts, positions = [], []
        for k in uniq:
            pos = np.flatnonzero(which == k)
            parts.append(data[k].iloc[ids[pos] - chunks[k].start])
            positions.append(pos)
        df = pd.concat(parts, ignore_index=True)
        order = np.argsort(np.concatenate(positions), kind="stable")
        return df.iloc[order].reset_index(drop=True)

    def _head(self, conn: Connection) -> tuple[ProjectSettings, PoolShape | None]:
        row = self._x(conn, "SELECT settings, shape FROM si_project WHERE id = 1").one()
        return self._parse_settings(row[0]), self._parse_shape(row[1])

    def _base_features(self, ids: Sequence[int] | np.ndarray) -> Any:
        """The features the items were added with, whatever feature set is active (for copies)."""
        arr = self._check_ids(ids)

        def work(conn: Connection) -> Any:
            settings, shape = self._head(conn)
            return self._features(conn, arr, shape, shape.feature_kind if shape else settings.feature_kind)

        return self._read(work)

    def _feature_set_rows(self, name: str, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of the feature set ``name`` for ``ids`` (each must be stored), whether active or not (copies)."""
        arr = self._check_ids(ids)
        return self._read(lambda conn: self._set_features(conn, name, arr))

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        arr = self._check_ids(ids)

        def work(conn: Connection) -> Any:
            settings, shape = self._head(conn)
            return self._features(
                conn, arr, shape, shape.feature_kind if shape else settings.feature_kind, settings.feature_set
            )

        return self._read(work)

    def item(self, item_id: int) -> Item:
        item_id = self._check_id(item_id)
        row = self._fetch(
            "SELECT p.settings, i.name, d.display, d.display_text FROM si_project p "
            "CROSS JOIN si_items i JOIN si_item_data d ON d.id = i.id WHERE p.id = 1 AND i.id = :id",
            {"id": item_id},
            how="one",
        )
        settings = self._parse_settings(row[0])
        name, blob, text = row[1], row[2], row[3]
        if settings.kind == "table":
            return Item(item_id, name, "table", json.loads(text))
        if settings.kind == "text":
            return Item(item_id, name, "text", text)
        if blob is None:
            blob = self._draw(item_id)
        blob = bytes(blob)
        return Item(item_id, name, "image", blob, _mime(blob))

    def _draw(self, item_id: int) -> bytes:
        """A grey PNG of an image item's features (items imported as arrays with an image shape)."""
        if not self._cache.covers(np.array([item_id])):
            self._read(lambda c: self._ensure_chunks(c, np.array([item_id])))
        k = int(self._cache.which(np.array([item_id]))[0])
        chunk = self._cache.chunks[k]
        if chunk.image_shape is None:
            raise StoreError(f"Item {item_id} has no picture to show.")
        block = self._cache.peek(k)
        where = chunk.row_slice(item_id)
        if block is not None:
            values = block[item_id - chunk.start]
        elif where is None:
            values = self._read(lambda c: self._chunk_data(c, [k], "array"))[k][
                item_id - chunk.start
            ]
        else:  # one round trip for this item's bytes only, not the whole chunk
            func = "substring(data FROM :off FOR :len)" if self.d.pg else "substr(data, :off, :len)"
            data = self._fetch(
                f"SELECT {func} FROM si_features WHERE start_id = :s",
                {"off": where[0] + 1, "len": where[1], "s": chunk.start},
                how="scalar_one",
            )
            values = np.frombuffer(bytes(data), dtype=np.dtype(chunk.dtype))
        return render_grey_png(values, chunk.image_shape, chunk.pixel_max)

    def _by_ids(self, conn: Connection, ids: np.ndarray, sql: str) -> dict[int, tuple]:
        """Rows of ``sql`` (``SELECT id, … FROM t WHERE {where}``) for ``ids``, keyed by id."""
        if len(ids) == 0:
            return {}
        lo, hi = int(ids.min()), int(ids.max())
        if self.d.pg and (hi - lo + 1) > 4 * len(ids):
            rows = self._x(
                conn, sql.replace("{where}", "id = ANY(:ids)"), {"ids": np.unique(ids).tolist()}
            )
        else:
            rows = self._x(
                conn, sql.replace("{where}", "id BETWEEN :lo AND :hi"), {"lo": lo, "hi": hi}
            )
        return {int(r[0]): tuple(r[1:]) for r in rows}

    def names(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        arr = self._check_ids(ids)
        found = self._read(
            lambda c: self._by_ids(c, arr, "SELECT id, name FROM si_items WHERE {where}")
        )
        return [found[int(i)][0] for i in arr.tolist()]

    def unlabelled_ids(self) -> np.ndarray:
        rows = self._fetch("SELECT id FROM si_items WHERE n_active = 0 ORDER BY id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def true_labels(self, ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
        arr = self._check_ids(ids)

        def work(conn: Connection) -> np.ndarray | None:
            if not self._x(
                conn, "SELECT has_true_labels FROM si_project WHERE id = 1"
            ).scalar_one():
                return None
            found = self._by_ids(conn, arr, "SELECT id, true_label FROM si_item_data WHERE {where}")
            out = np.empty(len(arr), dtype=object)
            out[:] = [found[int(i)][0] for i in arr.tolist()]
            return out

        return self._read(work)
