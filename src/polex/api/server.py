"""The ASGI entry point `polex serve` hands to uvicorn; each worker opens the node itself."""

from __future__ import annotations

from fastapi import FastAPI

from polex.api.app import create_app
from polex.node.home import open_node


def app() -> FastAPI:
    return create_app(open_node())
