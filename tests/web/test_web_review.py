"""The supervisor's review queue: a wanted person is shared only once approved against the
checklist; a refused approval names the checklist item next to its box."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from polex.node import records as service
from polex.node.home import Node


def wanted(sid: str, name: str, **properties: list[str]) -> service.RecordInput:
    return service.RecordInput.model_validate(
        {
            "id": sid,
            "schema": "Person",
            "properties": {"name": [name], **properties},
            "polex": {
                "database": "wanted_persons",
                "subject_category": "suspect",
                "notice_type": "red",
            },
        }
    )


def test_supervisor_approves_and_rejects(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    with node.engine.begin() as conn:
        ivan = service.create(
            conn, anna.principal, wanted("w-1", "Ivan Petrov", birthDate=["1975-03-02"])
        )
        nameless = service.create(conn, anna.principal, wanted("w-2", "Petr Ivanov"))
    assert browser.get("/review").status_code == 303  # nobody signed in

    sign_in(anna)
    assert browser.get("/review").status_code == 403  # an officer does not review
    assert 'href="/review"' not in browser.get("/records").text

    browser.cookies.clear()
    sign_in(make_actor("sam", "DE-BKA", "supervisor", "DE"))
    queue = browser.get("/review").text
    assert 'href="/review"' in queue and "Ivan Petrov" in queue and "Petr Ivanov" in queue
    assert "Missing identifiers: birthDate or idNumber" in queue

    refused = post_form("/review", f"/review/{ivan.id}/approve", {"legal_basis": ""})
    assert refused.status_code == 422
    section = refused.text.split(f'id="rv-{ivan.id}"')[1].split("</section>")[0]
    assert 'aria-invalid="true"' in section
    assert "confirm the identifiers are checked" in section

    approved = post_form(
        "/review",
        f"/review/{ivan.id}/approve",
        {
            "identifiers_checked": "1",
            "article3_clear": "1",
            "legal_basis": "arrest warrant AG Berlin 12 Gs 345/26",
        },
    )
    assert approved.status_code == 303
    after = browser.get(approved.headers["location"]).text
    assert "Record approved" in after and "Ivan Petrov" not in after

    empty = post_form("/review", f"/review/{nameless.id}/reject", {"reason": " "})
    assert empty.status_code == 422 and "say why the record is rejected" in empty.text
    rejected = post_form(
        "/review", f"/review/{nameless.id}/reject", {"reason": "no birth date, no document"}
    )
    assert rejected.status_code == 303
    assert "Petr Ivanov" in browser.get("/review", params={"queue": "rejected"}).text
    history = browser.get(f"/records/{ivan.id}").text
    assert "approved: arrest warrant AG Berlin" in history
