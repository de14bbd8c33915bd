"""The data protection officer's view: who accessed what, when and why."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from polex.access.principal import Role
from polex.web.deps import require, web_router
from polex.web.render import page

router = web_router()


@router.get("/audit", dependencies=[Depends(require(Role.dpo))])
def audit_view(request: Request) -> HTMLResponse:
    return page(
        request,
        "placeholder.html",
        title="Audit",
        section="audit",
        what="Every search with its purpose, every record read, message and decision.",
        coming="The audit view opens with the audit queries of the access issue.",
    )
