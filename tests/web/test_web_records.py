"""The record pages: create through the form, every validation message next to its field,
read a record with its history, correct it, delete it, and what another agency sees."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from polex.node import records as service
from polex.node.home import Node

VIN_BAD = "1M8GDM9AXKP042789"  # North American WMI: the check digit must hold


def field_block(page: str, name: str) -> str:
    """The form field (label, input, messages) whose input is named ``name``."""
    for chunk in page.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"no field {name} on the page")


def assert_error_at(page: str, name: str, text: str) -> None:
    block = field_block(page, name)
    fid = "f-" + name.replace(".", "-")
    assert 'aria-invalid="true"' in block, name
    assert re.search(rf'aria-describedby="[^"]*{re.escape(fid)}-error', block), name
    messages = re.findall(rf'<p class="error" id="{re.escape(fid)}-error">([^<]*)</p>', block)
    assert any(text in html.unescape(m) for m in messages), (name, messages)


def test_validation_messages_stand_next_to_their_fields(
    browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    answer = post_form(
        "/records/new?database=wanted_persons",
        "/records/new",
        {
            "polex.database": "wanted_persons",
            "schema": "Person",
            "properties.name": "Ivan Petrov",
            "properties.birthDate": "2999-01-01",
            "properties.nationality": "XX",
            "polex.review_at": "not a date",
        },
    )
    assert answer.status_code == 422
    page = answer.text
    assert "The record was not saved" in page
    assert_error_at(page, "properties.birthDate", "future")
    assert_error_at(page, "properties.nationality", "ISO 3166-1")
    assert_error_at(page, "polex.review_at", "polex.review_at")
    # what was typed is still there
    assert 'value="Ivan Petrov"' in field_block(page, "properties.name")
    # the use case's own rules, once the form's types are right
    answer = post_form(
        "/records/new?database=wanted_persons",
        "/records/new",
        {"polex.database": "wanted_persons", "schema": "Person", "properties.name": "Ivan"},
    )
    assert answer.status_code == 422
    assert_error_at(answer.text, "polex.subject_category", "data-subject category")
    assert_error_at(answer.text, "polex.notice_type", "needs a notice type")
    # the summary links to each field
    assert 'href="#f-polex-subject_category"' in answer.text


def test_identifier_rules_name_the_field(
    browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    answer = post_form(
        "/records/new?database=vehicles",
        "/records/new",
        {
            "polex.database": "vehicles",
            "schema": "Vehicle",
            "properties.vin": VIN_BAD,
            "other_properties": "wingspan=12",
        },
    )
    assert answer.status_code == 422
    assert_error_at(answer.text, "properties.vin", "(ISO 3779)")
    assert_error_at(answer.text, "other_properties", "wingspan")


def test_changing_the_type_shows_its_fields_without_validating(
    browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    answer = post_form(
        "/records/new",
        "/records/new",
        {"polex.database": "firearms", "schema": "Person", "refresh": "1"},
    )
    assert answer.status_code == 200
    assert 'name="properties.serialNumber"' in answer.text
    assert "not saved" not in answer.text


def test_create_read_correct_and_delete(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    created = post_form(
        "/records/new",
        "/records/new",
        {
            "polex.database": "intelligence",
            "schema": "Person",
            "properties.name": "Sergei Ivanov",
            "properties.birthDate": "1980-05-17",
            "properties.passportNumber": "75 1234567",
            "properties.nationality": "ru",
            "polex.subject_category": "suspect",
            "polex.handling": "H2",
            "polex.reliability": "B",
            "polex.accuracy": "2",
            "polex.restrictions.deny_countries": "xk, by",
        },
    )
    assert created.status_code == 303, created.text
    url = created.headers["location"].split("?")[0]
    page = browser.get(created.headers["location"]).text
    assert "Record created." in page
    assert "Sergei Ivanov" in page and "Russia (RU)" in page
    assert "75 1234567" in field_or_table(page, "Identifiers")
    assert ">B2<" in page
    assert "never countries BY, XK" in page
    assert "Version 1" in page and "anna@DE-BKA" in page

    form = browser.get(f"{url}/edit").text
    assert 'value="Sergei Ivanov"' in form
    assert 'value="BY, XK"' in form
    corrected = post_form(
        f"{url}/edit",
        f"{url}/edit",
        {
            "polex.database": "intelligence",
            "schema": "Person",
            "properties.name": "Sergei Ivanov; Serguei Ivanoff",
            "properties.birthDate": "1980-05-17",
            "polex.subject_category": "suspect",
            "reason": "alias from the Italian report",
        },
    )
    assert corrected.status_code == 303, corrected.text
    page = browser.get(corrected.headers["location"]).text
    assert "Version 2" in page and "alias from the Italian report" in page
    assert "changed: " in page and "name" in page
    assert "Serguei Ivanoff" in page

    refused = post_form(url, f"{url}/delete", {"reason": " "})
    assert refused.status_code == 422 and "a deletion needs a reason" in refused.text
    deleted = post_form(url, f"{url}/delete", {"reason": "duplicate of an older record"})
    assert deleted.status_code == 303
    assert browser.get(url).status_code == 404


def field_or_table(page: str, heading: str) -> str:
    start = page.index(f">{heading}</h2>")
    return page[start : page.index("</section>", start)]


def test_other_agencies_see_what_the_owner_allows(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    with node.engine.begin() as conn:
        open_record = service.create(conn, de.principal, _input("de-1", "Maria Schmidt"))
        closed = service.create(
            conn,
            de.principal,
            _input("de-2", "Ivan Petrov", restrictions={"allow_agencies": ["DE-BKA"]}),
        )
    sign_in(it)
    page = browser.get(f"/records/{open_record.id}").text
    assert "Maria Schmidt" in page
    assert f'href="/records/{open_record.id}/edit"' not in page
    assert browser.get(f"/records/{open_record.id}/edit").status_code == 404
    restricted = browser.get(f"/records/{closed.id}").text
    assert "Hit — contact owner" in restricted and "DE-BKA" in restricted
    assert "Ivan Petrov" not in restricted
    assert browser.get("/records/r0000000000000000000000000000000").status_code == 404
    listing = browser.get("/records").text
    assert "Maria Schmidt" not in listing  # other agencies' records are searched, not browsed


def _input(sid: str, name: str, **envelope: Any) -> service.RecordInput:
    return service.RecordInput.model_validate(
        {
            "id": sid,
            "schema": "Person",
            "properties": {"name": [name]},
            "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
        }
    )


def test_the_record_page_lists_its_links_as_the_reader_may_see_them(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    with node.engine.begin() as conn:
        person = service.create(conn, de.principal, _input("de-1", "Pavel Sokolov"))
        for sid, schema, props, restrictions in (
            ("de-g", "Organization", {"name": ["Black Wolves"]}, {"allow_agencies": ["DE-BKA"]}),
            ("de-m", "Membership", {"member": ["de-1"], "organization": ["de-g"]}, {}),
        ):
            service.create(
                conn,
                de.principal,
                service.RecordInput.model_validate(
                    {
                        "id": sid,
                        "schema": schema,
                        "properties": props,
                        "polex": {"database": "intelligence", "restrictions": restrictions},
                    }
                ),
            )
    sign_in(de)
    own = browser.get(f"/records/{person.id}").text
    assert "belongs to" in own and "Black Wolves" in own
    sign_in(it)
    other = browser.get(f"/records/{person.id}").text
    assert "a record of DE-BKA — contact the owner" in other
    assert "Black Wolves" not in other
