"""Cross-node hits: a record written on one node is matched against the partner's records as
the partner's grant allows, and both owners get the hit, each on its own node."""

from __future__ import annotations

from fedkit import Pair, person, user, wait_for
from sqlalchemy import select

from polex.audit.tables import audit_log
from polex.federation import links
from polex.federation.sharing import parse_shares
from polex.federation.tables import federation_crossmatch
from polex.match.tables import hits
from polex.node.home import Node


def hit_rows(node: Node) -> list[dict[str, object]]:
    with node.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(hits)).all()]


def test_a_new_record_matching_the_partners_gives_both_owners_a_hit(pair: Pair) -> None:
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    theirs = person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    mine = person(pair.a.node, anna, "de-1", "Sergej Ivanov", "1980-05-17")
    wait_for(lambda: len(hit_rows(pair.a.node)) == 1 and len(hit_rows(pair.b.node)) == 1)
    for node, other in ((pair.a.node, "NODE-B"), (pair.b.node, pair.a.node.name)):
        (hit,) = hit_rows(node)
        assert {hit["record_a"], hit["record_b"]} == {mine, theirs}
        assert {hit["owner_a"], hit["owner_b"]} == {"DE-BKA", "FR-DCPJ"}
        assert other in {hit["node_a"], hit["node_b"]} and hit["method"] == "federated"
    with pair.b.node.engine.connect() as conn:
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "federation.match")
        ).first()
    assert entry is not None and entry.details["node"] == pair.a.node.name


def test_no_hit_where_the_partner_does_not_match_or_the_owner_keeps_the_record(
    pair: Pair,
) -> None:
    with pair.b.node.engine.begin() as conn:
        grant = parse_shares(["all=full"])
        grant.crossmatch = False
        links.set_grant(conn, pair.a.node.name, grant, "operator")
    pair.b.fed.refresh()
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    person(pair.a.node, anna, "de-1", "Sergej Ivanov", "1980-05-17")
    kept = person(
        pair.a.node,
        anna,
        "de-2",
        "Sergej Iwanow",
        "1980-05-17",
        restrictions={"allow_agencies": ["DE-BKA"]},
    )
    wait_for(lambda: _offered(pair) == kept, what="A to have offered its records")
    assert hit_rows(pair.b.node) == [] and hit_rows(pair.a.node) == []


def _offered(pair: Pair) -> str | None:
    with pair.a.node.engine.connect() as conn:
        return conn.execute(
            select(federation_crossmatch.c.record_id).where(
                federation_crossmatch.c.node == "NODE-B"
            )
        ).scalar()
