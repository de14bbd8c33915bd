"""Federated search through the real federation ports: partners answer by their own grant and
their owners' restrictions, audit the foreign search, and a silent partner never holds it up."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fedkit import Pair, person, user
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.federation import agreement, fedsearch, links
from polex.federation.sharing import parse_shares
from polex.node.home import init_node
from polex.search.engine import SearchQuery

PURPOSE = "border check at Frankfurt airport"
QUERY = {"q": "Sergei Ivanov 1980-05-17", "purpose": PURPOSE, "federated": True}


@pytest.fixture
def records(pair: Pair) -> Pair:
    """On B: a record of FR-DCPJ for everyone, one it denies to German users, one it keeps to
    its own allow-list. On A: the same man under another spelling."""
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    person(pair.b.node, pierre, "fr-1", "Sergei Ivanov", "1980-05-17")
    person(
        pair.b.node,
        pierre,
        "fr-2",
        "Sergei Ivanov",
        "1980-05-17",
        restrictions={"deny_countries": ["DE"]},
    )
    person(
        pair.b.node,
        pierre,
        "fr-3",
        "Sergei Ivanov",
        "1980-05-17",
        restrictions={"allow_agencies": ["FR-DCPJ"]},
    )
    return pair


def grant(pair: Pair, *items: str) -> None:
    """What B shares with A from now on."""
    with pair.b.node.engine.begin() as conn:
        links.set_grant(conn, pair.a.node.name, parse_shares(list(items)), "operator")
    pair.b.fed.refresh()


def by_node(answer: dict[str, Any], node: str) -> list[dict[str, Any]]:
    return [h for h in answer["hits"] if h["node"] == node]


def test_a_federated_search_merges_the_partners_hits_with_provenance(
    records: Pair, client: TestClient, make_actor: Any
) -> None:
    grant(records, "intelligence=full")
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    local = {
        "id": "de-1",
        "schema": "Person",
        "properties": {"name": ["Sergej Iwanow"], "birthDate": ["1980-05-17"]},
        "polex": {"database": "intelligence", "subject_category": "suspect"},
    }
    assert client.post("/api/v1/records", json=local, headers=anna.headers).status_code == 201
    answer = client.post("/api/v1/search", json=QUERY, headers=anna.headers).json()
    assert answer["partners"][0]["node"] == "NODE-B" and answer["partners"][0]["status"] == "ok"
    assert [h["source_id"] for h in by_node(answer, "TEST-NODE")] == ["de-1"]
    theirs = by_node(answer, "NODE-B")
    full = [h for h in theirs if not h["restricted"]]
    restricted = [h for h in theirs if h["restricted"]]
    assert [h["source_id"] for h in full] == ["fr-1"]
    assert full[0]["properties"]["name"] == ["Sergei Ivanov"] and full[0]["owner"] == "FR-DCPJ"
    assert len(restricted) == 1 and "properties" not in restricted[0]  # fr-3; fr-2 denied
    local_only = client.post(
        "/api/v1/search", json={**QUERY, "federated": False}, headers=anna.headers
    ).json()
    assert {h["node"] for h in local_only["hits"]} == {"TEST-NODE"}

    with records.b.node.engine.begin() as conn:
        chain(conn)
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "federation.search")
        ).one()
    assert entry.purpose == PURPOSE and entry.agency == "DE-BKA"
    assert entry.details["node"] == "TEST-NODE" and entry.details["user"] == "anna"
    assert len(entry.details["hits"]) == 1 and len(entry.details["restricted_hits"]) == 1


def test_a_hit_only_grant_never_returns_fields(records: Pair) -> None:
    grant(records, "intelligence=hit")
    anna = user(records.a.node, "anna", "DE-BKA", "DE")
    (answer,) = fedsearch.fan_out(records.a.fed, anna, SearchQuery.model_validate(QUERY))
    assert answer.status == "ok" and len(answer.hits) == 2
    for hit in answer.hits:
        assert set(hit) == {"record_id", "restricted", "owner", "contact", "node"}
        assert hit["restricted"] is True and hit["owner"] == "FR-DCPJ"


def test_databases_outside_the_grant_are_not_searched(records: Pair) -> None:
    grant(records, "vehicles=full")
    anna = user(records.a.node, "anna", "DE-BKA", "DE")
    query = SearchQuery.model_validate({**QUERY, "databases": ["vehicles", "intelligence"]})
    (answer,) = fedsearch.fan_out(records.a.fed, anna, query)
    assert answer.status == "ok" and answer.hits == []


def test_h2_reaches_a_partner_only_with_the_owners_permission(records: Pair) -> None:
    """The asker is decided as a partner node's user: H2 stays home unless the owner recorded
    permission for the asking node (or agency)."""
    grant(records, "intelligence=full")
    pierre = user(records.b.node, "pierre2", "FR-DCPJ", "FR")
    person(records.b.node, pierre, "fr-4", "Oleg Petrov", "1975-02-03", handling="H2")
    person(
        records.b.node, pierre, "fr-5", "Oleg Petrov", "1975-02-03", handling="H2",
        restrictions={"passing_permitted": [f"@{records.a.node.name}"]},
    )  # fmt: skip
    anna = user(records.a.node, "anna", "DE-BKA", "DE")
    query = SearchQuery.model_validate({**QUERY, "q": "Oleg Petrov 1975-02-03"})
    (answer,) = fedsearch.fan_out(records.a.fed, anna, query)
    assert answer.status == "ok"
    assert [h.get("source_id") for h in answer.hits] == ["fr-5"]


def test_a_partner_cannot_search_as_an_agency_of_the_node_it_asks(records: Pair) -> None:
    grant(records, "intelligence=full")
    impostor = user(records.a.node, "mallory", "FR-DCPJ", "FR")  # B's own agency code
    (answer,) = fedsearch.fan_out(records.a.fed, impostor, SearchQuery.model_validate(QUERY))
    assert answer.status == "refused" and "search.agency_local" in (answer.detail or "")


@pytest.fixture
def silent_partner(pair: Pair, tmp_path: Path) -> Iterator[str]:
    """A linked NODE-C whose port accepts connections and never says a word."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    third = init_node(tmp_path / "node-c", "NODE-C")
    offer = agreement.make_offer(third, f"https://127.0.0.1:{port}")
    with pair.a.node.engine.begin() as conn:
        agreement.accept_offer(conn, pair.a.node.name, json.dumps(offer), "operator")
    pair.a.fed.refresh()
    yield "NODE-C"
    silent.close()
    third.engine.dispose()


def test_a_silent_or_stopped_partner_is_reported_not_waited_for(
    records: Pair, silent_partner: str
) -> None:
    grant(records, "intelligence=full")
    anna = user(records.a.node, "anna", "DE-BKA", "DE")
    query = SearchQuery.model_validate(QUERY)
    answers = {a.node: a for a in fedsearch.fan_out(records.a.fed, anna, query, seconds=0.5)}
    assert answers[silent_partner].status == "timeout"
    assert answers["NODE-B"].status == "ok" and answers["NODE-B"].hits
    records.b.stop()
    answers = {a.node: a for a in fedsearch.fan_out(records.a.fed, anna, query, seconds=0.5)}
    assert answers["NODE-B"].status == "unreachable"
