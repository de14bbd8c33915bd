"""The one policy decision point: what a principal may see of a record.

Every read path (record read, search, match, graph, export, messages, federation) asks
``record_view`` and shapes its answer by the View it gets back."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from polex.access.principal import Principal, Role
from polex.model.envelope import Envelope, ReviewStatus


class View(StrEnum):
    full = "full"  # the record as it is
    hit = "hit"  # only that a record exists and whom to contact (hit/no-hit)
    none = "none"  # not even that


# Roles that read records at all; an admin administers the node but reads nothing by being admin.
READING_ROLES = frozenset({Role.officer, Role.analyst, Role.supervisor})


def record_view(principal: Principal, envelope: Envelope, today: date | None = None) -> View:
    if principal.agency == envelope.owner and principal.role in READING_ROLES:
        return View.full
    r = envelope.restrictions
    if principal.agency in r.deny_agencies or principal.country in r.deny_countries:
        return View.none
    if principal.role not in READING_ROLES:
        return View.none
    if envelope.status != ReviewStatus.approved:
        return View.none
    today = today or date.today()
    if envelope.review_at is not None and envelope.review_at < today:
        return View.hit
    allowed_by_agency = not r.allow_agencies or principal.agency in r.allow_agencies
    allowed_by_country = not r.allow_countries or principal.country in r.allow_countries
    if not (allowed_by_agency and allowed_by_country):
        return View.hit
    return View.full
