"""Record use cases: validate, store a version, maintain the search index, cross-match, audit.

API, web and CLI all come through here, so the owner's rules and the audit hold on every path."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from polex.access.policy import READING_ROLES, View, record_view
from polex.access.principal import Principal
from polex.audit import log as audit
from polex.federation import offers
from polex.graph import links, refs
from polex.match.crossmatch import crossmatch
from polex.model.clean import caption, clean_properties
from polex.model.envelope import (
    REVIEW_YEARS,
    REVIEWED_DATABASES,
    Accuracy,
    Database,
    Envelope,
    Handling,
    NoticeType,
    Reliability,
    Restrictions,
    ReviewStatus,
    SubjectCategory,
)
from polex.model.record import Record, RecordVersion
from polex.model.validation import Issue, Result, validate_record
from polex.search import index
from polex.store import records as store
from polex.store.metadata import utcnow


class EnvelopeInput(BaseModel):
    """The envelope as a writer supplies it; the owner comes from who writes."""

    model_config = ConfigDict(extra="forbid")

    database: Database
    handling: Handling = Handling.H0
    reliability: Reliability = Reliability.X
    accuracy: Accuracy = Accuracy.cannot_be_assessed
    subject_category: SubjectCategory | None = None
    notice_type: NoticeType | None = None
    restrictions: Restrictions = Field(default_factory=Restrictions)
    review_at: date | None = None
    case_ref: str | None = None
    provenance: str | None = None


class RecordInput(BaseModel):
    """One FtM entity (``id`` is the writer's own source id) with its ``polex`` envelope."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = Field(default=None, max_length=255)
    schema_: str = Field(alias="schema")
    properties: dict[str, list[str]] = Field(default_factory=dict)
    polex: EnvelopeInput


class ValidationFailed(ValueError):
    def __init__(self, result: Result) -> None:
        self.result = result
        super().__init__("; ".join(e.message for e in result.errors))


class Forbidden(PermissionError):
    pass


class Conflict(Exception):
    pass


class Restricted(PermissionError):
    """The record exists but its owner shares only the hit: whom to contact, nothing more."""

    def __init__(self, record_id: str, owner: str) -> None:
        self.record_id = record_id
        self.owner = owner
        super().__init__(f"record {record_id} is restricted: contact agency {owner}")


def _review_default(database: Database, today: date) -> date:
    years = REVIEW_YEARS[database]
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


def envelope_for(env_in: EnvelopeInput, owner: str, status: ReviewStatus | None = None) -> Envelope:
    """The envelope of a record the owner writes with ``env_in``: a new record of a reviewed
    database waits for review, a review date not given is the database's default from today."""
    if status is None:
        status = (
            ReviewStatus.pending if env_in.database in REVIEWED_DATABASES else ReviewStatus.approved
        )
    # the input was validated when it was parsed; constructing again would only repeat that
    envelope = Envelope.model_construct(
        owner=owner,
        status=status,
        **{name: getattr(env_in, name) for name in EnvelopeInput.model_fields},
    )
    if envelope.review_at is None:
        envelope.review_at = _review_default(env_in.database, date.today())
    return envelope


def prepare(
    data: RecordInput,
    owner: str,
    version: int = 1,
    status: ReviewStatus | None = None,
    now: datetime | None = None,
    envelope: Envelope | None = None,
) -> Record:
    """Validate and clean one input into a Record (not yet stored), written at ``now``.

    ``envelope`` is ``envelope_for(data.polex, owner, status)`` made beforehand: a bulk import
    makes one per distinct envelope of its file and shares it among the records (which never
    change an envelope: a new version gets a copy), instead of one per row."""
    if envelope is None:
        envelope = envelope_for(data.polex, owner, status)
    result = validate_record(data.schema_, data.properties, envelope)
    if not result.valid:
        raise ValidationFailed(result)
    source_id = data.id or uuid.uuid4().hex
    properties = clean_properties(data.schema_, data.properties)
    return store.build_record(
        source_id=source_id,
        schema=data.schema_,
        properties=properties,
        caption=caption(data.schema_, properties, source_id),
        envelope=envelope,
        version=version,
        now=now,
    )


def _require_writer(principal: Principal) -> None:
    if principal.role not in READING_ROLES:
        raise Forbidden(f"role {principal.role.value} does not write records")


def create(conn: Connection, principal: Principal, data: RecordInput) -> Record:
    _require_writer(principal)
    record = prepare(data, owner=principal.agency)
    if store.get_many(conn, [record.id]):
        raise Conflict(f"id: {record.source_id} already exists in {record.database}")
    store.insert_many(conn, [record], actor=principal.actor, reason="created")
    index.add(conn, [record])
    refs.rewrite(conn, [record])
    crossmatch(conn, record, principal.node)
    offers.enqueue(conn, [record.id])
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.create",
        target=record.id,
        case_ref=record.envelope.case_ref,
        details={"database": record.database, "source_id": record.source_id},
    )
    return record


def _owned(conn: Connection, principal: Principal, rid: str) -> Record:
    _require_writer(principal)
    current = store.get(conn, rid)
    if current.owner != principal.agency:
        raise Forbidden("only the owner agency changes a record")
    if current.deleted:
        raise Conflict(f"record {rid} is deleted")
    return current


def update(
    conn: Connection,
    principal: Principal,
    rid: str,
    data: RecordInput,
    reason: str | None = None,
) -> Record:
    current = _owned(conn, principal, rid)
    if data.polex.database.value != current.database:
        raise ValidationFailed(
            Result(
                valid=False,
                errors=[
                    Issue(
                        "polex.database",
                        "record.database_fixed",
                        "polex.database: a record cannot move to another database",
                    )
                ],
                warnings=[],
            )
        )
    data = data.model_copy(update={"id": current.source_id})
    status = current.envelope.status
    if status == ReviewStatus.approved and current.envelope.database in REVIEWED_DATABASES:
        status = ReviewStatus.pending  # a changed record is reviewed again before it is shared
    record = prepare(data, owner=current.owner, version=current.version + 1, status=status)
    record = replace(record, created_at=current.created_at)
    store.write_version(conn, record, actor=principal.actor, reason=reason or "updated")
    index.replace(conn, [(current, record)])
    refs.rewrite(conn, [record])
    crossmatch(conn, record, principal.node)
    offers.enqueue(conn, [record.id])
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.update",
        target=rid,
        details={"version": record.version, "reason": reason},
    )
    return record


def delete(conn: Connection, principal: Principal, rid: str, reason: str) -> Record:
    """Tombstone: the record stops being readable; every earlier version stays."""
    if not reason.strip():
        raise ValidationFailed(
            Result(
                valid=False,
                errors=[Issue("reason", "tombstone.reason", "reason: a deletion needs a reason")],
                warnings=[],
            )
        )
    current = _owned(conn, principal, rid)
    record = replace(
        current,
        version=current.version + 1,
        deleted=True,
        deleted_reason=reason,
        updated_at=utcnow(),
    )
    store.write_version(conn, record, actor=principal.actor, reason=reason)
    index.remove(conn, [current])
    refs.remove(conn, [rid])
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.delete",
        target=rid,
        details={"reason": reason},
    )
    return record


def read(
    conn: Connection, principal: Principal, rid: str, purpose: str | None = None
) -> tuple[Record, View]:
    """The record and how much of it the principal may see; the access is audited."""
    try:
        record = store.get(conn, rid)
    except store.RecordNotFound:
        record = None
    view = (
        View.none if record is None or record.deleted else record_view(principal, record.envelope)
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.read",
        target=rid,
        purpose=purpose,
        details={"view": view.value},
    )
    if record is None or view == View.none:
        raise store.RecordNotFound(rid)
    return record, view


def read_full(
    conn: Connection, principal: Principal, rid: str, purpose: str | None = None
) -> Record:
    record, view = read(conn, principal, rid, purpose)
    if view != View.full:
        raise Restricted(record.id, record.owner)
    return record


def history(
    conn: Connection, principal: Principal, rid: str, purpose: str | None = None
) -> list[RecordVersion]:
    return store.history(conn, read_full(conn, principal, rid, purpose).id)


def neighbours(
    conn: Connection, principal: Principal, rid: str, purpose: str | None = None
) -> tuple[Record, list[links.Neighbour]]:
    record = read_full(conn, principal, rid, purpose)
    return record, links_of(conn, principal, record, purpose)


def links_of(
    conn: Connection, principal: Principal, record: Record, purpose: str | None = None
) -> list[links.Neighbour]:
    """The links of a record the reader has just read in full; which linked records were
    shown is audited, since showing a link shows the linked record's name."""
    found = links.neighbours(conn, principal, record)
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.links",
        target=record.id,
        purpose=purpose,
        details={
            "shown": links.linked_ids(found),
            "restricted": sum(n.record is None for n in found),
        },
    )
    return found


def list_own(
    conn: Connection, principal: Principal, database: str | None, offset: int, limit: int
) -> tuple[list[Record], int]:
    """A page of the principal's own agency's records.

    Other agencies' records are reached by a search with a stated purpose, never by browsing."""
    _require_writer(principal)
    page, total = store.list_page(
        conn, database=database, owner=principal.agency, offset=offset, limit=limit
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="record.list",
        details={"database": database, "offset": offset, "count": len(page)},
    )
    return page, total
