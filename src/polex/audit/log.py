"""Appending to the audit trail inside the caller's transaction, and chaining what was appended.

An entry is written in the transaction of the action it describes, so both happen or neither,
as one insert into ``audit_pending``: every search and read writes one, and taking the chain
head there would serialise every action of every worker on one row until its commit. On
SQLite, a reading transaction (a search, ``polex.store.db.reading``) inserts into the reads
file's ``audit_pending`` instead, so that searches take no turns with writers.
``chain`` then moves committed entries, oldest first, into the hash chain in batches: each
entry's hash covers its content and the previous entry's hash, so any changed, removed or
reordered entry breaks the chain from that point on (``verify`` finds it). Every server worker
chains in the background (``polex.node.background``) and every reader of the trail (entries,
reports, verify, checkpoints) chains first, so it reads everything committed before it."""

from __future__ import annotations

import hashlib
from _json import make_encoder
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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


# The json module's C encoder with ``canonical``'s options, made once: ``json.dumps`` and
# ``JSONEncoder.encode`` make a new one on every call, which cost more than encoding an entry's
# fields (every search encodes three values). Without a check for circular references, which
# values built of an entry's fields cannot hold; the output is the json module's.
_ITERENCODE = make_encoder(None, str, encode_basestring, None, ":", ",", True, False, True)


def canonical(value: Any) -> str:
    """JSON as hashed: sorted keys, no spaces, non-ASCII as is."""
    if isinstance(value, str):
        return encode_basestring(value)
    return "".join(_ITERENCODE(value, 0))


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
_LOCK_HEAD = select(
    audit_head.c.seq, audit_head.c.hash, audit_head.c.reads_file, audit_head.c.reads_chained
).where(audit_head.c.id == 1)
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
_READS = db.READS_SCHEMA
_OLDEST_READS = (
    f"SELECT id, {_PENDING_READ} FROM {_READS}.audit_pending WHERE id > ? ORDER BY id LIMIT ?"
)
_READS_INSERT = "INSERT INTO {}.audit_pending ({}) VALUES ({})".format(
    _READS, ", ".join(_PENDING_COLUMNS), ", ".join("?" for _ in _PENDING_COLUMNS)
)
_PRUNE_READS = (
    f"DELETE FROM {_READS}.audit_pending WHERE id < ? AND (SELECT id FROM {_READS}.identity) = ?"
)
_CHAINED_READS = select(audit_head.c.reads_file, audit_head.c.reads_chained).where(
    audit_head.c.id == 1
)
_DELETE_CHAINED = {
    dialect: delete(audit_pending).where(listed.one_of(audit_pending.c.id, "ids", dialect))
    for dialect in ("postgresql", "sqlite")
}
_STORE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(
        seq=bindparam("new_seq"),
        hash=bindparam("new_hash"),
        reads_file=bindparam("new_reads_file"),
        reads_chained=bindparam("new_reads_chained"),
    )
)
_FIELDS = ("agency", "target", "purpose", "case_ref")
BATCH = 2000


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
    insert = bulk.inserter(conn.engine.url.drivername, audit_pending, _PENDING_COLUMNS)
    if db.in_reading_transaction(conn):
        db.write_reads(conn, _READS_INSERT, insert.convert_all(rows))
    else:
        insert.write(conn, insert.convert_all(rows))


def _lock_head(conn: Connection) -> tuple[int, str, str | None, int]:
    """The last chained sequence number and hash, and the reads file chained from with its
    last id chained; the head row locked till commit on PostgreSQL (SQLite's write lock
    serialises chainers already)."""
    row = conn.execute(_LOCK_HEAD.with_for_update()).first()
    if row is None:  # the very first entry of the node (several workers may race to it)
        conn.execute(_START[conn.dialect.name])
        row = conn.execute(_LOCK_HEAD.with_for_update()).first()
        assert row is not None
    return row.seq, row.hash, row.reads_file, row.reads_chained


def chain(conn: Connection, batch: int = BATCH) -> int:
    """Chain the committed entries waiting in ``audit_pending`` (and in the reads file's),
    oldest first, in the caller's transaction; returns how many.

    The head is locked before the pending rows are read, so a second chainer waits and then
    sees them gone; rows are removed by id, never by range, because a row with a lower id may
    commit later (it is chained by the next run). The reads file's ids commit in order (one
    writer at a time, the id taken under its lock), so there a range is safe: every id above
    the last one chained is an entry not chained yet."""
    done = 0
    seq, prev, reads_file, reads_chained = _lock_head(conn)
    dialect = conn.dialect.name
    identity = db.reads_identity(conn)
    reads = identity is not None
    if identity != reads_file:  # a reads file other than the head's has nothing chained yet
        reads_file, reads_chained = identity, 0
    entries = bulk.inserter(conn.engine.url.drivername, audit_log, _LOG_COLUMNS)
    while True:
        with driver_cursor(conn) as cursor:
            cursor.execute(_OLDEST_PENDING.format(batch=batch))
            pending = cursor.fetchall()
            waiting = []
            if reads:
                waiting = cursor.execute(_OLDEST_READS, (reads_chained, batch)).fetchall()
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
        if waiting:
            reads_chained = waiting[-1][0]
        done += len(pending) + len(waiting)
    if done:
        conn.execute(
            _STORE_HEAD,
            {
                "new_seq": seq,
                "new_hash": prev,
                "new_reads_file": reads_file,
                "new_reads_chained": reads_chained,
            },
        )
    return done


def prune_reads(conn: Connection) -> None:
    """Delete the reads file's entries that are chained, all but the last (see
    ``READS_PENDING``), in a reading transaction of their own (``polex.store.db.reading``).

    Not in ``chain``'s transaction: that one has read the reads file, and SQLite refuses a
    write to a file whose snapshot is older than its last commit (every search commits one);
    taking the reads file's lock before reading it instead would keep every search waiting
    for the whole run. The head read here is the last chaining run's, committed, and what it
    chained stays chained whatever becomes of this transaction."""
    head = conn.execute(_CHAINED_READS).first()
    if not db.in_reading_transaction(conn) or head is None or head.reads_file is None:
        return
    # the file's identity asked by the delete itself: a read of the reads file before its
    # first write would begin a snapshot of it, which a search's commit makes too old to write
    db.write_reads(conn, _PRUNE_READS, [(head.reads_chained, head.reads_file)])
