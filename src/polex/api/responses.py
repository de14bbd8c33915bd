"""JSON answers serialised by orjson in the endpoint's own worker thread.

An endpoint that returns a plain dict has FastAPI validate and encode it afterwards, in one
more worker thread (for a sync endpoint) and in Python; for the endpoints on the hot path that
is a large share of a request."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse


class JSONBytes(JSONResponse):
    """Types orjson does not know (a model, a set) go through FastAPI's encoder, as before."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=jsonable_encoder)
