"""Mounting the web application on the node's FastAPI app: pages at /, assets at /static."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from polex.node.home import Node
from polex.web import security
from polex.web.cookies import QueuedCookies
from polex.web.deps import LoginRequired, NotPermitted, Web
from polex.web.render import is_htmx, page, redirect
from polex.web.routes import (
    admin,
    audit,
    auth,
    hits,
    messages,
    pages,
    records,
    review,
    search,
    workspaces,
)
from polex.web.settings import WebSettings, from_environment

STATIC = Path(__file__).parent / "static"
API_PREFIXES = ("/api/", "/openapi.json", "/healthz", "/static/")


def install(app: FastAPI, node: Node, settings: WebSettings | None = None) -> None:
    app.state.web = Web(
        node=node, settings=settings or from_environment(), secret=security.derive_secret(node)
    )
    app.add_middleware(QueuedCookies)
    app.add_middleware(security.SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, pages, search, records, hits, review, messages, workspaces, audit, admin):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        query = {"next": request.url.path} if request.method == "GET" else {}
        if exc.reason:
            query["reason"] = exc.reason
        target = "/login" + (f"?{urlencode(query)}" if query else "")
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return redirect(target)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser asking for a page that is not there gets a page; the API its JSON."""
        if request.url.path.startswith(API_PREFIXES):
            return await http_exception_handler(request, exc)
        return page(
            request,
            "error.html",
            title="Page not found" if exc.status_code == 404 else "Request refused",
            status=exc.status_code,
            error=f"{request.url.path}: {exc.detail}",
        )

    @app.exception_handler(NotPermitted)
    async def _refused(request: Request, exc: NotPermitted) -> HTMLResponse:
        return page(request, "error.html", title="Not for your role", status=403, error=str(exc))

    @app.exception_handler(security.CsrfRefused)
    async def _csrf(request: Request, exc: security.CsrfRefused) -> HTMLResponse:
        return page(
            request,
            "error.html",
            title="Request refused",
            status=403,
            error=f"{exc.rule}: {exc.message}. Go back, reload the page and try again.",
        )
