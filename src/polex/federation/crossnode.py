"""Cross-node hits: this node's new and changed records matched against linked partners'.

Both nodes take part only while each grants ``crossmatch`` to the other. The relay offers each
partner the records written since the last one it was offered, where this node shares the
record's database with the partner, the record is approved and carries no
allow-list (a record kept to named agencies or countries stays home), and the partner said it
matches. The partner matches them against the databases it shares with this node, with the
same engine and threshold as its own cross-matching, and records the hits it finds: both owners
get a hit, each on its own node. A partner's record is named only as far as its grant and the
record's restrictions allow: full, or "a record of agency X matches: contact them".

The partner never stores our records: only the hit (ids, owners, databases, score)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, insert, select, update

from polex.access.policy import View, record_view
from polex.access.principal import Principal, Role
from polex.audit import log as audit
from polex.federation.errors import Refused
from polex.federation.links import Link
from polex.federation.service import Federation
from polex.federation.sharing import Mode
from polex.federation.tables import federation_crossmatch
from polex.match.crossmatch import CANDIDATES, REVIEW_THRESHOLD
from polex.match.hits import record_hit
from polex.model.envelope import Database, Envelope, ReviewStatus
from polex.model.record import Record
from polex.search.engine import rank
from polex.search.score import Feature
from polex.store import agencies
from polex.store import records as store
from polex.store.metadata import utcnow

BATCH = 100
METHOD = "federated"


class Offered(BaseModel):
    """One of the asking node's records, as offered for matching."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=40)
    schema_: str = Field(alias="schema", max_length=64)
    properties: dict[str, list[str]]
    database: Database
    owner: str = Field(max_length=32)
    owner_country: str = Field(pattern=r"^[A-Z]{2}$")
    caption: str = Field(max_length=512)


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[Offered] = Field(max_length=BATCH)


def _stub(rid: str, owner: str, database: str, caption: str, schema: str = "Thing") -> Record:
    """Another node's record as a hit names it: never its properties."""
    now = utcnow()
    return Record(
        id=rid,
        source_id=rid,
        schema=schema,
        properties={},
        envelope=Envelope(database=Database(database), owner=owner),
        version=0,
        caption=caption,
        created_at=now,
        updated_at=now,
    )


def offerable(record: Record, link: Link) -> bool:
    r = record.envelope.restrictions
    return (
        not record.deleted
        and record.envelope.status == ReviewStatus.approved
        and link.ours.mode(record.database) is not None
        and not (r.allow_agencies or r.allow_countries)
    )


def answer(conn: Connection, local_node: str, link: Link, request: Any) -> dict[str, Any]:
    """Match a partner's records against what this node shares with it; record the hits."""
    if not link.ours.crossmatch:
        raise Refused("crossmatch", "match.not_granted", "crossmatch: not granted to you", 403)
    try:
        offered = MatchRequest.model_validate(request).records
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise Refused(where, "match.format", f"{where}: {first['msg']}", 422) from exc
    granted = [db.value for db in link.ours.databases]
    out: list[dict[str, Any]] = []
    for theirs in offered:
        if agencies.get(conn, theirs.owner) is not None:
            raise Refused(
                "owner",
                "match.owner_local",
                f"owner: {theirs.owner} is an agency of this node",
                403,
            )
        owner = Principal(
            user_id=0,
            username="crossmatch",
            agency=theirs.owner,
            country=theirs.owner_country,
            role=Role.officer,
            node=link.node,
        )
        stub = _stub(theirs.id, theirs.owner, theirs.database.value, theirs.caption, theirs.schema_)
        for mine, score, features in rank(
            conn, theirs.schema_, theirs.properties, limit=CANDIDATES, databases=granted
        ):
            if score < REVIEW_THRESHOLD:
                continue
            view = record_view(owner, mine.envelope)
            if view == View.none:
                continue
            full = view == View.full and link.ours.mode(mine.database) == Mode.full
            hit = record_hit(conn, mine, stub, score, features, METHOD, local_node, link.node)
            out.append(
                {
                    "record_id": theirs.id,
                    "hit_id": hit.id,
                    "match": {
                        "record_id": mine.id,
                        "owner": mine.owner,
                        "database": mine.database,
                        "schema": mine.schema if full else "Thing",
                        "caption": mine.caption if full else f"a record of agency {mine.owner}",
                        "score": score,
                        "features": [
                            {
                                "feature": f.name,
                                "score": f.score,
                                "detail": f.detail if full else "",
                            }
                            for f in features
                        ],
                    },
                }
            )
    audit.append(
        conn,
        actor=f"node:{link.node}",
        action="federation.match",
        details={
            "node": link.node,
            "records": [r.id for r in offered],
            "hits": [(m["record_id"], m["match"]["record_id"]) for m in out],
        },
    )
    return {"node": local_node, "matches": out}


def _mark(conn: Connection, node: str) -> tuple[datetime | None, str]:
    row = conn.execute(
        select(federation_crossmatch).where(federation_crossmatch.c.node == node)
    ).first()
    return (row.written_at, row.record_id) if row else (None, "")


def _advance(conn: Connection, node: str, record: Record) -> None:
    c = federation_crossmatch.c
    values = {"written_at": record.updated_at, "record_id": record.id}
    if conn.execute(update(federation_crossmatch).where(c.node == node).values(**values)).rowcount:
        return
    conn.execute(insert(federation_crossmatch).values(node=node, **values))


def _country(conn: Connection, agency: str) -> str:
    found = agencies.get(conn, agency)
    return found.country if found else "XX"


def push(fed: Federation, link: Link) -> int:
    """Offer the partner the records written since the last offer; record the hits it found.
    Returns how many records were offered; raises httpx errors when the partner is away (the
    same records are offered again next time)."""
    if not (link.theirs.crossmatch and link.ours.crossmatch):
        return 0
    with fed.engine.connect() as conn:
        after, after_id = _mark(conn, link.node)
        written = store.changed_since(conn, after, after_id, BATCH)
        offered = [r for r in written if offerable(r, link)]
        countries = {r.owner: _country(conn, r.owner) for r in offered}
    if not written:
        return 0
    matches: list[dict[str, Any]] = []
    if offered:
        body = json.dumps(
            {
                "records": [
                    {
                        "id": r.id,
                        "schema": r.schema,
                        "properties": r.properties,
                        "database": r.database,
                        "owner": r.owner,
                        "owner_country": countries[r.owner],
                        "caption": r.caption,
                    }
                    for r in offered
                ]
            }
        ).encode()
        response = fed.clients.for_link(link).request("POST", "/federation/v1/match", body)
        if response.status_code == 403:
            matches = []  # the partner does not (or no longer) match our records
        elif response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"{link.node} answered {response.status_code}",
                request=response.request,
                response=response,
            )
        else:
            matches = response.json()["matches"]
    by_id = {r.id: r for r in offered}
    with fed.engine.begin() as conn:
        for m in matches:
            mine = by_id.get(m["record_id"])
            if mine is None:
                continue
            theirs = m["match"]
            stub = _stub(
                theirs["record_id"], theirs["owner"], theirs["database"], theirs["caption"]
            )
            features = [Feature(f["feature"], f["score"], f["detail"]) for f in theirs["features"]]
            record_hit(
                conn, mine, stub, float(theirs["score"]), features, METHOD, fed.name, link.node
            )
        _advance(conn, link.node, written[-1])
    return len(offered)
