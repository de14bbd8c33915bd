"""/api/v1/links: the status of this node's links to partner nodes.

The router also gives each API process its federation runtime (partner clients kept between
requests), used by federated searches."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI

from polex.api.deps import NodeDep, PrincipalDep
from polex.federation.service import Federation
from polex.federation.status import link_status

router = APIRouter(tags=["links"])
_lock = threading.Lock()


def federation_for(app: FastAPI) -> Federation:
    """The process's federation runtime, created on first use."""
    with _lock:
        fed: Federation | None = getattr(app.state, "federation", None)
        if fed is None:
            fed = Federation(app.state.node)
            app.state.federation = fed
        return fed


@router.get("/links")
def list_links(node: NodeDep, _principal: PrincipalDep) -> dict[str, Any]:
    """Every link: up/down, queue depth, last contact, certificate expiry (any signed-in user:
    it says nothing about records or messages)."""
    with node.engine.connect() as conn:
        statuses = link_status(conn)
    return {
        "node": node.name,
        "fingerprint": node.keys.certificate_fingerprint(),
        "certificate_expires": node.keys.certificate_expires().isoformat(),
        "links": [s.to_json() for s in statuses],
    }
