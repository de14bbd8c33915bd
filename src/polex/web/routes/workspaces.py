"""Case workspaces: the agencies working one operation, their shared records and threads."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from polex.access.principal import Principal
from polex.messaging import mailbox, workspaces
from polex.messaging.errors import MessagingError
from polex.web.deps import FormDep, ReaderDep, web_of, web_router
from polex.web.render import page, redirect
from polex.web.routes.messages import room_of

router = web_router()
NOTICES = {
    "created": "Workspace opened.",
    "invited": "Agency invited.",
    "shared": "Record shared with the workspace.",
}


def _list_page(
    request: Request,
    principal: Principal,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    web = web_of(request)
    with web.node.engine.begin() as conn:
        mine = workspaces.list_mine(conn, web.node.name, principal)
    return page(
        request,
        "workspaces/list.html",
        title="Case workspaces",
        section="workspaces",
        status=status,
        notice=NOTICES.get(notice),
        items=mine,
        errors=errors or {},
        values=values or {"name": "", "case_ref": ""},
    )


@router.get("/workspaces")
def workspace_list(request: Request, principal: ReaderDep, notice: str = "") -> HTMLResponse:
    return _list_page(request, principal, notice=notice)


@router.post("/workspaces")
def workspace_create(request: Request, principal: ReaderDep, data: FormDep) -> Response:
    web = web_of(request)
    values = {k: str(data.get(k) or "").strip() for k in ("name", "case_ref")}
    try:
        with web.node.engine.begin() as conn:
            ws = workspaces.create(
                conn, web.node.name, principal, values["name"], values["case_ref"] or None
            )
    except MessagingError as exc:
        return _list_page(request, principal, {exc.field: exc.message}, values, status=422)
    return redirect(f"/workspaces/{ws.id}?notice=created")


@router.get("/workspaces/{workspace_id}")
def workspace_view(
    request: Request, principal: ReaderDep, workspace_id: str, notice: str = "", error: str = ""
) -> HTMLResponse:
    web = web_of(request)
    try:
        with web.node.engine.begin() as conn:
            ws = workspaces.get(conn, web.node.name, principal, workspace_id)
            shared = workspaces.shared_records(conn, web.node.name, principal, workspace_id)
        threads, _ = mailbox.list_messages(
            room_of(request), principal, None, mailbox.Filters(workspace_id=workspace_id)
        )
    except MessagingError as exc:
        return page(
            request,
            "error.html",
            title="Workspace not found",
            section="workspaces",
            status=exc.status,
            error=exc.message,
        )
    return page(
        request,
        "workspaces/view.html",
        title=ws.name,
        section="workspaces",
        notice=NOTICES.get(notice),
        ws=ws,
        records=shared,
        messages=threads,
        owner=ws.owner_agency == principal.agency,
        error=error,
    )


@router.post("/workspaces/{workspace_id}/invite")
def workspace_invite(
    request: Request, principal: ReaderDep, workspace_id: str, data: FormDep
) -> Response:
    web = web_of(request)
    try:
        with web.node.engine.begin() as conn:
            workspaces.invite(
                conn, web.node.name, principal, workspace_id, str(data.get("agency") or "")
            )
    except MessagingError as exc:
        return workspace_view(request, principal, workspace_id, error=exc.message)
    return redirect(f"/workspaces/{workspace_id}?notice=invited")


@router.post("/workspaces/share")
def workspace_share(request: Request, principal: ReaderDep, data: FormDep) -> Response:
    web = web_of(request)
    workspace_id = str(data.get("workspace_id") or "")
    try:
        with web.node.engine.begin() as conn:
            workspaces.add_record(
                conn, web.node.name, principal, workspace_id, str(data.get("record_id") or "")
            )
    except MessagingError as exc:
        return page(
            request,
            "error.html",
            title="Not shared",
            section="workspaces",
            status=exc.status,
            error=exc.message,
        )
    return redirect(f"/workspaces/{workspace_id}?notice=shared")
