"""The SQL store: a labelling project in PostgreSQL (teams, several app processes) or SQLite (one machine).

One implementation of :class:`~superintendent_core.store.protocol.LabelStore`
on SQLAlchemy 2, chosen by a database URL::

    postgresql+psycopg://user:password@host:5432/dbname   # psycopg 3
    postgresql://…  or  postgres://…                      # the same (rewritten to psycopg 3)
    …?schema=my_project                                    # PostgreSQL: the project in its own schema
    sqlite:///path/to/project.db                           # one machine

Tables are created on first use and versioned (:mod:`.schema`); a database
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

Modules: :mod:`.urls` (database URLs), :mod:`.engine` (engines, transactions,
retries, dialects), :mod:`.schema` (tables and server-side functions),
:mod:`.features` (feature chunks), and :class:`SQLStore` (:mod:`.store`) composed
of :mod:`.items`, :mod:`.reading`, :mod:`.serving`, :mod:`.labels`,
:mod:`.progress` and :mod:`.history`.
"""

from __future__ import annotations

from .. import is_database_url  # defined beside open_store; re-exported here
from .store import SQLStore
from .urls import normalise_url

__all__ = ["SQLStore", "is_database_url", "normalise_url"]
