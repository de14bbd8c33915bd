"""Index maintenance without an index by record: a record's keys are found by computing them
from the record, so after every change the table holds exactly the keys of the live records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from polex.node import records as node_records
from polex.node.home import Node
from polex.node.records import RecordInput
from polex.search import index
from polex.search.engine import SearchQuery, search
from polex.search.tables import record_keys

AGENCY = "DE-BKA"
PURPOSE = "index test: border check"


def person(number: str, name: str = "Sergei Ivanov") -> RecordInput:
    return RecordInput.model_validate(
        {
            "id": "p-1",
            "schema": "Person",
            "properties": {"name": [name], "birthDate": ["1978-03-14"], "idNumber": [number]},
            "polex": {"database": "intelligence", "subject_category": "suspect"},
        }
    )


def stored_keys(conn: Connection, rid: str) -> set[tuple[str, str, str]]:
    rows = conn.execute(select(record_keys).where(record_keys.c.record_id == rid))
    return {(r.record_id, r.kind, r.key) for r in rows}


def found(node: Node, principal: Any, number: str) -> list[str]:
    with node.engine.begin() as conn:
        hits = search(conn, principal, SearchQuery(identifiers=[number], purpose=PURPOSE))
    return [h.record.id for h in hits]


def test_an_update_leaves_exactly_the_new_versions_keys(node: Node, make_actor: Any) -> None:
    officer = make_actor("anna", AGENCY).principal
    with node.engine.begin() as conn:
        first = node_records.create(conn, officer, person("AB1234567"))
    with node.engine.begin() as conn:
        before = stored_keys(conn, first.id)
        second = node_records.update(conn, officer, first.id, person("CD7654321"))
        after = stored_keys(conn, first.id)
    assert before == set(index.key_rows([first]))
    assert after == set(index.key_rows([second]))
    assert "docn" in {kind for _, kind, _ in before - after}  # the old number's keys went
    assert before & after  # the name's keys stayed where they were
    assert found(node, officer, "AB1234567") == []
    assert found(node, officer, "CD7654321") == [first.id]


def test_a_deleted_record_leaves_no_key(node: Node, make_actor: Any) -> None:
    officer = make_actor("anna", AGENCY).principal
    with node.engine.begin() as conn:
        kept = node_records.create(
            conn, officer, person("EF1111111").model_copy(update={"id": "p-2"})
        )
        gone = node_records.create(conn, officer, person("AB1234567"))
    with node.engine.begin() as conn:
        node_records.delete(conn, officer, gone.id, "entered in error")
        assert stored_keys(conn, gone.id) == set()
        assert stored_keys(conn, kept.id) == set(index.key_rows([kept]))


def test_rebuild_drops_keys_no_record_has(node: Node, make_actor: Any) -> None:
    """Keys made by older rules are not what the records give today: a rebuild starts over."""
    officer = make_actor("anna", AGENCY).principal
    with node.engine.begin() as conn:
        record = node_records.create(conn, officer, person("AB1234567"))
        conn.execute(record_keys.insert().values(record_id=record.id, kind="name", key="stale"))
    with node.engine.begin() as conn:
        assert index.rebuild(conn) == 1
        assert stored_keys(conn, record.id) == set(index.key_rows([record]))
