"""/api/v1/audit: the data protection officer's entries and reports, and chain verification.

Reading the audit trail is itself an access: every call here is an audit entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from polex.access.policy import may_read_audit, may_verify_audit
from polex.access.principal import Principal
from polex.api.deps import NodeDep, PrincipalDep
from polex.audit import checkpoint, entries, reports
from polex.audit import log as audit
from polex.audit.verify import verify
from polex.store.metadata import utcnow

router = APIRouter(prefix="/audit", tags=["audit"])
DEFAULT_PERIOD = timedelta(days=30)


def _refuse(rule: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN, [{"field": "role", "rule": rule, "message": message}]
    )


def require_reader(principal: PrincipalDep) -> Principal:
    if "audit" not in principal.scopes:
        raise _refuse("token.scope", "token: the audit scope is needed")
    if not may_read_audit(principal):
        raise _refuse("audit.dpo", "role: the audit trail is read by the data protection officer")
    return principal


def require_verifier(principal: PrincipalDep) -> Principal:
    if "audit" not in principal.scopes:
        raise _refuse("token.scope", "token: the audit scope is needed")
    if not may_verify_audit(principal):
        raise _refuse("audit.verify", "role: the chain is verified by the DPO or the admin")
    return principal


ReaderDep = Annotated[Principal, Depends(require_reader)]
VerifierDep = Annotated[Principal, Depends(require_verifier)]


@router.get("/entries")
def list_entries(
    node: NodeDep,
    dpo: ReaderDep,
    actor: str | None = None,
    agency: str | None = None,
    action: Annotated[str | None, Query(description='"message." for a family')] = None,
    target: str | None = None,
    case_ref: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    filters = {
        "actor": actor,
        "agency": agency,
        "action": action,
        "target": target,
        "case_ref": case_ref,
        "since": since,
        "until": until,
    }
    with node.engine.begin() as conn:
        found = entries.query(conn, **filters, after_seq=after_seq, limit=limit)  # type: ignore[arg-type]
        audit.append(
            conn,
            actor=dpo.actor,
            agency=dpo.agency,
            action="audit.read",
            details={
                "filters": {k: v for k, v in filters.items() if v is not None},
                "after_seq": after_seq,
                "seqs": [e.seq for e in found],
            },
        )
    return {
        "items": [e.to_json() for e in found],
        "next_after_seq": found[-1].seq if len(found) == limit else None,
    }


@router.get("/reports/{kind}", response_model=None)
def report(
    node: NodeDep,
    dpo: ReaderDep,
    kind: str,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response | dict[str, Any]:
    until = until or utcnow()
    since = since or until - DEFAULT_PERIOD
    with node.engine.begin() as conn:
        try:
            result = reports.run(conn, kind, since, until)
        except reports.ReportError as exc:
            field = str(exc).split(":", 1)[0]
            raise HTTPException(
                422,
                [{"field": field, "rule": f"report.{field}", "message": str(exc)}],
            ) from exc
        audit.append(
            conn,
            actor=dpo.actor,
            agency=dpo.agency,
            action="audit.report",
            target=kind,
            details={"since": since, "until": until, "rows": len(result.rows), "format": format},
        )
    if format == "csv":
        return Response(
            result.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
        )
    return result.to_json()


@router.get("/verify")
def verify_chain(node: NodeDep, principal: VerifierDep) -> dict[str, Any]:
    with node.engine.begin() as conn:
        result = verify(conn, node.name, node.keys.verify_key())
        first = result.first
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="audit.verify",
            details={
                "ok": result.ok,
                "entries": result.entries,
                "first_bad_seq": first.seq if first else None,
            },
        )
    return result.to_json()


@router.post("/checkpoint")
def make_checkpoint(node: NodeDep, principal: VerifierDep) -> dict[str, Any]:
    """Sign the chain's head with the node key now (the node also does so periodically)."""
    with node.engine.begin() as conn:
        made = checkpoint.create(conn, node.name, node.keys.signing_key(), principal.actor)
    if made is None:
        return {"checkpoint": None}
    return {"checkpoint": {"seq": made.seq, "hash": made.hash, "ts": made.ts.isoformat()}}
