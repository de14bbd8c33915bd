"""The node's HTTP application: API under /api/v1, the web app at /."""

from __future__ import annotations

from fastapi import FastAPI

from polex import __version__
from polex.api import agencies, errors, hits, links, messages, records, search, workspaces
from polex.api import audit as audit_api
from polex.api import crossmatch as crossmatch_api
from polex.api import review as review_api
from polex.node.home import Node
from polex.web import app as web


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title=f"polex node {node.name}",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.node = node
    errors.install(app)
    messages.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The database asked outside any transaction: on SQLite every transaction takes the
        write lock, which an import holds for minutes, and a health check that waited for it
        would have the node restarted in the middle of the import."""
        connection = node.engine.raw_connection()
        try:
            connection.cursor().execute("SELECT 1")
        finally:
            connection.close()
        return {"status": "ok", "node": node.name, "version": __version__}

    # Routes are matched in order, each costing a few microseconds: search, the hot path of
    # every border check, comes first. Each router is included into the app itself: FastAPI
    # matches a router included into another through one more layer, at a cost per request.
    for router in (
        search.router,
        records.router,
        agencies.router,
        hits.router,
        messages.router,
        workspaces.router,
        links.router,
        audit_api.router,
        review_api.router,
        crossmatch_api.router,
    ):
        app.include_router(router, prefix="/api/v1")
    web.install(app, node)
    return app
