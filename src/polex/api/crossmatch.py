"""/api/v1/crossmatch: the batch model an analyst reads hits by, its weights and its chart.

The model holds no personal data, only how much each kind of agreement weighs on this node's
data, so every signed-in user may read it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from polex.api.deps import NodeDep, PrincipalDep
from polex.match import model_store

router = APIRouter(tags=["crossmatch"])


def _model(node: NodeDep, version: int | None) -> model_store.Model:
    with node.engine.connect() as conn:
        try:
            found = model_store.get(conn, version) if version else model_store.latest(conn)
        except model_store.ModelNotFound as exc:
            raise HTTPException(404, f"version: {exc}") from exc
    if found is None:
        raise HTTPException(404, "model: none trained yet (polex crossmatch batch --train)")
    return found


@router.get("/crossmatch/model")
def read_model(
    node: NodeDep,
    principal: PrincipalDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """The latest (or a given) model version: prior, levels with m, u and match weight, the
    match-weights chart as a Vega-Lite spec, and the versions there are."""
    found = _model(node, version)
    with node.engine.connect() as conn:
        versions = model_store.versions(conn)
    return {**model_store.parameters(found), "chart": found.chart, "versions": versions}


@router.get("/crossmatch/model/chart", response_class=HTMLResponse)
def read_chart(
    node: NodeDep,
    principal: PrincipalDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The match-weights chart as a standalone page (scripts inlined: works offline)."""
    return HTMLResponse(model_store.chart_html(_model(node, version)))
