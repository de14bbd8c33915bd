"""Cross-matching over a real node: hits for both owners, restricted sides, decisions, colours,
deconfliction, and no duplicate hits on re-runs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polex.match import crossmatch
from polex.match.tables import hits
from polex.node.home import Node
from polex.store import records as store


def suspect(sid: str, name: str, phone: str | None = None, **envelope: Any) -> dict[str, Any]:
    props = {"name": [name], "birthDate": ["1979-04-02"], "nationality": ["al"]}
    if phone:
        props["phone"] = [phone]
    return {
        "id": sid,
        "schema": "Person",
        "properties": props,
        "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
    }


def test_hit_for_both_owners_on_create(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    client.post(
        "/api/v1/records",
        json=suspect("it-9", "Arben Hoxha", "+39 06 1234 5678"),
        headers=it.headers,
    )
    client.post(
        "/api/v1/records", json=suspect("de-9", "Arben Hoxa", "+390612345678"), headers=de.headers
    )
    for actor, own in ((de, "de-9"), (it, "it-9")):
        items = client.get("/api/v1/hits", headers=actor.headers).json()["items"]
        assert len(items) == 1
        hit = items[0]
        assert hit["status"] == "pending" and hit["colour"] == "yellow"
        assert {r["source_id"] for r in hit["records"]} == {"de-9", "it-9"}
        assert any(e["feature"] == "identifier" for e in hit["explanation"])
        assert own in {r["source_id"] for r in hit["records"]}
    notes = client.get("/api/v1/notifications", headers=it.headers).json()
    assert notes[0]["kind"] == "hit" and "DE-BKA" in notes[0]["text"]


def test_restricted_side_leaks_nothing(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    secret = suspect("it-secret", "Arben Hoxha", restrictions={"allow_agencies": ["IT-DCSA"]})
    client.post("/api/v1/records", json=secret, headers=it.headers)
    client.post("/api/v1/records", json=suspect("de-1", "Arben Hoxha"), headers=de.headers)
    hit = client.get("/api/v1/hits", headers=de.headers).json()["items"][0]
    theirs = [r for r in hit["records"] if r["owner"] == "IT-DCSA"][0]
    assert theirs == {
        "owner": "IT-DCSA",
        "node": "TEST-NODE",
        "restricted": True,
        "contact": "a record of agency IT-DCSA matches: contact them",
    }
    assert "it-secret" not in str(hit)
    # the owner of the restricted record sees both sides in full
    own_view = client.get("/api/v1/hits", headers=it.headers).json()["items"][0]
    assert all(not r["restricted"] for r in own_view["records"])


def test_decisions_colour_links_and_are_supervisors_only(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    sup = make_actor("sven", "DE-BKA", "supervisor", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    client.post("/api/v1/records", json=suspect("it-1", "Arben Hoxha"), headers=it.headers)
    client.post("/api/v1/records", json=suspect("de-1", "Arben Hoxha"), headers=de.headers)
    hit_id = client.get("/api/v1/hits", headers=de.headers).json()["items"][0]["id"]
    refused = client.post(
        f"/api/v1/hits/{hit_id}/decision", json={"decision": "confirmed"}, headers=de.headers
    )
    assert refused.status_code == 403
    for body, colour in (
        ({"decision": "confirmed", "comment": "same man"}, "white"),
        ({"decision": "confirmed", "fraudulent": True}, "red"),
        ({"decision": "rejected", "comment": "twins"}, "green"),
        ({"decision": "needs_info"}, "yellow"),
    ):
        answer = client.post(f"/api/v1/hits/{hit_id}/decision", json=body, headers=sup.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["colour"] == colour
        assert answer.json()["decided_by"] == "sven@DE-BKA"
    listed = client.get("/api/v1/hits?status=needs_info", headers=it.headers).json()
    assert listed["total"] == 1


def test_deconfliction_notifies_both_case_owners(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    client.post(
        "/api/v1/records",
        json=suspect("it-1", "Arben Hoxha", case_ref="IT-OP-ALBA"),
        headers=it.headers,
    )
    client.post(
        "/api/v1/records",
        json=suspect("de-1", "Arben Hoxha", case_ref="DE-2026-17"),
        headers=de.headers,
    )
    for actor, case in ((de, "DE-2026-17"), (it, "IT-OP-ALBA")):
        notes = client.get("/api/v1/notifications", headers=actor.headers).json()
        deconfliction = [n for n in notes if n["kind"] == "deconfliction"]
        assert len(deconfliction) == 1
        assert case in deconfliction[0]["text"]


def test_rerunning_creates_no_duplicate_hits(
    client: TestClient,
    make_actor,
    node: Node,  # type: ignore[no-untyped-def]
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    client.post("/api/v1/records", json=suspect("it-1", "Arben Hoxha"), headers=it.headers)
    rid = client.post(
        "/api/v1/records", json=suspect("de-1", "Arben Hoxha"), headers=de.headers
    ).json()["record_id"]
    with node.engine.begin() as conn:
        record = store.get(conn, rid)
        assert crossmatch.crossmatch(conn, record, node.name) == []
        crossmatch.enqueue(conn, [rid])
    assert crossmatch.drain(node.engine, node.name) == 1
    with node.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(hits)).scalar_one() == 1


def test_same_owner_records_do_not_hit(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    client.post("/api/v1/records", json=suspect("de-1", "Arben Hoxha"), headers=de.headers)
    client.post("/api/v1/records", json=suspect("de-2", "Arben Hoxha"), headers=de.headers)
    assert client.get("/api/v1/hits", headers=de.headers).json()["total"] == 0
