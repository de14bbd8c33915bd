"""The queues are read oldest first through an index, never by sorting the whole queue: on
SQLite a drain runs under the write lock, and sorting a million queued records there stalled
every request of every worker for half a second per batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from polex.federation import offers
from polex.match import crossmatch
from polex.node.home import Node

QUEUES = ("match_queue", "federation_offer_queue")


def _plans(node: Node, run: Callable[[], object]) -> dict[str, list[str]]:
    """The database's plan for every statement ``run`` sends to a queue table, with its
    parameters. PostgreSQL is told to avoid sequential scans and sorts, so it uses them only
    where no index can serve (with a few rows it would choose them anyway)."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and any(q in statement for q in QUEUES):
            sent.append((statement, params))

    event.listen(node.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(node.engine, "before_cursor_execute", capture)
    sqlite = node.engine.dialect.name == "sqlite"
    with node.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        if not sqlite:
            driver.execute("SET enable_seqscan = off")
            driver.execute("SET enable_sort = off")
        explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
        plans = {
            statement: [
                str(row[-1]) for row in driver.execute(f"{explain} {statement}", params).fetchall()
            ]
            for statement, params in sent
        }
        if not sqlite:
            driver.rollback()
        return plans


def _full_scans_or_sorts(plans: dict[str, list[str]]) -> list[str]:
    """Steps that read a whole queue or sort it (SQLite's and PostgreSQL's words for them)."""
    return [
        f"{statement}: {step}"
        for statement, steps in plans.items()
        for step in steps
        if "TEMP B-TREE" in step
        or (step.startswith("SCAN") and "USING" not in step)
        or "Seq Scan" in step
        or "Sort" in step
    ]


def test_the_match_queue_drains_oldest_first_by_its_index(node: Node) -> None:
    with node.engine.begin() as conn:
        crossmatch.enqueue(conn, [f"r{i:031x}" for i in range(300)])
    plans = _plans(node, lambda: crossmatch.drain(node.engine, node.name, batch=50))
    assert any("ORDER BY" in s for s in plans)  # the drain's read was seen
    assert _full_scans_or_sorts(plans) == []


def test_a_partners_offers_are_read_oldest_first_by_the_index(node: Node) -> None:
    def run() -> None:
        with node.engine.begin() as conn:
            offers.pending(conn, "PARTNER", 100)
            offers.offered(conn, "PARTNER", ["r1", "r2"])

    plans = _plans(node, run)
    assert len(plans) == 2
    assert _full_scans_or_sorts(plans) == []
