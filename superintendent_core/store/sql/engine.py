"""Engines, transactions and retries of the SQL store, and the SQL that differs per database.

:class:`SQLEngine` is the base of :class:`~.store.SQLStore`: it owns the
SQLAlchemy engine (SQLite in WAL mode with ``synchronous=FULL``; PostgreSQL with a
connection pool and the project's ``search_path``), runs each call in one short
transaction and retries on deadlock or serialization failure.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from ..errors import StoreError

#: The oldest SQLite the SQL store runs on (it uses RETURNING, new in 3.35).
SQLITE_NEEDED = (3, 35)

__all__ = ["Dialect", "SQLEngine"]

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class Dialect:
    """The SQL text that differs between PostgreSQL and SQLite."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"
        self.open = "NOT done" if self.pg else "done = 0"
        self.open_i = "NOT i.done" if self.pg else "i.done = 0"
        self.active = "active" if self.pg else "active = 1"
        self.true = "true" if self.pg else "1"
        self.false = "false" if self.pg else "0"
        self.for_update = "FOR UPDATE" if self.pg else ""
        self.for_share = "FOR SHARE" if self.pg else ""
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


class SQLEngine:
    """Connections and transactions; the state is set up by :class:`~.store.SQLStore`."""

    url: URL
    schema: str | None
    d: Dialect
    engine: Engine
    _closed: bool
    _serial: threading.RLock | None
    _writer: threading.RLock | None

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
        import sqlite3

        if sqlite3.sqlite_version_info < SQLITE_NEEDED:  # RETURNING (labels, undo, suggestions) came in 3.35
            raise StoreError(
                f"This Python's SQLite is {sqlite3.sqlite_version}; a SQLite project needs {'.'.join(map(str, SQLITE_NEEDED))} "
                "or newer. Use a project folder or PostgreSQL, or a Python built with a newer SQLite."
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

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"The project in {self._where()} is closed; open it again.")

