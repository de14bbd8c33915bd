"""The supervisor's review queue: records of the reviewed databases are shared only once a
supervisor approves them against the checklist; overdue ones wait here to be approved again."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from polex.access import review
from polex.access.policy import PolicyRefused
from polex.access.principal import Principal, Role
from polex.audit import log as audit
from polex.store.records import RecordNotFound
from polex.web.deps import FormDep, require, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
Supervisor = Annotated[Principal, Depends(require(Role.supervisor))]
NOTICES = {"approved": "Record approved: it is shared now.", "rejected": "Record rejected."}
QUEUES = [
    (review.Queue.pending.value, "Waiting for review"),
    (review.Queue.overdue.value, "Past their review date"),
    (review.Queue.rejected.value, "Rejected"),
]


def _queue_page(
    request: Request,
    principal: Principal,
    which: str,
    *,
    notice: str = "",
    failed: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    chosen = review.Queue(which) if which in review.Queue.__members__ else review.Queue.pending
    with web_of(request).node.engine.begin() as conn:
        items = review.queue(conn, principal, chosen)
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="review.list",
            details={"queue": chosen.value, "records": [i.record_id for i in items]},
        )
    return page(
        request,
        "review.html",
        title="Review",
        section="review",
        status=status,
        notice=NOTICES.get(notice),
        items=items,
        queue=chosen.value,
        queues=QUEUES,
        failed=failed,
        errors=errors or {},
        values=values or {},
    )


@router.get("/review")
def review_queue(
    request: Request, principal: Supervisor, queue: str = "pending", notice: str = ""
) -> HTMLResponse:
    return _queue_page(request, principal, queue, notice=notice)


def _refused(
    request: Request,
    principal: Principal,
    record_id: str,
    queue: str,
    exc: Exception,
    values: dict[str, str],
) -> HTMLResponse:
    if isinstance(exc, review.ReviewRefused | PolicyRefused):
        errors = {exc.field: exc.message}
    else:
        errors = {"record_id": f"record_id: {record_id} is not in your review queue"}
    return _queue_page(
        request, principal, queue, failed=record_id, errors=errors, values=values, status=422
    )


@router.post("/review/{record_id}/approve")
def approve(request: Request, principal: Supervisor, record_id: str, data: FormDep) -> Response:
    queue = str(data.get("queue") or "pending")
    values = {k: str(data.get(k) or "") for k in ("legal_basis", "review_at")}
    checklist = review.Checklist(
        identifiers_checked=data.get("identifiers_checked") == "1",
        legal_basis=values["legal_basis"][:500],
        article3_clear=data.get("article3_clear") == "1",
    )
    try:
        review_at = date.fromisoformat(values["review_at"]) if values["review_at"] else None
    except ValueError:
        exc = review.ReviewRefused("review_at", "iso8601", "review_at: a date as YYYY-MM-DD")
        return _refused(request, principal, record_id, queue, exc, values)
    try:
        with web_of(request).node.engine.begin() as conn:
            review.approve(conn, principal, record_id, checklist, review_at)
    except (review.ReviewRefused, PolicyRefused, RecordNotFound) as exc:
        return _refused(request, principal, record_id, queue, exc, values)
    return redirect(f"/review?queue={queue}&notice=approved")


@router.post("/review/{record_id}/reject")
def reject(request: Request, principal: Supervisor, record_id: str, data: FormDep) -> Response:
    queue = str(data.get("queue") or "pending")
    values = {"reason": str(data.get("reason") or "")}
    try:
        with web_of(request).node.engine.begin() as conn:
            review.reject(conn, principal, record_id, values["reason"])
    except (review.ReviewRefused, PolicyRefused, RecordNotFound) as exc:
        return _refused(request, principal, record_id, queue, exc, values)
    return redirect(f"/review?queue={queue}&notice=rejected")
