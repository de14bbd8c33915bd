"""The work every server worker does beside its requests: audit entries are chained soon after
their action commits, and the chain is signed whenever anything new came, on either database."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text

from polex.audit import checkpoint
from polex.audit import log as audit
from polex.audit.tables import audit_log, audit_pending
from polex.node.background import AuditChainer, Periodic, chain_audit, checkpoint_audit
from polex.node.home import Node


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def counts(node: Node) -> tuple[int, int]:
    with node.engine.connect() as conn:
        chained = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        waiting = conn.execute(select(func.count()).select_from(audit_pending)).scalar_one()
    return chained, waiting


def test_two_workers_chaining_in_the_background_chain_every_entry_once(node: Node) -> None:
    workers = [Periodic(f"chain-{n}", lambda _stop: chain_audit(node.engine), 0.05) for n in (1, 2)]
    for w in workers:
        w.start()
    try:
        for i in range(30):
            with node.engine.begin() as conn:
                audit.append(conn, actor="anna@DE-BKA", action="search", details={"i": i})
        assert eventually(lambda: counts(node) == (30, 0)), counts(node)
    finally:
        for w in workers:
            w.stop()
    with node.engine.connect() as conn:
        order = [
            d["i"] for d in conn.execute(select(audit_log.c.details).order_by("seq")).scalars()
        ]
    assert order == list(range(30))  # each committed before the next: chained in that order


def test_a_checkpoint_is_signed_only_when_something_new_came(node: Node) -> None:
    assert checkpoint_audit(node) is None  # an empty trail
    with node.engine.begin() as conn:
        audit.append(conn, actor="anna@DE-BKA", action="record.read", target="r1")
    made = checkpoint_audit(node)
    assert made is not None and made.seq == 1
    assert checkpoint.valid(made, node.name, node.keys.verify_key())
    assert checkpoint_audit(node) is None  # only the checkpoint's own entry since
    with node.engine.begin() as conn:
        audit.append(conn, actor="anna@DE-BKA", action="record.read", target="r2")
    again = checkpoint_audit(node)
    assert again is not None and again.seq == 3  # r1, the first checkpoint's entry, r2
    with node.engine.connect() as conn:
        actors = conn.execute(
            select(audit_log.c.actor).where(audit_log.c.action == "audit.checkpoint")
        ).scalars()
        assert list(actors) == [f"node:{node.name}"]


def test_chaining_on_postgresql_vacuums_the_queue_so_it_does_not_grow(node: Node) -> None:
    """Each entry is a row of audit_pending until chained; without a VACUUM the deleted rows
    keep their space (this server runs no autovacuum), and the table grows with every entry
    ever written. Vacuumed every thousand entries, it stays the size of a thousand."""
    if node.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reuses the space of deleted rows itself")
    chainer = AuditChainer(node.engine, vacuum_every=1000)
    sizes = []
    for batch in range(10):
        with node.engine.begin() as conn:
            audit.append_many(
                conn,
                [
                    {"actor": "anna@DE-BKA", "action": "search", "details": {"i": i}}
                    for i in range(batch * 1000, (batch + 1) * 1000)
                ],
            )
        assert chainer() == 1000
        with node.engine.connect() as conn:
            sizes.append(
                conn.execute(text("SELECT pg_relation_size('audit_pending')")).scalar_one()
            )
    assert counts(node) == (10_000, 0)
    assert sizes[-1] <= 2 * sizes[0], sizes
