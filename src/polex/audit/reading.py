"""On SQLite, the audit entries of reading transactions (searches) are lines of the database's
journal (``polex.store.journal``), one segment per writing process, until chaining takes them.

A line holds an entry's fields as canonical JSON, its details as the canonical JSON that is
hashed, and a CRC-32 of both, tab-separated (canonical JSON has no raw tab or newline). The
bytes of each segment chained so far are recorded in ``audit_journal``, in the transaction
that chains them; a segment whose writer has closed it and whose every byte is chained is
deleted by a later run. A line that fails its check in a closed segment (a power loss
mid-write, or a hand that changed it) is not skipped in silence: the chain gets an entry
saying where and how many bytes, in its place."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.sqlite import insert

from polex.audit.canonical import canonical
from polex.audit.tables import audit_journal
from polex.store import journal
from polex.store.metadata import utcnow

# Entries as ``chain`` reads them from ``audit_pending``: id (None here), ts, actor, agency,
# action, target, purpose, case_ref, details (canonical JSON text).
Pending = tuple[Any, ...]

DAMAGED = "audit.journal_damaged"
ACTOR = "polex"
# Bytes read from a segment at a time (more when one line is longer).
READ_BYTES = 1 << 20


def _stored(ts: datetime) -> str:
    """A UTC timestamp as SQLAlchemy stores it on SQLite, as the database's entries carry it
    (``2026-12-04 19:50:00.000123``): ``isoformat`` writes that text in a fifth of the time
    ``strftime`` takes, which was the dearest step of a search's line (6 of its 10 µs)."""
    return ts.replace(tzinfo=None).isoformat(" ", "microseconds")


def lines(rows: Sequence[Sequence[Any]]) -> bytes:
    """The journal lines of entries as ``append_many`` builds them: ts, actor, action, agency,
    target, purpose, case_ref, details (canonical JSON)."""
    out = []
    for ts, actor, action, agency, target, purpose, case_ref, details in rows:
        fields = canonical([_stored(ts), actor, agency, action, target, purpose, case_ref])
        body = f"{fields}\t{details}".encode()
        out.append(b"%s\t%08x\n" % (body, zlib.crc32(body)))
    return b"".join(out)


def _entry(line: bytes) -> Pending | None:
    body, tab, check = line.rpartition(b"\t")
    if not tab or check != b"%08x" % zlib.crc32(body):
        return None
    fields, _tab, details = body.partition(b"\t")
    try:
        ts, actor, agency, action, target, purpose, case_ref = orjson.loads(fields)
        return (None, ts, actor, agency, action, target, purpose, case_ref, details.decode())
    except (ValueError, TypeError):
        return None


def _damaged(segment: str, offset: int, size: int) -> Pending:
    details = canonical({"segment": segment, "offset": offset, "bytes": size})
    return (None, _stored(utcnow()), ACTOR, None, DAMAGED, segment, None, None, details)


class Segments:
    """What one chaining run takes from the journal, and the bytes it has chained of each
    segment, stored by ``record`` in the chaining transaction. A run takes what the segments
    held when it began, as it takes the database's entries of its snapshot: under a steady
    stream of searches it would otherwise go on, holding the write lock, as long as they do."""

    def __init__(self, conn: Connection, database: str) -> None:
        self.database = database
        rows = conn.execute(select(audit_journal.c.segment, audit_journal.c.chained))
        self.chained: dict[str, int] = {r.segment: r.chained for r in rows}
        self._stored = dict(self.chained)
        self.ends = journal.sizes(database)

    def take(self, batch: int) -> list[Pending]:
        """Up to ``batch`` entries of each segment, the next ones after those taken so far."""
        taken: list[Pending] = []
        for name, end in self.ends.items():
            offset = self.chained.get(name, 0)
            if offset >= end:
                continue
            entries, used = self._read(name, offset, end - offset, batch)
            if used:
                self.chained[name] = offset + used
                taken.extend(entries)
        return taken

    def _read(self, name: str, offset: int, left: int, batch: int) -> tuple[list[Pending], int]:
        """The next entries of a segment, from ``offset``, of the ``left`` bytes this run
        takes of it."""
        size = min(READ_BYTES, left)
        while True:
            data = journal.read(self.database, name, offset, size)
            end = data.rfind(b"\n") + 1
            if end or len(data) < size or size == left:
                break
            size = min(2 * size, left)
        entries: list[Pending] = []
        used = 0
        for line in data[:end].split(b"\n")[:-1]:
            if len(entries) == batch:
                return entries, used
            entry = _entry(line)
            if entry is None:
                if not journal.closed(self.database, name):
                    return entries, used  # being written, or the writer's to repair
                entry = _damaged(name, offset + used, len(line) + 1)
            entries.append(entry)
            used += len(line) + 1
        tail = len(data) - end
        if tail and len(data) == left and journal.closed(self.database, name):
            entries.append(_damaged(name, offset + used, tail))
            used += tail
        return entries, used

    def record(self, conn: Connection) -> None:
        """Store the bytes chained of every segment read from, in the chaining transaction."""
        changed = [
            {"segment": name, "chained": chained}
            for name, chained in self.chained.items()
            if self._stored.get(name) != chained
        ]
        if changed:
            upsert = insert(audit_journal)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["segment"], set_={"chained": upsert.excluded.chained}
                ),
                changed,
            )
            self._stored = dict(self.chained)

    def prune(self, conn: Connection) -> None:
        """Delete the closed segments chained to their last byte by earlier runs (committed:
        this run has changed nothing yet), then their rows. A segment deleted whose row this
        transaction then fails to delete is gone from the directory, and its row goes next
        time; a segment is never deleted that a row does not show chained whole."""
        journal.remove_abandoned(self.database)
        gone = [
            name
            for name, chained in self._stored.items()
            if journal.remove(self.database, name, chained)
        ]
        if gone:
            conn.execute(delete(audit_journal).where(audit_journal.c.segment.in_(gone)))
            for name in gone:
                del self._stored[name], self.chained[name]
                self.ends.pop(name, None)
