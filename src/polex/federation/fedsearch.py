"""Federated search: a search fanned out to linked partners, each answering by its own rules.

The asking node sends the query, its purpose and who asks (user, agency, country, role) to every
partner whose grant covers the databases searched, in parallel, and waits at most a deadline;
a partner that does not answer in time is reported as such and the search returns without it.

The answering node treats the asker as a remote principal of the partner's node: the owner's
restrictions on each record decide through ``record_view`` as for any user, the link's grant
limits the databases and turns full hits into restricted ones for hit/no-hit databases, and the
search is written to the answering node's own audit trail with the partner's node, agency, user
and purpose."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from polex.access.policy import READING_ROLES, View, record_views
from polex.access.principal import Principal, Role, partner_principal
from polex.audit import log as audit
from polex.federation.errors import Refused
from polex.federation.links import Link
from polex.federation.service import Federation
from polex.search.engine import Hit, SearchQuery, parse, rank, visible_hits
from polex.search.views import hit_json
from polex.store import agencies

DEFAULT_DEADLINE = 3.0
GRACE = 0.25  # past the HTTP timeout, for the answer to be read and parsed
SEND_WAIT = 0.1  # at most this long for the requests to be written before the local search
AGENCY_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


def deadline() -> float:
    """Seconds a federated search waits for partners (``POLEX_FEDERATION_DEADLINE``)."""
    return float(os.environ.get("POLEX_FEDERATION_DEADLINE") or DEFAULT_DEADLINE)


class Asker(BaseModel):
    """Who on the partner's node asks; the partner vouches for it with its signature."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    agency: str = Field(pattern=AGENCY_RE.pattern)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    role: Role


class RemoteSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: SearchQuery
    asker: Asker


def _remote_principal(conn: Connection, local_node: str, link: Link, asker: Asker) -> Principal:
    """The asker as a partner node's user: the owners' rules for partners apply to it (H2,
    the link's grant, agencies named ``AGENCY@NODE``)."""
    if asker.role not in READING_ROLES:
        raise Refused(
            "asker.role", "search.role", f"asker.role: {asker.role.value} does not search", 403
        )
    if agencies.get(conn, asker.agency) is not None:
        # a partner speaks for its own agencies, never as one of this node's owners
        raise Refused(
            "asker.agency",
            "search.agency_local",
            f"asker.agency: {asker.agency} is an agency of this node",
            403,
        )
    return partner_principal(
        local_node, link.node, asker.agency, asker.country, asker.username, asker.role
    )


def answer(conn: Connection, local_node: str, link: Link, request: Any) -> dict[str, Any]:
    """A partner's search, answered as this node's grant and owners' restrictions allow."""
    try:
        ask = RemoteSearch.model_validate(request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise Refused(where, "search.format", f"{where}: {first['msg']}", 422) from exc
    principal = _remote_principal(conn, local_node, link, ask.asker)
    query = ask.query
    granted = [db.value for db in link.ours.databases]
    wanted = [d.value for d in query.databases] if query.databases else granted
    databases = sorted(set(granted) & set(wanted))
    hits: list[Hit] = []
    if databases:
        parsed = parse(query)
        schema = "Person" if parsed.properties.keys() - {"name"} else "LegalEntity"
        ranked = rank(
            conn,
            schema,
            parsed.properties,
            limit=query.limit * 2,
            identifiers=parsed.identifiers,
            databases=databases,
        )
        views = record_views(
            principal, [record.envelope for record, _, _ in ranked], sharing=link.ours.grants()
        )
        hits = visible_hits(ranked, views, query.limit)
    audit.append(
        conn,
        actor=f"{principal.actor}@{link.node}",
        agency=principal.agency,
        action="federation.search",
        purpose=query.purpose,
        case_ref=query.case_ref,
        details={
            "node": link.node,
            "agency": principal.agency,
            "user": principal.username,
            "country": principal.country,
            "role": principal.role.value,
            "query": query.model_dump(mode="json", exclude={"purpose", "case_ref", "limit"}),
            "databases": databases,
            "hits": [h.record.id for h in hits if h.view == View.full],
            "restricted_hits": [h.record.id for h in hits if h.view == View.hit],
        },
    )
    return {"node": local_node, "hits": [hit_json(h, local_node) for h in hits]}


@dataclass
class PartnerAnswer:
    node: str
    status: str  # ok | timeout | unreachable | refused | error
    hits: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None
    took_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "status": self.status,
            "hits": len(self.hits),
            "detail": self.detail,
            "took_ms": None if self.took_ms is None else round(self.took_ms, 1),
        }


def _asks(link: Link, query: SearchQuery) -> bool:
    """Whether the partner shares any of the databases searched (as it told us)."""
    shared = {db.value for db in link.theirs.databases}
    wanted = {d.value for d in query.databases} if query.databases else None
    return bool(shared if wanted is None else shared & wanted)


def _ask(
    fed: Federation, link: Link, body: bytes, seconds: float, sent: threading.Event
) -> PartnerAnswer:
    started = time.perf_counter()
    try:
        response = fed.clients.for_link(link).request(
            "POST",
            "/federation/v1/search",
            body,
            timeout=httpx.Timeout(seconds),
            on_sent=sent.set,
        )
    except httpx.TimeoutException:
        return PartnerAnswer(link.node, "timeout", detail=f"no answer within {seconds:g} s")
    except httpx.HTTPError as exc:
        fed.contact(link.node, f"{link.node} unreachable: {exc}")
        return PartnerAnswer(link.node, "unreachable", detail=exc.__class__.__name__)
    finally:
        sent.set()
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        detail = f"{response.status_code}: {response.text[:200]}"
        return PartnerAnswer(link.node, "refused", detail=detail, took_ms=took)
    fed.contact(link.node)
    try:
        hits = [dict(h, node=link.node) for h in response.json()["hits"] if isinstance(h, dict)]
    except (ValueError, KeyError, TypeError):
        return PartnerAnswer(link.node, "error", detail="malformed answer", took_ms=took)
    return PartnerAnswer(link.node, "ok", hits=hits, took_ms=took)


class FanOut:
    """A federated search under way: every partner sharing the databases searched is asked at
    once, in parallel; ``answers`` never waits past the deadline (a partner still busy then is
    reported as ``timeout``)."""

    def __init__(
        self,
        fed: Federation,
        principal: Principal,
        query: SearchQuery,
        seconds: float | None = None,
    ) -> None:
        self.seconds = deadline() if seconds is None else seconds
        self.started = time.monotonic()
        partners = [link for link in fed.links() if _asks(link, query)]
        self.futures: dict[Future[PartnerAnswer], Link] = {}
        if not partners:
            return
        body = json.dumps(
            {
                "query": query.model_dump(mode="json", exclude={"federated"}),
                "asker": {
                    "username": principal.username,
                    "agency": principal.agency,
                    "country": principal.country,
                    "role": principal.role.value,
                },
            }
        ).encode()
        pool = ThreadPoolExecutor(max_workers=len(partners), thread_name_prefix="polex-fedsearch")
        sent = [threading.Event() for _ in partners]
        self.futures = {
            pool.submit(_ask, fed, link, body, self.seconds, event): link
            for link, event in zip(partners, sent, strict=True)
        }
        pool.shutdown(wait=False)
        # Let the requests leave before the caller's local search takes the interpreter: a
        # request thread waiting for the GIL behind a CPU-bound search would go out only after
        # it, and the partners would search one after the other instead of alongside.
        until = time.monotonic() + min(SEND_WAIT, self.seconds)
        for event in sent:
            event.wait(max(until - time.monotonic(), 0.0))

    def answers(self) -> list[PartnerAnswer]:
        left = self.seconds + GRACE - (time.monotonic() - self.started)
        wait(self.futures, timeout=max(left, 0.0))
        out = []
        for future, link in self.futures.items():
            if future.done():
                out.append(future.result())
            else:
                future.cancel()
                out.append(
                    PartnerAnswer(
                        link.node, "timeout", detail=f"no answer within {self.seconds:g} s"
                    )
                )
        return out


def fan_out(
    fed: Federation, principal: Principal, query: SearchQuery, seconds: float | None = None
) -> list[PartnerAnswer]:
    return FanOut(fed, principal, query, seconds).answers()


def merge(local: list[dict[str, Any]], answers: list[PartnerAnswer]) -> list[dict[str, Any]]:
    """Every node's hits in one list: full hits best first, then restricted hits (which carry
    no score: the owner alone says how good they are), each with the node it comes from."""
    everything = local + [hit for a in answers for hit in a.hits]
    full = [h for h in everything if not h.get("restricted")]
    restricted = [h for h in everything if h.get("restricted")]
    full.sort(key=lambda h: -float(h.get("score") or 0.0))
    return full + restricted


def search(
    fed: Federation,
    principal: Principal,
    query: SearchQuery,
    local: Callable[[], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Ask the partners, run the local search (``local``) meanwhile, merge, and audit what was
    asked of whom (each partner audits the search on its side too)."""
    pending = FanOut(fed, principal, query)
    mine = local()
    answers = pending.answers()
    with fed.engine.begin() as conn:
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="federation.search_out",
            purpose=query.purpose,
            case_ref=query.case_ref,
            details={"partners": [a.to_json() for a in answers]},
        )
    return {"hits": merge(mine, answers), "partners": [a.to_json() for a in answers]}
