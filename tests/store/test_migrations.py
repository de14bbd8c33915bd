"""The Alembic revisions build exactly the schema the code declares, on both databases, and
unwind to nothing: a table or index added in code without its migration fails here."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import ColumnElement, Connection, delete, inspect, select
from typer.testing import CliRunner

from polex.cli import app
from polex.node import records
from polex.node.home import Node
from polex.node.records import RecordInput
from polex.search.keys import entity_keys
from polex.search.tables import record_keys
from polex.store.db import load_tables, make_engine
from polex.store.metadata import metadata
from polex.store.migrate import alembic_config, upgrade


def _sequences(conn: Connection) -> set[str]:
    return set(inspect(conn).get_sequence_names()) if conn.dialect.supports_sequences else set()


def test_migrations_build_the_declared_schema_and_unwind(database_url: str) -> None:
    load_tables()
    engine = make_engine(database_url)
    declared = {s.name for s in metadata._sequences.values()}
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
            # Alembic does not compare sequences: PostgreSQL must have every declared one
            if conn.dialect.supports_sequences:
                assert _sequences(conn) >= declared
        command.downgrade(alembic_config(engine), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
            assert not _sequences(conn) & declared
        upgrade(engine)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()


def test_polex_migrate_brings_an_older_database_to_the_current_schema(node: Node) -> None:
    command.downgrade(alembic_config(node.engine), "base")
    env = {"POLEX_HOME": str(node.home)}
    for _ in range(2):  # and once more is harmless
        result = CliRunner().invoke(app, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        assert "database at the current schema" in result.output
        with node.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)


@pytest.mark.parametrize(
    ("revision", "name", "birth", "missing", "key"),
    [
        # as revision 0003 left it: the keys made before Wade-Giles was read as pinyin;
        # Hsiu-fang as xiufang, how 张秀芳 is keyed
        (
            "0003",
            "Chang Hsiu-fang",
            "1980-05-04",
            record_keys.c.key.contains("ks"),
            ("name", "ksfnk"),
        ),
        # as revision 0004 left it: no name-year keys
        (
            "0004",
            "Edoardo Vasari",
            "1960-08-19",
            record_keys.c.kind == "year",
            ("year", "fsr|1960"),
        ),
    ],
)
def test_an_older_index_gets_the_keys_the_search_looks_up_today(
    node: Node,
    make_actor,  # type: ignore[no-untyped-def]
    revision: str,
    name: str,
    birth: str,
    missing: ColumnElement[bool],
    key: tuple[str, str],
) -> None:
    officer = make_actor("keys", "DE-BKA")
    data = RecordInput.model_validate(
        {
            "schema": "Person",
            "properties": {"name": [name], "birthDate": [birth]},
            "polex": {"database": "intelligence", "subject_category": "suspect"},
        }
    )
    with node.engine.begin() as conn:
        record = records.create(conn, officer.principal, data)
        conn.execute(delete(record_keys).where(record_keys.c.record_id == record.id, missing))
    command.downgrade(alembic_config(node.engine), revision)
    upgrade(node.engine)
    with node.engine.connect() as conn:
        query = select(record_keys.c.kind, record_keys.c.key)
        rows = conn.execute(query.where(record_keys.c.record_id == record.id)).all()
    keys = set(map(tuple, rows))
    assert keys == entity_keys("Person", record.properties)
    assert key in keys
