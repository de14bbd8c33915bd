"""Review and retention through the API: pending records are not shared, the checklist is
enforced, overdue records stop being shared and are queued, purges leave a tombstone, and
every decision is in the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.access import review
from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node.home import Node
from polex.search.tables import record_keys

CHECKLIST = {
    "identifiers_checked": True,
    "legal_basis": "Arrest warrant AG Köln 12 Gs 345/26",
    "article3_clear": True,
}
PURPOSE = "review test: locating a wanted person"


def wanted(sid: str, props: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "id": sid,
        "schema": "Person",
        "properties": props or {"name": ["Marek Nowak"], "birthDate": ["1981-02-03"]},
        "polex": {
            "database": "wanted_persons",
            "subject_category": "suspect",
            "notice_type": "red",
        },
    }


def create(client: TestClient, actor: Any, body: dict[str, Any]) -> str:
    answer = client.post("/api/v1/records", json=body, headers=actor.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["record_id"])


def audit_actions(node: Node, action: str) -> list[Any]:
    with node.engine.begin() as conn:
        chain(conn)
        return conn.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
        ).all()


def test_pending_until_a_supervisor_of_the_owner_approves(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    sup = make_actor("sam", "PL-KGP", "supervisor", "PL")
    foreign_sup = make_actor("sven", "DE-BKA", "supervisor", "DE")
    other = make_actor("dirk", "DE-BKA", "officer", "DE")
    rid = create(client, owner, wanted("pl-1"))
    assert client.get(f"/api/v1/records/{rid}", headers=owner.headers).status_code == 200
    assert client.get(f"/api/v1/records/{rid}", headers=other.headers).status_code == 404
    found = client.post(
        "/api/v1/search", json={"q": "Marek Nowak", "purpose": PURPOSE}, headers=other.headers
    ).json()["hits"]
    assert rid not in str(found)

    queue = client.get("/api/v1/review", headers=sup.headers).json()
    assert [i["record_id"] for i in queue["items"]] == [rid]
    assert client.get("/api/v1/review", headers=foreign_sup.headers).json()["items"] == []
    officer = client.get("/api/v1/review", headers=owner.headers)
    assert officer.status_code == 403 and officer.json()["detail"][0]["rule"] == "review"

    url = f"/api/v1/review/{rid}/approve"
    refused = client.post(url, json={"checklist": CHECKLIST}, headers=owner.headers)
    assert refused.status_code == 403
    hidden = client.post(url, json={"checklist": CHECKLIST}, headers=foreign_sup.headers)
    assert hidden.status_code == 404
    for field, value, rule in (
        ("legal_basis", " ", "review.legal_basis"),
        ("article3_clear", False, "review.article3"),
        ("identifiers_checked", False, "review.identifiers_checked"),
    ):
        bad = client.post(url, json={"checklist": {**CHECKLIST, field: value}}, headers=sup.headers)
        assert bad.status_code == 422
        assert bad.json()["detail"][0] == {
            "field": f"checklist.{field}",
            "rule": rule,
            "message": bad.json()["detail"][0]["message"],
        }
    approved = client.post(url, json={"checklist": CHECKLIST}, headers=sup.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["envelope"]["status"] == "approved"
    assert client.get(f"/api/v1/records/{rid}", headers=other.headers).status_code == 200
    again = client.post(url, json={"checklist": CHECKLIST}, headers=sup.headers)
    assert again.status_code == 422 and again.json()["detail"][0]["rule"] == (
        "review.already_approved"
    )

    (entry,) = audit_actions(node, "review.approve")
    assert entry.actor == "sam@PL-KGP" and entry.target == rid
    assert entry.details["checklist"] == CHECKLIST
    assert entry.details["previous_status"] == "pending"


def test_minimum_identifiers_before_sharing(client: TestClient, make_actor: Any) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    sup = make_actor("sam", "PL-KGP", "supervisor", "PL")
    rid = create(client, owner, wanted("pl-2", {"name": ["Jan Kowalski"]}))
    (item,) = client.get("/api/v1/review", headers=sup.headers).json()["items"]
    assert item["missing_identifiers"] == ["birthDate|idNumber|passportNumber|nationality"]
    refused = client.post(
        f"/api/v1/review/{rid}/approve", json={"checklist": CHECKLIST}, headers=sup.headers
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["rule"] == "review.minimum_identifiers"


def test_rejected_records_are_not_shared_and_say_why(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    sup = make_actor("sam", "PL-KGP", "supervisor", "PL")
    other = make_actor("dirk", "DE-BKA", "officer", "DE")
    rid = create(client, owner, wanted("pl-3"))
    url = f"/api/v1/review/{rid}/reject"
    assert (
        client.post(url, json={"reason": ""}, headers=sup.headers).json()["detail"][0]["rule"]
        == "review.reason"
    )
    reason = "Article 3: the offence is an opinion published in a newspaper"
    rejected = client.post(url, json={"reason": reason}, headers=sup.headers)
    assert rejected.status_code == 200 and rejected.json()["envelope"]["status"] == "rejected"
    assert client.get(f"/api/v1/records/{rid}", headers=other.headers).status_code == 404
    history = client.get(f"/api/v1/records/{rid}/history", headers=owner.headers).json()
    assert history[-1]["reason"] == f"rejected: {reason}"
    queue = client.get("/api/v1/review?queue=rejected", headers=sup.headers).json()["items"]
    assert [i["record_id"] for i in queue] == [rid]
    assert audit_actions(node, "review.reject")[0].details["reason"] == reason


def test_overdue_records_stop_being_shared_until_reviewed_again(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    sup = make_actor("sam", "PL-KGP", "supervisor", "PL")
    other = make_actor("dirk", "DE-BKA", "officer", "DE")
    body = {
        "id": "pl-int-1",
        "schema": "Person",
        "properties": {"name": ["Olga Wiśniewska"], "birthDate": ["1990-01-01"]},
        "polex": {
            "database": "intelligence",
            "subject_category": "suspect",
            "review_at": (date.today() - timedelta(days=1)).isoformat(),
        },
    }
    rid = create(client, owner, body)
    restricted = client.get(f"/api/v1/records/{rid}", headers=other.headers)
    assert restricted.status_code == 403 and restricted.json()["owner"] == "PL-KGP"
    overdue = client.get("/api/v1/review?queue=overdue", headers=sup.headers).json()["items"]
    assert [(i["record_id"], i["overdue"]) for i in overdue] == [(rid, True)]
    too_late = {
        "checklist": CHECKLIST,
        "review_at": (date.today() + timedelta(days=4000)).isoformat(),
    }
    refused = client.post(f"/api/v1/review/{rid}/approve", json=too_late, headers=sup.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["rule"] == "review_at.max"
    renewed = client.post(
        f"/api/v1/review/{rid}/approve", json={"checklist": CHECKLIST}, headers=sup.headers
    )
    assert renewed.status_code == 200, renewed.text
    next_review = date.fromisoformat(renewed.json()["envelope"]["review_at"])
    assert next_review.year == date.today().year + 3  # intelligence is reviewed every 3 years
    assert client.get(f"/api/v1/records/{rid}", headers=other.headers).status_code == 200
    assert audit_actions(node, "review.approve")[0].details["was_overdue"] is True


def test_compliance_unit_reviews_every_agency_and_purges_the_overdue(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    unit = make_actor("clara", "NCB-CU", "supervisor", "DE")
    pending = create(client, owner, wanted("pl-4"))
    with node.engine.begin() as conn:
        review.designate(conn, "NCB-CU", actor="cli:root")
    queue = client.get("/api/v1/review", headers=unit.headers).json()["items"]
    assert [i["record_id"] for i in queue] == [pending]
    not_overdue = client.post(
        f"/api/v1/review/{pending}/purge", json={"reason": "retention"}, headers=unit.headers
    )
    assert not_overdue.status_code == 404  # the unit purges only what its owner let lapse
    approved = client.post(
        f"/api/v1/review/{pending}/approve", json={"checklist": CHECKLIST}, headers=unit.headers
    )
    assert approved.status_code == 200
    assert audit_actions(node, "review.approve")[0].details["as_compliance_unit"] is True

    lapsed = create(
        client,
        owner,
        {
            "id": "pl-int-2",
            "schema": "Person",
            "properties": {"name": ["Piotr Zieliński"], "birthDate": ["1970-05-05"]},
            "polex": {
                "database": "intelligence",
                "subject_category": "suspect",
                "review_at": "2020-01-01",
            },
        },
    )
    purged = client.post(
        f"/api/v1/review/{lapsed}/purge",
        json={"reason": "review date passed in 2020, owner did not review"},
        headers=unit.headers,
    )
    assert purged.status_code == 200, purged.text
    assert purged.json()["deleted"] is True
    assert client.get(f"/api/v1/records/{lapsed}", headers=owner.headers).status_code == 404
    with node.engine.begin() as conn:
        keys = conn.execute(select(record_keys).where(record_keys.c.record_id == lapsed)).all()
    assert keys == []
    (entry,) = audit_actions(node, "review.purge")
    assert entry.target == lapsed and entry.actor == "clara@NCB-CU"
    assert audit_actions(node, "admin.compliance_unit_add")[0].target == "NCB-CU"


def test_owner_supervisor_purges_any_time(client: TestClient, make_actor: Any, node: Node) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    sup = make_actor("sam", "PL-KGP", "supervisor", "PL")
    rid = create(client, owner, wanted("pl-5"))
    url = f"/api/v1/review/{rid}/purge"
    assert client.post(url, json={"reason": " "}, headers=sup.headers).status_code == 422
    assert client.post(url, json={"reason": "arrested"}, headers=owner.headers).status_code == 403
    assert client.post(url, json={"reason": "arrested"}, headers=sup.headers).status_code == 200
    assert client.post(url, json={"reason": "again"}, headers=sup.headers).status_code == 404
