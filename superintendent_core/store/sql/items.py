"""Adding items to a SQL project: one transaction per batch (rows, display data, feature chunks)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from .. import _rules
from ..errors import InvalidInput, StoreError
from ..items import PoolShape, PreparedBatch, StreamState, prepare_batch
from ..ledger import EVENT_LABEL
from ..protocol import ItemBatch, ProjectSettings
from ..settings import check_classes
from .features import encode_chunks
from .schema import TALLY_CLASS, TALLY_LABELLER, UNRANKED

__all__ = ["SQLItems"]


class SQLItems:
    """Adding items: methods of :class:`~.store.SQLStore` (its state is set up there)."""

    def __len__(self) -> int:
        return self._n_items()

    def add_items(self, batch: ItemBatch) -> np.ndarray:
        self._check_open()
        for _ in range(3):
            head = self._fetch("SELECT settings, shape FROM si_project WHERE id = 1", how="one")
            settings = self._parse_settings(head[0])
            shape = self._parse_shape(head[1])
            if not settings.classes:
                found = _rules.batch_classes(batch, settings.multi_label)
                if found:
                    settings = dataclasses.replace(settings, classes=check_classes(found))
            prepared = prepare_batch(batch, settings, shape)
            if shape is None and (
                settings.kind != prepared.kind
                or settings.feature_kind != prepared.shape.feature_kind
            ):
                settings = dataclasses.replace(
                    settings, kind=prepared.kind, feature_kind=prepared.shape.feature_kind
                )
            try:
                ids = self._run(
                    lambda c, p=prepared, s=settings, h=(head[0], head[1]): self._insert(c, p, s, h)
                )
            except sa_exc.IntegrityError:
                raise self._duplicate_names(prepared.names) from None
            if ids is not None:
                self._known_n = max(self._known_n, int(ids[-1]) + 1)
                return ids
            # The project changed between validation and insert (another process): validate again.
        raise StoreError("The project kept changing while adding items; try again.")

    def _duplicate_names(self, names: list[str]) -> InvalidInput:
        def work(conn: Connection) -> list[str]:
            for k in range(0, len(names), 500):
                part = names[k : k + 500]
                if self.d.pg:
                    rows = self._x(
                        conn, "SELECT name FROM si_items WHERE name = ANY(:n) LIMIT 3", {"n": part}
                    )
                else:
                    marks = ",".join("?" * len(part))
                    rows = conn.exec_driver_sql(
                        f"SELECT name FROM si_items WHERE name IN ({marks}) LIMIT 3", tuple(part)
                    )
                found = [r[0] for r in rows]
                if found:
                    return found
            return []

        found = self._read(work)
        if found:
            return _rules.names_taken(found)
        return InvalidInput(
            "Two items in the batch have the same name; every item needs a unique name."
        )

    def _insert(
        self, conn: Connection, prepared: PreparedBatch, settings: ProjectSettings, head: tuple
    ) -> np.ndarray | None:
        row = self._x(
            conn,
            "SELECT settings, shape, n_items FROM si_project WHERE id = 1 {d.for_update}",
        ).one()
        if (row[0], row[1]) != head:
            return None  # changed since validation
        start = int(row[2])
        self._insert_rows(conn, prepared, settings, start)
        self._set_pool(conn, settings, prepared.shape, start + len(prepared), prepared.true_labels is not None)
        return np.arange(start, start + len(prepared), dtype=np.int64)

    def add_items_stream(self, batches: Iterable[ItemBatch]) -> np.ndarray:
        """Add the rows of every batch of ``batches`` as one batch, in ONE transaction (all or nothing).

        Each chunk is validated against the project (locked for the transaction) and
        inserted as it comes; a refusal in a late chunk, a name used twice or a failing
        write rolls everything back. Not retried: the chunks are read once.
        """
        self._check_open()
        state_box: list[StreamState] = []

        def work(conn: Connection) -> np.ndarray:
            if state_box:
                raise StoreError("The import met a conflicting write and its rows cannot be read again; "
                                 "nothing was added. Import the file again.")
            row = self._x(
                conn, "SELECT settings, shape, n_items FROM si_project WHERE id = 1 {d.for_update}"
            ).one()
            state = StreamState(self._parse_settings(row[0]), self._parse_shape(row[1]))
            state_box.append(state)
            start = int(row[2])
            for batch in batches:
                at = start + state.n
                prepared = state.prepare(batch)
                self._insert_rows(conn, prepared, state.settings, at)
            state.check_names()
            assert state.shape is not None
            self._set_pool(conn, state.settings, state.shape, start + state.n, state.has_true)
            return np.arange(start, start + state.n, dtype=np.int64)

        try:
            ids = self._run(work)
        except sa_exc.IntegrityError:
            if state_box:
                state_box[0].check_names()  # a name used twice in the import: named with both rows
            names = state_box[0].all_names().to_pylist() if state_box else []
            raise self._duplicate_names(names) from None
        self._known_n = max(self._known_n, int(ids[-1]) + 1)
        return ids

    def _set_pool(self, conn: Connection, settings: ProjectSettings, shape: PoolShape, n_items: int,
                  has_true: bool) -> None:
        self._x(
            conn,
            "UPDATE si_project SET settings = :s, shape = :sh, n_items = :n, "
            "has_true_labels = (has_true_labels OR :t) WHERE id = 1",
            {"s": json.dumps(settings.to_dict()), "sh": json.dumps(shape.to_dict()), "n": n_items,
             "t": has_true},
        )

    def _insert_rows(self, conn: Connection, prepared: PreparedBatch, settings: ProjectSettings,
                     start: int) -> None:
        """The rows, display data, feature chunks and labels of ``prepared`` from id ``start`` on."""
        n = len(prepared)
        now = time.time()
        positions = prepared.label_positions.tolist()
        train: list[str | None] = [None] * n
        for pos, text in zip(positions, prepared.label_values, strict=True):
            train[pos] = text
        labelled_done = 1 >= settings.overlap
        items = [
            (
                start + k,
                prepared.names[k],
                UNRANKED + start + k,
                0 if train[k] is None else 1,
                train[k] is not None and labelled_done,
                train[k],
            )
            for k in range(n)
        ]
        self._bulk(
            conn,
            "si_items",
            ("id", "name", "rank", "n_active", "done", "train_label"),
            items,
            ("int8", "text", "int8", "int4", "bool", "text"),
        )
        display, truth, image = prepared.display, prepared.true_labels, prepared.kind == "image"
        if isinstance(display, pa.Array):  # table rows encoded by column (TableRows)
            display = display.to_pylist()
        data = [
            (
                start + k,
                display[k] if display is not None and image else None,
                display[k] if display is not None and not image else None,
                None if truth is None else truth[k],
            )
            for k in range(n)
        ]
        self._bulk(
            conn,
            "si_item_data",
            ("id", "display", "display_text", "true_label"),
            data,
            ("int8", "bytea", "text", "text"),
        )
        h, w = prepared.image_shape if prepared.image_shape else (None, None)
        chunks = [
            (
                c.start,
                c.stop,
                c.encoding,
                c.codec,
                c.dtype,
                c.n_features,
                h,
                w,
                prepared.pixel_max,
                c.raw_bytes,
                c.data,
            )
            for c in encode_chunks(prepared.features, prepared.shape.feature_kind, start)
        ]
        self._bulk(
            conn,
            "si_features",
            (
                "start_id",
                "stop_id",
                "encoding",
                "codec",
                "dtype",
                "n_features",
                "image_h",
                "image_w",
                "pixel_max",
                "raw_bytes",
                "data",
            ),
            chunks,
            (
                "int8",
                "int8",
                "varchar",
                "varchar",
                "varchar",
                "int4",
                "int4",
                "int4",
                "float8",
                "int8",
                "bytea",
            ),
        )
        if positions:
            who = prepared.labeller
            events = [
                (EVENT_LABEL, start + pos, who, text, now, None, True)
                for pos, text in zip(positions, prepared.label_values, strict=True)
            ]
            self._bulk(
                conn,
                "si_events",
                ("kind", "item_id", "labeller", "label", "at", "seconds", "active"),
                events,
                ("int2", "int8", "text", "text", "float8", "float8", "bool"),
            )
            per_class: dict[str, int] = {}
            for text in prepared.label_values:
                per_class[text] = per_class.get(text, 0) + 1
            for key, k in sorted(per_class.items()):
                self._tally_add(conn, TALLY_CLASS, key, k)
            self._tally_add(conn, TALLY_LABELLER, who, len(positions))
            self._x(
                conn,
                "UPDATE si_counters SET events = events + :k, labelled = labelled + :k, done = done + :d "
                "WHERE id = 1",
                {"k": len(positions), "d": len(positions) if labelled_done else 0},
            )

    def _bulk(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[tuple],
        pg_types: Sequence[str],
    ) -> None:
        """Insert many rows: binary COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        cols = ", ".join(columns)
        if not self.d.pg:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
            return
        import psycopg

        statement = f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)"
        try:
            with conn.connection.driver_connection.cursor() as cur, cur.copy(statement) as copy:
                copy.set_types(list(pg_types))
                for r in rows:
                    copy.write_row(r)
        except psycopg.Error as exc:  # wrapped as SQLAlchemy wraps every other statement's errors
            raise sa_exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from None
