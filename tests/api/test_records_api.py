"""The records API end to end over a real node: versions, tombstones, owner restrictions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from polex.node.home import Node
from polex.store.db import make_engine


def person(source_id: str = "de-001", **envelope: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "schema": "Person",
        "properties": {
            "name": ["Sergei Ivanov"],
            "birthDate": ["1980-05-17"],
            "nationality": ["ru"],
        },
        "polex": {
            "database": "intelligence",
            "handling": "H1",
            "reliability": "B",
            "accuracy": "2",
            "subject_category": "suspect",
            **envelope,
        },
    }


def test_healthz_needs_no_token(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_healthz_answers_while_another_process_holds_the_write_lock(
    client: TestClient, node: Node
) -> None:
    """An import holds SQLite's write lock for minutes; the node is healthy meanwhile."""
    if node.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    other = make_engine(node.engine.url)
    try:
        with other.begin():
            start = time.monotonic()
            answer = client.get("/healthz")
            waited = time.monotonic() - start
    finally:
        other.dispose()
    assert answer.status_code == 200
    assert waited < 1  # not the busy timeout


def test_api_refuses_requests_without_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/records").status_code == 401
    bad = client.get("/api/v1/records", headers={"Authorization": "Bearer plx_nope"})
    assert bad.status_code == 401


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/records" in spec["paths"]


def test_create_read_update_delete_keeps_every_version(client: TestClient, make_actor) -> None:
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    created = client.post("/api/v1/records", json=person(), headers=officer.headers)
    assert created.status_code == 201, created.text
    rid = created.json()["record_id"]
    assert created.json()["envelope"]["owner"] == "DE-BKA"
    assert created.json()["source_id"] == "de-001"

    changed = person()
    changed["properties"]["alias"] = ["Serguei Ivanoff"]
    updated = client.put(
        f"/api/v1/records/{rid}?reason=alias+found", json=changed, headers=officer.headers
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    deleted = client.request(
        "DELETE",
        f"/api/v1/records/{rid}",
        json={"reason": "court order 12/2026"},
        headers=officer.headers,
    )
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True
    assert client.get(f"/api/v1/records/{rid}", headers=officer.headers).status_code == 404

    listing = client.get("/api/v1/records", headers=officer.headers).json()
    assert listing["total"] == 0


def test_an_agency_lists_its_own_live_records_newest_first_a_page_at_a_time(
    client: TestClient, make_actor
) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    other = make_actor("luca", "IT-DCSA", "officer", "IT")
    ids = []
    for i in range(5):
        created = client.post("/api/v1/records", json=person(f"de-{i}"), headers=officer.headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["record_id"])
    assert (
        client.post("/api/v1/records", json=person("it-1"), headers=other.headers).status_code
        == 201
    )
    gone = client.request(
        "DELETE", f"/api/v1/records/{ids[1]}", json={"reason": "merged"}, headers=officer.headers
    )
    assert gone.status_code == 200
    touched = client.put(
        f"/api/v1/records/{ids[0]}", json=person("de-0", handling="H2"), headers=officer.headers
    )
    assert touched.status_code == 200, touched.text

    pages = [
        client.get(
            "/api/v1/records", params={"offset": offset, "limit": 2}, headers=officer.headers
        ).json()
        for offset in (0, 2, 4)
    ]
    assert [p["total"] for p in pages] == [4, 4, 4]
    listed = [item["record_id"] for p in pages for item in p["items"]]
    assert listed == [ids[0], ids[4], ids[3], ids[2]]  # the one just updated first


def test_history_lists_versions_and_tombstone(client: TestClient, make_actor) -> None:
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    rid = client.post("/api/v1/records", json=person(), headers=officer.headers).json()["record_id"]
    changed = person()
    changed["properties"]["alias"] = ["Serguei Ivanoff"]
    client.put(f"/api/v1/records/{rid}", json=changed, headers=officer.headers)
    history = client.get(f"/api/v1/records/{rid}/history", headers=officer.headers).json()
    assert [v["version"] for v in history] == [1, 2]
    assert history[1]["snapshot"]["properties"]["alias"] == ["Serguei Ivanoff"]
    assert history[0]["actor"] == "anna@DE-BKA"


def test_duplicate_source_id_conflicts(client: TestClient, make_actor) -> None:
    officer = make_actor("anna", "DE-BKA")
    assert client.post("/api/v1/records", json=person(), headers=officer.headers).status_code == 201
    again = client.post("/api/v1/records", json=person(), headers=officer.headers)
    assert again.status_code == 409


def test_invalid_record_names_field_and_rule(client: TestClient, make_actor) -> None:
    officer = make_actor("anna", "DE-BKA")
    bad = person()
    bad["polex"].pop("subject_category")
    answer = client.post("/api/v1/records", json=bad, headers=officer.headers)
    assert answer.status_code == 422
    fields = {(e["field"], e["rule"]) for e in answer.json()["detail"]}
    assert any("subject_category" in field for field, _ in fields)

    vehicle = {
        "schema": "Vehicle",
        "properties": {"vin": ["1M8GDM9AYKP042788"]},
        "polex": {"database": "vehicles"},
    }
    answer = client.post("/api/v1/records", json=vehicle, headers=officer.headers)
    assert answer.status_code == 422
    assert any(e["field"] == "properties.vin" for e in answer.json()["detail"])


def test_only_the_owner_changes_a_record(client: TestClient, make_actor) -> None:
    owner = make_actor("anna", "DE-BKA", "officer", "DE")
    other = make_actor("luca", "IT-DCSA", "officer", "IT")
    rid = client.post("/api/v1/records", json=person(), headers=owner.headers).json()["record_id"]
    answer = client.put(f"/api/v1/records/{rid}", json=person(), headers=other.headers)
    assert answer.status_code == 403


def test_owner_restrictions_hold_on_read(client: TestClient, make_actor) -> None:
    owner = make_actor("anna", "DE-BKA", "officer", "DE")
    allowed = make_actor("marie", "FR-OCRGDF", "officer", "FR")
    not_listed = make_actor("luca", "IT-DCSA", "officer", "IT")
    denied = make_actor("ivan", "XX-DENY", "officer", "RU")
    record = person(restrictions={"allow_countries": ["FR", "DE"], "deny_countries": ["RU"]})
    rid = client.post("/api/v1/records", json=record, headers=owner.headers).json()["record_id"]

    assert client.get(f"/api/v1/records/{rid}", headers=allowed.headers).status_code == 200
    restricted = client.get(f"/api/v1/records/{rid}", headers=not_listed.headers)
    assert restricted.status_code == 403
    assert restricted.json() == {
        "detail": f"record {rid} is restricted: contact agency DE-BKA",
        "restricted": True,
        "record_id": rid,
        "owner": "DE-BKA",
    }
    assert client.get(f"/api/v1/records/{rid}", headers=denied.headers).status_code == 404


def test_admin_does_not_read_records_by_being_admin(client: TestClient, make_actor) -> None:
    owner = make_actor("anna", "DE-BKA", "officer", "DE")
    admin = make_actor("root", "DE-BKA", "admin", "DE")
    rid = client.post("/api/v1/records", json=person(), headers=owner.headers).json()["record_id"]
    assert client.get(f"/api/v1/records/{rid}", headers=admin.headers).status_code == 404


def test_admin_manages_agencies_and_users(client: TestClient, make_actor) -> None:
    admin = make_actor("root", "DE-BKA", "admin", "DE")
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    body = {"code": "FR-OCRGDF", "name": "OCRGDF", "country": "FR"}
    assert client.post("/api/v1/agencies", json=body, headers=officer.headers).status_code == 403
    assert client.post("/api/v1/agencies", json=body, headers=admin.headers).status_code == 201
    new = client.post(
        "/api/v1/users",
        json={"username": "marie", "agency": "FR-OCRGDF", "role": "officer"},
        headers=admin.headers,
    )
    assert new.status_code == 201
    token = new.json()["token"]
    answer = client.get("/api/v1/records", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    codes = [a["code"] for a in client.get("/api/v1/agencies", headers=officer.headers).json()]
    assert codes == ["DE-BKA", "FR-OCRGDF"]
