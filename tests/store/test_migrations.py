"""The Alembic revisions build exactly the schema the code declares, on both databases, and
unwind to nothing: a table or index added in code without its migration fails here."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from polex.store.db import load_tables, make_engine
from polex.store.metadata import metadata
from polex.store.migrate import alembic_config, upgrade


def test_migrations_build_the_declared_schema_and_unwind(database_url: str) -> None:
    load_tables()
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
        command.downgrade(alembic_config(engine), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()
