"""Cross-node hits: this node's new and changed records matched against linked partners'.

Both nodes take part only while each grants ``crossmatch`` to the other. The relay offers each
partner the records every write path queues for it (offers.py), where this node shares the record's
database with the partner and the owner's rules let the partner's users at least learn that the
record exists: a record kept from partners (H2 without permission, not approved) or carrying a
deny-list that may name the partner's agencies stays home. Each offered record says what the
partner may keep of it: ``full`` (its caption and the match evidence) or ``hit`` (only that a
record of agency X matches), as the link's grant and the record's restrictions decide.

The partner matches them against the databases it shares with this node, with the same engine
and threshold as its own cross-matching, and records the hits it finds: both owners get a hit,
each on its own node. The partner's owner always learns of a hit on its own record; the asking
owner learns of the partner's record only as far as the partner's grant and the record's
restrictions allow: in full, "a record of agency X matches: contact them", or not at all. A
restricted side leaks nothing: no caption, no schema, no evidence naming its values.

The partner never stores our records: only the hit (ids, owners, databases, score, and the
evidence where it was disclosed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from polex.access.policy import View, record_view
from polex.access.principal import partner_principal
from polex.audit import log as audit
from polex.federation import offers
from polex.federation.errors import Refused
from polex.federation.links import Link
from polex.federation.service import Federation
from polex.federation.sharing import Mode
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
    # what the partner may keep of the record with a hit (the caption is sent only for full)
    disclose: Mode


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[Offered] = Field(max_length=BATCH)


def contact(owner: str) -> str:
    return f"a record of agency {owner}"


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


def _evidence(features: list[Feature], disclosed: bool) -> list[Feature]:
    """The match evidence, without the values it quotes unless the other side disclosed them."""
    return features if disclosed else [Feature(f.name, f.score, "") for f in features]


def _concerns_partners(envelope: Envelope) -> bool:
    """A deny-list that may name the partner's agencies (``AGENCY@NODE``) or countries: this
    node cannot tell before matching whom the hit would reach."""
    r = envelope.restrictions
    return bool(r.deny_countries) or any("@" in a for a in r.deny_agencies)


def disclosure(record: Record, link: Link, local_node: str) -> Mode | None:
    """What the partner's users may learn of one of our records: None keeps it home."""
    if record.deleted or record.envelope.status != ReviewStatus.approved:
        return None
    if _concerns_partners(record.envelope):
        return None
    anyone = partner_principal(local_node, link.node, "", "XX", "crossmatch")
    view = record_view(anyone, record.envelope, sharing=link.ours.grants())
    return {View.full: Mode.full, View.hit: Mode.hit}.get(view)


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
    grants = link.ours.grants()
    out: list[dict[str, Any]] = []
    for theirs in offered:
        if agencies.get(conn, theirs.owner) is not None:
            raise Refused(
                "owner",
                "match.owner_local",
                f"owner: {theirs.owner} is an agency of this node",
                403,
            )
        owner = partner_principal(
            local_node, link.node, theirs.owner, theirs.owner_country, "crossmatch"
        )
        full_there = theirs.disclose == Mode.full
        stub = _stub(
            theirs.id,
            theirs.owner,
            theirs.database.value,
            theirs.caption if full_there else contact(theirs.owner),
            theirs.schema_ if full_there else "Thing",
        )
        for mine, score, features in rank(
            conn, theirs.schema_, theirs.properties, limit=CANDIDATES, databases=granted
        ):
            if score < REVIEW_THRESHOLD:
                continue
            view = record_view(owner, mine.envelope, sharing=grants)
            full_here = view == View.full
            evidence = _evidence(features, full_there and full_here)
            hit = record_hit(conn, mine, stub, score, evidence, METHOD, local_node, link.node)
            if view == View.none:
                continue  # our owner has the hit; theirs learns nothing of our record
            out.append(
                {
                    "record_id": theirs.id,
                    "hit_id": hit.id,
                    "match": {
                        "record_id": mine.id,
                        "owner": mine.owner,
                        "database": mine.database,
                        "schema": mine.schema if full_here else "Thing",
                        "caption": mine.caption if full_here else contact(mine.owner),
                        "disclose": Mode.full.value if full_here else Mode.hit.value,
                        "score": score,
                        "features": [
                            {"feature": f.name, "score": f.score, "detail": f.detail}
                            for f in _evidence(features, full_here)
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


def _country(conn: Connection, agency: str) -> str:
    found = agencies.get(conn, agency)
    return found.country if found else "XX"


def _offer(record: Record, disclose: Mode, country: str) -> dict[str, Any]:
    full = disclose == Mode.full
    return {
        "id": record.id,
        "schema": record.schema,
        "properties": record.properties,
        "database": record.database,
        "owner": record.owner,
        "owner_country": country,
        "caption": record.caption if full else contact(record.owner),
        "disclose": disclose.value,
    }


def push(fed: Federation, link: Link) -> int:
    """Offer the partner the records queued for it; record the hits it found. Returns how many
    records were offered; raises httpx errors when the partner is away (the same records are
    offered again next time)."""
    with fed.engine.connect() as conn:
        queued = offers.pending(conn, link.node, BATCH)
    if not queued:
        return 0
    if not (link.theirs.crossmatch and link.ours.crossmatch):
        with fed.engine.begin() as conn:  # queued before one side withdrew its grant
            offers.offered(conn, link.node, queued)
        return 0
    with fed.engine.connect() as conn:
        written = store.get_many(conn, queued)
        offered: list[tuple[Record, Mode]] = []
        for rid in queued:
            disclose = disclosure(written[rid], link, fed.name) if rid in written else None
            if disclose is not None:
                offered.append((written[rid], disclose))
        countries = {r.owner: _country(conn, r.owner) for r, _ in offered}
    matches: list[dict[str, Any]] = []
    if offered:
        body = json.dumps(
            {"records": [_offer(r, mode, countries[r.owner]) for r, mode in offered]}
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
    disclosed = {r.id: (r, mode) for r, mode in offered}
    with fed.engine.begin() as conn:
        for m in matches:
            if m["record_id"] not in disclosed:
                continue
            mine, mode = disclosed[m["record_id"]]
            theirs = m["match"]
            full_there = theirs.get("disclose") == Mode.full.value
            stub = _stub(
                theirs["record_id"],
                theirs["owner"],
                theirs["database"],
                theirs["caption"] if full_there else contact(theirs["owner"]),
                theirs["schema"] if full_there else "Thing",
            )
            features = [Feature(f["feature"], f["score"], f["detail"]) for f in theirs["features"]]
            evidence = _evidence(features, full_there and mode == Mode.full)
            record_hit(
                conn, mine, stub, float(theirs["score"]), evidence, METHOD, fed.name, link.node
            )
        offers.offered(conn, link.node, queued)
    return len(offered)
