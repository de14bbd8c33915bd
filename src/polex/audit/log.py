"""Appending to the audit trail inside the caller's transaction, and chaining what was appended.

An entry is written in the transaction of the action it describes, so both happen or neither,
as one insert into ``audit_pending``: every search and read writes one, and taking the chain
head there would serialise every action of every worker on one row until its commit. On
SQLite, a reading transaction (a search, ``polex.store.db.reading``) appends its entry to the
journal beside the database at its commit instead (``polex.audit.reading``), so that searches
take no lock at all.
``chain`` then moves committed entries, oldest first, into the hash chain in batches: each
entry's hash covers its content and the previous entry's hash, so any changed, removed or
reordered entry breaks the chain from that point on (``verify`` finds it). Every server worker
chains in the background (``polex.node.background``) and every reader of the trail (entries,
reports, verify, checkpoints) chains first, so it reads everything committed before it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from polex.audit import reading
from polex.audit.canonical import canonical
from polex.audit.tables import audit_head, audit_log, audit_pending
from polex.store import bulk, db, listed
from polex.store.cursor import driver_cursor
from polex.store.metadata import utcnow

GENESIS = "0" * 64


def _iso(ts: datetime | str) -> str:
    """The timestamp as hashed: UTC without zone, to the microsecond. PostgreSQL's driver gives
    it in the session's zone, SQLAlchemy on SQLite without any, SQLite's driver as the text
    SQLAlchemy stored (``chain`` reads the driver's values)."""
    if isinstance(ts, str):
        if len(ts) == 26 and ts[10] == " ":  # as SQLAlchemy stores it on SQLite: no need to parse
            return f"{ts[:10]}T{ts[11:]}"
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(timespec="microseconds")


def entry_hash(
    seq: int,
    ts: datetime,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None,
    purpose: str | None,
    case_ref: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 of the canonical JSON array of the entry's fields and the previous hash."""
    return _hash(
        seq, ts, actor, agency, action, target, purpose, case_ref, canonical(details), prev_hash
    )


def _hash(
    seq: int,
    ts: datetime | str,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None,
    purpose: str | None,
    case_ref: str | None,
    details_json: str,
    prev_hash: str,
) -> str:
    """``entry_hash`` with the details already canonical JSON, as the action stored them:
    chaining hashes that text without parsing and re-encoding it (the array's elements are
    encoded one by one, so the text is the same as the whole array's encoding)."""
    fields = canonical([seq, _iso(ts), actor, agency, action, target, purpose, case_ref])
    body = f"{fields[:-1]},{details_json},{canonical(prev_hash)}]"
    return hashlib.sha256(body.encode()).hexdigest()


# Built once: building and caching statements would cost more than running them.
_LOCK_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_START = {
    "postgresql": pg_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
    "sqlite": sqlite_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
}
# In the order ``append_many`` builds its rows.
_PENDING_COLUMNS = ("ts", "actor", "action", "agency", "target", "purpose", "case_ref", "details")
# Every column of the chain, in the table's order, which ``chain`` builds its rows in.
_LOG_COLUMNS = tuple(c.name for c in audit_log.c)
# Read and written on the driver's own cursor, its values passed on as it gave them (SQLite's
# timestamps as the text SQLAlchemy stored, the details as the text that was hashed):
# through SQLAlchemy's rows and type conversions, chaining cost more than the search it audits.
_PENDING_READ = ", ".join(c for c in _LOG_COLUMNS if c in audit_pending.c)
_OLDEST_PENDING = f"SELECT id, {_PENDING_READ} FROM audit_pending ORDER BY id LIMIT {{batch:d}}"
_DELETE_CHAINED = {
    dialect: delete(audit_pending).where(listed.one_of(audit_pending.c.id, "ids", dialect))
    for dialect in ("postgresql", "sqlite")
}
_STORE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_FIELDS = ("agency", "target", "purpose", "case_ref")
BATCH = 2000
# On PostgreSQL ``audit_pending`` is a queue: every entry of every search is inserted and, half a
# second later, deleted, and a deleted row stays in the table and its index until a VACUUM.
# Autovacuum comes once a fifth of a table is dead, or never on a server that runs without it
# (the one the tests and benchmarks run on: 83 MB of dead rows after 350,000 searches), and
# each chaining run's scan of the oldest rows reads past every dead one. Whoever chains this
# many entries vacuums the queue.
VACUUM_EVERY = 5000


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    agency: str | None = None,
    target: str | None = None,
    purpose: str | None = None,
    case_ref: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one entry in the caller's transaction."""
    append_many(
        conn,
        [
            {
                "actor": actor,
                "action": action,
                "agency": agency,
                "target": target,
                "purpose": purpose,
                "case_ref": case_ref,
                "details": details,
            }
        ],
    )


def append_many(conn: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Write several entries (each with ``append``'s keyword arguments) in the caller's
    transaction, in one round trip: a bulk action (a batch of messages) pays once. They share
    one timestamp, the action's."""
    if not entries:
        return
    now = utcnow()
    rows = [
        (
            now,
            e["actor"],
            e["action"],
            *(e.get(name) for name in _FIELDS),
            canonical(e.get("details") or {}),
        )
        for e in entries
    ]
    # The database driver's own insert (COPY on PostgreSQL): every search and read pays for
    # this one, and a built SQLAlchemy insert costs more than SQLite spends storing the row.
    if db.in_reading_transaction(conn):
        db.append_at_commit(conn, reading.lines(rows))
        return
    insert = bulk.inserter(conn.engine.url.drivername, audit_pending, _PENDING_COLUMNS)
    insert.write(conn, insert.convert_all(rows))


def vacuum_pending(engine: Engine) -> None:
    """VACUUM ``audit_pending`` on PostgreSQL (outside any transaction, as it must run), unless
    another chainer's VACUUM of it is running; SQLite reuses a deleted row's space itself."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (SKIP_LOCKED) {audit_pending.name}"))


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The last chained sequence number and hash; the head row locked till commit on
    PostgreSQL (SQLite's write lock serialises chainers already)."""
    row = conn.execute(_LOCK_HEAD.with_for_update()).first()
    if row is None:  # the very first entry of the node (several workers may race to it)
        conn.execute(_START[conn.dialect.name])
        row = conn.execute(_LOCK_HEAD.with_for_update()).first()
        assert row is not None
    return row.seq, row.hash


def chain(conn: Connection, batch: int = BATCH) -> int:
    """Chain the committed entries waiting in ``audit_pending`` (and on SQLite in the
    journal), oldest first, in the caller's transaction; returns how many.

    The head is locked before the pending rows are read, so a second chainer waits and then
    sees them gone; rows are removed by id, never by range, because a row with a lower id may
    commit later (it is chained by the next run). A segment of the journal is written in order
    by its one process, so there the bytes chained so far tell what is left."""
    done = 0
    seq, prev = _lock_head(conn)
    dialect = conn.dialect.name
    database = db.journal_database(conn)
    segments = reading.Segments(conn, database) if database else None
    if segments:
        segments.prune(conn)
    entries = bulk.inserter(conn.engine.url.drivername, audit_log, _LOG_COLUMNS)
    while True:
        with driver_cursor(conn) as cursor:
            cursor.execute(_OLDEST_PENDING.format(batch=batch))
            pending = cursor.fetchall()
        waiting = segments.take(batch) if segments else []
        if not pending and not waiting:
            break
        rows = []
        # SQLite's timestamps are text of one width, in the order of time
        both = sorted(pending + waiting, key=lambda p: p[1]) if pending and waiting else None
        for _id, ts, actor, agency, action, target, purpose, case_ref, details in (
            both or pending or waiting
        ):
            seq += 1
            digest = _hash(seq, ts, actor, agency, action, target, purpose, case_ref, details, prev)
            rows.append(
                (seq, ts, actor, agency, action, target, purpose, case_ref, details, prev, digest)
            )
            prev = digest
        entries.write(conn, rows)
        if pending:
            ids = listed.value(dialect, [p[0] for p in pending])
            conn.execute(_DELETE_CHAINED[dialect], {"ids": ids})
        done += len(pending) + len(waiting)
    if segments:
        segments.record(conn)
    if done:
        conn.execute(_STORE_HEAD, {"new_seq": seq, "new_hash": prev})
    return done
