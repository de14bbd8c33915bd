"""The data protection officer's view: who accessed what, when and why; the chain's integrity;
the supervision reports. Looking at the audit trail is itself an entry in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from polex.access.policy import may_read_audit, may_verify_audit
from polex.access.principal import Principal
from polex.audit import entries, reports
from polex.audit import log as audit
from polex.audit.verify import verify
from polex.web.deps import permitted, web_of, web_router
from polex.web.render import page

router = web_router()
Reader = Annotated[
    Principal,
    Depends(
        permitted(may_read_audit, "role: the audit trail is read by the data protection officer")
    ),
]
Verifier = Annotated[
    Principal,
    Depends(permitted(may_verify_audit, "role: the chain is verified by the DPO or the admin")),
]
PAGE_SIZE = 100
FAMILIES = [
    ("", "All actions"),
    ("search", "Searches"),
    ("record.", "Record accesses and changes"),
    ("message.", "Messages"),
    ("hit.", "Hits"),
    ("workspace.", "Workspaces"),
    ("login", "Logins"),
    ("login.failed", "Failed logins"),
    ("account.", "Account changes"),
    ("audit.", "Audit views"),
]
REPORTS = [
    ("accesses", "Accesses per user and agency"),
    ("searches_without_case", "Searches without a case reference"),
    ("anomalous_users", "Users with anomalous search volume"),
    ("due_for_review", "Records due for review"),
]


def _day(value: str, end: bool = False) -> datetime | None:
    """A date from the form as a UTC bound; the end of a period includes its last day."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items() if _shown(v))
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _shown(value: Any) -> bool:
    return value not in (None, [], {}, "", False)


def details_text(details: dict[str, Any]) -> str:
    """An entry's details on one line, empty values left out."""
    return "; ".join(f"{k}: {_value(v)}" for k, v in details.items() if _shown(v))


@router.get("/audit")
def audit_view(
    request: Request,
    principal: Reader,
    actor: str = "",
    agency: str = "",
    action: str = "",
    case_ref: str = "",
    since: str = "",
    until: str = "",
    after: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    filters = {
        "actor": actor.strip(),
        "agency": agency.strip(),
        "action": action,
        "case_ref": case_ref.strip(),
        "since": since,
        "until": until,
    }
    with web_of(request).node.engine.begin() as conn:
        found = entries.query(
            conn,
            actor=filters["actor"] or None,
            agency=filters["agency"] or None,
            action=action or None,
            case_ref=filters["case_ref"] or None,
            since=_day(since),
            until=_day(until, end=True),
            after_seq=after,
            limit=PAGE_SIZE,
        )
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="audit.read",
            details={k: v for k, v in filters.items() if v} | {"after": after},
        )
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return page(
        request,
        "audit/entries.html",
        title="Audit",
        section="audit",
        items=[(e, details_text(e.details)) for e in found],
        filters=filters,
        families=FAMILIES,
        next_after=found[-1].seq if len(found) == PAGE_SIZE else None,
        query=query,
        after=after,
        can_read=True,
    )


@router.get("/audit/verify")
def audit_verify(request: Request, principal: Verifier) -> HTMLResponse:
    node = web_of(request).node
    with node.engine.begin() as conn:
        result = verify(conn, node.name, node.keys.verify_key())
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="audit.verify",
            details={"entries": result.entries, "ok": result.ok},
        )
    return page(
        request,
        "audit/verify.html",
        title="Audit chain",
        section="audit",
        result=result,
        can_read=may_read_audit(principal),
    )


def _period(since: str, until: str) -> tuple[datetime, datetime]:
    today = datetime.now(UTC).date()
    start = _day(since) or datetime.combine(today - timedelta(days=30), time(), tzinfo=UTC)
    end = _day(until, end=True) or datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    return start, end


@router.get("/audit/reports", response_model=None)
def audit_report(
    request: Request,
    principal: Reader,
    kind: str = "accesses",
    since: str = "",
    until: str = "",
    format: str = "html",
) -> HTMLResponse | Response:
    start, end = _period(since, until)
    error = None
    report = None
    with web_of(request).node.engine.begin() as conn:
        try:
            report = reports.run(conn, kind, start, end)
        except reports.ReportError as exc:
            error = str(exc)
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="audit.report",
            details={"kind": kind, "since": start, "until": end, "format": format},
        )
    if report is not None and format == "csv":
        return Response(
            report.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="polex-{kind}.csv"'},
        )
    return page(
        request,
        "audit/report.html",
        title="DPO reports",
        section="audit",
        status=422 if error else 200,
        report=report,
        error=error,
        kind=kind,
        kinds=REPORTS,
        since=start.date().isoformat(),
        until=(end - timedelta(days=1)).date().isoformat(),
        can_read=True,
    )
