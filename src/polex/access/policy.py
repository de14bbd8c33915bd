"""The one policy decision point: what a principal may see of a record.

Every read path (record read, search, match, graph, export, messages, federation) asks
``record_view`` and shapes its answer by the View it gets back."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from enum import StrEnum

from polex.access.principal import Principal, Role
from polex.model.envelope import Envelope, Handling, ReviewStatus


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


def may_read_message(principal: Principal, parties: Collection[str]) -> bool:
    """A message is read by users of the agencies party to it (``parties``: agency codes on the
    principal's node — sender, recipients, members of the case workspace it was posted in).
    An admin or a DPO reads no message by their role."""
    return principal.role in READING_ROLES and principal.agency in parties


def may_pass_on(
    principal: Principal, owner: str, handling: Handling, permitted: Collection[str]
) -> bool:
    """H2 information is not passed on without its owner's permission: the owner agency passes
    its own on; another agency only if the owner recorded permission for it (``permitted``)."""
    if principal.role not in READING_ROLES:
        return False
    if handling != Handling.H2:
        return True
    return principal.agency == owner or principal.agency in permitted


def record_views(
    principal: Principal, envelopes: Sequence[Envelope], today: date | None = None
) -> list[View]:
    """``record_view`` for a list of results (search hits, match candidates)."""
    return [record_view(principal, envelope, today) for envelope in envelopes]
