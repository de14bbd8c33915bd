"""The start page and the areas whose capabilities come with later issues."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from polex.access.policy import READING_ROLES
from polex.web.deps import PrincipalDep, require, web_router
from polex.web.render import home_for, page, redirect

router = web_router()
reader = Depends(require(*READING_ROLES))


@router.get("/")
def home(principal: PrincipalDep) -> RedirectResponse:
    return redirect(home_for(principal))


@router.get("/network", dependencies=[reader])
def network(request: Request) -> HTMLResponse:
    return page(
        request,
        "placeholder.html",
        title="Network",
        section="network",
        what="Link analysis: networks of persons, organisations, documents, vehicles and "
        "phones across cases and agencies.",
        coming="This view comes with the link-analysis issue.",
    )


@router.get("/threats", dependencies=[reader])
def threats(request: Request) -> HTMLResponse:
    return page(
        request,
        "placeholder.html",
        title="Threat picture",
        section="threats",
        what="The threat picture: trends in hits, searches and records by crime area, "
        "route and country.",
        coming="This view comes with the analytics issue.",
    )
