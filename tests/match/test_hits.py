"""Cross-matching over a real node: hits for both owners, restricted sides, decisions, colours,
deconfliction, and no duplicate hits on re-runs."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polex.match import crossmatch
from polex.match import hits as hits_module
from polex.match.hits import Match, record_hits
from polex.match.tables import hits, match_queue
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


def test_bulk_hits_keep_every_guarantee(client: TestClient, make_actor, node: Node) -> None:  # type: ignore[no-untyped-def]
    """record_hits (what the batch writes with) for many pairs at once: one hit per pair
    whatever the order or repetition, both owners told, a restricted side named by agency
    only, deconfliction, and a second pass that creates nothing and leaves decisions alone."""
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    fr = make_actor("eloi", "FR-DCPJ", "officer", "FR")
    boss = make_actor("bea", "DE-BKA", "supervisor", "DE")
    people = (
        (de, "de-1", "Arben Hoxha", "1979-04-02", {"case_ref": "DE-OP-1"}),
        (it, "it-1", "Li Wei", "1990-11-23", {}),
        (
            fr,
            "fr-1",
            "Marcel Dubois",
            "1961-07-15",
            {"case_ref": "FR-OP-9", "restrictions": {"allow_agencies": ["FR-DCPJ"]}},
        ),
    )
    ids = {}
    for actor, sid, name, born, envelope in people:
        row = suspect(sid, name, **envelope)
        row["properties"]["birthDate"] = [born]
        ids[sid] = client.post("/api/v1/records", json=row, headers=actor.headers).json()[
            "record_id"
        ]
    with node.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(hits)).scalar_one() == 0
        loaded = store.get_many(conn, ids.values())
        de1, it1, fr1 = (loaded[ids[s]] for s in ("de-1", "it-1", "fr-1"))
        pairs = [Match(de1, it1, 0.95, []), Match(fr1, de1, 0.91, []), Match(it1, de1, 0.97, [])]
        first = record_hits(conn, pairs, "batch", node.name)
    assert [h.created for h in first] == [True, True, True] and first[0].id == first[2].id
    with node.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(hits)).scalar_one() == 2
    notes = {
        a.principal.agency: client.get("/api/v1/notifications", headers=a.headers).json()
        for a in (de, it, fr)
    }
    assert sorted(n["kind"] for n in notes["DE-BKA"]) == ["deconfliction", "hit", "hit"]
    assert sorted(n["kind"] for n in notes["FR-DCPJ"]) == ["deconfliction", "hit"]
    assert [n["kind"] for n in notes["IT-DCSA"]] == ["hit"]
    told_de = " ".join(n["text"] for n in notes["DE-BKA"])
    assert "FR-DCPJ" in told_de and "Dubois" not in told_de and "FR-OP-9" not in told_de
    de_fr = next(h for h in first[:2] if h.id != first[0].id)
    with node.engine.begin() as conn:
        hits_module.decide(conn, boss.principal, de_fr.id, hits_module.Status.rejected, "twins")
        again = record_hits(
            conn, [Match(de1, it1, 0.99, []), Match(de1, fr1, 0.99, [])], "batch", node.name
        )
        scores = dict(conn.execute(select(hits.c.id, hits.c.score)).all())
        colours = dict(conn.execute(select(hits.c.id, hits.c.colour)).all())
    assert [h.created for h in again] == [False, False]
    assert [h.id for h in again] == [first[0].id, de_fr.id]
    assert scores == {first[0].id: 0.99, de_fr.id: 0.91}
    assert colours[de_fr.id] == "green"
    assert len(client.get("/api/v1/notifications", headers=it.headers).json()) == 1


def test_draining_ends_between_batches_once_told_to_stop(
    client: TestClient,
    make_actor,
    node: Node,  # type: ignore[no-untyped-def]
) -> None:
    """A server shutting down stops matching its backlog; what is left stays queued."""
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    ids = [
        client.post(
            "/api/v1/records", json=suspect(f"de-{n}", f"Arben Hoxha {n}"), headers=de.headers
        ).json()["record_id"]
        for n in range(3)
    ]
    with node.engine.begin() as conn:
        crossmatch.enqueue(conn, ids)
    stop = threading.Event()
    stop.set()
    assert crossmatch.drain(node.engine, node.name, batch=1, stop=stop) == 0
    with node.engine.begin() as conn:
        queued = conn.execute(select(func.count()).select_from(match_queue)).scalar_one()
    assert queued == 3
    assert crossmatch.drain(node.engine, node.name, batch=1) == 3
