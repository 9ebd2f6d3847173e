"""The SQL store: a labelling project in PostgreSQL (teams, several app processes) or SQLite (one machine).

One implementation of :class:`~superintendent_core.store.protocol.LabelStore`
on SQLAlchemy 2, chosen by a database URL::

    postgresql+psycopg://user:password@host:5432/dbname   # psycopg 3
    postgresql://…  or  postgres://…                      # the same (rewritten to psycopg 3)
    …?schema=my_project                                    # PostgreSQL: the project in its own schema
    sqlite:///path/to/project.db                           # one machine

Tables are created on first use and versioned (:mod:`.sql_schema`); a database
written by a newer version is refused. Every method runs its own short
transaction, so one :class:`SQLStore` is shared by every thread of a process,
and any number of processes may use the same database.

Serving is atomic. PostgreSQL: a server-side function picks the next item with
``SELECT … ORDER BY rank LIMIT 1 FOR UPDATE SKIP LOCKED`` (concurrent labellers
neither wait for each other nor get the same row) and sets the lease in the
same transaction — one round trip. SQLite: the same steps in one
``BEGIN IMMEDIATE`` transaction. Leases are rows in the database, shared by all
processes and compared with the wall clock: app servers sharing a database need
synchronised clocks (NTP).

Durability: ``submit`` returns after its transaction committed with the WAL
flushed (PostgreSQL's default ``synchronous_commit``; SQLite in WAL mode with
``synchronous=FULL``). A lease is only a reservation, so its commit does not wait
for the flush: a crash can forget a lease, never a label.

Counting is incremental: ``progress()`` and ``revision()`` read counters kept
up to date by every label transaction, so they cost the same at 1,000 or
1,000,000 items. :meth:`SQLStore.check` recounts everything from scratch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from . import is_database_url  # defined beside open_store; re-exported here
from .checks import check_id, check_ids, check_labeller, check_seconds
from .errors import InvalidInput, StoreError, UnknownItem, VersionError
from .items import (
    PoolShape,
    PreparedBatch,
    normalize_label,
    prepare_batch,
    render_grey_png,
    split_label,
)
from .protocol import Item, ItemBatch, Progress, ProjectSettings, Revision
from .settings import check_classes, validate_settings
from .sql_features import Chunk, FeatureCache, decode_chunk, encode_chunks
from .sql_schema import PG_FUNCTIONS, SCHEMA_VERSION, TABLES, TALLY_CLASS, TALLY_LABELLER, metadata

__all__ = ["SQLStore", "database_url_from", "is_database_url", "normalise_url"]

EVENT_LABEL, EVENT_UNDO, EVENT_SKIP, EVENT_RELABEL = 0, 1, 2, 3

#: Rank of an item outside the current order: ``UNRANKED + id`` (after every ordered item, by id).
#: Stable across ``set_order`` calls, so re-ordering writes only the rows whose place changes.
UNRANKED = 1 << 40

#: Decoded feature chunks kept in memory per store (features never change once written).
FEATURE_CACHE_BYTES = 256 << 20

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_CREATE_LOCK_KEY = 0x5E1_5707  # advisory lock serialising schema creation (PostgreSQL)


# --------------------------------------------------------------------------- URLs


def normalise_url(url: str | URL) -> tuple[URL, str | None]:
    """Parse a database URL; PostgreSQL goes through psycopg 3, and ``?schema=`` is taken out.

    Returns
    -------
    url : sqlalchemy.engine.URL
    schema : str or None
        The PostgreSQL schema named by ``?schema=`` (None when absent).

    Raises
    ------
    InvalidInput
        Not a ``sqlite:`` / ``postgresql:`` URL, or a URL that cannot be parsed.
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except sa_exc.ArgumentError:
        raise InvalidInput(
            "The database URL cannot be read; it looks like postgresql://user:password@host/dbname "
            "or sqlite:///path/to/project.db."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres" or (backend == "postgresql" and "+" not in parsed.drivername):
        parsed = parsed.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    if backend not in ("postgresql", "sqlite"):
        raise InvalidInput(
            f"Database URLs must start with postgresql:// or sqlite:///, got {backend}://; "
            "other databases are not supported."
        )
    schema = parsed.query.get("schema")
    if schema is not None:
        parsed = parsed.difference_update_query(["schema"])
        if isinstance(schema, tuple):
            schema = schema[-1]
    return parsed, schema


def database_url_from(
    secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The project's database URL: ``$DATABASE_URL``, else ``DATABASE_URL`` in the secrets.

    Parameters
    ----------
    secrets : mapping, optional
        ``st.secrets`` (or a dict): its top-level ``DATABASE_URL`` or ``[database] url``.
    environ : mapping, optional
        Environment variables (default ``os.environ``).

    Returns
    -------
    str or None
        None when neither is set (the app then uses a project folder).

    Raises
    ------
    InvalidInput
        The secrets file exists but Streamlit cannot parse it (better than
        silently labelling into a folder that may not survive a restart).
    """
    env = os.environ if environ is None else environ
    value = env.get("DATABASE_URL")
    if value or secrets is None:
        return str(value) if value else None
    try:
        if not secrets:
            return None
        value = secrets.get("DATABASE_URL")
        if not value:
            section = secrets.get("database")
            if isinstance(section, Mapping):
                value = section.get("url")
    except FileNotFoundError as exc:  # st.secrets without a file, or with a broken one
        if str(exc).startswith("No secrets found"):
            return None
        raise InvalidInput(
            f"The secrets cannot be read ({str(exc).splitlines()[0][:200]}); fix the secrets file "
            "(the database URL may be in it)."
        ) from None
    return str(value) if value else None


# --------------------------------------------------------------------------- helpers


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.timestamp()
    return str(value)


def _mime(data: bytes) -> str:
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"


class _Dialect:
    """The SQL text that differs between PostgreSQL and SQLite."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"
        self.open = "NOT done" if self.pg else "done = 0"
        self.open_i = "NOT i.done" if self.pg else "i.done = 0"
        self.active = "active" if self.pg else "active = 1"
        self.true = "true" if self.pg else "1"
        self.false = "false" if self.pg else "0"
        self.for_update = "FOR UPDATE" if self.pg else ""
        self._cache: dict[str, str] = {}

    def sql(self, template: str) -> str:
        """``{d.x}`` filled in; ``:name`` parameters in the driver's style (``%(name)s`` for psycopg)."""
        out = self._cache.get(template)
        if out is None:
            text = template.replace("{d.", "{").format(
                **{k: v for k, v in vars(self).items() if isinstance(v, str)}
            )
            out = _PARAM.sub(r"%(\1)s", text) if self.pg else text
            self._cache[template] = out
        return out


# --------------------------------------------------------------------------- the store


class SQLStore:
    """A labelling project in a SQL database (see the module docstring).

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
        self.d = _Dialect(parsed.get_backend_name())
        if self.schema is not None:
            if not self.d.pg:
                raise InvalidInput("schema= is for PostgreSQL; a SQLite project is its own file.")
            if not isinstance(self.schema, str) or not _SCHEMA_NAME.match(self.schema):
                raise InvalidInput(
                    f"Schema name {self.schema!r} is not allowed; use lower-case letters, digits and _ "
                    "(not starting with a digit), at most 63 characters."
                )
        self.engine = self._make_engine(pool_size)
        try:
            self._open(settings, create)
        except BaseException:
            self.engine.dispose()
            raise
        self._closed = False

    # ------------------------------------------------------------------ engine and transactions

    def _where(self) -> str:
        text = self.url.render_as_string(hide_password=True)
        return text + (f" (schema {self.schema})" if self.schema else "")

    def _make_engine(self, pool_size: int) -> Engine:
        if self.d.pg:
            connect_args: dict[str, Any] = {"connect_timeout": 10}
            if self.schema is not None:
                connect_args["options"] = f"-csearch_path={self.schema}"
            return sa.create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,  # no pre-ping (a round trip per call): a dropped connection is retried
                connect_args=connect_args,
            )
        database = self.url.database
        memory = database in (None, "", ":memory:")
        if memory:
            engine = sa.create_engine(
                self.url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            self._serial = threading.RLock()
        else:
            engine = sa.create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=4 * pool_size,
                connect_args={"check_same_thread": False, "timeout": 60},
            )
            self._writer = threading.RLock()

        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # the driver sends no BEGIN; we do (below)
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa_event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("si_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def _translate(self, exc: sa_exc.DBAPIError) -> StoreError:
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if isinstance(exc, sa_exc.OperationalError) and "locked" in first.lower():
            return StoreError(
                f"The database {self._where()} is busy (locked by another writer for too long); try again."
            )
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return StoreError(
                f"The database {self._where()} cannot be reached or failed ({first}). "
                "Check that it is running and that the URL is right."
            )
        return StoreError(f"The database {self._where()} refused the operation ({first}).")

    @staticmethod
    def _sqlstate(exc: BaseException) -> str | None:
        orig = getattr(exc, "orig", None)
        return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)

    @contextmanager
    def _tx(self, *, write: bool = False, lease: bool = False) -> Iterator[Connection]:
        """One transaction. ``write``: SQLite takes the write lock at BEGIN. ``lease``: no flush wait."""
        serial = self._serial if self._serial is not None else (self._writer if write else None)
        if serial is not None:
            serial.acquire()
        try:
            with self.engine.connect() as conn:
                raw = None
                if not self.d.pg:
                    if write:
                        conn = conn.execution_options(si_write=True)
                    if lease:
                        raw = conn.connection.dbapi_connection
                        raw.execute("PRAGMA synchronous=NORMAL")
                try:
                    with conn.begin():
                        if lease and self.d.pg:
                            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                        yield conn
                finally:
                    if raw is not None:
                        raw.execute("PRAGMA synchronous=FULL")
        finally:
            if serial is not None:
                serial.release()

    @contextmanager
    def _single(self) -> Iterator[Connection]:
        """A connection for one statement that is its own transaction (PostgreSQL autocommit)."""
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def _retrying(self, attempt_fn: Callable[[], Any]) -> Any:
        self._check_open()
        attempts = 8
        for attempt in range(attempts):
            try:
                return attempt_fn()
            except sa_exc.DBAPIError as exc:
                if exc.connection_invalidated and attempt == 0:
                    continue  # a pooled connection had died (server restart): once more on a fresh one
                if self._sqlstate(exc) in _RETRY_SQLSTATES and attempt < attempts - 1:
                    time.sleep(
                        0.001 * (2**attempt)
                    )  # deadlock or serialization failure: back off, retry
                    continue
                if isinstance(exc, sa_exc.IntegrityError):
                    raise
                raise self._translate(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(
        self, fn: Callable[[Connection], Any], *, write: bool = True, lease: bool = False
    ) -> Any:
        """``fn(conn)`` in one transaction, retried on deadlock / serialization failure."""

        def attempt() -> Any:
            with self._tx(write=write, lease=lease) as conn:
                return fn(conn)

        return self._retrying(attempt)

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        return self._run(fn, write=False)

    def _fetch(self, template: str, params: Any = None, *, how: str = "all") -> Any:
        """One read statement: autocommit on PostgreSQL (one round trip), a read transaction on SQLite."""
        if not self.d.pg:
            return self._read(lambda c: getattr(self._x(c, template, params), how)())

        def attempt() -> Any:
            with self._single() as conn:
                return getattr(self._x(conn, template, params), how)()

        return self._retrying(attempt)

    def _x(self, conn: Connection, template: str, params: Any = None) -> sa.CursorResult:
        return conn.exec_driver_sql(self.d.sql(template), params if params is not None else {})

    # ------------------------------------------------------------------ schema

    def _open(self, settings: ProjectSettings | None, create: bool) -> None:
        try:
            with self._tx(write=True) as conn:
                if self.d.pg:
                    conn.exec_driver_sql(
                        "SELECT pg_advisory_xact_lock(%(k)s)", {"k": _CREATE_LOCK_KEY}
                    )
                    if self.schema is not None:
                        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                existing = set(sa.inspect(conn).get_table_names())
                ours = {t.name for t in TABLES}
                if "si_schema_version" in existing:
                    self._check_version(conn, ours - existing)
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
        if version < SCHEMA_VERSION:  # pragma: no cover - no older schema exists yet
            raise VersionError(
                f"The database {self._where()} has schema {version}, older than this version's "
                f"{SCHEMA_VERSION}, and no migration for it exists."
            )
        if missing:
            raise VersionError(
                f"The database {self._where()} has a damaged project "
                f"(missing table(s) {', '.join(sorted(missing))})."
            )

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

    # ------------------------------------------------------------------ checks

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"The project in {self._where()} is closed; open it again.")

    def _n_items(self) -> int:
        n = int(self._fetch("SELECT n_items FROM si_project WHERE id = 1", how="scalar_one"))
        self._known_n = max(self._known_n, n)
        return n

    def _check_id(self, item_id: Any) -> int:
        return check_id(item_id, self._known_n, self._n_items)

    def _check_ids(self, ids: Any) -> np.ndarray:
        return check_ids(ids, self._known_n, self._n_items)

    _check_labeller = staticmethod(check_labeller)
    _check_seconds = staticmethod(check_seconds)

    # ------------------------------------------------------------------ settings

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
        usage: dict[str, int] = {}
        for text, count in rows:
            for part in text.split("|") if text else []:
                usage[part] = usage.get(part, 0) + int(count)
        return usage, [r[0] for r in rows]

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

    # ------------------------------------------------------------------ pool

    def __len__(self) -> int:
        return self._n_items()

    def add_items(self, batch: ItemBatch) -> np.ndarray:
        self._check_open()
        for _ in range(3):
            head = self._fetch("SELECT settings, shape FROM si_project WHERE id = 1", how="one")
            settings = self._parse_settings(head[0])
            shape = self._parse_shape(head[1])
            if not settings.classes:
                found: set[str] = set()
                for seq in (batch.labels or (), batch.true_labels or ()):
                    for lab in seq:
                        if isinstance(lab, str) and lab:
                            found.update(lab.split("|") if settings.multi_label else [lab])
                if found:
                    settings = dataclasses.replace(settings, classes=check_classes(sorted(found)))
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
            return InvalidInput(
                f"Item name(s) already in the project, e.g. {found[0]!r}. Rename them or leave them out."
            )
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
        self._x(
            conn,
            "UPDATE si_project SET settings = :s, shape = :sh, n_items = :n, "
            "has_true_labels = (has_true_labels OR :t) WHERE id = 1",
            {
                "s": json.dumps(settings.to_dict()),
                "sh": json.dumps(prepared.shape.to_dict()),
                "n": start + n,
                "t": truth is not None,
            },
        )
        return np.arange(start, start + n, dtype=np.int64)

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

    def _tally_add(self, conn: Connection, kind: int, key: str, delta: int) -> None:
        self._x(
            conn,
            "INSERT INTO si_tally (kind, key, n) VALUES (:kind, :key, :n) "
            "ON CONFLICT (kind, key) DO UPDATE SET n = si_tally.n + excluded.n",
            {"kind": kind, "key": key, "n": delta},
        )

    # ------------------------------------------------------------------ reading items

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
        self, conn: Connection, ids: np.ndarray, shape: PoolShape | None, feature_kind: str
    ) -> Any:
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

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        arr = self._check_ids(ids)

        def work(conn: Connection) -> Any:
            settings, shape = self._head(conn)
            return self._features(
                conn, arr, shape, shape.feature_kind if shape else settings.feature_kind
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

    # ------------------------------------------------------------------ serving

    def next_item(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        now = float(self._clock())
        if self.d.pg:

            def attempt() -> int | None:
                with self._single() as conn:
                    got = self._x(
                        conn, "SELECT si_next_item(:who, :now)", {"who": labeller, "now": now}
                    ).scalar()
                return None if got is None else int(got)

            return self._retrying(attempt)
        return self._run(lambda c: self._sqlite_next(c, labeller, now), lease=True)

    _CANDIDATE = (
        "SELECT i.id FROM si_items i WHERE {d.open_i} AND (i.lease_until IS NULL OR i.lease_until <= :now) "
        "AND NOT EXISTS (SELECT 1 FROM si_skips s WHERE s.item_id = i.id AND s.labeller = :who) "
        "AND (:overlap = 1 OR NOT EXISTS (SELECT 1 FROM si_events e WHERE e.item_id = i.id "
        "AND e.labeller = :who AND e.{d.active})) ORDER BY i.rank LIMIT 1"
    )
    _OWN_SKIPPED = (
        "SELECT i.id FROM si_items i JOIN si_skips s ON s.item_id = i.id AND s.labeller = :who "
        "WHERE {d.open_i} AND (i.lease_until IS NULL OR i.lease_until <= :now) "
        "AND (:overlap = 1 OR NOT EXISTS (SELECT 1 FROM si_events e WHERE e.item_id = i.id "
        "AND e.labeller = :who AND e.{d.active})) ORDER BY i.rank LIMIT 1"
    )

    def _sqlite_next(self, conn: Connection, labeller: str, now: float) -> int | None:
        """SQLite: the steps of ``si_next_item`` inside one BEGIN IMMEDIATE transaction."""
        current = self._x(
            conn,
            "SELECT id FROM si_items WHERE lease_owner = :who AND lease_until > :now "
            "ORDER BY lease_until DESC LIMIT 1",
            {"who": labeller, "now": now},
        ).first()
        if current is not None:
            return int(current[0])
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        params = {"who": labeller, "now": now, "overlap": settings.overlap}
        row = self._x(conn, self._CANDIDATE, params).first()
        if row is None:
            row = self._x(conn, self._OWN_SKIPPED, params).first()
            if row is not None:
                self._x(
                    conn,
                    "DELETE FROM si_skips WHERE item_id = :id AND labeller = :who",
                    {"id": int(row[0]), "who": labeller},
                )
        if row is None:
            return None
        chosen = int(row[0])
        self._x(
            conn,
            "UPDATE si_items SET lease_owner = :who, lease_until = :until WHERE id = :id",
            {"who": labeller, "until": now + settings.lease_seconds, "id": chosen},
        )
        return chosen

    def _write_label(
        self, item_id: Any, label: Any, labeller: Any, seconds: Any, kind: int
    ) -> None:
        labeller = self._check_labeller(labeller)
        seconds = self._check_seconds(seconds)
        item_id = self._check_id(item_id)
        now = time.time()
        if not self.d.pg:
            self._run(lambda c: self._sqlite_label(c, item_id, label, labeller, seconds, kind, now))
            return
        for _ in range(5):
            text_settings = self._settings_text
            if text_settings is None or self._settings_obj is None:
                self.settings  # noqa: B018 - refreshes the cached settings
                continue
            settings = self._settings_obj
            text = normalize_label(label, settings.classes, settings.multi_label)

            def attempt(text: str = text, text_settings: str = text_settings) -> int:
                with self._single() as conn:
                    return int(
                        self._x(
                            conn,
                            "SELECT si_label(:id, :who, :label, CAST(:kind AS smallint), :at, :sec, :settings)",
                            {
                                "id": item_id,
                                "who": labeller,
                                "label": text,
                                "kind": kind,
                                "at": now,
                                "sec": seconds,
                                "settings": text_settings,
                            },
                        ).scalar_one()
                    )

            if self._retrying(attempt) == 0:
                return
            self.settings  # noqa: B018 - settings changed elsewhere: reload, validate again
        raise StoreError("The project settings kept changing while labelling; try again.")

    def _sqlite_label(
        self,
        conn: Connection,
        item_id: int,
        label: Any,
        labeller: str,
        seconds: float | None,
        kind: int,
        now: float,
    ) -> None:
        """SQLite: the steps of ``si_label`` inside one BEGIN IMMEDIATE transaction."""
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        text = normalize_label(label, settings.classes, settings.multi_label)
        old_n, old_train, was_done = self._x(
            conn, "SELECT n_active, train_label, done FROM si_items WHERE id = :id", {"id": item_id}
        ).one()
        replaced = self._x(
            conn,
            "UPDATE si_events SET active = 0 WHERE item_id = :id AND labeller = :who AND active = 1",
            {"id": item_id, "who": labeller},
        ).rowcount
        self._x(
            conn,
            "INSERT INTO si_events (kind, item_id, labeller, label, at, seconds, active) "
            "VALUES (:k, :id, :who, :label, :at, :sec, 1)",
            {"k": kind, "id": item_id, "who": labeller, "label": text, "at": now, "sec": seconds},
        )
        n = int(old_n) + (0 if replaced else 1)
        done = n >= settings.overlap
        self._x(
            conn,
            "UPDATE si_items SET n_active = :n, done = :done, train_label = :label, "
            "lease_until = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_until END, "
            "lease_owner = CASE WHEN :done OR lease_owner = :who THEN NULL ELSE lease_owner END WHERE id = :id",
            {"n": n, "done": done, "label": text, "who": labeller, "id": item_id},
        )
        self._tally_move(conn, TALLY_CLASS, old_train, text)
        if not replaced:
            self._tally_add(conn, TALLY_LABELLER, labeller, 1)
        self._x(
            conn,
            "UPDATE si_counters SET events = events + 1, labelled = labelled + :l, done = done + :d WHERE id = 1",
            {"l": 1 if old_n == 0 else 0, "d": 1 if done and not was_done else 0},
        )

    def _tally_move(self, conn: Connection, kind: int, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old is not None:
            self._tally_add(conn, kind, old, -1)
        if new is not None:
            self._tally_add(conn, kind, new, 1)

    def submit(self, item_id: int, label: Any, labeller: str, seconds: float | None = None) -> None:
        self._write_label(item_id, label, labeller, seconds, EVENT_LABEL)

    def relabel(self, item_id: int, label: Any, labeller: str) -> None:
        self._write_label(item_id, label, labeller, None, EVENT_RELABEL)

    def skip(self, item_id: int, labeller: str) -> None:
        labeller = self._check_labeller(labeller)
        item_id = self._check_id(item_id)
        now = time.time()

        def work(conn: Connection) -> None:
            done = self._x(
                conn, "SELECT done FROM si_items WHERE id = :id {d.for_update}", {"id": item_id}
            ).scalar_one()
            if not done:
                self._x(
                    conn,
                    "INSERT INTO si_skips (item_id, labeller) VALUES (:id, :who) ON CONFLICT DO NOTHING",
                    {"id": item_id, "who": labeller},
                )
                self._x(
                    conn,
                    "UPDATE si_items SET lease_owner = NULL, lease_until = NULL "
                    "WHERE id = :id AND lease_owner = :who",
                    {"id": item_id, "who": labeller},
                )
            self._x(
                conn,
                "INSERT INTO si_events (kind, item_id, labeller, at, active) "
                "VALUES (:k, :id, :who, :at, {d.false})",
                {"k": EVENT_SKIP, "id": item_id, "who": labeller, "at": now},
            )
            self._x(conn, "UPDATE si_counters SET events = events + 1 WHERE id = 1")

        self._run(work)

    def undo(self, labeller: str) -> int | None:
        labeller = self._check_labeller(labeller)
        now = time.time()
        lease_now = float(self._clock())
        if self.d.pg:

            def attempt() -> int | None:
                with self._single() as conn:
                    got = self._x(
                        conn,
                        "SELECT si_undo(:who, :at, :now)",
                        {"who": labeller, "at": now, "now": lease_now},
                    ).scalar()
                return None if got is None else int(got)

            return self._retrying(attempt)
        return self._run(lambda c: self._sqlite_undo(c, labeller, now, lease_now))

    def _sqlite_undo(
        self, conn: Connection, labeller: str, now: float, lease_now: float
    ) -> int | None:
        """SQLite: the steps of ``si_undo`` inside one BEGIN IMMEDIATE transaction."""
        target = self._x(
            conn,
            "SELECT seq, item_id FROM si_events WHERE labeller = :who AND active = 1 "
            "ORDER BY seq DESC LIMIT 1",
            {"who": labeller},
        ).first()
        if target is None:
            return None
        seq, item_id = int(target[0]), int(target[1])
        settings = self._parse_settings(
            self._x(conn, "SELECT settings FROM si_project WHERE id = 1").scalar_one()
        )
        old_n, old_train, was_done = self._x(
            conn, "SELECT n_active, train_label, done FROM si_items WHERE id = :id", {"id": item_id}
        ).one()
        self._x(conn, "UPDATE si_events SET active = 0 WHERE seq = :seq", {"seq": seq})
        latest = self._x(
            conn,
            "SELECT label FROM si_events WHERE item_id = :id AND active = 1 "
            "ORDER BY seq DESC LIMIT 1",
            {"id": item_id},
        ).first()
        new_train = None if latest is None else latest[0]
        self._x(
            conn,
            "INSERT INTO si_events (kind, item_id, labeller, at, active, ref) "
            "VALUES (:k, :id, :who, :at, 0, :ref)",
            {"k": EVENT_UNDO, "id": item_id, "who": labeller, "at": now, "ref": seq},
        )
        self._x(
            conn,
            "UPDATE si_items SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner = :who AND id <> :id",
            {"who": labeller, "id": item_id},
        )
        n = int(old_n) - 1
        done = n >= settings.overlap
        self._x(
            conn,
            "UPDATE si_items SET n_active = :n, done = :done, train_label = :t, lease_owner = :who, "
            "lease_until = :until WHERE id = :id",
            {
                "n": n,
                "done": done,
                "t": new_train,
                "who": labeller,
                "until": lease_now + settings.lease_seconds,
                "id": item_id,
            },
        )
        self._tally_move(conn, TALLY_CLASS, old_train, new_train)
        self._tally_add(conn, TALLY_LABELLER, labeller, -1)
        self._x(
            conn,
            "UPDATE si_counters SET events = events + 1, labelled = labelled - :l, done = done - :d "
            "WHERE id = 1",
            {"l": 1 if n == 0 else 0, "d": 1 if was_done and not done else 0},
        )
        return item_id

    def set_order(self, ids: Sequence[int] | np.ndarray) -> None:
        self._check_open()
        arr = np.asarray(ids)
        if arr.size and (arr.ndim != 1 or arr.dtype.kind not in "iu"):
            raise InvalidInput("The order must be a flat list of item ids (whole numbers).")
        arr = arr.astype(np.int64).reshape(-1)
        if len(np.unique(arr)) != len(arr):
            raise InvalidInput("The order lists an item twice; each item may appear once.")

        def work(conn: Connection) -> None:
            n = int(
                self._x(
                    conn, "SELECT n_items FROM si_project WHERE id = 1 {d.for_update}"
                ).scalar_one()
            )
            bad = arr[(arr < 0) | (arr >= n)]
            if len(bad):
                raise UnknownItem(f"There is no item {int(bad[0])} in this project ({n} items).")
            if self.d.pg:
                # Two statements, only rows whose rank changes are written: items leaving the order
                # go back to UNRANKED + id; the order's items get ranks 0 .. k-1.
                self._x(
                    conn,
                    "UPDATE si_items SET rank = :big + id WHERE rank < :big "
                    "AND id <> ALL(CAST(:ids AS bigint[]))",
                    {"big": UNRANKED, "ids": arr.tolist()},
                )
                self._x(
                    conn,
                    "UPDATE si_items SET rank = t.k - 1 FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY "
                    "AS t(id, k) WHERE si_items.id = t.id AND si_items.rank <> t.k - 1",
                    {"ids": arr.tolist()},
                )
            else:
                rows = self._x(conn, "SELECT id, rank FROM si_items").all()
                old = np.zeros(n, dtype=np.int64)
                if rows:
                    got = np.array(rows, dtype=np.int64)
                    old[got[:, 0]] = got[:, 1]
                rank = UNRANKED + np.arange(n, dtype=np.int64)
                rank[arr] = np.arange(len(arr), dtype=np.int64)
                changed = np.flatnonzero(old != rank)
                if len(changed):
                    conn.exec_driver_sql(
                        "UPDATE si_items SET rank = ? WHERE id = ?",
                        list(zip(rank[changed].tolist(), changed.tolist(), strict=True)),
                    )
            self._x(conn, "UPDATE si_project SET order_version = order_version + 1 WHERE id = 1")

        self._run(work)

    # ------------------------------------------------------------------ counts

    def progress(self) -> Progress:
        rows = self._fetch(
            "SELECT 0, p.settings, c.labelled, c.done, p.n_items FROM si_counters c CROSS JOIN si_project p "
            "WHERE c.id = 1 AND p.id = 1 "
            "UNION ALL SELECT 1, NULL, COUNT(*), 0, 0 FROM si_items "
            "WHERE lease_owner IS NOT NULL AND lease_until > :now AND {d.open} "
            "UNION ALL SELECT 2 + kind, key, n, 0, 0 FROM si_tally WHERE n <> 0",
            {"now": float(self._clock())},
        )
        settings = self._settings_obj
        labelled = done = total = leased = 0
        per_class: dict[str, int] = {}
        per_labeller: dict[str, int] = {}
        for part, key, a, b, c in rows:
            if part == 0:
                settings = self._parse_settings(key)
                labelled, done, total = int(a), int(b), int(c)
            elif part == 1:
                leased = int(a)
            elif part == 2 + TALLY_CLASS:
                per_class[key] = int(a)
            else:
                per_labeller[key] = int(a)
        assert settings is not None
        classes = dict.fromkeys(settings.classes, 0)
        for text, count in per_class.items():
            for part in text.split("|") if settings.multi_label else [text]:
                if part:
                    classes[part] = classes.get(part, 0) + count
        return Progress(
            labelled=labelled,
            total=total,
            per_class=classes,
            per_labeller=dict(sorted(per_labeller.items())),
            leased=leased,
            done=done,
        )

    def revision(self) -> Revision:
        row = self._fetch(
            "SELECT p.n_items, c.events, p.order_version FROM si_project p CROSS JOIN si_counters c "
            "WHERE p.id = 1 AND c.id = 1",
            how="one",
        )
        return Revision(int(row[0]), int(row[1]), int(row[2]))

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
            return problems

        return self._read(work)

    # ------------------------------------------------------------------ reading labels

    def labels(self) -> pd.DataFrame:
        rows = self._fetch(
            "SELECT e.item_id, i.name, e.label, e.labeller, e.at, e.seconds FROM si_events e "
            "JOIN si_items i ON i.id = e.item_id WHERE e.{d.active} ORDER BY e.seq"
        )
        n = len(rows)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 6
        return pd.DataFrame(
            {
                "item_id": np.fromiter(cols[0], dtype=np.int64, count=n),
                "name": pd.array(list(cols[1]), dtype=object),
                "label": np.array(cols[2], dtype=object),
                "labeller": np.array(cols[3], dtype=object),
                "time": pd.to_datetime(
                    np.fromiter(cols[4], dtype=np.float64, count=n), unit="s", utc=True
                ),
                "seconds": np.array(
                    [np.nan if s is None else s for s in cols[5]], dtype=np.float64
                ),
            }
        )

    def training_data(self) -> tuple[np.ndarray, Any, list]:
        def work(conn: Connection) -> tuple[np.ndarray, Any, list]:
            settings, shape = self._head(conn)
            rows = self._x(
                conn,
                "SELECT id, train_label FROM si_items WHERE train_label IS NOT NULL ORDER BY id",
            ).all()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            y = [split_label(r[1], settings.multi_label) for r in rows]
            return (
                ids,
                self._features(
                    conn, ids, shape, shape.feature_kind if shape else settings.feature_kind
                ),
                y,
            )

        return self._read(work)

    # ------------------------------------------------------------------ history

    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        row = dict(entry)
        row.setdefault("time", time.time())
        if isinstance(row["time"], pd.Timestamp):
            row["time"] = row["time"].timestamp()
        try:
            text = json.dumps(row, default=_json_default, allow_nan=True)
            at = float(row["time"])
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"The retrain entry cannot be saved ({exc}).") from None
        self._run(
            lambda c: self._x(
                c, "INSERT INTO si_history (at, entry) VALUES (:at, :e)", {"at": at, "e": text}
            )
        )

    def history(self) -> pd.DataFrame:
        rows = self._fetch("SELECT entry FROM si_history ORDER BY seq")
        base = ["time", "n_labels", "score", "metric", "strategy", "model", "seconds"]
        df = pd.DataFrame([json.loads(r[0]) for r in rows])
        for c in base:
            if c not in df.columns:
                df[c] = pd.Series(dtype=object if c in ("metric", "strategy", "model") else float)
        df = df[base + [c for c in df.columns if c not in base]]
        df["time"] = pd.to_datetime(df["time"].astype(float), unit="s", utc=True)
        return df

    # ------------------------------------------------------------------ lifetime

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
