"""POST /api/v1/search (polex's own) and POST /api/v1/match (shaped like yente's /match, so
existing screening clients can call polex)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from polex.access.policy import View, record_views
from polex.api.deps import (
    NodeDep,
    PrincipalDep,
    authenticated,
    get_node,
    get_principal,
    request_token,
)
from polex.api.links import federation_for
from polex.api.responses import JSONBytes
from polex.audit import log as audit
from polex.federation import fedsearch
from polex.node.home import Node
from polex.search.engine import SearchQuery, rank, reported, search
from polex.search.score import MATCH_THRESHOLD
from polex.search.views import hit_json
from polex.store import db

router = APIRouter(tags=["search"])


# The bearer token is read by the endpoint, not by a dependency (``request_token``), so the
# operation states its security itself; the scheme is the one every other endpoint declares.
_BEARER: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


@router.post("/search", response_class=JSONBytes, openapi_extra=_BEARER)
async def search_records(request: Request, body: SearchQuery) -> Response:
    """Authentication, search and audit in one transaction, the answer serialised there too:
    an identifier lookup is a few hundred microseconds of work, and per-request overhead
    (dependencies, threads, pool checkouts, transactions) would otherwise be most of it. On
    SQLite such a lookup runs right here on the event loop, waiting for the write lock there
    too: it waits on no network, and a worker thread costs more than the lookup
    (``db.on_the_loop``)."""
    node, token = await get_node(request), await request_token(request)
    if body.federated:
        return await run_in_threadpool(_federated, request, node, token, body)
    if db.is_sqlite(node.engine) and _lookup_only(body):
        return await db.on_the_loop(partial(_local, node, token, body))
    return await run_in_threadpool(_local, node, token, body)


def _lookup_only(body: SearchQuery) -> bool:
    """Identifiers only: exact keys of a record or two, never a scan of name candidates."""
    return bool(body.identifiers) and not (body.q or body.name or body.birth_date)


def _local(node: Node, token: str, body: SearchQuery) -> Response:
    with db.reading(), node.engine.begin() as conn:
        principal = authenticated(conn, node, token)
        found = search(conn, principal, body)
    return JSONBytes({"hits": [hit_json(h, node.name) for h in found], "purpose": body.purpose})


def _federated(request: Request, node: Node, token: str, body: SearchQuery) -> Response:
    principal = get_principal(node, token)

    def local() -> list[dict[str, Any]]:
        with db.reading(), node.engine.begin() as conn:
            return [hit_json(h, node.name) for h in search(conn, principal, body)]

    merged = fedsearch.search(federation_for(request.app), principal, body, local)
    return JSONBytes({**merged, "purpose": body.purpose})


class EntityExample(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_: str = Field(alias="schema")
    properties: dict[str, list[str]]


class MatchRequest(BaseModel):
    queries: dict[str, EntityExample] = Field(min_length=1, max_length=100)
    purpose: str = Field(min_length=3, max_length=500)
    case_ref: str | None = None


@router.post("/match")
def match_entities(
    node: NodeDep,
    principal: PrincipalDep,
    body: MatchRequest,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    threshold: Annotated[float, Query(ge=0, le=1)] = MATCH_THRESHOLD,
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    seen: list[str] = []
    with db.reading(), node.engine.begin() as conn:
        for key, example in body.queries.items():
            ranked = rank(conn, example.schema_, example.properties, limit=limit * 2)
            views = record_views(principal, [r.envelope for r, _, _ in ranked])
            results = []
            for (record, score, features), view in zip(ranked, views, strict=True):
                if not reported(view, score, features):
                    continue
                seen.append(record.id)
                if view == View.full:
                    results.append(
                        {
                            "id": record.id,
                            "source_id": record.source_id,
                            "caption": record.caption,
                            "schema": record.schema,
                            "properties": record.properties,
                            "datasets": [record.database],
                            "score": score,
                            "match": score >= threshold,
                            "features": {f.name: round(f.score, 4) for f in features},
                        }
                    )
                else:
                    results.append(
                        {
                            "id": record.id,
                            "restricted": True,
                            "owner": record.owner,
                            "match": score >= threshold,
                        }
                    )
            responses[key] = {
                "status": 200,
                "results": results[:limit],
                "total": {"value": len(results[:limit]), "relation": "eq"},
                "query": example.model_dump(by_alias=True),
            }
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="search",
            purpose=body.purpose,
            case_ref=body.case_ref,
            details={"api": "match", "queries": list(body.queries), "hits": seen},
        )
    return {
        "responses": responses,
        "matcher": {"name": "polex", "threshold": threshold},
        "limit": limit,
    }
