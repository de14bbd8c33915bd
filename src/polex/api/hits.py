"""/api/v1/hits: the hits of the caller's agency, decisions, and notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from polex.api.deps import NodeDep, PrincipalDep
from polex.match import hits
from polex.model.envelope import Database

router = APIRouter(tags=["hits"])


class DecisionIn(BaseModel):
    decision: hits.Status
    comment: str | None = Field(default=None, max_length=2000)
    fraudulent: bool = False


@router.get("/hits")
def list_hits(
    node: NodeDep,
    principal: PrincipalDep,
    status: hits.Status | None = None,
    database: Database | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with node.engine.begin() as conn:
        items, total = hits.list_hits(
            conn, principal, status, database.value if database else None, offset, limit
        )
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/hits/{hit_id}")
def read_hit(node: NodeDep, principal: PrincipalDep, hit_id: int) -> dict[str, Any]:
    try:
        with node.engine.begin() as conn:
            return hits.get_hit(conn, principal, hit_id)
    except hits.HitNotFound as exc:
        raise HTTPException(404, f"hit {hit_id} not found") from exc


@router.post("/hits/{hit_id}/decision")
def decide_hit(
    node: NodeDep, principal: PrincipalDep, hit_id: int, body: DecisionIn
) -> dict[str, Any]:
    try:
        with node.engine.begin() as conn:
            return hits.decide(
                conn, principal, hit_id, body.decision, body.comment, body.fraudulent
            )
    except hits.HitNotFound as exc:
        raise HTTPException(404, f"hit {hit_id} not found") from exc
    except hits.DecisionRefused as exc:
        raise HTTPException(403, str(exc)) from exc


@router.get("/notifications")
def list_notifications(node: NodeDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    with node.engine.begin() as conn:
        return hits.notifications_for(conn, principal.agency)
