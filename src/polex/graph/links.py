"""A record's neighbourhood as its reader may see it: the entities it names and that name it,
and the records a supervisor confirmed to be the same person (the MID's white and red links).

A link is shown in full only where the policy gives the reader a full view of the linked
record; where it gives a hit view, the reader learns that a linked record exists and whom to
contact, as search does; where it gives none, the link is not shown at all. An edge record
(a Membership, an Associate) is read through: a person's page shows the group he belongs to,
with the membership as the record that says so."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from polex.access.policy import View, record_views
from polex.access.principal import Principal
from polex.graph.tables import record_refs
from polex.match.hits import Colour, confirmed_links
from polex.model.envelope import Database
from polex.model.ftm import model
from polex.model.record import Record
from polex.store import records as store


@dataclass(frozen=True)
class Neighbour:
    """A linked record as shown to one reader: ``record`` is None for a hit-only view."""

    relation: str  # how it relates, in FtM's words: "Member", "belongs to", "Holder of"
    view: View
    owner: str
    database: str
    record: Record | None
    via: Record | None = None  # the edge record that makes the link, when read through


def _label(schema: str, prop: str, reverse: bool) -> str:
    found = model.schemata[schema]
    p = found.get(prop)
    if p is None:
        return prop
    if reverse:
        return p.reverse.label if p.reverse is not None else f"{found.label} ({p.label})"
    return str(p.label)


def _resolve(conn: Connection, owner: str, refs: Iterable[str]) -> dict[str, list[Record]]:
    """The owner's records behind source ids: record ids are the hash of (owner, database,
    source id), so each reference has one possible id per database, looked up by key."""
    wanted = {store.record_id(owner, db.value, ref): ref for ref in set(refs) for db in Database}
    found: dict[str, list[Record]] = {}
    for rid, record in store.get_many(conn, wanted).items():
        if not record.deleted:
            found.setdefault(wanted[rid], []).append(record)
    return found


def _outgoing(conn: Connection, record: Record) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(record_refs.c.property, record_refs.c.ref).where(
            record_refs.c.record_id == record.id
        )
    )
    return [(r.property, r.ref) for r in rows]


def _incoming(conn: Connection, record: Record) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(record_refs.c.record_id, record_refs.c.property).where(
            record_refs.c.owner == record.owner, record_refs.c.ref == record.source_id
        )
    )
    return [(r.record_id, r.property) for r in rows]


IDENTITY = {
    Colour.white: "Same person (confirmed)",
    Colour.red: "Same person under a false identity (confirmed)",
}


def _far_end(schema_name: str, prop: str) -> str | None:
    """The property naming an edge's other end, when ``prop`` names one of its ends."""
    schema = model.schemata[schema_name]
    if not schema.edge or prop not in (schema.edge_source, schema.edge_target):
        return None
    return schema.edge_target if prop == schema.edge_source else schema.edge_source


def _pairs(conn: Connection, record: Record) -> list[tuple[str, Record, Record | None]]:
    """(relation, linked record, edge record read through) for every link of the record."""
    out: list[tuple[str, Record, Record | None]] = []
    identities = confirmed_links(conn, record.id)
    same = store.get_many(conn, {rid for rid, _ in identities})
    for rid, colour in identities:
        if rid in same and not same[rid].deleted and colour in IDENTITY:
            out.append((IDENTITY[colour], same[rid], None))
    outgoing = _outgoing(conn, record)
    targets = _resolve(conn, record.owner, (ref for _, ref in outgoing))
    for prop, ref in outgoing:
        out += [(_label(record.schema, prop, False), t, None) for t in targets.get(ref, [])]
    incoming = _incoming(conn, record)
    sources = store.get_many(conn, {rid for rid, _ in incoming})
    # every incoming reference is the owner's own (record_refs is matched on the owner), so
    # the far ends of all edge records resolve in one lookup
    far = {
        rid: _far_end(sources[rid].schema, prop)
        for rid, prop in incoming
        if rid in sources and not sources[rid].deleted
    }
    ends = _resolve(
        conn,
        record.owner,
        (
            ref
            for rid, other in far.items()
            if other
            for ref in sources[rid].properties.get(other, [])
        ),
    )
    for rid, prop in incoming:
        source = sources.get(rid)
        if source is None or source.deleted:
            continue
        schema = model.schemata[source.schema]
        other = far[rid]
        if other is not None:
            relation = schema.edge_label or schema.label
            if prop == schema.edge_target:
                relation = f"{_label(source.schema, other, False)} ({schema.label})"
            found = [
                e
                for ref in source.properties.get(other, [])
                for e in ends.get(ref, [])
                if e.id != record.id
            ]
            out += [(relation, end, source) for end in found]
            if not found:
                out.append((str(schema.label), source, None))
        else:
            out.append((_label(source.schema, prop, True), source, None))
    return out


def neighbours(conn: Connection, principal: Principal, record: Record) -> list[Neighbour]:
    """The record's links the reader may know of. A link read through an edge record is only
    as visible as that record: where the reader may not see the membership in full, the
    membership shows as a hit and its other end not at all."""
    pairs = _pairs(conn, record)
    envelopes = [r.envelope for _, r, _ in pairs] + [v.envelope for _, _, v in pairs if v]
    views = iter(record_views(principal, envelopes))
    linked_views = [next(views) for _ in pairs]
    via_views = [next(views) if v else View.full for _, _, v in pairs]
    shown: dict[tuple[str, str], Neighbour] = {}
    for (relation, linked, via), view, via_view in zip(pairs, linked_views, via_views, strict=True):
        if via is not None and via_view != View.full:
            relation, linked, via, view = str(model.schemata[via.schema].label), via, None, via_view
        if view == View.none:
            continue
        shown.setdefault(
            (relation, linked.id),
            Neighbour(
                relation=relation,
                view=view,
                owner=linked.owner,
                database=linked.database,
                record=linked if view == View.full else None,
                via=via,
            ),
        )
    return sorted(shown.values(), key=lambda n: (n.relation, n.record.caption if n.record else ""))


def linked_ids(found: Sequence[Neighbour]) -> list[str]:
    """The ids a reader was shown, for the audit entry of the read."""
    return [n.record.id for n in found if n.record is not None]
