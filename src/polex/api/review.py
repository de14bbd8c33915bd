"""/api/v1/review: supervisors' queues and decisions — approve, reject, purge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from polex.access import review
from polex.access.policy import PolicyRefused
from polex.access.principal import Principal
from polex.api.deps import NodeDep, PrincipalDep
from polex.api.schemas import RecordOut
from polex.audit import log as audit
from polex.model.envelope import Database

router = APIRouter(prefix="/review", tags=["review"])


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checklist: review.Checklist
    review_at: date | None = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    checklist: review.Checklist | None = None


class PurgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


@contextmanager
def _answers(principal: Principal) -> Iterator[None]:
    """Review errors as HTTP answers naming the field and the rule."""
    if "records" not in principal.scopes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            [{"field": "token", "rule": "token.scope", "message": "token: records scope needed"}],
        )
    try:
        yield
    except PolicyRefused as exc:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            [{"field": exc.field, "rule": exc.rule, "message": exc.message}],
        ) from exc
    except review.ReviewRefused as exc:
        raise HTTPException(
            422,
            [{"field": exc.field, "rule": exc.rule, "message": exc.message}],
        ) from exc


@router.get("")
def list_queue(
    node: NodeDep,
    principal: PrincipalDep,
    queue: review.Queue = review.Queue.pending,
    database: Database | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    with _answers(principal), node.engine.begin() as conn:
        items = review.queue(conn, principal, queue, database=database, limit=limit, offset=offset)
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="review.list",
            details={"queue": queue.value, "records": [i.record_id for i in items]},
        )
    return {
        "queue": queue.value,
        "items": [
            {
                **i.__dict__,
                "missing_identifiers": list(i.missing_identifiers),
            }
            for i in items
        ],
    }


@router.post("/{record_id}/approve", response_model=RecordOut)
def approve(node: NodeDep, principal: PrincipalDep, record_id: str, body: ApproveIn) -> RecordOut:
    with _answers(principal), node.engine.begin() as conn:
        record = review.approve(conn, principal, record_id, body.checklist, body.review_at)
    return RecordOut.of(record)


@router.post("/{record_id}/reject", response_model=RecordOut)
def reject(node: NodeDep, principal: PrincipalDep, record_id: str, body: RejectIn) -> RecordOut:
    with _answers(principal), node.engine.begin() as conn:
        record = review.reject(conn, principal, record_id, body.reason, body.checklist)
    return RecordOut.of(record)


@router.post("/{record_id}/purge", response_model=RecordOut)
def purge(node: NodeDep, principal: PrincipalDep, record_id: str, body: PurgeIn) -> RecordOut:
    with _answers(principal), node.engine.begin() as conn:
        record = review.purge(conn, principal, record_id, body.reason)
    return RecordOut.of(record)
