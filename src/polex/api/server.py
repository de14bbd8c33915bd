"""The ASGI entry point `polex serve` hands to uvicorn; each worker opens the node itself and
runs, beside the requests, the background work every worker shares (``polex.node.background``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from polex.api.app import create_app
from polex.node.background import tasks
from polex.node.home import open_node


def app() -> FastAPI:
    node = open_node()
    application = create_app(node)
    inner = application.router.lifespan_context
    background = tasks(node)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        for task in background:
            task.start()
        try:
            async with inner(served):
                yield
        finally:
            for task in background:
                task.stop()

    application.router.lifespan_context = lifespan
    return application
