"""The Alembic revisions build exactly the schema the code declares, on both databases, and
unwind to nothing: a table or index added in code without its migration fails here."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from typer.testing import CliRunner

from polex.cli import app
from polex.node.home import Node
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
