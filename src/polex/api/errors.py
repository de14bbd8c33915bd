"""Domain errors to HTTP answers that name the field and the rule."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from polex.access.accounts import AccountError
from polex.node.records import Conflict, Forbidden, Restricted, ValidationFailed
from polex.store.agencies import AgencyExists
from polex.store.records import RecordNotFound, VersionConflict


def install(app: FastAPI) -> None:
    @app.exception_handler(ValidationFailed)
    async def _invalid(_: Request, exc: ValidationFailed) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [
                    {"field": e.field, "rule": e.rule, "message": e.message}
                    for e in exc.result.errors
                ],
                "warnings": [
                    {"field": w.field, "rule": w.rule, "message": w.message}
                    for w in exc.result.warnings
                ],
            },
        )

    @app.exception_handler(RecordNotFound)
    async def _missing(_: Request, exc: RecordNotFound) -> JSONResponse:
        # the same answer whether the record does not exist or may not be seen
        return JSONResponse(status_code=404, content={"detail": f"record {exc} not found"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    @app.exception_handler(Restricted)
    async def _restricted(_: Request, exc: Restricted) -> JSONResponse:
        return JSONResponse(
            status_code=403,
            content={
                "detail": str(exc),
                "restricted": True,
                "record_id": exc.record_id,
                "owner": exc.owner,
            },
        )

    @app.exception_handler(Conflict)
    @app.exception_handler(VersionConflict)
    @app.exception_handler(AgencyExists)
    async def _conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(AccountError)
    async def _account(_: Request, exc: AccountError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})
