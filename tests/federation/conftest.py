"""Two real nodes linked to each other, each serving its federation port on loopback.

Node A is the parametrised test node (SQLite, and PostgreSQL when enabled); node B is a second
node on SQLite in the test's directory. Both ports are real TLS servers in threads of the test
process, with their relays running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fedkit import Pair, free_port, link, serve

from polex.federation.sharing import Sharing, default_sharing
from polex.node.home import Node, init_node


@pytest.fixture
def node_b(tmp_path: Path) -> Iterator[Node]:
    other = init_node(tmp_path / "node-b", "NODE-B")
    yield other
    other.engine.dispose()


@pytest.fixture
def shares() -> tuple[Sharing, Sharing]:
    """What A grants B and what B grants A; tests override to narrow a grant."""
    return default_sharing(), default_sharing()


@pytest.fixture
def pair(node: Node, node_b: Node, shares: tuple[Sharing, Sharing]) -> Iterator[Pair]:
    a_port, b_port = free_port(), free_port()
    link(node, a_port, node_b, b_port, *shares)
    a = serve(node, a_port)
    b = serve(node_b, b_port)
    try:
        yield Pair(a, b)
    finally:
        a.stop()
        b.stop()
