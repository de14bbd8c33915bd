"""The search page: purpose asked before every search and remembered per case, results
grouped by database with score and explanation, restricted hits as "hit — contact owner"."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node import records as service
from polex.node.home import Node

PURPOSE = "border check at Frankfurt airport"


def person(sid: str, name: str, database: str = "intelligence", **envelope: Any) -> Any:
    return service.RecordInput.model_validate(
        {
            "id": sid,
            "schema": "Person",
            "properties": {"name": [name], "birthDate": ["1980-05-17"]},
            "polex": {"database": database, "subject_category": "suspect", **envelope},
        }
    )


@pytest.fixture
def officers(node: Node, make_actor: Any) -> tuple[Any, Any]:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    with node.engine.begin() as conn:
        service.create(conn, it.principal, person("it-1", "Sergei Ivanov"))
        service.create(
            conn,
            it.principal,
            person("it-2", "Sergej Ivanov", restrictions={"allow_agencies": ["IT-DCSA"]}),
        )
        service.create(conn, it.principal, person("it-3", "Maria Schmidt"))
    return de, it


def audits(node: Node, action: str) -> list[Any]:
    with node.engine.begin() as conn:
        chain(conn)
        return list(conn.execute(select(audit_log).where(audit_log.c.action == action)).all())


def test_no_search_without_a_purpose(
    node: Node, browser: TestClient, sign_in: Any, officers: Any, post_form: Any
) -> None:
    sign_in(officers[0])
    answer = post_form("/search", "/search", {"q": "Ivanov", "purpose": " "})
    assert answer.status_code == 422
    block = answer.text.split('id="purpose"')[1].split("</div>")[0]
    assert 'aria-invalid="true"' in block
    assert "say why the search is made" in block
    assert audits(node, "search") == []


def test_cyrillic_name_finds_latin_record_grouped_with_explanation(
    node: Node, browser: TestClient, sign_in: Any, officers: Any, post_form: Any
) -> None:
    sign_in(officers[0])
    answer = post_form(
        "/search", "/search", {"q": "Сергей Иванов", "purpose": PURPOSE, "case_ref": "OP-7"}
    )
    assert answer.status_code == 200, answer.text
    results = answer.text.split('id="results"')[1]
    assert "Intelligence" in results
    assert "Sergei Ivanov" in results
    assert 'class="score"' in results
    assert "<li><strong>name</strong> " in results and "Сергей Иванов" in results
    assert "Hit — contact owner" in results and "IT-DCSA" in results
    assert "Sergej Ivanov" not in results  # the restricted record says nothing more
    assert "Maria Schmidt" not in results
    (entry,) = audits(node, "search")
    assert entry.purpose == PURPOSE and entry.case_ref == "OP-7"


def test_purpose_is_remembered_per_case_and_used_for_reads(
    node: Node, browser: TestClient, sign_in: Any, officers: Any, post_form: Any
) -> None:
    sign_in(officers[0])
    post_form("/search", "/search", {"q": "Sergei Ivanov", "purpose": PURPOSE, "case_ref": "OP-7"})
    again = browser.get("/search").text
    assert f'value="{PURPOSE}"' in again and 'value="OP-7"' in again
    other_case = browser.get("/search", params={"case_ref": "OP-8"}).text
    assert f'value="{PURPOSE}"' not in other_case
    # a record opened from the results is read under the stated purpose
    with node.engine.begin() as conn:
        chain(conn)
        rid = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "search")
        ).scalar_one()["hits"][0]
    page = browser.get(f"/records/{rid}").text
    assert f"Read under the purpose “{PURPOSE}”" in page
    reads = audits(node, "record.read")
    assert [r.purpose for r in reads] == [PURPOSE]


def test_structured_fields_and_database_filter(
    node: Node, browser: TestClient, sign_in: Any, officers: Any, post_form: Any
) -> None:
    sign_in(officers[0])
    answer = post_form(
        "/search",
        "/search",
        {
            "name": "Sergei Ivanov",
            "birth_date": "1980-05-17",
            "databases": "wanted_persons",
            "purpose": PURPOSE,
        },
    )
    assert answer.status_code == 200
    assert "0 hits" in answer.text and "does not mean the person or object is clean" in answer.text
    assert 'value="wanted_persons" checked' in answer.text
    assert '<details class="more" open>' in answer.text


def test_federated_search_without_links_answers_locally(
    node: Node, browser: TestClient, sign_in: Any, officers: Any, post_form: Any
) -> None:
    sign_in(officers[0])
    answer = post_form(
        "/search", "/search", {"q": "Sergei Ivanov", "purpose": PURPOSE, "federated": "1"}
    )
    assert answer.status_code == 200
    assert "Sergei Ivanov" in answer.text.split('id="results"')[1]
    assert 'name="federated" value="1" checked' in answer.text
    (asked,) = audits(node, "federation.search_out")
    assert asked.purpose == PURPOSE and asked.details["partners"] == []
