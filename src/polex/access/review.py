"""Supervisor review and retention.

Records of the reviewed databases are created pending and shared only once a supervisor of
the owner agency (or of the node's compliance unit) approves them against a checklist — the
minimum identifiers, a legal basis, and no purely political, military, religious or racial
character (INTERPOL's Article 3). Every record has a review date; past it the record stops
being shared (records.cedar) and waits in its owner's queue to be approved again or purged.
Every decision is a new version of the record and an audit entry, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Connection, delete, insert, select

from polex.access.policy import PolicyRefused, may_purge, may_review
from polex.access.principal import Principal, Role
from polex.access.tables import compliance_units
from polex.audit import log as audit
from polex.federation import offers
from polex.graph import refs
from polex.model.envelope import REVIEW_YEARS, Database, ReviewStatus
from polex.model.record import Record
from polex.search import index
from polex.store import agencies
from polex.store import records as store
from polex.store.metadata import utcnow
from polex.store.tables import records


class ReviewRefused(ValueError):
    """A decision the rules do not allow as asked (the checklist, the state, the date)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(message)


class Checklist(BaseModel):
    """What the reviewing supervisor confirms before a record is shared."""

    model_config = ConfigDict(extra="forbid")

    identifiers_checked: bool = False  # the identifiers are the person's, and enough
    legal_basis: str = Field(default="", max_length=500)  # the national law, the warrant
    article3_clear: bool = False  # no predominantly political/military/religious/racial case


class Queue(StrEnum):
    pending = "pending"  # awaiting a first (or, after a change, another) review
    overdue = "overdue"  # past the review date: not shared until reviewed again
    rejected = "rejected"


@dataclass(frozen=True)
class Item:
    record_id: str
    source_id: str
    owner: str
    database: str
    schema: str
    caption: str
    status: str
    review_at: date | None
    overdue: bool
    missing_identifiers: tuple[str, ...]


# At least one property of each group must have a value: what is needed to tell one person
# or object from another before it is shared.
MINIMUM_IDENTIFIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Person": (("name",), ("birthDate", "idNumber", "passportNumber", "nationality")),
    "Vehicle": (("registrationNumber", "vin"),),
    "Vessel": (("imoNumber", "registrationNumber", "name"),),
    "Passport": (("passportNumber", "number"),),
    "Identification": (("number",),),
    "Firearm": (("serialNumber",),),
}
DEFAULT_MINIMUM: tuple[tuple[str, ...], ...] = (("name",),)


def missing_identifiers(record: Record) -> list[str]:
    """The groups of identifiers the record lacks, each as "a|b|c"."""
    groups = MINIMUM_IDENTIFIERS.get(record.schema, DEFAULT_MINIMUM)
    return [
        "|".join(group)
        for group in groups
        if not any(v.strip() for p in group for v in record.properties.get(p, []))
    ]


def is_compliance_unit(conn: Connection, agency: str) -> bool:
    row = conn.execute(
        select(compliance_units.c.agency).where(compliance_units.c.agency == agency.upper())
    ).first()
    return row is not None


def compliance_agencies(conn: Connection) -> list[str]:
    return list(conn.execute(select(compliance_units.c.agency).order_by("agency")).scalars())


def designate(conn: Connection, agency: str, *, actor: str, remove: bool = False) -> None:
    """Make an agency (or stop it being) the node's compliance unit; an admin's decision."""
    code = agency.upper()
    if agencies.get(conn, code) is None:
        raise ReviewRefused("agency", "agency.unknown", f"agency: {code} is not on this node")
    if remove:
        conn.execute(delete(compliance_units).where(compliance_units.c.agency == code))
    elif not is_compliance_unit(conn, code):
        conn.execute(
            insert(compliance_units).values(
                agency=code, designated_by=actor, designated_at=utcnow()
            )
        )
    audit.append(
        conn,
        actor=actor,
        action="admin.compliance_unit_remove" if remove else "admin.compliance_unit_add",
        target=code,
    )


def _item(record: Record, today: date) -> Item:
    review_at = record.envelope.review_at
    return Item(
        record_id=record.id,
        source_id=record.source_id,
        owner=record.owner,
        database=record.database,
        schema=record.schema,
        caption=record.caption,
        status=record.envelope.status.value,
        review_at=review_at,
        overdue=review_at is not None and review_at < today,
        missing_identifiers=tuple(missing_identifiers(record)),
    )


def _require_reviewer(conn: Connection, principal: Principal) -> bool:
    """Whether the principal reviews for the whole node (compliance unit); refused when the
    principal reviews nothing at all."""
    if principal.role != Role.supervisor or principal.partner:
        raise PolicyRefused("role", "review", "role: reviewing records needs a supervisor")
    return is_compliance_unit(conn, principal.agency)


def queue(
    conn: Connection,
    principal: Principal,
    which: Queue = Queue.pending,
    *,
    database: Database | None = None,
    today: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Item]:
    """The records waiting for the principal: their own agency's, or every agency's for the
    compliance unit. Oldest first — the longest waiting are reviewed first."""
    today = today or date.today()
    compliance = _require_reviewer(conn, principal)
    where: list[ColumnElement[bool]] = [records.c.deleted.is_(False)]
    if which == Queue.overdue:
        where.append(records.c.review_at < today)
    else:
        where.append(records.c.status == which.value)
    if not compliance:
        where.append(records.c.owner == principal.agency)
    if database is not None:
        where.append(records.c.database == database.value)
    ids = conn.execute(
        select(records.c.id)
        .where(*where)
        .order_by(records.c.updated_at, records.c.id)
        .offset(offset)
        .limit(limit)
    ).scalars()
    found = store.get_many(conn, list(ids))
    items = [r for r in found.values() if may_review(principal, r.envelope, compliance, today)]
    items.sort(key=lambda r: (r.updated_at, r.id))
    return [_item(r, today) for r in items]


def due(
    conn: Connection, until: date, owner: str | None = None, today: date | None = None
) -> list[Item]:
    """Records whose review date falls on or before ``until`` (the overdue ones included),
    for the DPO's report."""
    today = today or date.today()
    where: list[ColumnElement[bool]] = [records.c.deleted.is_(False), records.c.review_at <= until]
    if owner:
        where.append(records.c.owner == owner.upper())
    ids = conn.execute(
        select(records.c.id).where(*where).order_by(records.c.review_at, records.c.id)
    ).scalars()
    found = store.get_many(conn, list(ids))
    ordered = sorted(found.values(), key=lambda r: (r.envelope.review_at or until, r.id))
    return [_item(r, today) for r in ordered]


def _reviewable(
    conn: Connection, principal: Principal, rid: str, today: date, action: str
) -> tuple[Record, bool]:
    """The record, if the principal may take ``action`` on it; otherwise "not found", the same
    answer as for a record that does not exist."""
    compliance = _require_reviewer(conn, principal)
    record = store.get(conn, rid)
    allowed = may_review if action == "review" else may_purge
    if record.deleted or not allowed(principal, record.envelope, compliance, today):
        raise store.RecordNotFound(rid)
    return record, compliance


def _next_review(record: Record, review_at: date | None, today: date) -> date:
    years = REVIEW_YEARS[record.envelope.database]
    latest = _years_after(today, years)
    if review_at is None:
        current = record.envelope.review_at
        return current if current is not None and today < current <= latest else latest
    if review_at <= today:
        raise ReviewRefused("review_at", "review_at.future", "review_at: must be after today")
    if review_at > latest:
        raise ReviewRefused(
            "review_at",
            "review_at.max",
            f"review_at: at most {years} years ahead for {record.database} ({latest})",
        )
    return review_at


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _write(
    conn: Connection, principal: Principal, record: Record, reason: str, **envelope: object
) -> Record:
    updated = replace(
        record,
        envelope=record.envelope.model_copy(update=envelope),
        version=record.version + 1,
        updated_at=utcnow(),
    )
    store.write_version(conn, updated, actor=principal.actor, reason=reason)
    return updated


def approve(
    conn: Connection,
    principal: Principal,
    rid: str,
    checklist: Checklist,
    review_at: date | None = None,
    today: date | None = None,
) -> Record:
    """Approve a pending (or rejected, or overdue) record for sharing until its review date."""
    today = today or date.today()
    record, compliance = _reviewable(conn, principal, rid, today, "review")
    env = record.envelope
    overdue = env.review_at is not None and env.review_at < today
    if env.status == ReviewStatus.approved and not overdue:
        raise ReviewRefused(
            "status", "review.already_approved", f"status: record {rid} is already approved"
        )
    missing = missing_identifiers(record)
    if missing:
        raise ReviewRefused(
            "checklist.identifiers_checked",
            "review.minimum_identifiers",
            f"checklist.identifiers_checked: the record lacks {', '.join(missing)}",
        )
    if not checklist.identifiers_checked:
        raise ReviewRefused(
            "checklist.identifiers_checked",
            "review.identifiers_checked",
            "checklist.identifiers_checked: confirm the identifiers are checked",
        )
    if not checklist.legal_basis.strip():
        raise ReviewRefused(
            "checklist.legal_basis",
            "review.legal_basis",
            "checklist.legal_basis: state the legal basis",
        )
    if not checklist.article3_clear:
        raise ReviewRefused(
            "checklist.article3_clear",
            "review.article3",
            "checklist.article3_clear: a record of a predominantly political, military,"
            " religious or racial character is not shared",
        )
    next_review = _next_review(record, review_at, today)
    updated = _write(
        conn,
        principal,
        record,
        f"approved: {checklist.legal_basis.strip()}",
        status=ReviewStatus.approved,
        review_at=next_review,
    )
    offers.enqueue(conn, [updated.id])  # now it may be offered to partners
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="review.approve",
        target=rid,
        details={
            "owner": record.owner,
            "database": record.database,
            "version": updated.version,
            "previous_status": env.status.value,
            "was_overdue": overdue,
            "review_at": next_review.isoformat(),
            "checklist": checklist.model_dump(),
            "as_compliance_unit": compliance and principal.agency != record.owner,
        },
    )
    return updated


def reject(
    conn: Connection,
    principal: Principal,
    rid: str,
    reason: str,
    checklist: Checklist | None = None,
    today: date | None = None,
) -> Record:
    """Refuse to share a record; its owner sees why, changes it, and asks again."""
    today = today or date.today()
    if not reason.strip():
        raise ReviewRefused("reason", "review.reason", "reason: say why the record is rejected")
    record, compliance = _reviewable(conn, principal, rid, today, "review")
    if record.envelope.status == ReviewStatus.rejected:
        raise ReviewRefused(
            "status", "review.already_rejected", f"status: record {rid} is already rejected"
        )
    updated = _write(
        conn, principal, record, f"rejected: {reason.strip()}", status=ReviewStatus.rejected
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="review.reject",
        target=rid,
        details={
            "owner": record.owner,
            "database": record.database,
            "version": updated.version,
            "reason": reason.strip(),
            "checklist": checklist.model_dump() if checklist else None,
            "as_compliance_unit": compliance and principal.agency != record.owner,
        },
    )
    return updated


def purge(
    conn: Connection, principal: Principal, rid: str, reason: str, today: date | None = None
) -> Record:
    """End a record's life: a tombstone version, out of the search index, and an audit entry.
    The owner's supervisor purges any time; the compliance unit once the review date passed."""
    today = today or date.today()
    if not reason.strip():
        raise ReviewRefused("reason", "purge.reason", "reason: say why the record is purged")
    record, compliance = _reviewable(conn, principal, rid, today, "purge")
    tombstone = replace(
        record,
        version=record.version + 1,
        deleted=True,
        deleted_reason=reason.strip(),
        updated_at=utcnow(),
    )
    store.write_version(conn, tombstone, actor=principal.actor, reason=f"purged: {reason.strip()}")
    index.remove(conn, [record])
    refs.remove(conn, [rid])
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="review.purge",
        target=rid,
        details={
            "owner": record.owner,
            "database": record.database,
            "version": tombstone.version,
            "reason": reason.strip(),
            "review_at": record.envelope.review_at,
            "as_compliance_unit": compliance and principal.agency != record.owner,
        },
    )
    return tombstone
