"""Candidate generation and screening on a real node: which records get scored at all."""

from __future__ import annotations

from polex.node.home import Node
from polex.node.records import RecordInput, prepare
from polex.search import candidates, index
from polex.search.engine import MIN_CANDIDATES, SearchQuery, search
from polex.store import agencies
from polex.store import records as store
from polex.store.records import record_id

AGENCY = "DE-BKA"
GIVEN = ("Ahmet", "Mehmet", "Mustafa", "Ali", "Hasan", "Huseyin", "Ibrahim", "Ismail", "Osman")


def _load(node: Node, people: list[tuple[str, str, str]]) -> None:
    rows = [
        prepare(
            RecordInput.model_validate(
                {
                    "id": sid,
                    "schema": "Person",
                    "properties": {"name": [name], "birthDate": [birth]},
                    "polex": {"database": "intelligence", "subject_category": "suspect"},
                }
            ),
            owner=AGENCY,
        )
        for sid, name, birth in people
    ]
    with node.engine.begin() as conn:
        if agencies.get(conn, AGENCY) is None:
            agencies.add(conn, AGENCY, "Bundeskriminalamt", "DE")
        store.insert_many(conn, rows, actor="test", reason="test")
        index.add(conn, rows)


def test_namesakes_tied_on_keys_are_told_apart_by_birth_date(node: Node, make_actor) -> None:  # type: ignore[no-untyped-def]
    """150 Durdus share the query's only rare key; a year one apart (which makes no key) must
    still bring the right one among the candidates scored, even though its record id sorts
    after every other Durdu (ties on keys would otherwise be cut by id)."""
    officer = make_actor("anna", AGENCY)
    people = [
        (f"p-{i}", f"{GIVEN[i % len(GIVEN)]} Durdu", f"{1940 + i % 50}-0{1 + i % 9}-1{i % 10}")
        for i in range(150)
    ]
    last = max(record_id(AGENCY, "intelligence", sid) for sid, _, _ in people)
    target = next(
        f"target-{n}"
        for n in range(10_000)
        if record_id(AGENCY, "intelligence", f"target-{n}") > last
    )
    assert len(people) > MIN_CANDIDATES
    _load(node, [*people, (target, "Tekbay Durdu", "1974-11-11")])
    query = SearchQuery(name="T. Durdu", birth_date="1973-11-11", purpose="border check", limit=5)
    with node.engine.begin() as conn:
        hits = search(conn, officer.principal, query)
    assert [h.record.source_id for h in hits][:1] == [target]


def test_record_count_for_weights_falls_back_to_counting(node: Node) -> None:
    """A fresh PostgreSQL table has no planner estimate yet (-1): the count is exact then."""
    _load(node, [(f"c-{i}", f"Name{i} Person", "1980-01-01") for i in range(3)])
    candidates._total_cache.clear()
    with node.engine.begin() as conn:
        assert candidates.total_records(conn) == 3


def test_identifier_lookup_reads_frequent_keys_like_generate(node: Node) -> None:
    """The one-round-trip lookup chooses and weighs keys exactly as the two-step generate."""
    _load(node, [(f"g-{i}", f"Given{i} Samename", f"1980-01-{1 + i:02d}") for i in range(12)])
    with node.engine.begin() as conn:
        keys = {("name", "smnm"), ("birth", "1980-01-03"), ("name", "absent")}
        assert candidates.lookup(conn, keys, limit=5) == candidates.generate(conn, keys, limit=5)
        found = candidates.lookup(conn, keys, limit=20)
    assert len(found) == 12
    assert next(iter(found)) == record_id(AGENCY, "intelligence", "g-2")


def test_keys_alike_in_their_first_255_characters_are_indexed_once(node: Node) -> None:
    """The key column holds 255 characters and is part of the primary key: two document numbers
    that differ only after that make one row, not an integrity error that fails the write."""
    stem = "X" * 300
    record = prepare(
        RecordInput.model_validate(
            {
                "id": "long-numbers",
                "schema": "Person",
                "properties": {"name": ["Ali Hasan"], "idNumber": [stem + "1", stem + "2"]},
                "polex": {"database": "intelligence", "subject_category": "suspect"},
            }
        ),
        owner=AGENCY,
    )
    with node.engine.begin() as conn:
        agencies.add(conn, AGENCY, "Bundeskriminalamt", "DE")
        store.insert_many(conn, [record], actor="test", reason="test")
        index.add(conn, [record])
        index.replace(conn, [(record, record)])
        frequencies = candidates.key_frequencies(conn, [("docn", stem[:255])])
    assert frequencies == {("docn", stem[:255]): 1}
