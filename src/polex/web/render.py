"""Pages from Jinja2 templates (autoescaped), with what every page shows: the navigation for
the user's role, the CSRF token, the node's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from followthemoney.types import registry

from polex.access.policy import READING_ROLES, may_read_audit
from polex.access.principal import Principal, Role
from polex.web.deps import csrf_for, web_of
from polex.web.security import CSRF_FIELD

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str
    shown: Callable[[Principal], bool]


def _roles(*roles: Role) -> Callable[[Principal], bool]:
    return lambda principal: principal.role in roles


def _reader(principal: Principal) -> bool:
    return principal.role in READING_ROLES


NAV = (
    NavItem("search", "Search", "/search", _reader),
    NavItem("records", "Records", "/records", _reader),
    NavItem("hits", "Hits", "/hits", _reader),
    NavItem("review", "Review", "/review", _roles(Role.supervisor)),
    NavItem("messages", "Messages", "/messages", _reader),
    NavItem("workspaces", "Workspaces", "/workspaces", _reader),
    NavItem("network", "Network", "/network", _reader),
    NavItem("threats", "Threat picture", "/threats", _reader),
    NavItem("audit", "Audit", "/audit", may_read_audit),
    NavItem("admin", "Admin", "/admin", _roles(Role.admin)),
)


def nav_for(principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return []
    return [item for item in NAV if item.shown(principal)]


def home_for(principal: Principal) -> str:
    """Where a user lands: officers at the search box, a DPO at the audit, an admin at admin."""
    return nav_for(principal)[0].href


def when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def label(value: object) -> str:
    """An enum value as people read it: wanted_persons -> Wanted persons."""
    text = str(getattr(value, "value", value) or "")
    return text.replace("_", " ").capitalize()


def country(code: str) -> str:
    name = registry.country.caption(code)
    return f"{name} ({code.upper()})" if name and name != code else code.upper()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, label=label, country=country)
    env.globals.update(CSRF_FIELD=CSRF_FIELD)
    return env


templates = Jinja2Templates(env=_environment())


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page(
    request: Request,
    template: str,
    *,
    title: str,
    section: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "section": section,
            "principal": principal,
            "nav": nav_for(principal),
            "node": web_of(request).node.name,
            "csrf_token": csrf_for(request),
            "notice": None,
            **context,
        },
        status_code=status,
    )
    return response


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303, so the browser follows with a GET and a reload repeats nothing."""
    return RedirectResponse(url, status_code=303)
