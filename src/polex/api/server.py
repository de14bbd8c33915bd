"""The ASGI entry point `polex serve` hands to uvicorn; each worker opens the node itself and
runs, beside the requests, the background work every worker shares: draining the match queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from polex.api.app import create_app
from polex.match.worker import QueueWorker
from polex.node.home import open_node


def app() -> FastAPI:
    node = open_node()
    application = create_app(node)
    inner = application.router.lifespan_context
    worker = QueueWorker(node.engine, node.name)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            async with inner(served):
                yield
        finally:
            worker.stop()

    application.router.lifespan_context = lifespan
    return application
