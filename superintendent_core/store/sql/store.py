"""The SQL store itself: opening (creating or checking the tables), settings, a recount, closing.

The other methods of :class:`SQLStore` are grouped by concern: :mod:`.items`
(adding items), :mod:`.reading` (items and features), :mod:`.serving` (next item,
skips, the order), :mod:`.labels` (label, relabel, undo, import),
:mod:`.progress` (counts and reading labels) and :mod:`.history`; connections and
transactions are in :mod:`.engine`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection

from .. import _rules
from ..errors import InvalidInput, StoreError, VersionError
from ..items import FEATURE_CACHE_BYTES, PoolShape
from ..protocol import ProjectSettings
from ..settings import validate_settings
from .bulk import SQLBulk, ensure_extra_tables
from .engine import Dialect, SQLEngine
from .feature_sets import SQLFeatureSets, create_feature_set_tables
from .features import FeatureCache
from .history import SQLHistory
from .items import SQLItems
from .labels import SQLLabels
from .preannotations import SQLPreannotations
from .progress import SQLProgress
from .reading import SQLReading
from .schema import (
    PG_FUNCTIONS,
    SCHEMA_VERSION,
    TABLES,
    TABLES_ADDED,
    TALLY_CLASS,
    TALLY_LABELLER,
    metadata,
)
from .serving import SQLServing
from .urls import normalise_url

__all__ = ["FEATURE_CACHE_BYTES", "SQLStore"]

#: Decoded feature chunks kept in memory per store (features never change once written).

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CREATE_LOCK_KEY = 0x5E1_5707  # advisory lock serialising schema creation (PostgreSQL)


class SQLStore(SQLItems, SQLReading, SQLServing, SQLLabels, SQLProgress, SQLHistory, SQLFeatureSets, SQLBulk,
               SQLPreannotations, SQLEngine):
    """A labelling project in a SQL database (see :mod:`superintendent_core.store.sql`).

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        ``postgresql+psycopg://…`` or ``sqlite:///path.db`` (``sqlite://`` is an
        in-memory database, for tests).
    settings : ProjectSettings, optional
        Settings of a new project (ignored when the database already holds one).
    create : bool, default=True
        Create the tables when the database holds no project; otherwise raise ``StoreError``.
    clock : callable, default=time.time
        Wall-clock time source for leases (tests pass a fake clock). Every process
        sharing the database must use the same clock.
    schema : str, optional
        PostgreSQL schema holding the project (created if missing; lower-case
        letters, digits and ``_``). Overrides ``?schema=`` in the URL.
    pool_size : int, default=5
        Connections kept open by this process; up to twice as many under load.
    feature_cache_bytes : int, default=256 MiB
        Decoded feature chunks kept in memory.

    Raises
    ------
    InvalidInput
        The URL or schema name cannot be used.
    StoreError
        The database cannot be reached, or holds no project and ``create`` is False.
    VersionError
        The database was written by a newer version, or is damaged.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        settings: ProjectSettings | None = None,
        create: bool = True,
        clock: Callable[[], float] = time.time,
        schema: str | None = None,
        pool_size: int = 5,
        feature_cache_bytes: int = FEATURE_CACHE_BYTES,
    ) -> None:
        parsed, url_schema = normalise_url(url)
        self.url = parsed
        self.schema = schema if schema is not None else url_schema
        self._clock = clock
        self._closed = True
        self._cache = FeatureCache(feature_cache_bytes)
        self._known_n = 0
        self._settings_text: str | None = None
        self._settings_obj: ProjectSettings | None = None
        self._shape_text: str | None = None
        self._shape_obj: PoolShape | None = None
        self._serial: threading.RLock | None = None  # in-memory SQLite: one shared connection
        # File SQLite: this process's writers queue here, not in SQLite's busy handler, whose
        # sleeps (up to 100 ms each, retried) let one thread starve while others write.
        self._writer: threading.RLock | None = None
        self.d = Dialect(parsed.get_backend_name())
        if self.schema is not None:
            if not self.d.pg:
                raise InvalidInput("schema= is for PostgreSQL; a SQLite project is its own file.")
            if not isinstance(self.schema, str) or not _SCHEMA_NAME.match(self.schema):
                raise InvalidInput(
                    f"Schema name {self.schema!r} is not allowed; use lower-case letters, digits and _ "
                    "(not starting with a digit), at most 63 characters."
                )
        database = parsed.database
        if (not create and not self.d.pg and database not in (None, "", ":memory:")
                and not os.path.isfile(database)):
            # Connecting would create an empty file: refuse first.
            raise StoreError(f"There is no labelling project in the database {self._where()} (no such file).")
        self.engine = self._make_engine(pool_size)
        try:
            self._open(settings, create)
        except BaseException:
            self.engine.dispose()
            raise
        self._closed = False


    def _open(self, settings: ProjectSettings | None, create: bool) -> None:
        try:
            with self._tx(write=True) as conn:
                if self.d.pg:
                    conn.exec_driver_sql(
                        "SELECT pg_advisory_xact_lock(%(k)s)", {"k": _CREATE_LOCK_KEY}
                    )
                    if self.schema is not None and create:
                        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    elif self.schema is not None and conn.exec_driver_sql(
                        "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": self.schema}
                    ).first() is None:
                        raise StoreError(f"There is no labelling project in the database {self._where()}.")
                existing = set(sa.inspect(conn).get_table_names())
                ours = {t.name for t in TABLES}
                if "si_schema_version" in existing:
                    self._check_version(conn, ours - existing)
                    if self.d.pg:
                        # The server-side functions of this version (CREATE OR REPLACE: the
                        # serving rules of the code that opens the project apply).
                        for ddl in PG_FUNCTIONS:
                            conn.exec_driver_sql(ddl)
                elif ours & existing:
                    raise VersionError(
                        f"The database {self._where()} has some project tables but no schema version; "
                        "it is damaged or was not written by superintendent."
                    )
                elif not create:
                    raise StoreError(
                        f"There is no labelling project in the database {self._where()}."
                    )
                else:
                    self._create(conn, settings or ProjectSettings())
                create_feature_set_tables(conn, self.d)  # not versioned yet: IF NOT EXISTS on every open
                ensure_extra_tables(conn)  # tables not yet in a schema version (.bulk)
                text = self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
                self._parse_settings(text)
        except sa_exc.DBAPIError as exc:
            raise self._translate(exc) from None

    def _check_version(self, conn: Connection, missing: set[str]) -> None:
        row = conn.exec_driver_sql("SELECT version FROM si_schema_version WHERE id = 1").first()
        if row is None:
            raise VersionError(
                f"The database {self._where()} has a damaged project (no schema version)."
            )
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise VersionError(
                f"The database {self._where()} was written by a newer version of superintendent "
                f"(schema {version}); this version reads schema {SCHEMA_VERSION}. "
                "Upgrade superintendent_core to open it."
            )
        if version < 1:
            raise VersionError(
                f"The database {self._where()} has schema {version}, older than this version's "
                f"{SCHEMA_VERSION}, and no migration for it exists."
            )
        if version < SCHEMA_VERSION:
            missing = self._migrate(conn, version, missing)
        if missing:
            raise VersionError(
                f"The database {self._where()} has a damaged project "
                f"(missing table(s) {', '.join(sorted(missing))})."
            )

    def _migrate(self, conn: Connection, version: int, missing: set[str]) -> set[str]:
        """Bring a database of an earlier schema up to :data:`SCHEMA_VERSION` (in the open transaction).

        Returns the tables still missing afterwards (a damaged database).
        """
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for name in TABLES_ADDED.get(target, ()):
                metadata.tables[name].create(conn, checkfirst=True)
                missing = missing - {name}
        conn.exec_driver_sql(
            self.d.sql("UPDATE si_schema_version SET version = :v WHERE id = 1"), {"v": SCHEMA_VERSION}
        )
        return missing

    def _create(self, conn: Connection, settings: ProjectSettings) -> None:
        settings = validate_settings(
            ProjectSettings(),
            settings.to_dict() | {"classes": settings.classes, "extra": settings.extra},
            class_usage={},
            n_items=0,
        )
        metadata.create_all(conn)
        if self.d.pg:
            # Out of line, uncompressed: substring() reads one item's bytes without the whole chunk.
            conn.exec_driver_sql("ALTER TABLE si_features ALTER COLUMN data SET STORAGE EXTERNAL")
            for ddl in PG_FUNCTIONS:
                conn.exec_driver_sql(ddl)
        conn.execute(
            sa.insert(metadata.tables["si_schema_version"]),
            {
                "id": 1,
                "version": SCHEMA_VERSION,
                "created": time.time(),
                "written_by": "superintendent_core",
            },
        )
        conn.execute(
            sa.insert(metadata.tables["si_project"]),
            {
                "id": 1,
                "settings": json.dumps(settings.to_dict()),
                "shape": None,
                "n_items": 0,
                "order_version": 0,
                "has_true_labels": False,
            },
        )
        conn.execute(
            sa.insert(metadata.tables["si_counters"]),
            {"id": 1, "events": 0, "labelled": 0, "done": 0},
        )

    def _n_items(self) -> int:
        n = int(self._fetch("SELECT n_items FROM si_project WHERE id = 1", how="scalar_one"))
        self._known_n = max(self._known_n, n)
        return n

    def _check_id(self, item_id: Any) -> int:
        return _rules.check_id(item_id, self._known_n, self._n_items)

    def _check_ids(self, ids: Any) -> np.ndarray:
        return _rules.check_ids(ids, self._known_n, self._n_items)

    _check_labeller = staticmethod(_rules.check_labeller)
    _check_seconds = staticmethod(_rules.check_seconds)


    def _parse_settings(self, text: str) -> ProjectSettings:
        if text != self._settings_text or self._settings_obj is None:
            try:
                obj = ProjectSettings.from_dict(json.loads(text))
            except (TypeError, ValueError) as exc:
                raise VersionError(
                    f"The project settings in {self._where()} are damaged ({exc})."
                ) from None
            self._settings_text, self._settings_obj = text, obj
        return self._settings_obj

    def _parse_shape(self, text: str | None) -> PoolShape | None:
        if text is None:
            return None
        if text != self._shape_text or self._shape_obj is None:
            self._shape_text, self._shape_obj = text, PoolShape.from_dict(json.loads(text))
        return self._shape_obj

    @property
    def settings(self) -> ProjectSettings:
        """The current settings (read from the database: another process may have changed them)."""
        return self._parse_settings(
            self._fetch("SELECT settings FROM si_project WHERE id = 1", how="scalar_one")
        )

    def _class_usage(self, conn: Connection) -> tuple[dict[str, int], list[str]]:
        rows = self._x(
            conn, "SELECT label, COUNT(*) FROM si_events WHERE {d.active} GROUP BY label"
        ).all()
        return _rules.class_usage((text, int(count)) for text, count in rows), [r[0] for r in rows]

    def update_settings(self, **changes: Any) -> ProjectSettings:
        def work(conn: Connection) -> ProjectSettings:
            row = self._x(
                conn, "SELECT settings, n_items FROM si_project WHERE id = 1 {d.for_update}"
            ).one()
            old = self._parse_settings(row[0])
            usage, strings = self._class_usage(conn)
            new = validate_settings(
                old, changes, class_usage=usage, n_items=int(row[1]), label_strings=strings
            )
            if new.feature_set != old.feature_set:
                self._check_feature_set_setting(conn, new.feature_set, int(row[1]))
            self._x(
                conn,
                "UPDATE si_project SET settings = :s WHERE id = 1",
                {"s": json.dumps(new.to_dict())},
            )
            if new.overlap != old.overlap:
                self._x(
                    conn,
                    "UPDATE si_items SET done = (n_active >= :o) WHERE done <> (n_active >= :o)",
                    {"o": new.overlap},
                )
                self._x(
                    conn,
                    "UPDATE si_items SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner IS NOT NULL AND done = {d.true}",
                )
                self._x(
                    conn,
                    "UPDATE si_counters SET done = (SELECT COUNT(*) FROM si_items WHERE done = {d.true}) "
                    "WHERE id = 1",
                )
            return new

        new = self._run(work)
        self._settings_text, self._settings_obj = json.dumps(new.to_dict()), new
        return new

    def damage_report(self) -> list[str]:
        """Nothing: the database keeps its own integrity (see :meth:`LabelStore.damage_report`)."""
        return []

    def check(self) -> list[str]:
        """Recount everything from the label events; list where the stored counters disagree.

        Returns
        -------
        list of str
            Empty when the counters, tallies and per-item state match the events.
        """

        def work(conn: Connection) -> list[str]:
            problems = []
            settings = self._parse_settings(
                self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
            )
            labelled, done = self._x(
                conn, "SELECT labelled, done FROM si_counters WHERE id = 1"
            ).one()
            real = self._x(
                conn,
                "SELECT COALESCE(SUM(CASE WHEN n_active > 0 THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN done THEN 1 ELSE 0 END), 0) FROM si_items",
            ).one()
            if (int(labelled), int(done)) != (int(real[0]), int(real[1])):
                problems.append(
                    f"counters labelled/done {labelled}/{done}, items say {real[0]}/{real[1]}"
                )
            events = self._x(conn, "SELECT events FROM si_counters WHERE id = 1").scalar_one()
            n_events = self._x(conn, "SELECT COUNT(*) FROM si_events").scalar_one()
            if int(events) != int(n_events):
                problems.append(f"counters events {events}, si_events has {n_events}")
            bad_items = self._x(
                conn,
                "SELECT COUNT(*) FROM si_items i WHERE i.n_active <> (SELECT COUNT(*) FROM si_events e "
                "WHERE e.item_id = i.id AND e.{d.active}) OR (i.done <> (i.n_active >= :o)) "
                "OR (i.train_label IS NOT NULL) <> (i.n_active > 0) "
                "OR i.train_label <> (SELECT e.label FROM si_events e WHERE e.item_id = i.id AND e.{d.active} "
                "ORDER BY e.seq DESC LIMIT 1)",
                {"o": settings.overlap},
            ).scalar_one()
            if int(bad_items):
                problems.append(
                    f"{bad_items} item(s) whose n_active/done/train_label disagree with the events"
                )
            tallies = {
                (int(k), key): int(n)
                for k, key, n in self._x(conn, "SELECT kind, key, n FROM si_tally WHERE n <> 0")
            }
            real_t = {
                (TALLY_CLASS, key): int(n)
                for key, n in self._x(
                    conn,
                    "SELECT train_label, COUNT(*) FROM si_items WHERE train_label IS NOT NULL GROUP BY train_label",
                )
            }
            real_t |= {
                (TALLY_LABELLER, key): int(n)
                for key, n in self._x(
                    conn,
                    "SELECT labeller, COUNT(*) FROM si_events WHERE {d.active} GROUP BY labeller",
                )
            }
            if tallies != real_t:
                problems.append(
                    f"tallies {sorted(tallies.items())} != recount {sorted(real_t.items())}"
                )
            stale = self._x(
                conn,
                "SELECT COUNT(*) FROM si_audit a JOIN si_items i ON i.id = a.item_id WHERE i.n_active = 0",
            ).scalar_one()
            if int(stale):
                problems.append(f"{stale} audit record(s) of items with no label in force (an undo should void them)")
            return problems

        return self._read(work)


    def close(self) -> None:
        """Release the connections (idempotent). Everything is already committed."""
        if self._closed:
            return
        self._closed = True
        self.engine.dispose()
        self._cache.clear()

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLStore({self._where()!r})"
