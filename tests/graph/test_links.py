"""A record's links: FtM references resolved within the owner, edge records read through,
the linked records' restrictions applied to every link, each look audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node import importer
from polex.node.home import Node
from polex.node.sources import open_source

PURPOSE = "Operation Birch: network of the suspect"


def entity(source_id: str, schema: str, database: str, **props: list[str]) -> dict[str, Any]:
    envelope: dict[str, Any] = {"database": database, "reliability": "B", "accuracy": "2"}
    if schema == "Person":
        envelope["subject_category"] = "suspect"
    return {"id": source_id, "schema": schema, "properties": props, "polex": envelope}


def network(restrict: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A group, its leader and his membership, all in crime_groups; a passport he holds."""
    rows = [
        entity("m-1", "Membership", "crime_groups", member=["p-1"], organization=["g-1"]),
        entity("g-1", "Organization", "crime_groups", name=["Black Wolves"]),
        entity("p-1", "Person", "crime_groups", name=["Pavel Sokolov"], birthDate=["1979"]),
        entity("d-1", "Passport", "travel_documents", number=["75AB12345"], holder=["p-1"]),
    ]
    for row in rows:
        row["polex"]["restrictions"] = (restrict or {}).get(row["id"], {})
    return rows


def links(client: TestClient, rid: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/records/{rid}/links", params={"purpose": PURPOSE}, headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def create_all(client: TestClient, rows: list[dict[str, Any]], headers: dict[str, str]) -> dict:
    ids = {}
    for row in rows:
        response = client.post("/api/v1/records", json=row, headers=headers)
        assert response.status_code == 201, response.text
        ids[row["id"]] = response.json()["record_id"]
    return ids


def test_edges_read_through_and_references_both_ways(client: TestClient, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    ids = create_all(client, network(), anna.headers)

    person = {
        (x["relation"], x["caption"], x["via_record_id"])
        for x in links(client, ids["p-1"], anna.headers)
    }
    assert ("belongs to", "Black Wolves", ids["m-1"]) in person
    assert any(rel != "belongs to" and cap == "75AB12345" for rel, cap, _ in person), person

    group = links(client, ids["g-1"], anna.headers)
    assert [(x["caption"], x["via_record_id"]) for x in group] == [("Pavel Sokolov", ids["m-1"])]
    assert group[0]["relation"] == "Member (Membership)"

    edge = {(x["relation"], x["caption"]) for x in links(client, ids["m-1"], anna.headers)}
    assert edge == {("Member", "Pavel Sokolov"), ("Organization", "Black Wolves")}


def test_restricted_ends_show_only_whom_to_contact_or_nothing(
    client: TestClient, make_actor
) -> None:
    anna = make_actor("anna", "DE-BKA", country="DE")
    marie = make_actor("marie", "FR-OCRGDF", country="FR")
    ivan = make_actor("ivan", "XX-DENY", country="RU")
    ids = create_all(
        client,
        network(
            {
                "p-1": {"deny_countries": ["RU"]},
                "g-1": {"allow_agencies": ["DE-BKA"]},
                "d-1": {"deny_countries": ["FR"]},
            }
        ),
        anna.headers,
    )
    seen = links(client, ids["p-1"], marie.headers)
    text = json.dumps(seen)
    assert "Black Wolves" not in text and ids["g-1"] not in text and "75AB12345" not in text
    # the group only as whom to contact; the passport denied to France not at all
    assert [
        (x["relation"], x["restricted"], x["owner"], x["record_id"], x["caption"]) for x in seen
    ] == [("belongs to", True, "DE-BKA", None, None)]

    # a reader the person is denied to learns of no link either
    person_for_ivan = client.get(
        f"/api/v1/records/{ids['p-1']}/links",
        params={"purpose": PURPOSE},
        headers=ivan.headers,
    )
    assert person_for_ivan.status_code == 404
    assert "Black Wolves" not in person_for_ivan.text


def test_a_restricted_edge_hides_its_other_end(client: TestClient, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA", country="DE")
    marie = make_actor("marie", "FR-OCRGDF", country="FR")
    ids = create_all(client, network({"m-1": {"allow_agencies": ["DE-BKA"]}}), anna.headers)
    seen = links(client, ids["p-1"], marie.headers)
    assert "Black Wolves" not in json.dumps(seen) and ids["g-1"] not in json.dumps(seen)
    assert {(x["relation"], x["restricted"], x["owner"]) for x in seen if x["restricted"]} == {
        ("Membership", True, "DE-BKA")
    }


def test_deleting_the_edge_removes_the_link_and_each_look_is_audited(
    client: TestClient, make_actor, node: Node
) -> None:
    anna = make_actor("anna", "DE-BKA")
    ids = create_all(client, network(), anna.headers)
    assert any(x["caption"] == "Black Wolves" for x in links(client, ids["p-1"], anna.headers))
    deleted = client.request(
        "DELETE",
        f"/api/v1/records/{ids['m-1']}",
        json={"reason": "membership withdrawn by the source"},
        headers=anna.headers,
    )
    assert deleted.status_code == 200, deleted.text
    assert not any(x["caption"] == "Black Wolves" for x in links(client, ids["p-1"], anna.headers))
    with node.engine.begin() as conn:
        chain(conn)
        looks = conn.execute(
            select(audit_log.c.purpose, audit_log.c.details)
            .where(audit_log.c.action == "record.links", audit_log.c.target == ids["p-1"])
            .order_by(audit_log.c.seq)
        ).all()
    assert [row.purpose for row in looks] == [PURPOSE, PURPOSE]
    assert ids["g-1"] in looks[0].details["shown"] and ids["g-1"] not in looks[1].details["shown"]


def test_an_import_resolves_edges_listed_before_their_ends(
    client: TestClient, make_actor, node: Node, tmp_path: Path
) -> None:
    anna = make_actor("anna", "DE-BKA")
    rows = [r for r in network() if r["polex"]["database"] == "crime_groups"]
    for row in rows:
        del row["polex"]["database"]
    path = tmp_path / "groups.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with node.engine.begin() as conn:
        actor = importer.import_actor(conn, node.name, "DE-BKA", None)
    options = importer.ImportOptions(
        database=importer.Database.crime_groups, agency="DE-BKA", actor=actor
    )
    report = importer.import_rows(node.engine, open_source(path), options)
    assert report.imported == 3, report
    person = client.get(
        "/api/v1/records", params={"database": "crime_groups"}, headers=anna.headers
    ).json()
    pid = next(r["record_id"] for r in person["items"] if r["source_id"] == "p-1")
    assert [(x["relation"], x["caption"]) for x in links(client, pid, anna.headers)] == [
        ("belongs to", "Black Wolves")
    ]


def test_a_confirmed_identity_is_a_link_coloured_as_decided(client: TestClient, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA", country="DE")
    sven = make_actor("sven", "DE-BKA", "supervisor", country="DE")
    luca = make_actor("luca", "IT-DCSA", country="IT")
    ours = entity("de-1", "Person", "intelligence", name=["Arben Hoxha"], birthDate=["1979-04-02"])
    theirs = entity("it-1", "Person", "intelligence", name=["Arben Hoxa"], birthDate=["1979-04-02"])
    theirs["polex"]["restrictions"] = {"allow_agencies": ["IT-DCSA"]}
    it_id = create_all(client, [theirs], luca.headers)["it-1"]
    de_id = create_all(client, [ours], anna.headers)["de-1"]
    hit_id = client.get("/api/v1/hits", headers=anna.headers).json()["items"][0]["id"]
    assert links(client, de_id, anna.headers) == []  # pending: a hit, not yet a link
    for body, relation in (
        ({"decision": "confirmed"}, "Same person (confirmed)"),
        (
            {"decision": "confirmed", "fraudulent": True},
            "Same person under a false identity (confirmed)",
        ),
        ({"decision": "rejected"}, None),
    ):
        decided = client.post(f"/api/v1/hits/{hit_id}/decision", json=body, headers=sven.headers)
        assert decided.status_code == 200, decided.text
        shown = links(client, de_id, anna.headers)
        if relation is None:
            assert shown == []
            continue
        # the Italian record is restricted to its owner: the link says whom to contact
        assert [(x["relation"], x["restricted"], x["owner"], x["caption"]) for x in shown] == [
            (relation, True, "IT-DCSA", None)
        ]
        full = links(client, it_id, luca.headers)
        assert [(x["relation"], x["caption"]) for x in full] == [(relation, "Arben Hoxha")]
