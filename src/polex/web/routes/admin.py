"""The operator's pages: agencies, users, and the links to partner nodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from polex.access import accounts, totp
from polex.access import sessions as access_sessions
from polex.access.principal import Principal, Role
from polex.federation.status import link_status
from polex.model.validation import validate_country
from polex.store import agencies
from polex.web.deps import FormDep, require, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
Admin = Annotated[Principal, Depends(require(Role.admin))]
NOTICES = {
    "agency": "Agency registered.",
    "user": "User registered.",
    "password": "Password set; a lock on the account is lifted.",
    "totp": "New second factor issued.",
    "sessions": "All web sessions of the user ended.",
}


def _admin_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
    secret: dict[str, str] | None = None,
) -> HTMLResponse:
    with web_of(request).node.engine.begin() as conn:
        known = agencies.all_agencies(conn)
        users = accounts.list_users(conn)
        partners = link_status(conn)
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
        secret=secret,
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
    password = str(data.get("password") or "") or None
    try:
        with web_of(request).node.engine.begin() as conn:
            new = accounts.add_user(
                conn, values["username"], values["agency"], values["role"], password=password
            )
    except accounts.AccountError as exc:
        field = str(exc).split(":", 1)[0]
        return _admin_page(request, errors={field: str(exc)}, values=values, status=422)
    shown = _secret(request, new.user.username, new.totp_secret)
    return _admin_page(request, notice="user", secret=shown)


def _secret(request: Request, username: str, secret: str) -> dict[str, str]:
    """A second-factor secret, shown once, with the URI an authenticator app reads."""
    node = web_of(request).node.name
    return {
        "username": username,
        "secret": secret,
        "uri": totp.provisioning_uri(secret, username, node),
    }


@router.post("/admin/users/manage")
def user_manage(request: Request, principal: Admin, data: FormDep) -> Response:
    username = str(data.get("username") or "")
    action = str(data.get("action") or "")
    secret = None
    try:
        with web_of(request).node.engine.begin() as conn:
            if action == "password":
                accounts.set_password(
                    conn, username, str(data.get("password") or ""), actor=principal.actor
                )
            elif action == "totp":
                secret = accounts.reset_totp(conn, username, actor=principal.actor)
            elif action == "sessions":
                access_sessions.end_all(conn, username, actor=principal.actor)
            else:
                raise accounts.AccountError("action: password, totp or sessions")
    except accounts.AccountError as exc:
        field = "manage_" + str(exc).split(":", 1)[0]
        return _admin_page(request, errors={field: str(exc)}, status=422)
    return _admin_page(
        request,
        notice=action,
        secret=_secret(request, username, secret) if secret else None,
    )
