"""/api/v1/records: create, read, update, delete (tombstone), history, links, own-agency
listing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from polex.api.deps import NodeDep, PrincipalDep
from polex.api.schemas import Page, RecordOut
from polex.model.envelope import Database
from polex.node import records as service
from polex.store import db

router = APIRouter(prefix="/records", tags=["records"])


class VersionOut(BaseModel):
    version: int
    actor: str
    reason: str | None
    created_at: datetime
    tombstone: bool
    snapshot: dict[str, Any]


class LinkOut(BaseModel):
    """A linked record: in full where the reader may see it, else only whom to contact."""

    relation: str
    restricted: bool
    owner: str
    database: str
    record_id: str | None
    source_id: str | None
    schema_: str | None = Field(alias="schema")
    caption: str | None
    via_record_id: str | None


class DeleteIn(BaseModel):
    reason: str


@router.post("", status_code=201, response_model=RecordOut)
def create_record(node: NodeDep, principal: PrincipalDep, body: service.RecordInput) -> RecordOut:
    with node.engine.begin() as conn:
        return RecordOut.of(service.create(conn, principal, body))


@router.get("", response_model=Page[RecordOut])
def list_records(
    node: NodeDep,
    principal: PrincipalDep,
    database: Database | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[RecordOut]:
    with node.engine.begin() as conn:
        page, total = service.list_own(
            conn, principal, database.value if database else None, offset, limit
        )
    return Page(items=[RecordOut.of(r) for r in page], total=total, offset=offset, limit=limit)


@router.get("/{record_id}", response_model=RecordOut)
def read_record(
    node: NodeDep, principal: PrincipalDep, record_id: str, purpose: str | None = None
) -> RecordOut:
    with db.reading(), node.engine.begin() as conn:
        return RecordOut.of(service.read_full(conn, principal, record_id, purpose))


@router.put("/{record_id}", response_model=RecordOut)
def update_record(
    node: NodeDep,
    principal: PrincipalDep,
    record_id: str,
    body: service.RecordInput,
    reason: str | None = None,
) -> RecordOut:
    with node.engine.begin() as conn:
        return RecordOut.of(service.update(conn, principal, record_id, body, reason))


@router.delete("/{record_id}", response_model=RecordOut)
def delete_record(
    node: NodeDep, principal: PrincipalDep, record_id: str, body: Annotated[DeleteIn, Body()]
) -> RecordOut:
    with node.engine.begin() as conn:
        return RecordOut.of(service.delete(conn, principal, record_id, body.reason))


@router.get("/{record_id}/history", response_model=list[VersionOut])
def record_history(
    node: NodeDep, principal: PrincipalDep, record_id: str, purpose: str | None = None
) -> list[VersionOut]:
    with db.reading(), node.engine.begin() as conn:
        versions = service.history(conn, principal, record_id, purpose)
    return [
        VersionOut(
            version=v.version,
            actor=v.actor,
            reason=v.reason,
            created_at=v.created_at,
            tombstone=v.tombstone,
            snapshot=v.snapshot,
        )
        for v in versions
    ]


@router.get("/{record_id}/links", response_model=list[LinkOut], response_model_by_alias=True)
def record_links(
    node: NodeDep, principal: PrincipalDep, record_id: str, purpose: str | None = None
) -> list[LinkOut]:
    with db.reading(), node.engine.begin() as conn:
        _, found = service.neighbours(conn, principal, record_id, purpose)
    return [
        LinkOut(
            relation=n.relation,
            restricted=n.record is None,
            owner=n.owner,
            database=n.database,
            record_id=n.record.id if n.record else None,
            source_id=n.record.source_id if n.record else None,
            schema=n.record.schema if n.record else None,
            caption=n.record.caption if n.record else None,
            via_record_id=n.via.id if n.via else None,
        )
        for n in found
    ]
