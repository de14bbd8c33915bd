"""Role × handling code × read path, table-driven, over a real node: the record API, search,
message references, a partner node's request (federation) and judicial use all get their
answer from the one policy decision point, and agree with the table below."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from polex.access import policy, review
from polex.access.policy import Use, View
from polex.access.principal import Principal, Role, partner_principal
from polex.messaging import refs
from polex.node.home import Node
from polex.store import records as store

NAME = "Ivan Petrov"
CONDITIONS = "Inform FR-DCPJ before any contact with the subject."
CHECKLIST = review.Checklist(
    identifiers_checked=True, legal_basis="CPP art. 74", article3_clear=True
)
# (key, database, handling)
RECORDS = [
    ("h0", "intelligence", "H0"),
    ("h1", "intelligence", "H1"),
    ("h2", "intelligence", "H2"),
    ("h3", "intelligence", "H3"),
    ("missing", "missing_persons", "H0"),
]
READS = {Role.officer, Role.analyst, Role.supervisor}


def expected(role: Role, database: str, path: str, handling: str) -> View:
    """The table: what a reader of another agency sees, by role, database, path and code."""
    if role not in READS or (role == Role.analyst and database == "missing_persons"):
        return View.none
    if path == "federation" and handling == "H2":
        return View.none  # H2 never reaches a partner node without the owner's permission
    if path == "judicial" and handling == "H1":
        return View.hit  # H1: not in judicial proceedings without the owner's permission
    return View.full


def body(key: str, database: str, handling: str) -> dict[str, Any]:
    envelope: dict[str, Any] = {"database": database, "handling": handling}
    if database == "missing_persons":
        envelope |= {"subject_category": "missing_person", "notice_type": "yellow"}
    else:
        envelope |= {"subject_category": "suspect"}
    if handling == "H3":
        envelope["restrictions"] = {"conditions": CONDITIONS}
    return {
        "id": key,
        "schema": "Person",
        "properties": {"name": [NAME], "birthDate": ["1975-03-02"], "nationality": ["ru"]},
        "polex": envelope,
    }


@pytest.fixture
def owned(client: TestClient, make_actor: Any, node: Node) -> dict[str, str]:
    """The owner's five records, the missing person approved for sharing: key -> record id."""
    owner = make_actor("pierre", "FR-DCPJ", "officer", "FR")
    chief = make_actor("claire", "FR-DCPJ", "supervisor", "FR")
    ids = {}
    for key, database, handling in RECORDS:
        answer = client.post(
            "/api/v1/records", json=body(key, database, handling), headers=owner.headers
        )
        assert answer.status_code == 201, answer.text
        ids[key] = answer.json()["record_id"]
    with node.engine.begin() as conn:
        review.approve(conn, chief.principal, ids["missing"], CHECKLIST)
    return ids


def api_view(client: TestClient, actor: Any, rid: str) -> View:
    answer = client.get(
        f"/api/v1/records/{rid}", params={"purpose": "matrix"}, headers=actor.headers
    )
    return {200: View.full, 403: View.hit, 404: View.none}[answer.status_code]


def search_views(client: TestClient, actor: Any) -> dict[str, View]:
    answer = client.post(
        "/api/v1/search", json={"q": NAME, "purpose": "matrix test"}, headers=actor.headers
    )
    assert answer.status_code == 200, answer.text
    return {
        h["record_id"]: View.hit if h["restricted"] else View.full for h in answer.json()["hits"]
    }


@pytest.mark.parametrize("role", list(Role))
def test_role_by_handling_by_path(
    role: Role, owned: dict[str, str], client: TestClient, make_actor: Any, node: Node
) -> None:
    reader = make_actor("reader", "DE-BKA", role.value, "DE")
    colleague = make_actor("colleague", "FR-DCPJ", role.value, "FR")
    principal: Principal = reader.principal
    partner = partner_principal(node.name, "EUROPOL", "EU-EC3", "NL", "eve", role)
    found = search_views(client, reader)
    own_found = search_views(client, colleague)
    with node.engine.begin() as conn:
        loaded = store.get_many(conn, owned.values())
        message_refs = {
            r.record_id: r.view for r in refs.visible(conn, principal, list(owned.values()))
        }
    for key, database, handling in RECORDS:
        rid = owned[key]
        envelope = loaded[rid].envelope
        paths = {
            "record": api_view(client, reader, rid),
            "search": found.get(rid, View.none),
            "message": message_refs[rid],
            "federation": policy.record_view(partner, envelope, sharing={database: "full"}),
            "judicial": policy.record_view(principal, envelope, use=Use.judicial),
        }
        for path, view in paths.items():
            assert view == expected(role, database, path, handling), (key, path)
        # the owner agency's own users: every path in full, if their role reads the database
        own = api_view(client, colleague, rid)
        assert own == expected(role, database, "record", "H0"), key
        assert own_found.get(rid, View.none) == own, key
        decision = policy.decide(principal, envelope)
        assert decision.conditions == (
            CONDITIONS if handling == "H3" and decision.view != View.none else None
        )


def test_every_search_and_read_is_audited_with_its_hits(
    owned: dict[str, str], client: TestClient, make_actor: Any, node: Node
) -> None:
    from sqlalchemy import select

    from polex.audit.log import chain
    from polex.audit.tables import audit_log

    reader = make_actor("reader", "DE-BKA", "analyst", "DE")
    views = search_views(client, reader)
    with node.engine.begin() as conn:
        chain(conn)
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "search").order_by(audit_log.c.seq.desc())
        ).first()
    assert entry is not None and entry.actor == "reader@DE-BKA" and entry.purpose == "matrix test"
    assert set(entry.details["hits"]) == {rid for rid, v in views.items() if v == View.full}
    assert owned["missing"] not in views  # analysts read no missing persons
    refused = client.post("/api/v1/search", json={"q": NAME}, headers=reader.headers)
    assert refused.status_code == 422 and "purpose" in refused.text
