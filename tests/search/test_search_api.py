"""Search and /match over a real node: purpose required, ranking, audit, and no leaks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node.home import Node

PURPOSE = "border check at Frankfurt airport"


def person(sid: str, name: str, birth: str, nat: str, **envelope: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "schema": "Person",
        "properties": {"name": [name], "birthDate": [birth], "nationality": [nat]},
        "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
    }


@pytest.fixture
def loaded(client: TestClient, make_actor):  # type: ignore[no-untyped-def]
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    rows = [
        (de, person("de-1", "Sergei Ivanov", "1980-05-17", "ru")),
        (de, person("de-2", "Mohammed Al-Hassan", "1975-01-02", "sy")),
        (de, person("de-3", "Zhang Wei", "1990-11-30", "cn")),
        (de, person("de-4", "Maria Schmidt", "1985-03-03", "de")),
        (
            it,
            person(
                "it-1",
                "Sergej Ivanov",
                "1980-05-17",
                "ru",
                restrictions={"allow_agencies": ["IT-DCSA"]},
                handling="H2",
            ),
        ),
        (
            it,
            {
                "id": "it-pass-1",
                "schema": "Passport",
                "properties": {"number": ["L898902C3"], "country": ["it"]},
                "polex": {"database": "travel_documents"},
            },
        ),
    ]
    for actor, body in rows:
        answer = client.post("/api/v1/records", json=body, headers=actor.headers)
        assert answer.status_code == 201, answer.text
    return de, it


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Мухаммед аль-Хасан", "de-2"),  # Cyrillic for a record written in Latin
        ("محمد الحسن", "de-2"),
        ("张伟", "de-3"),
    ],
)
def test_a_name_in_one_script_finds_it_in_another(
    client: TestClient, loaded, query: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    arabic = person("de-5", "محمد الحسن", "1975-01-02", "sy")
    assert client.post("/api/v1/records", json=arabic, headers=de.headers).status_code == 201
    answer = client.post(
        "/api/v1/search", json={"q": query, "purpose": PURPOSE}, headers=de.headers
    )
    assert answer.status_code == 200, answer.text
    found = [h["source_id"] for h in answer.json()["hits"][:3]]
    assert expected in found, (query, found)
    if query.startswith("Мухаммед"):  # two non-Latin scripts: Cyrillic finds the Arabic record
        assert "de-5" in found, found


def test_search_without_purpose_is_refused(client: TestClient, loaded) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    answer = client.post("/api/v1/search", json={"q": "Ivanov"}, headers=de.headers)
    assert answer.status_code == 422
    assert "purpose" in answer.text
    blank = client.post(
        "/api/v1/search", json={"q": "Ivanov", "purpose": "   "}, headers=de.headers
    )
    assert blank.status_code == 422


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer plx_nope"}, {"Authorization": "Basic YW5uYTpzZWNyZXQ="}],
)
def test_a_search_without_a_valid_bearer_token_is_refused(
    client: TestClient, loaded, headers: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    for body in ({"identifiers": ["L898902C3"]}, {"name": "Sergei Ivanov"}):
        answer = client.post("/api/v1/search", json={**body, "purpose": PURPOSE}, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "hits" not in answer.json()


def test_the_search_operation_declares_bearer_authentication(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/search"]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchQuery"
    }


@pytest.mark.parametrize(
    "query",
    ["Сергей Иванов", "Serguei Ivanoff", "Ivanov, Sergei", "Sergei Ivanov 1980"],
)
def test_cross_script_name_finds_the_record(client: TestClient, loaded, query: str) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    answer = client.post(
        "/api/v1/search", json={"q": query, "purpose": PURPOSE}, headers=de.headers
    )
    assert answer.status_code == 200, answer.text
    hits = [h for h in answer.json()["hits"] if not h["restricted"]]
    assert hits, query
    top = hits[0]
    assert top["source_id"] == "de-1"
    assert top["database"] == "intelligence"
    assert top["owner"] == "DE-BKA"
    assert top["explanation"]
    assert 0 < top["score"] <= 1


def test_identifier_lookup_ignores_spacing_and_case(client: TestClient, loaded) -> None:  # type: ignore[no-untyped-def]
    de, it = loaded
    answer = client.post(
        "/api/v1/search",
        json={"identifiers": ["l898 902-c3"], "purpose": PURPOSE},
        headers=it.headers,
    )
    hits = answer.json()["hits"]
    assert [h["source_id"] for h in hits] == ["it-pass-1"]
    assert hits[0]["score"] == 1.0


def test_a_number_of_letters_only_is_found_when_stated_as_an_identifier(
    client: TestClient, loaded
) -> None:  # type: ignore[no-untyped-def]
    """ICAO 9303 allows a document number of letters only. Stated in ``identifiers`` it is
    looked up as a number; as a word of free text it is taken for a name, as every name would
    be otherwise."""
    _, it = loaded
    passport = {
        "id": "it-pass-2",
        "schema": "Passport",
        "properties": {"number": ["CZEJLLFGG"], "country": ["it"]},
        "polex": {"database": "travel_documents"},
    }
    created = client.post("/api/v1/records", json=passport, headers=it.headers)
    assert created.status_code == 201, created.text
    stated = client.post(
        "/api/v1/search",
        json={"identifiers": ["czej-llfgg"], "purpose": PURPOSE},
        headers=it.headers,
    ).json()["hits"]
    assert [(h["source_id"], h["score"]) for h in stated] == [("it-pass-2", 1.0)]
    typed = client.post(
        "/api/v1/search", json={"q": "CZEJLLFGG", "purpose": PURPOSE}, headers=it.headers
    ).json()["hits"]
    assert "it-pass-2" not in [h["source_id"] for h in typed]


def test_restricted_hit_leaks_no_field(client: TestClient, loaded) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    answer = client.post(
        "/api/v1/search", json={"q": "Sergej Ivanov", "purpose": PURPOSE}, headers=de.headers
    )
    restricted = [h for h in answer.json()["hits"] if h["restricted"]]
    assert len(restricted) == 1
    hit = restricted[0]
    assert set(hit) == {"record_id", "restricted", "owner", "contact", "node"}
    assert hit["owner"] == "IT-DCSA"
    text = json.dumps(answer.json())
    assert "it-1" not in text  # the restricted record's source id
    assert text.count("1980-05-17") == 1  # only the visible record's birth date


def test_match_endpoint_is_yente_shaped_and_hides_restricted(client: TestClient, loaded) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    body = {
        "queries": {
            "q1": {
                "schema": "Person",
                "properties": {"name": ["Sergei Ivanov"], "birthDate": ["1980-05-17"]},
            }
        },
        "purpose": PURPOSE,
    }
    answer = client.post("/api/v1/match", json=body, headers=de.headers)
    assert answer.status_code == 200, answer.text
    results = answer.json()["responses"]["q1"]["results"]
    full = [r for r in results if not r.get("restricted")]
    assert full[0]["source_id"] == "de-1"
    assert full[0]["match"] is True
    assert set(full[0]) >= {"id", "schema", "properties", "score", "match", "features"}
    hidden = [r for r in results if r.get("restricted")]
    assert hidden and set(hidden[0]) == {"id", "restricted", "owner", "match"}
    no_purpose = client.post("/api/v1/match", json={"queries": body["queries"]}, headers=de.headers)
    assert no_purpose.status_code == 422


def test_every_search_is_audited_with_purpose_and_hits(
    client: TestClient,
    loaded,
    node: Node,  # type: ignore[no-untyped-def]
) -> None:
    de, _ = loaded
    answer = client.post(
        "/api/v1/search",
        json={"q": "Zhang Wei", "purpose": PURPOSE, "case_ref": "OP-7"},
        headers=de.headers,
    )
    hit_ids = [h["record_id"] for h in answer.json()["hits"]]
    assert hit_ids
    with node.engine.begin() as conn:
        chain(conn)
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "search").order_by(audit_log.c.seq.desc())
        ).first()
    assert entry is not None
    assert entry.actor == "anna@DE-BKA"
    assert entry.purpose == PURPOSE
    assert entry.case_ref == "OP-7"
    assert entry.details["hits"] == [h for h in hit_ids]


def test_deleted_record_is_no_longer_found(client: TestClient, loaded) -> None:  # type: ignore[no-untyped-def]
    de, _ = loaded
    found = client.post(
        "/api/v1/search", json={"q": "Maria Schmidt", "purpose": PURPOSE}, headers=de.headers
    ).json()["hits"]
    rid = found[0]["record_id"]
    client.request(
        "DELETE", f"/api/v1/records/{rid}", json={"reason": "erroneous"}, headers=de.headers
    )
    again = client.post(
        "/api/v1/search", json={"q": "Maria Schmidt", "purpose": PURPOSE}, headers=de.headers
    ).json()["hits"]
    assert rid not in [h["record_id"] for h in again]


def _lookup_beside(client: TestClient, headers: dict[str, str], hold: Any) -> dict[str, Any]:
    """A lookup and a health check sent while ``hold`` (a context manager) holds a lock in
    another thread, released 0.2 s after the health check was sent: when each answered."""
    import threading
    import time

    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hold():
            taken.set()
            release.wait(5)

    holding = threading.Thread(target=holder)
    holding.start()
    assert taken.wait(5)
    answers: list[tuple[float, Any]] = []

    def lookup() -> None:
        body = {"identifiers": ["L898902C3"], "purpose": PURPOSE}
        answer = client.post("/api/v1/search", json=body, headers=headers)
        answers.append((time.monotonic(), answer))

    start = time.monotonic()
    waiting = threading.Thread(target=lookup)
    waiting.start()
    time.sleep(0.2)
    health = client.get("/healthz")
    healthy_at = time.monotonic()
    time.sleep(0.2)
    released_at = time.monotonic()
    release.set()
    waiting.join(10)
    holding.join()
    ((answered_at, answer),) = answers
    assert health.status_code == 200
    assert answer.status_code == 200, answer.text
    assert [h["source_id"] for h in answer.json()["hits"]] == ["it-pass-1"]
    return {
        "start": start,
        "healthy_at": healthy_at,
        "answered_at": answered_at,
        "released_at": released_at,
    }


def test_a_lookup_answers_while_another_process_holds_the_write_lock(
    client: TestClient, loaded, node: Node
) -> None:  # type: ignore[no-untyped-def]
    """On SQLite a search writes its audit entry to the reads file, not to the database: it
    answers while another process holds the database's write lock (an import, say)."""
    if node.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    from polex.store.db import make_engine

    de, _ = loaded
    other = make_engine(node.engine.url)
    try:
        times = _lookup_beside(client, de.headers, other.begin)
    finally:
        other.dispose()
    assert times["answered_at"] < times["released_at"], "the lookup waited for the writer"


def test_an_initial_and_a_year_find_the_one_born_then_among_hundreds_of_namesakes(
    client: TestClient, node: Node, make_actor
) -> None:  # type: ignore[no-untyped-def]
    """Hundreds of records share the surname's key, more than are ever scored, and sixty-six
    of them an E. for a first name; the surname with the year of birth picks out the few born
    that year."""
    from polex.node import records as node_records
    from polex.node.records import RecordInput

    de = make_actor("anna", "DE-BKA", "officer", "DE")
    given = ["Anna", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Gino", "Ilaria", "Luca"]
    rows = [
        person(
            f"vasari-{n}", f"{given[n % 9]} Vasari", f"{1930 + n % 29}-0{1 + n % 9}-1{n % 9}", "it"
        )
        for n in range(600)  # born 1930 to 1958
    ]
    rows.append(person("vasari-target", "Edoardo Vasari", "1960-08-19", "it"))
    with node.engine.begin() as conn:
        for row in rows:
            node_records.create(conn, de.principal, RecordInput.model_validate(row))
    body = {"name": "E. Vasari", "birth_date": "1960", "purpose": PURPOSE, "limit": 10}
    answer = client.post("/api/v1/search", json=body, headers=de.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["hits"][0]["source_id"] == "vasari-target"
