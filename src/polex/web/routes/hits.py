"""Hits between owners' records: review the list, read one, decide it (a supervisor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from polex.access.principal import Principal, Role
from polex.match import hits
from polex.model.envelope import Database
from polex.web.deps import FormDep, ReaderDep, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
PAGE_SIZE = 50
NOTIFICATIONS = 8  # the latest hit, decision and deconfliction notices of the agency
DECISIONS = [
    (hits.Status.confirmed.value, "Confirmed: same entity"),
    (hits.Status.rejected.value, "Rejected: different entities"),
    (hits.Status.needs_info.value, "Needs more information"),
]


@router.get("/hits")
def hit_list(
    request: Request,
    principal: ReaderDep,
    status: str = "pending",
    database: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    chosen = hits.Status(status) if status in hits.Status.__members__ else None
    db = database if database in Database.__members__ else None
    with web_of(request).node.engine.begin() as conn:
        items, total = hits.list_hits(conn, principal, chosen, db, offset, PAGE_SIZE)
        notices = hits.notifications_for(conn, principal.agency, limit=NOTIFICATIONS)
    return page(
        request,
        "hits/list.html",
        title="Hits",
        section="hits",
        items=items,
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        status_filter=chosen.value if chosen else "",
        statuses=list(hits.Status),
        database=db or "",
        databases=list(Database),
        notifications=notices,
    )


def _hit_page(
    request: Request,
    principal: Principal,
    hit_id: int,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    try:
        with web_of(request).node.engine.begin() as conn:
            hit = hits.get_hit(conn, principal, hit_id)
    except hits.HitNotFound:
        return page(
            request,
            "error.html",
            title="Hit not found",
            section="hits",
            status=404,
            error=f"hit_id: hit {hit_id} not found",
        )
    return page(
        request,
        "hits/view.html",
        title=f"Hit {hit_id}",
        section="hits",
        status=status,
        hit=hit,
        error=error,
        notice=notice,
        decisions=DECISIONS,
        may_decide=principal.role == Role.supervisor,
    )


@router.get("/hits/{hit_id}")
def hit_view(request: Request, principal: ReaderDep, hit_id: int) -> HTMLResponse:
    return _hit_page(request, principal, hit_id)


@router.post("/hits/{hit_id}/decide")
def hit_decide(request: Request, principal: ReaderDep, hit_id: int, data: FormDep) -> Response:
    decision = str(data.get("status") or "")
    comment = str(data.get("comment") or "").strip() or None
    if decision not in {value for value, _ in DECISIONS}:
        return _hit_page(
            request,
            principal,
            hit_id,
            status=422,
            error="status: choose confirmed, rejected or needs more information",
        )
    try:
        with web_of(request).node.engine.begin() as conn:
            hits.decide(
                conn,
                principal,
                hit_id,
                hits.Status(decision),
                comment,
                fraudulent=data.get("fraudulent") == "1",
            )
    except hits.DecisionRefused as exc:
        return _hit_page(request, principal, hit_id, error=str(exc), status=403)
    except hits.HitNotFound:
        return _hit_page(request, principal, hit_id)
    return redirect(f"/hits/{hit_id}")
