"""The operator's pages: agencies, users, and the links to partner nodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from polex.access import accounts
from polex.access.principal import Principal, Role
from polex.federation import links
from polex.model.validation import validate_country
from polex.store import agencies
from polex.web.deps import FormDep, require, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
Admin = Annotated[Principal, Depends(require(Role.admin))]
NOTICES = {"agency": "Agency registered.", "user": "User registered."}


def link_status(link: links.Link) -> str:
    """One word for the operator: is traffic flowing over this link?"""
    if link.last_failure_at and (
        link.last_contact_at is None or link.last_failure_at > link.last_contact_at
    ):
        return "failing"
    return "up" if link.last_contact_at else "not yet contacted"


def _admin_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    with web_of(request).node.engine.begin() as conn:
        known = agencies.all_agencies(conn)
        users = accounts.list_users(conn)
        partners = [(link, link_status(link)) for link in links.all_links(conn)]
    return page(
        request,
        "admin.html",
        title="Administration",
        section="admin",
        status=status,
        notice=NOTICES.get(notice),
        agencies=known,
        users=users,
        links=partners,
        roles=list(Role),
        errors=errors or {},
        values=values or {},
    )


@router.get("/admin")
def admin_home(request: Request, principal: Admin, notice: str = "") -> HTMLResponse:
    return _admin_page(request, notice=notice)


@router.post("/admin/agencies")
def agency_add(request: Request, principal: Admin, data: FormDep) -> Response:
    values = {k: str(data.get(k) or "").strip() for k in ("code", "name", "country")}
    errors: dict[str, str] = {}
    if not values["code"]:
        errors["code"] = "code: an agency code, e.g. DE-BKA"
    if not values["name"]:
        errors["name"] = "name: the agency's name"
    checked = validate_country(values["country"])
    if not checked.valid:
        errors["country"] = checked.errors[0].message
    if not errors:
        try:
            with web_of(request).node.engine.begin() as conn:
                agencies.add(conn, values["code"], values["name"], values["country"])
            return redirect("/admin?notice=agency")
        except agencies.AgencyExists as exc:
            errors["code"] = f"code: {exc}"
    return _admin_page(request, errors=errors, values=values, status=422)


@router.post("/admin/users")
def user_add(request: Request, principal: Admin, data: FormDep) -> Response:
    values = {k: str(data.get(k) or "").strip() for k in ("username", "agency", "role")}
    try:
        with web_of(request).node.engine.begin() as conn:
            accounts.add_user(conn, values["username"], values["agency"], values["role"])
    except accounts.AccountError as exc:
        field = str(exc).split(":", 1)[0]
        return _admin_page(request, errors={field: str(exc)}, values=values, status=422)
    return redirect("/admin?notice=user")
