"""Fixtures shared by every test: a real node on SQLite and on PostgreSQL.

PostgreSQL tests run when POLEX_TEST_PG is set (a URL, or 1 for the local server) and always
in CI. Each test gets its own PostgreSQL schema, so tests stay independent and can run in
parallel against one server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from polex.access import accounts
from polex.access.principal import Principal
from polex.api.app import create_app
from polex.node.home import Node, init_node
from polex.store import agencies

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str | None:
    value = os.environ.get("POLEX_TEST_PG")
    if value and value != "1":
        return value
    if value or os.environ.get("CI"):
        return PG_DEFAULT
    return None


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = pg_url()
    if url is None:
        pytest.skip("PostgreSQL tests need POLEX_TEST_PG (always on in CI)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'polex.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{admin}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def node(database_url: str, tmp_path: Path) -> Iterator[Node]:
    node = init_node(tmp_path / "home", "TEST-NODE", database_url)
    yield node
    node.engine.dispose()


@dataclass(frozen=True)
class Actor:
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_actor(node: Node):  # type: ignore[no-untyped-def]
    """make_actor(username, agency, role, country) registers the agency if new and a user."""

    def make(username: str, agency: str, role: str = "officer", country: str = "DE") -> Actor:
        with node.engine.begin() as conn:
            if agencies.get(conn, agency) is None:
                agencies.add(conn, agency, f"Agency {agency}", country)
            new = accounts.add_user(conn, username, agency, role)
            principal = accounts.authenticate(conn, new.token, node.name)
        assert principal is not None
        return Actor(principal=principal, token=new.token)

    return make


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave once the report is printed: a background worker thread some library leaves behind
    must not keep CI waiting (the suite's result is already decided here)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
