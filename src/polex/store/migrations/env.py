"""Alembic environment: runs on the engine handed over by polex.store.migrate."""

from alembic import context

from polex.store.db import load_tables
from polex.store.metadata import metadata

load_tables()
engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
