"""Reads on the driver's cursor give the rows SQLAlchemy gives, typed the same, on both
databases; a driver error surfaces as SQLAlchemy's, and a statement that cannot be compiled
once is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, exc, select, text

from polex.node import records as node_records
from polex.node.home import Node
from polex.node.records import RecordInput
from polex.store import listed, reads
from polex.store.tables import records


@pytest.fixture
def stored(node: Node, make_actor: Any) -> list[str]:
    actor = make_actor("anna", "DE-BKA")
    ids = []
    with node.engine.begin() as conn:
        for n, name in enumerate(["Sergei Ivanov", "Мария Шмидт"]):
            data = RecordInput.model_validate(
                {
                    "id": f"src-{n}",
                    "schema": "Person",
                    "properties": {"name": [name], "birthDate": ["1980-05-17"]},
                    "polex": {"database": "intelligence", "subject_category": "suspect"},
                }
            )
            ids.append(node_records.create(conn, actor.principal, data).id)
    return ids


def test_rows_are_what_sqlalchemy_gives_typed_alike(node: Node, stored: list[str]) -> None:
    dialect = node.engine.dialect.name
    statement = select(records).where(listed.one_of(records.c.id, "ids", dialect))
    params = {"ids": listed.value(dialect, stored)}
    with node.engine.begin() as conn:
        expected = conn.execute(statement, params).all()
        got = reads.Read(statement).rows(conn, params)
    assert len(got) == 2
    by_id = {r.id: r for r in got}
    for row in expected:
        mine = by_id[row.id]
        assert tuple(mine) == tuple(row)  # JSON decoded, timestamps parsed, booleans as bool
        assert mine._fields == tuple(row._fields)
        assert isinstance(mine.deleted, bool)
        assert isinstance(mine.properties, dict)
        assert type(mine.created_at) is type(row.created_at)


def test_a_text_statement_gives_its_columns_by_name(node: Node, stored: list[str]) -> None:
    read = reads.Read(text("SELECT id, version FROM records WHERE source_id = :sid"))
    with node.engine.begin() as conn:
        first = read.rows(conn, {"sid": "src-0"})
        again = read.rows(conn, {"sid": "src-1"})
        none = read.rows(conn, {"sid": "nothing"})
    assert [(r.id, r.version) for r in first] == [(stored[0], 1)]
    assert [r.id for r in again] == [stored[1]]
    assert none == []


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(node: Node) -> None:
    read = reads.Read(text("SELECT nothing FROM no_such_table WHERE id = :id"))
    with pytest.raises(exc.DBAPIError) as raised, node.engine.begin() as conn:
        read.rows(conn, {"id": "x"})
    assert "no_such_table" in str(raised.value)
    with node.engine.begin() as conn:  # the connection is usable again
        assert reads.Read(text("SELECT 1 AS one")).rows(conn, {})[0].one == 1


def test_an_expanding_in_list_is_refused(node: Node) -> None:
    statement = select(records.c.id).where(records.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="listed"), node.engine.begin() as conn:
        reads.Read(statement).rows(conn, {"ids": ["a"]})
