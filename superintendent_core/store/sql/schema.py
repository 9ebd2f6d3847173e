"""The SQL store's tables (SQLAlchemy Core), their version, and creating / checking them.

Every table name starts with ``si_`` so a project can live in a database (or a
PostgreSQL schema) that holds other tables too.

Tables
------
``si_schema_version``
    One row: the schema version that wrote the database. A newer one is refused.
``si_project``
    One row: settings (JSON), the pool's shape (JSON), ``n_items``, the order
    revision and whether true labels exist.
``si_counters``
    One row: ``events`` (label / undo / skip events so far), ``labelled`` (items
    with a label in force) and ``done`` (items needing no more labels). Updated
    as the last statement of every event transaction (so its row lock is held
    only through the commit); ``revision()`` and ``progress()`` read it instead
    of counting the pool.
``si_tally``
    Running counts for ``progress()``: items per training label (kind 0, keyed by
    the label string) and labels in force per labeller (kind 1).
``si_items``
    One narrow row per item, the serving state: ``rank`` (position in the serving
    order; ``2**40 + id`` for items outside the last ``set_order``), ``n_active`` (labellers with a label in force), ``done``
    (``n_active >= overlap``), ``train_label`` (the most recent label in force)
    and the lease (``lease_owner``, ``lease_until``). A partial index on
    ``(rank, id) WHERE NOT done`` makes finding the next item an index scan
    however full the pool is.
``si_item_data``
    What to display (image bytes, text, or a table row as JSON) and the hidden
    true label; kept apart so the hot rows of ``si_items`` stay small.
``si_features``
    The model's features in chunks of consecutive ids (about 1 MiB of raw data
    each): raw numpy bytes for arrays (uncompressed, so one item's row can be
    read alone), zstd-compressed Arrow IPC for text and table features. Written
    once, never updated.
``si_events``
    Every label, relabel, undo and skip, in order (``seq``); ``kind`` is one of
    the event kinds of :mod:`superintendent_core.store.ledger`. ``active`` marks the
    labels in force; a unique partial index on ``(item_id, labeller) WHERE
    active`` guarantees one label in force per labeller and item.
``si_skips``
    ``(item_id, labeller)`` pairs: the item is served to that labeller last.
``si_history``
    One row per retrain (JSON).
``si_suggestions`` (schema 2)
    At most one row: the latest retrain's suggestions (parquet bytes of item
    id, label, probability), their version (+1 per save) and the retrain's
    facts (JSON). Opening a schema-1 database adds this table.
``si_order_audit`` (schema 3)
    The audit slots of the current order (:mod:`superintendent_core.store.audit`):
    item id, probability, support and ``seq`` (labelled items when the order was
    written); replaced by every ``set_order``. A few hundred rows at most.
``si_served`` (schema 3)
    One row per labeller: the item last served to them anew and its audit slot
    (NULL: a plain slot; PostgreSQL keeps rows of audit slots only). Written by ``next_item`` (any process), read and removed
    by the submit of that item's label, so the record is right whichever
    process served and whichever submitted.
``si_audit`` (schema 3)
    The audit records: one row per item whose first label in force came from an
    audit slot, written in the label's transaction; removed by an undo that
    leaves the item unlabelled. Opening a schema-2 database adds these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from .._rules import IDLE_LEASE_MIN, IDLE_LEASE_PERCENT

__all__ = [
    "PG_FUNCTIONS",
    "PREFIX",
    "SCHEMA_VERSION",
    "TABLES_ADDED",
    "TABLES",
    "TALLY_CLASS",
    "TALLY_LABELLER",
    "UNRANKED",
    "metadata",
]

#: Version of the tables below. Bump it (and add a migration) when they change.
SCHEMA_VERSION = 3
PREFIX = "si_"

#: Rank of an item outside the current order: ``UNRANKED + id`` (after every ordered item, by id).
#: Stable across ``set_order`` calls, so re-ordering writes only the rows whose place changes.
UNRANKED = 1 << 40

metadata = sa.MetaData()

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid in SQLite

schema_version = sa.Table(
    "si_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("written_by", sa.Text, nullable=False),
)

project = sa.Table(
    "si_project",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("settings", sa.Text, nullable=False),
    sa.Column("shape", sa.Text, nullable=True),
    sa.Column("n_items", sa.BigInteger, nullable=False),
    sa.Column("order_version", sa.BigInteger, nullable=False),
    sa.Column("has_true_labels", sa.Boolean, nullable=False),
)

counters = sa.Table(
    "si_counters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("labelled", sa.BigInteger, nullable=False),
    sa.Column("done", sa.BigInteger, nullable=False),
)

#: ``kind`` of a :data:`tally` row.
TALLY_CLASS, TALLY_LABELLER = 0, 1

tally = sa.Table(
    "si_tally",
    metadata,
    sa.Column("kind", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

items = sa.Table(
    "si_items",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("rank", sa.BigInteger, nullable=False),
    sa.Column("n_active", sa.Integer, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("train_label", sa.Text, nullable=True),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", sa.Double, nullable=True),
)
sa.Index("ux_si_items_name", items.c.name, unique=True)
sa.Index(
    "ix_si_items_open",
    items.c.rank,
    items.c.id,
    postgresql_where=sa.text("NOT done"),
    sqlite_where=sa.text("done = 0"),
)
sa.Index(
    "ix_si_items_lease_owner",
    items.c.lease_owner,
    postgresql_where=sa.text("lease_owner IS NOT NULL"),
    sqlite_where=sa.text("lease_owner IS NOT NULL"),
)

item_data = sa.Table(
    "si_item_data",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=False),
    sa.Column("display", sa.LargeBinary, nullable=True),
    sa.Column("display_text", sa.Text, nullable=True),
    sa.Column("true_label", sa.Text, nullable=True),
)

features = sa.Table(
    "si_features",
    metadata,
    sa.Column("start_id", _Id, primary_key=True, autoincrement=False),
    sa.Column("stop_id", sa.BigInteger, nullable=False),
    sa.Column("encoding", sa.String(16), nullable=False),  # "ndarray" | "arrow"
    sa.Column("codec", sa.String(16), nullable=False),  # "none" (ndarray) | "zstd" (arrow)
    sa.Column("dtype", sa.String(16), nullable=True),
    sa.Column("n_features", sa.Integer, nullable=True),
    sa.Column("image_h", sa.Integer, nullable=True),
    sa.Column("image_w", sa.Integer, nullable=True),
    sa.Column("pixel_max", sa.Double, nullable=True),
    sa.Column("raw_bytes", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

events = sa.Table(
    "si_events",
    metadata,
    sa.Column("seq", _Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.SmallInteger, nullable=False),  # 0 label, 1 undo, 2 skip, 3 relabel
    sa.Column("item_id", sa.BigInteger, nullable=False),
    sa.Column("labeller", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("seconds", sa.Double, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("ref", sa.BigInteger, nullable=True),
)
sa.Index(
    "ux_si_events_active",
    events.c.item_id,
    events.c.labeller,
    unique=True,
    postgresql_where=sa.text("active"),
    sqlite_where=sa.text("active = 1"),
)
sa.Index(
    "ix_si_events_labeller",
    events.c.labeller,
    events.c.seq,
    postgresql_where=sa.text("active"),
    sqlite_where=sa.text("active = 1"),
)

skips = sa.Table(
    "si_skips",
    metadata,
    sa.Column("item_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("labeller", sa.Text, primary_key=True),
)
sa.Index("ix_si_skips_labeller", skips.c.labeller, skips.c.item_id)

history = sa.Table(
    "si_history",
    metadata,
    sa.Column("seq", _Id, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("entry", sa.Text, nullable=False),
)

suggestions = sa.Table(
    "si_suggestions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("meta", sa.Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

order_audit = sa.Table(
    "si_order_audit",
    metadata,
    sa.Column("item_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("probability", sa.Double, nullable=False),
    sa.Column("support", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

served = sa.Table(
    "si_served",
    metadata,
    sa.Column("labeller", sa.Text, primary_key=True),
    sa.Column("item_id", sa.BigInteger, nullable=False),
    sa.Column("probability", sa.Double, nullable=True),  # NULL: served from a plain slot
    sa.Column("support", sa.BigInteger, nullable=True),
    sa.Column("seq", sa.BigInteger, nullable=True),
)

audit = sa.Table(
    "si_audit",
    metadata,
    sa.Column("item_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_seq", sa.BigInteger, nullable=False),
    sa.Column("probability", sa.Double, nullable=False),
    sa.Column("support", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("labeller", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)

#: Every table, in creation order.
TABLES = tuple(metadata.sorted_tables)

#: The migration to each schema version: tables it adds (created when an older database opens).
TABLES_ADDED: dict[int, tuple[str, ...]] = {
    2: ("si_suggestions",),
    3: ("si_order_audit", "si_served", "si_audit"),
}


# --------------------------------------------------------------------------- PostgreSQL functions
#
# The hot path on PostgreSQL runs server-side, one round trip per call. Lock order, everywhere:
# item row(s) -> si_tally rows (kind, key ascending) -> si_counters. The SQLite path in
# serving.py and labels.py does the same steps in Python inside one BEGIN IMMEDIATE transaction.

_PG_TALLY = """
CREATE OR REPLACE FUNCTION si_tally_move(p_kind smallint, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql AS $body$
BEGIN
    -- one item moves from key p_old to key p_new (either may be NULL); rows locked in key order
    IF p_old IS NOT DISTINCT FROM p_new THEN
        RETURN;
    END IF;
    IF p_old IS NOT NULL AND (p_new IS NULL OR p_old < p_new) THEN
        UPDATE si_tally SET n = n - 1 WHERE kind = p_kind AND key = p_old;
        p_old := NULL;
    END IF;
    IF p_new IS NOT NULL THEN
        INSERT INTO si_tally (kind, key, n) VALUES (p_kind, p_new, 1)
        ON CONFLICT (kind, key) DO UPDATE SET n = si_tally.n + 1;
    END IF;
    IF p_old IS NOT NULL THEN
        UPDATE si_tally SET n = n - 1 WHERE kind = p_kind AND key = p_old;
    END IF;
END
$body$;
"""

_PG_NEXT = """
CREATE OR REPLACE FUNCTION si_next_item(p_who text, p_now float8) RETURNS bigint
LANGUAGE plpgsql AS $body$
DECLARE
    v_id bigint;
    v_settings json;
    v_overlap int;
    v_attempt int;
    v_lease boolean := true;
    v_open bigint;
    v_held bigint;
    v_aq float8;
    v_asupport bigint;
    v_aseq bigint;
BEGIN
    -- a lease is a reservation, not data: do not wait for the WAL flush at commit
    PERFORM set_config('synchronous_commit', 'off', true);
    -- one labeller's calls (several tabs) one at a time
    PERFORM pg_advisory_xact_lock(1505, hashtext(p_who));
    SELECT id INTO v_id FROM si_items
        WHERE lease_owner = p_who AND lease_until > p_now
        ORDER BY lease_until DESC LIMIT 1;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    SELECT settings::json INTO v_settings FROM si_project WHERE id = 1;
    v_overlap := (v_settings->>'overlap')::int;
    IF NOT EXISTS (SELECT 1 FROM si_tally WHERE kind = 1 AND key = p_who AND n > 0) THEN
        -- an idle labeller (no label in force): idle labellers together hold at most
        -- _rules.idle_lease_cap(open items) leases; counted one idle call at a time
        PERFORM pg_advisory_xact_lock(1506, 0);
        SELECT p.n_items - c.done INTO v_open FROM si_project p CROSS JOIN si_counters c
            WHERE p.id = 1 AND c.id = 1;
        SELECT COUNT(*) INTO v_held FROM si_items i
            WHERE i.lease_owner IS NOT NULL AND i.lease_until > p_now
              AND NOT EXISTS (SELECT 1 FROM si_tally t WHERE t.kind = 1 AND t.key = i.lease_owner AND t.n > 0);
        v_lease := v_held < GREATEST(@IDLE_MIN@, (@IDLE_PERCENT@ * v_open + 99) / 100);
    END IF;
    FOR v_attempt IN 1..50 LOOP
        SELECT i.id INTO v_id FROM si_items i
            WHERE NOT i.done AND (i.lease_until IS NULL OR i.lease_until <= p_now)
              AND NOT EXISTS (SELECT 1 FROM si_skips s WHERE s.item_id = i.id AND s.labeller = p_who)
              AND (v_overlap = 1 OR NOT EXISTS (
                   SELECT 1 FROM si_events e WHERE e.item_id = i.id AND e.labeller = p_who AND e.active))
            ORDER BY i.rank LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;
        EXIT WHEN FOUND;
        -- nothing unlocked: either nothing is open, or all open rows are locked for a moment
        -- (a set_order rewriting ranks): then wait for the lock and look again
        PERFORM 1 FROM si_items i
            WHERE NOT i.done AND (i.lease_until IS NULL OR i.lease_until <= p_now)
              AND NOT EXISTS (SELECT 1 FROM si_skips s WHERE s.item_id = i.id AND s.labeller = p_who)
              AND (v_overlap = 1 OR NOT EXISTS (
                   SELECT 1 FROM si_events e WHERE e.item_id = i.id AND e.labeller = p_who AND e.active))
            LIMIT 1;
        EXIT WHEN NOT FOUND;
        SELECT i.id INTO v_id FROM si_items i
            WHERE NOT i.done AND (i.lease_until IS NULL OR i.lease_until <= p_now)
              AND NOT EXISTS (SELECT 1 FROM si_skips s WHERE s.item_id = i.id AND s.labeller = p_who)
              AND (v_overlap = 1 OR NOT EXISTS (
                   SELECT 1 FROM si_events e WHERE e.item_id = i.id AND e.labeller = p_who AND e.active))
            ORDER BY i.rank LIMIT 1
            FOR UPDATE OF i;
        EXIT WHEN FOUND;
    END LOOP;
    IF v_id IS NULL THEN
        -- nothing else left: the labeller's own skipped items come back, best rank first
        SELECT i.id INTO v_id FROM si_items i
            JOIN si_skips s ON s.item_id = i.id AND s.labeller = p_who
            WHERE NOT i.done AND (i.lease_until IS NULL OR i.lease_until <= p_now)
              AND (v_overlap = 1 OR NOT EXISTS (
                   SELECT 1 FROM si_events e WHERE e.item_id = i.id AND e.labeller = p_who AND e.active))
            ORDER BY i.rank LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;
        IF FOUND AND v_lease THEN
            DELETE FROM si_skips WHERE item_id = v_id AND labeller = p_who;
        END IF;
    END IF;
    IF v_id IS NOT NULL AND v_lease THEN
        UPDATE si_items SET lease_owner = p_who,
                            lease_until = p_now + (v_settings->>'lease_seconds')::float8
            WHERE id = v_id;
    END IF;
    IF v_id IS NOT NULL THEN
        -- where it was served from: an audit slot of the current order (kept for its label), or not
        SELECT probability, support, seq INTO v_aq, v_asupport, v_aseq FROM si_order_audit WHERE item_id = v_id;
        IF FOUND THEN
            INSERT INTO si_served (labeller, item_id, probability, support, seq)
                VALUES (p_who, v_id, v_aq, v_asupport, v_aseq)
                ON CONFLICT (labeller) DO UPDATE SET item_id = excluded.item_id,
                    probability = excluded.probability, support = excluded.support, seq = excluded.seq;
        ELSE
            DELETE FROM si_served WHERE labeller = p_who;
        END IF;
    END IF;
    RETURN v_id;
END
$body$;
"""

_PG_LABEL = """
CREATE OR REPLACE FUNCTION si_label(p_id bigint, p_who text, p_label text, p_kind smallint,
                                    p_at float8, p_seconds float8, p_settings text) RETURNS int
LANGUAGE plpgsql AS $body$
DECLARE
    v_n int;
    v_old_n int;
    v_train text;
    v_was_done boolean;
    v_done boolean;
    v_settings text;
    v_replaced int;
    v_event bigint;
    v_aq float8;
    v_asupport bigint;
    v_aseq bigint;
BEGIN
    -- 0: recorded; 1: the settings changed since the caller validated the label (nothing written)
    SELECT n_active, train_label, done INTO v_old_n, v_train, v_was_done
        FROM si_items WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such item' USING ERRCODE = 'no_data_found';
    END IF;
    SELECT settings INTO v_settings FROM si_project WHERE id = 1;
    IF v_settings IS DISTINCT FROM p_settings THEN
        RETURN 1;
    END IF;
    UPDATE si_events SET active = false WHERE item_id = p_id AND labeller = p_who AND active;
    GET DIAGNOSTICS v_replaced = ROW_COUNT;
    INSERT INTO si_events (kind, item_id, labeller, label, at, seconds, active)
        VALUES (p_kind, p_id, p_who, p_label, p_at, p_seconds, true) RETURNING seq INTO v_event;
    IF p_kind = 0 THEN
        -- a submit of the item served to this labeller from an audit slot: its first label records the draw
        DELETE FROM si_served WHERE labeller = p_who AND item_id = p_id
            RETURNING probability, support, seq INTO v_aq, v_asupport, v_aseq;
        IF FOUND AND v_old_n = 0 AND v_aq IS NOT NULL THEN
            INSERT INTO si_audit (item_id, event_seq, probability, support, seq, labeller, at)
                VALUES (p_id, v_event, v_aq, v_asupport, v_aseq, p_who, p_at)
                ON CONFLICT (item_id) DO UPDATE SET event_seq = excluded.event_seq,
                    probability = excluded.probability, support = excluded.support, seq = excluded.seq,
                    labeller = excluded.labeller, at = excluded.at;
        END IF;
    END IF;
    v_n := v_old_n + CASE WHEN v_replaced = 0 THEN 1 ELSE 0 END;
    v_done := v_n >= (v_settings::json->>'overlap')::int;
    UPDATE si_items SET n_active = v_n, done = v_done, train_label = p_label,
        lease_until = CASE WHEN v_done OR lease_owner = p_who THEN NULL ELSE lease_until END,
        lease_owner = CASE WHEN v_done OR lease_owner = p_who THEN NULL ELSE lease_owner END
        WHERE id = p_id;
    PERFORM si_tally_move(0::smallint, v_train, p_label);
    IF v_replaced = 0 THEN
        PERFORM si_tally_move(1::smallint, NULL, p_who);
    END IF;
    UPDATE si_counters SET events = events + 1,
        labelled = labelled + CASE WHEN v_old_n = 0 THEN 1 ELSE 0 END,
        done = done + CASE WHEN v_done AND NOT v_was_done THEN 1 ELSE 0 END
        WHERE id = 1;
    RETURN 0;
END
$body$;
"""

_PG_UNDO = """
CREATE OR REPLACE FUNCTION si_undo(p_who text, p_at float8, p_now float8) RETURNS bigint
LANGUAGE plpgsql AS $body$
DECLARE
    v_seq bigint;
    v_item bigint;
    v_old_n int;
    v_n int;
    v_train text;
    v_new_train text;
    v_was_done boolean;
    v_done boolean;
    v_settings json;
    v_gone int;
    v_attempt int;
    v_aq float8;
    v_asupport bigint;
    v_aseq bigint;
BEGIN
    FOR v_attempt IN 1..10 LOOP
        SELECT seq, item_id INTO v_seq, v_item FROM si_events
            WHERE labeller = p_who AND active ORDER BY seq DESC LIMIT 1;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        SELECT n_active, train_label, done INTO v_old_n, v_train, v_was_done
            FROM si_items WHERE id = v_item FOR UPDATE;
        UPDATE si_events SET active = false WHERE seq = v_seq AND active;
        GET DIAGNOSTICS v_gone = ROW_COUNT;
        EXIT WHEN v_gone = 1;
    END LOOP;
    IF v_gone <> 1 THEN
        RAISE EXCEPTION 'undo kept racing with another undo by the same labeller'
            USING ERRCODE = 'serialization_failure';
    END IF;
    SELECT settings::json INTO v_settings FROM si_project WHERE id = 1;
    SELECT label INTO v_new_train FROM si_events
        WHERE item_id = v_item AND active ORDER BY seq DESC LIMIT 1;
    INSERT INTO si_events (kind, item_id, labeller, at, active, ref)
        VALUES (1, v_item, p_who, p_at, false, v_seq);
    UPDATE si_items SET lease_owner = NULL, lease_until = NULL
        WHERE lease_owner = p_who AND id <> v_item;
    v_n := v_old_n - 1;
    IF v_n = 0 THEN
        -- the item is no longer labelled: its audit record is void; labelling it again at once
        -- (it is leased back to this labeller) brings the record back
        DELETE FROM si_audit WHERE item_id = v_item RETURNING probability, support, seq
            INTO v_aq, v_asupport, v_aseq;
    END IF;
    IF v_aq IS NOT NULL THEN
        INSERT INTO si_served (labeller, item_id, probability, support, seq)
            VALUES (p_who, v_item, v_aq, v_asupport, v_aseq)
            ON CONFLICT (labeller) DO UPDATE SET item_id = excluded.item_id,
                probability = excluded.probability, support = excluded.support, seq = excluded.seq;
    ELSE
        DELETE FROM si_served WHERE labeller = p_who;
    END IF;
    v_done := v_n >= (v_settings->>'overlap')::int;
    UPDATE si_items SET n_active = v_n, done = v_done, train_label = v_new_train,
        lease_owner = p_who, lease_until = p_now + (v_settings->>'lease_seconds')::float8
        WHERE id = v_item;
    PERFORM si_tally_move(0::smallint, v_train, v_new_train);
    PERFORM si_tally_move(1::smallint, p_who, NULL);
    UPDATE si_counters SET events = events + 1,
        labelled = labelled - CASE WHEN v_n = 0 THEN 1 ELSE 0 END,
        done = done - CASE WHEN v_was_done AND NOT v_done THEN 1 ELSE 0 END
        WHERE id = 1;
    RETURN v_item;
END
$body$;
"""

#: DDL of the server-side functions (created with the tables; PostgreSQL only).
_PG_NEXT = _PG_NEXT.replace("@IDLE_MIN@", str(IDLE_LEASE_MIN)).replace("@IDLE_PERCENT@", str(IDLE_LEASE_PERCENT))

PG_FUNCTIONS: tuple[str, ...] = (_PG_TALLY, _PG_NEXT, _PG_LABEL, _PG_UNDO)
