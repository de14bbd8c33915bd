"""Hits between two owners' records: created once per pair, decided by a supervisor, coloured
as the EU's Multiple-Identity Detector colours its links.

Both owners are told of a hit. Each sees its own record in full and the other side only as far
as the other owner's rules allow: "a record of agency X matches, contact them" at the least."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from polex.access.policy import View, record_view
from polex.access.principal import Principal, Role
from polex.audit import log as audit
from polex.match.tables import hits, notifications
from polex.model.record import Record
from polex.search.score import Feature
from polex.store import records as store
from polex.store.metadata import utcnow


class Status(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"
    needs_info = "needs_info"


class Colour(StrEnum):
    white = "white"  # confirmed same person, legitimately
    yellow = "yellow"  # possible match, to be verified
    green = "green"  # verified different persons
    red = "red"  # confirmed same person using identities unjustifiably


class HitNotFound(LookupError):
    pass


class DecisionRefused(PermissionError):
    pass


@dataclass(frozen=True)
class NewHit:
    id: int
    created: bool


def _explanation(features: list[Feature]) -> list[dict[str, Any]]:
    return [{"feature": f.name, "score": round(f.score, 4), "detail": f.detail} for f in features]


def _notifications(
    sides: tuple[tuple[Record, str], tuple[Record, str]], hit_id: int, node: str
) -> list[dict[str, Any]]:
    """What each owner is told of a new hit: its own record by caption and the other side by
    agency only, whatever the other side's restrictions (they need not be read to write it).
    Each node tells its own agencies; a partner's owner hears of the hit from its node."""
    now = utcnow()
    (a, node_a), (b, node_b) = sides
    here = [(mine, theirs) for mine, theirs, at in ((a, b, node_a), (b, a, node_b)) if at == node]
    told = [
        (
            mine.owner,
            "hit",
            f"Your record {mine.caption!r} ({mine.database}) matches a record of agency "
            f"{theirs.owner}: review hit {hit_id}.",
        )
        for mine, theirs in here
    ]
    if a.envelope.case_ref and b.envelope.case_ref and a.owner != b.owner:
        told += [
            (
                mine.owner,
                "deconfliction",
                f"Your case {mine.envelope.case_ref} and a case of agency {theirs.owner} "
                f"touch the same entity (hit {hit_id}): contact them before acting.",
            )
            for mine, theirs in here
        ]
    return [
        {
            "agency": agency,
            "kind": kind,
            "hit_id": hit_id,
            "text": text,
            "details": {},
            "created_at": now,
        }
        for agency, kind, text in told
    ]


def _notify(conn: Connection, agency: str, kind: str, hit_id: int, text: str) -> None:
    conn.execute(
        insert(notifications).values(
            agency=agency,
            kind=kind,
            hit_id=hit_id,
            text=text,
            details={},
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class Match:
    """A pair some matcher scored at or above its review threshold; ``right_node`` names the
    node of a partner's record (None: this node)."""

    left: Record
    right: Record
    score: float
    features: list[Feature]
    right_node: str | None = None


# Pairs looked up per query: well under SQLite's 32,766 parameters, few round trips.
_LOOKUP = 1000


def _insert_ignoring_existing(conn: Connection) -> Any:
    """An insert into ``hits`` that skips a pair another writer created since we looked (a
    real-time worker and the batch may find the same pair at the same moment)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(hits).on_conflict_do_nothing(
            index_elements=["record_a", "record_b"]
        )
    return sqlite.insert(hits).on_conflict_do_nothing(index_elements=["record_a", "record_b"])


def _existing(conn: Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    found: dict[tuple[str, str], Row[Any]] = {}
    for start in range(0, len(pairs), _LOOKUP):
        chunk = pairs[start : start + _LOOKUP]
        wanted = set(chunk)
        rows = conn.execute(
            select(hits.c.id, hits.c.status, hits.c.record_a, hits.c.record_b).where(
                hits.c.record_a.in_({a for a, _ in chunk}),
                hits.c.record_b.in_({b for _, b in chunk}),
            )
        ).all()
        found |= {(r.record_a, r.record_b): r for r in rows if (r.record_a, r.record_b) in wanted}
    return found


def _pair(m: Match) -> tuple[str, str]:
    return (m.left.id, m.right.id) if m.left.id < m.right.id else (m.right.id, m.left.id)


def record_hits(conn: Connection, matches: Sequence[Match], method: str, node: str) -> list[NewHit]:
    """Hits for many pairs at once, in the caller's transaction, with what ``record_hit``
    guarantees for one: a pair has one hit whichever side or path came first, a pending hit
    takes the new score, a decided one stays as decided, and both owners of each new hit are
    told (by agency only). A few statements per thousand pairs, not a few per pair. Returns
    one ``NewHit`` per match, in order."""
    oriented: dict[tuple[str, str], tuple[Record, str, Record, str, Match]] = {}
    for m in matches:
        (a, node_a), (b, node_b) = sorted(
            [(m.left, node), (m.right, m.right_node or node)], key=lambda p: p[0].id
        )
        oriented[(a.id, b.id)] = (a, node_a, b, node_b, m)
    existing = _existing(conn, list(oriented))
    now = utcnow()
    refresh = [
        {
            "hit_id": row.id,
            "new_score": oriented[pair][4].score,
            "new_explanation": _explanation(oriented[pair][4].features),
            "now": now,
        }
        for pair, row in existing.items()
        if row.status == Status.pending
    ]
    if refresh:
        conn.execute(
            update(hits)
            .where(hits.c.id == bindparam("hit_id"))
            .values(
                score=bindparam("new_score"),
                explanation=bindparam("new_explanation", type_=hits.c.explanation.type),
                updated_at=bindparam("now"),
            ),
            refresh,
        )
    ids = {pair: row.id for pair, row in existing.items()}
    created: set[tuple[str, str]] = set()
    new = [
        {
            "record_a": a.id,
            "record_b": b.id,
            "owner_a": a.owner,
            "owner_b": b.owner,
            "node_a": node_a,
            "node_b": node_b,
            "database_a": a.database,
            "database_b": b.database,
            "score": m.score,
            "explanation": _explanation(m.features),
            "method": method,
            "status": Status.pending.value,
            "colour": Colour.yellow.value,
            "created_at": now,
            "updated_at": now,
        }
        for pair, (a, node_a, b, node_b, m) in oriented.items()
        if pair not in existing
    ]
    if new:
        statement = _insert_ignoring_existing(conn).returning(
            hits.c.id, hits.c.record_a, hits.c.record_b
        )
        for row in conn.execute(statement, new):
            ids[(row.record_a, row.record_b)] = row.id
            created.add((row.record_a, row.record_b))
        told = [
            note
            for pair in created
            for note in _notifications(
                ((oriented[pair][0], oriented[pair][1]), (oriented[pair][2], oriented[pair][3])),
                ids[pair],
                node,
            )
        ]
        if told:
            conn.execute(insert(notifications), told)
        raced = [pair for pair in oriented if pair not in ids]
        ids |= {pair: row.id for pair, row in _existing(conn, raced).items()}
    return [NewHit(id=ids[pair], created=pair in created) for pair in map(_pair, matches)]


def record_hit(
    conn: Connection,
    left: Record,
    right: Record,
    score: float,
    features: list[Feature],
    method: str,
    node: str,
    right_node: str | None = None,
) -> NewHit:
    """Create the hit for a pair (or refresh a pending one): a re-run never duplicates hits."""
    return record_hits(conn, [Match(left, right, score, features, right_node)], method, node)[0]


def _side(principal: Principal, record: Record | None, owner: str, node: str) -> dict[str, Any]:
    view = record_view(principal, record.envelope) if record and not record.deleted else View.none
    if record is not None and view == View.full:
        return {
            "record_id": record.id,
            "source_id": record.source_id,
            "owner": record.owner,
            "node": node,
            "database": record.database,
            "schema": record.schema,
            "caption": record.caption,
            "restricted": False,
        }
    return {
        "owner": owner,
        "node": node,
        "restricted": True,
        "contact": f"a record of agency {owner} matches: contact them",
    }


def _hit_json(principal: Principal, row: Row[Any], loaded: dict[str, Record]) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "score": m["score"],
        "status": m["status"],
        "colour": m["colour"],
        "method": m["method"],
        "explanation": m["explanation"],
        "comment": m["comment"],
        "decided_by": m["decided_by"],
        "decided_at": m["decided_at"],
        "created_at": m["created_at"],
        "records": [
            _side(principal, loaded.get(m["record_a"]), m["owner_a"], m["node_a"]),
            _side(principal, loaded.get(m["record_b"]), m["owner_b"], m["node_b"]),
        ],
    }


def _mine(principal: Principal) -> Any:
    return or_(hits.c.owner_a == principal.agency, hits.c.owner_b == principal.agency)


def list_hits(
    conn: Connection,
    principal: Principal,
    status: Status | None = None,
    database: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """The hits of the principal's agency, newest first, each side shaped by the policy."""
    where = [_mine(principal)]
    if status:
        where.append(hits.c.status == status.value)
    if database:
        where.append(or_(hits.c.database_a == database, hits.c.database_b == database))
    total = conn.execute(select(func.count()).select_from(hits).where(*where)).scalar_one()
    rows = conn.execute(
        select(hits).where(*where).order_by(hits.c.id.desc()).offset(offset).limit(limit)
    ).all()
    loaded = store.get_many(conn, {r.record_a for r in rows} | {r.record_b for r in rows})
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="hit.list",
        details={"hits": [r.id for r in rows]},
    )
    return [_hit_json(principal, r, loaded) for r in rows], total


def get_hit(conn: Connection, principal: Principal, hit_id: int) -> dict[str, Any]:
    row = conn.execute(select(hits).where(hits.c.id == hit_id, _mine(principal))).first()
    if row is None:
        raise HitNotFound(hit_id)
    loaded = store.get_many(conn, [row.record_a, row.record_b])
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="hit.read",
        target=str(hit_id),
    )
    return _hit_json(principal, row, loaded)


def decide(
    conn: Connection,
    principal: Principal,
    hit_id: int,
    status: Status,
    comment: str | None,
    fraudulent: bool = False,
) -> dict[str, Any]:
    """A supervisor of either owner decides; the decision colours the link as MID does."""
    if principal.role != Role.supervisor:
        raise DecisionRefused("role: hits are decided by a supervisor")
    if status == Status.pending:
        raise DecisionRefused("decision: confirmed, rejected or needs_info")
    row = conn.execute(select(hits).where(hits.c.id == hit_id, _mine(principal))).first()
    if row is None:
        raise HitNotFound(hit_id)
    colour = {
        Status.confirmed: Colour.red if fraudulent else Colour.white,
        Status.rejected: Colour.green,
        Status.needs_info: Colour.yellow,
    }[status]
    conn.execute(
        update(hits)
        .where(hits.c.id == hit_id)
        .values(
            status=status.value,
            colour=colour.value,
            comment=comment,
            decided_by=principal.actor,
            decided_at=utcnow(),
            updated_at=utcnow(),
        )
    )
    other = row.owner_b if row.owner_a == principal.agency else row.owner_a
    _notify(
        conn,
        other,
        "hit_decision",
        hit_id,
        f"Agency {principal.agency} decided hit {hit_id}: {status.value} ({colour.value}).",
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="hit.decide",
        target=str(hit_id),
        details={"status": status.value, "colour": colour.value, "comment": comment},
    )
    return get_hit(conn, principal, hit_id)


def confirmed_links(conn: Connection, record_id: str) -> list[tuple[str, Colour]]:
    """The records a supervisor confirmed to be the same entity as this one, with the link's
    colour (white, or red for a fraudulent identity): what link analysis builds on."""
    rows = conn.execute(
        select(hits.c.record_a, hits.c.record_b, hits.c.colour).where(
            hits.c.status == Status.confirmed.value,
            (hits.c.record_a == record_id) | (hits.c.record_b == record_id),
        )
    ).all()
    return [(r.record_b if r.record_a == record_id else r.record_a, Colour(r.colour)) for r in rows]


def notifications_for(conn: Connection, agency: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(notifications)
        .where(notifications.c.agency == agency)
        .order_by(notifications.c.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "hit_id": r.hit_id,
            "text": r.text,
            "created_at": r.created_at,
            "read": r.read_at is not None,
        }
        for r in rows
    ]
