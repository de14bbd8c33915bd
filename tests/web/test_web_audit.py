"""The DPO's pages: the audit trail with filters, the chain check, the reports; each look at
the trail is itself recorded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from polex.node import records as service
from polex.node.home import Node
from polex.search.engine import SearchQuery, search


def test_dpo_sees_who_did_what_and_why(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    with node.engine.begin() as conn:
        search(conn, anna.principal, SearchQuery(q="Ivanov", purpose="border check"))
        service.create(
            conn,
            anna.principal,
            service.RecordInput.model_validate(
                {
                    "schema": "Person",
                    "properties": {"name": ["Ivan Petrov"]},
                    "polex": {"database": "intelligence", "subject_category": "suspect"},
                }
            ),
        )
    sign_in(make_actor("dora", "DE-BKA", "dpo", "DE"))
    page = browser.get("/audit").text
    assert "anna@DE-BKA" in page and "border check" in page and "record.create" in page

    only_searches = browser.get("/audit", params={"action": "search"}).text
    assert "border check" in only_searches and "record.create" not in only_searches
    nobody = browser.get("/audit", params={"actor": "luca@IT-DCSA"}).text
    assert "No entries match." in nobody
    later = browser.get("/audit", params={"since": "2999-01-01"}).text
    assert "No entries match." in later

    chain = browser.get("/audit/verify").text
    assert "The chain is intact" in chain

    report = browser.get("/audit/reports", params={"kind": "searches_without_case"})
    assert report.status_code == 200 and "border check" in report.text
    csv = browser.get("/audit/reports", params={"kind": "accesses", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "anna@DE-BKA" in csv.text
    bad = browser.get("/audit/reports", params={"kind": "gossip"})
    assert bad.status_code == 422 and "kind: one of" in bad.text

    looked = browser.get("/audit", params={"action": "audit."}).text
    assert "audit.read" in looked and "audit.verify" in looked and "audit.report" in looked
    assert "dora@DE-BKA" in looked
