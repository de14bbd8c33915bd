"""Records and their append-only versions. Rows never leave this module: callers get Records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, update

from polex.model.envelope import Envelope, Restrictions
from polex.model.record import Record, RecordVersion
from polex.store import bulk, listed, reads
from polex.store.metadata import utcnow
from polex.store.tables import record_versions, records

ENVELOPE_COLUMNS = (
    "database",
    "owner",
    "handling",
    "reliability",
    "accuracy",
    "subject_category",
    "notice_type",
    "status",
    "review_at",
    "case_ref",
    "provenance",
)


class RecordNotFound(LookupError):
    pass


class VersionConflict(Exception):
    """The record changed since the version the writer read."""


def record_id(owner: str, database: str, source_id: str) -> str:
    """Stable key from the source id: re-importing the same row addresses the same record."""
    digest = hashlib.sha256(f"{owner}\x1f{database}\x1f{source_id}".encode()).hexdigest()
    return f"r{digest[:31]}"


def _enum(value: StrEnum | None) -> str | None:
    return None if value is None else str(value)


def _envelope_values(envelope: Envelope) -> tuple[Any, ...]:
    """The envelope's columns, in ``ENVELOPE_COLUMNS`` order, plus its restrictions. A StrEnum's
    ``str()`` is its value as a plain string, without ``.value``'s Python-level descriptor
    (seven per record, on every record a bulk import writes)."""
    e = envelope
    return (
        str(e.database),
        e.owner,
        str(e.handling),
        str(e.reliability),
        str(e.accuracy),
        _enum(e.subject_category),
        _enum(e.notice_type),
        str(e.status),
        e.review_at,
        e.case_ref,
        e.provenance,
        e.restrictions.model_dump(),
    )


def _to_record(row: Any) -> Record:
    """The record of a ``records`` row: a SQLAlchemy row or a ``store.reads`` named tuple."""
    envelope = Envelope(
        **{col: getattr(row, col) for col in ENVELOPE_COLUMNS},
        restrictions=Restrictions(**row.restrictions),
    )
    return Record(
        id=row.id,
        source_id=row.source_id,
        schema=row.schema,
        properties=row.properties,
        envelope=envelope,
        version=row.version,
        caption=row.caption,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted=row.deleted,
        deleted_reason=row.deleted_reason,
    )


def snapshot(record: Record) -> dict[str, Any]:
    """What a version keeps: the whole record as it stood."""
    return {
        "source_id": record.source_id,
        "schema": record.schema,
        "caption": record.caption,
        "properties": record.properties,
        "envelope": record.envelope.model_dump(mode="json"),
        "deleted": record.deleted,
        "deleted_reason": record.deleted_reason,
    }


def build_record(
    source_id: str,
    schema: str,
    properties: dict[str, list[str]],
    caption: str,
    envelope: Envelope,
    version: int = 1,
    now: datetime | None = None,
) -> Record:
    now = now or utcnow()
    return Record(
        id=record_id(envelope.owner, envelope.database.value, source_id),
        source_id=source_id,
        schema=schema,
        properties=properties,
        envelope=envelope,
        version=version,
        caption=caption[:512],
        created_at=now,
        updated_at=now,
    )


RECORD_COLUMNS = (
    "id",
    "source_id",
    "schema",
    "caption",
    "properties",
    "version",
    "deleted",
    "deleted_reason",
    "created_at",
    "updated_at",
    *ENVELOPE_COLUMNS,
    "restrictions",
)
VERSION_COLUMNS = ("record_id", "version", "actor", "reason", "tombstone", "snapshot", "created_at")


def record_values(record: Record) -> tuple[Any, ...]:
    """A record's ``records`` row, in ``RECORD_COLUMNS`` order."""
    return (
        record.id,
        record.source_id,
        record.schema,
        record.caption,
        record.properties,
        record.version,
        record.deleted,
        record.deleted_reason,
        record.created_at,
        record.updated_at,
        *_envelope_values(record.envelope),
    )


def version_values(record: Record, actor: str, reason: str | None) -> tuple[Any, ...]:
    """A version's ``record_versions`` row, in ``VERSION_COLUMNS`` order."""
    return (
        record.id,
        record.version,
        actor,
        reason,
        record.deleted,
        snapshot(record),
        record.updated_at,
    )


def insert_many(conn: Connection, new: Sequence[Record], actor: str, reason: str | None) -> None:
    """Insert new records (version 1) and their first versions, each table in one pass."""
    if not new:
        return
    bulk.insert_rows(conn, records, RECORD_COLUMNS, [record_values(r) for r in new])
    versions = [version_values(r, actor, reason) for r in new]
    bulk.insert_rows(conn, record_versions, VERSION_COLUMNS, versions)


def write_version(conn: Connection, record: Record, actor: str, reason: str | None) -> None:
    """Store ``record`` as the next version of an existing record (optimistic concurrency)."""
    row = dict(zip(RECORD_COLUMNS, record_values(record), strict=True))
    del row["id"], row["created_at"]
    result = conn.execute(
        update(records)
        .where(records.c.id == record.id, records.c.version == record.version - 1)
        .values(**row)
    )
    if result.rowcount != 1:
        raise VersionConflict(f"record {record.id} is no longer at version {record.version - 1}")
    bulk.insert_rows(
        conn, record_versions, VERSION_COLUMNS, [version_values(record, actor, reason)]
    )


def get(conn: Connection, rid: str) -> Record:
    row = conn.execute(select(records).where(records.c.id == rid)).first()
    if row is None:
        raise RecordNotFound(rid)
    return _to_record(row)


@cache
def _by_ids(dialect: str) -> reads.Read:
    """Whole records by id, built once and run on the driver's cursor: every search reads its
    hits with it, and building the expression cost more than running it."""
    return reads.Read(select(records).where(listed.one_of(records.c.id, "ids", dialect)))


def get_many(conn: Connection, ids: Iterable[str]) -> dict[str, Record]:
    ids = list(ids)
    if not ids:
        return {}
    dialect = conn.dialect.name
    rows = _by_ids(dialect).rows(conn, {"ids": listed.value(dialect, ids)})
    return {r.id: _to_record(r) for r in rows}


def live_entities(
    conn: Connection, ids: Iterable[str], databases: Sequence[str] | None = None
) -> dict[str, tuple[str, dict[str, list[str]]]]:
    """Schema and properties of those of ``ids`` that are not deleted (and are in one of
    ``databases``, if given): what scoring a search candidate needs, without the cost of
    building whole Records for candidates that will not be hits."""
    ids = list(ids)
    if not ids:
        return {}
    query = select(records.c.id, records.c.schema, records.c.properties).where(
        records.c.id.in_(ids), records.c.deleted.is_(False)
    )
    if databases:
        query = query.where(records.c.database.in_(list(databases)))
    return {rid: (schema, properties) for rid, schema, properties in conn.execute(query)}


def existing_versions(conn: Connection, ids: Sequence[str]) -> dict[str, Record]:
    """The current state of those of ``ids`` that exist (bulk import checks in batches)."""
    return get_many(conn, ids)


def history(conn: Connection, rid: str) -> list[RecordVersion]:
    rows = conn.execute(
        select(record_versions)
        .where(record_versions.c.record_id == rid)
        .order_by(record_versions.c.version)
    ).all()
    return [
        RecordVersion(
            record_id=r.record_id,
            version=r.version,
            actor=r.actor,
            reason=r.reason,
            created_at=r.created_at,
            tombstone=r.tombstone,
            snapshot=r.snapshot,
        )
        for r in rows
    ]


def list_page(
    conn: Connection,
    *,
    database: str | None = None,
    owner: str | None = None,
    include_deleted: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Record], int]:
    """One page of records, newest first (the same update time: the higher id first), and the
    total count; an agency's pages and count read ``ix_records_owner_listing``."""
    where = []
    if database:
        where.append(records.c.database == database)
    if owner:
        where.append(records.c.owner == owner)
    if not include_deleted:
        where.append(records.c.deleted.is_(False))
    total = conn.execute(select(func.count()).select_from(records).where(*where)).scalar_one()
    rows = conn.execute(
        select(records)
        .where(*where)
        .order_by(records.c.updated_at.desc(), records.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [_to_record(r) for r in rows], total


def scan(
    conn: Connection,
    *,
    schemata: Sequence[str] | None = None,
    database: str | None = None,
    batch: int = 5000,
) -> Iterable[Record]:
    """Every live record (of these schemata, in this database) in id order, a batch at a time:
    a whole-database job reads millions of records without holding them all."""
    where: list[ColumnElement[bool]] = [records.c.deleted.is_(False)]
    if schemata:
        where.append(records.c.schema.in_(list(schemata)))
    if database:
        where.append(records.c.database == database)
    after = ""
    while True:
        query = select(records).where(*where, records.c.id > after)
        rows = conn.execute(query.order_by(records.c.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _to_record(row)
        after = rows[-1].id


def _live(schemata: Sequence[str] | None, database: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [records.c.deleted.is_(False)]
    if schemata:
        where.append(records.c.schema.in_(list(schemata)))
    if database:
        where.append(records.c.database == database)
    return where


def count_live(
    conn: Connection, *, schemata: Sequence[str] | None = None, database: str | None = None
) -> int:
    """How many live records (of these schemata, in this database) there are."""
    query = select(func.count()).select_from(records).where(*_live(schemata, database))
    return int(conn.execute(query).scalar_one())


def scan_properties(
    conn: Connection,
    *,
    schemata: Sequence[str] | None = None,
    database: str | None = None,
    start: str = "",
    stop: str | None = None,
    batch: int = 10_000,
) -> Iterable[tuple[str, str, str, dict[str, list[str]]]]:
    """(id, owner, schema, properties) of every live record, as ``scan`` orders and filters
    them, with ids from ``start`` up to (not including) ``stop``: what a whole-database
    matcher compares, read in shards without building each record's envelope (which costs
    more than the comparison columns at a million records)."""
    where: list[ColumnElement[bool]] = [records.c.deleted.is_(False)]
    if start:
        where.append(records.c.id >= start)
    if stop is not None:
        where.append(records.c.id < stop)
    if schemata:
        where.append(records.c.schema.in_(list(schemata)))
    if database:
        where.append(records.c.database == database)
    columns = (records.c.id, records.c.owner, records.c.schema, records.c.properties)
    after = ""
    while True:
        query = select(*columns).where(*where, records.c.id > after)
        rows = conn.execute(query.order_by(records.c.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield row.id, row.owner, row.schema, row.properties
        after = rows[-1].id
