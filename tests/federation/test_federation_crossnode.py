"""Cross-node hits: a record written on one node is matched against the partner's records as
the partner's grant allows, and both owners get the hit, each on its own node."""

from __future__ import annotations

import json
import time
from typing import Any

from fedkit import Pair, person, user, wait_for
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.federation import links, offers
from polex.federation.sharing import parse_shares
from polex.match import hits as hits_api
from polex.match.tables import hits, notifications
from polex.model.envelope import Database
from polex.node import importer
from polex.node.home import Node
from polex.node.sources import open_source


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
        # both grants are hit/no-hit: the evidence quoting the other side's values stays home
        assert hit["explanation"] and all(f["detail"] == "" for f in hit["explanation"])
    wait_for(lambda: _matched(pair.b.node) is not None, what="B to have matched A's record")
    entry = _matched(pair.b.node)
    with pair.b.node.engine.connect() as conn:
        told = conn.execute(select(notifications.c.agency, notifications.c.text)).all()
    assert entry is not None and entry.details["node"] == pair.a.node.name
    # each node tells its own agencies only, and names no record of the other
    assert [agency for agency, _ in told] == ["FR-DCPJ"]
    assert "Sergej" not in told[0].text and "DE-BKA" in told[0].text


def _matched(node: Node) -> Any:
    with node.engine.begin() as conn:
        chain(conn)
        query = select(audit_log).where(audit_log.c.action == "federation.match")
        return conn.execute(query).first()


def test_no_hit_where_the_partner_does_not_match(pair: Pair) -> None:
    with pair.b.node.engine.begin() as conn:
        grant = parse_shares(["all=full"])
        grant.crossmatch = False
        links.set_grant(conn, pair.a.node.name, grant, "operator")
    pair.b.fed.refresh()
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    person(pair.a.node, anna, "de-1", "Sergej Ivanov", "1980-05-17")
    person(pair.a.node, anna, "de-2", "Sergej Iwanow", "1980-05-17")
    wait_for(lambda: _queued(pair) == [], what="A to have offered its records, or none")
    assert hit_rows(pair.b.node) == [] and hit_rows(pair.a.node) == []


def _full_both_ways(pair: Pair) -> None:
    for here, there in ((pair.a, pair.b), (pair.b, pair.a)):
        with here.node.engine.begin() as conn:
            links.set_grant(conn, there.node.name, parse_shares(["all=full"]), "operator")
        here.fed.refresh()


def _pairs(node: Node) -> set[frozenset[object]]:
    return {frozenset((h["record_a"], h["record_b"])) for h in hit_rows(node)}


def test_both_owners_get_the_hit_and_a_restricted_side_leaks_nothing(pair: Pair) -> None:
    _full_both_ways(pair)
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    # an allow-list: partners learn only that the record exists, and whom to contact
    kept = person(
        pair.a.node, anna, "de-1", "Sergej Ivanov", "1980-05-17",
        restrictions={"allow_agencies": ["DE-BKA"]},
    )  # fmt: skip
    open_fr = person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    # a deny-list naming A's agency: B's owner has the hit, A learns nothing of it
    open_de = person(pair.a.node, anna, "de-2", "Marta Kowalczyk", "1975-02-03")
    denied = person(
        pair.b.node, pierre, "fr-2", "Marta Kowalczyk", "1975-02-03",
        restrictions={"deny_agencies": [f"DE-BKA@{pair.a.node.name}"]},
    )  # fmt: skip
    # H2 without permission for the partner: A's owner has the hit, B learns nothing of it
    secret = person(pair.a.node, anna, "de-3", "Jan Novak", "1990-01-01", handling="H2")
    open_fr2 = person(pair.b.node, pierre, "fr-3", "Jan Novak", "1990-01-01")
    ivanov, kowalczyk, novak = (
        frozenset(p) for p in ((kept, open_fr), (open_de, denied), (secret, open_fr2))
    )
    wait_for(
        lambda: (
            _pairs(pair.a.node) == {ivanov, novak} and _pairs(pair.b.node) == {ivanov, kowalczyk}
        ),
        what="the hits on both nodes",
    )
    time.sleep(3)  # more passes change nothing
    assert _pairs(pair.a.node) == {ivanov, novak}
    assert _pairs(pair.b.node) == {ivanov, kowalczyk}
    for node in (pair.a.node, pair.b.node):
        (hit,) = [h for h in hit_rows(node) if {h["record_a"], h["record_b"]} == ivanov]
        assert all(f["detail"] == "" for f in hit["explanation"])
    with pair.b.node.engine.connect() as conn:
        pierre_sees = hits_api.list_hits(conn, pierre)[0]
        told = " ".join(conn.execute(select(notifications.c.text)).scalars())
    text = json.dumps(pierre_sees, default=str)
    assert "Sergej" not in text and "Sergej" not in told
    sides = [s for h in pierre_sees for s in h["records"] if s["node"] == pair.a.node.name]
    assert len(sides) == 2 and all(s["restricted"] and "caption" not in s for s in sides)
    with pair.a.node.engine.connect() as conn:
        anna_sees = hits_api.list_hits(conn, anna)[0]
    sides = [s for h in anna_sees for s in h["records"] if s["node"] == "NODE-B"]
    assert len(sides) == 2 and all(s["owner"] == "FR-DCPJ" and s["restricted"] for s in sides)


def test_a_full_grant_shares_the_evidence(pair: Pair) -> None:
    _full_both_ways(pair)
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    person(pair.a.node, anna, "de-1", "Sergej Ivanov", "1980-05-17")
    person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    wait_for(lambda: len(hit_rows(pair.a.node)) == 1 and len(hit_rows(pair.b.node)) == 1)
    for node in (pair.a.node, pair.b.node):
        (hit,) = hit_rows(node)
        assert any(f["detail"] for f in hit["explanation"])


def _queued(pair: Pair) -> list[str]:
    with pair.a.node.engine.connect() as conn:
        return offers.pending(conn, "NODE-B", 100)


def test_an_imported_record_is_offered_once_its_import_commits(pair: Pair, tmp_path: Any) -> None:
    """The import's own transaction queues its records for the partner, however long it runs
    (a cursor over write times would have passed them before they committed)."""
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    user(pair.a.node, "anna", "DE-BKA", "DE")
    theirs = person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    path = tmp_path / "de.jsonl"
    row = {
        "id": "de-7",
        "schema": "Person",
        "properties": {"name": ["Sergej Ivanov"], "birthDate": ["1980-05-17"]},
        "polex": {"subject_category": "suspect"},
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pair.a.node.engine.begin() as conn:
        actor = importer.import_actor(conn, pair.a.node.name, "DE-BKA", None)
    options = importer.ImportOptions(database=Database.intelligence, agency="DE-BKA", actor=actor)
    assert importer.import_rows(pair.a.node.engine, open_source(path), options).imported == 1
    wait_for(lambda: len(hit_rows(pair.b.node)) == 1, what="B's hit on the imported record")
    (hit,) = hit_rows(pair.b.node)
    assert theirs in {hit["record_a"], hit["record_b"]}
    # the offer leaves A's queue once B has answered, which may be just after B stored the hit
    wait_for(lambda: _queued(pair) == [], what="A's offer queue emptied")
