"""Work queues are read oldest first through an index, never by reading or sorting the whole
table: on SQLite a drain runs under the write lock, and sorting a million queued records there
stalled every request of every worker for half a second per batch; a review queue page sorted
every record of its agency. The DPO's reports over a period read that period of the audit
trail, not the whole trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event

from polex.access import review
from polex.audit import log as audit
from polex.audit import reports
from polex.federation import offers
from polex.match import crossmatch
from polex.node.home import Node
from polex.store import records as store

QUEUES = ("match_queue", "federation_offer_queue")
RECORDS = ("FROM records",)
AUDIT = ("FROM audit_log",)


def _plans(
    node: Node, run: Callable[[], object], tables: tuple[str, ...] = QUEUES
) -> dict[str, list[str]]:
    """The database's plan for every statement ``run`` sends to a queue table, with its
    parameters. PostgreSQL is told to avoid sequential scans and sorts, so it uses them only
    where no index can serve (with a few rows it would choose them anyway)."""
    sent: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if not many and any(t in statement for t in tables):
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


def _full_scans(plans: dict[str, list[str]]) -> list[str]:
    """Steps that read a whole table (SQLite's and PostgreSQL's words for them)."""
    return [
        f"{statement}: {step}"
        for statement, steps in plans.items()
        for step in steps
        if (step.startswith("SCAN") and "USING" not in step) or "Seq Scan" in step
    ]


def _sorts(plans: dict[str, list[str]]) -> list[str]:
    return [
        f"{statement}: {step}"
        for statement, steps in plans.items()
        for step in steps
        if "TEMP B-TREE" in step or "Sort" in step
    ]


def _full_scans_or_sorts(plans: dict[str, list[str]]) -> list[str]:
    return _full_scans(plans) + _sorts(plans)


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


def test_review_queues_and_due_records_are_read_by_an_index(node: Node, make_actor: Any) -> None:
    """The pending queue pages oldest first straight off an index; the overdue queue and the
    DPO's records due for review read only the records whose review date has come."""
    supervisor = make_actor("sam", "PL-KGP", "supervisor", "PL").principal

    def run() -> None:
        with node.engine.begin() as conn:
            review.queue(conn, supervisor, review.Queue.pending)
            review.queue(conn, supervisor, review.Queue.overdue)
            review.due(conn, date.today() + timedelta(days=30))
            review.due(conn, date.today() + timedelta(days=30), owner="PL-KGP")

    plans = _plans(node, run, RECORDS)
    pending = {s: p for s, p in plans.items() if "status" in s and "ORDER BY" in s}
    assert len(pending) == 1 and len(plans) >= 4
    assert _full_scans(plans) == []
    assert _sorts(pending) == []


def test_the_dpo_reports_read_only_their_period_of_the_audit_trail(node: Node) -> None:
    with node.engine.begin() as conn:
        for i in range(50):
            audit.append(conn, actor=f"user:u{i % 5}@TEST-NODE", action="search", purpose="p")
        audit.chain(conn)
    until = datetime.now(UTC) + timedelta(days=1)
    since = until - timedelta(days=30)

    def run() -> None:
        with node.engine.begin() as conn:
            for kind in ("accesses", "searches_without_case", "anomalous_users"):
                reports.run(conn, kind, since, until)

    plans = _plans(node, run, AUDIT)
    assert len(plans) == 3  # accesses, searches without case, daily searches (twice the same)
    assert _full_scans(plans) == []


def test_an_agencys_records_are_listed_newest_first_by_an_index(
    node: Node, make_actor: Any
) -> None:
    make_actor("anna", "DE-BKA", "officer", "DE")

    def run() -> None:
        with node.engine.begin() as conn:
            store.list_page(conn, owner="DE-BKA", offset=0, limit=50)
            store.list_page(conn, owner="DE-BKA", offset=50, limit=50)

    plans = _plans(node, run, RECORDS)
    assert len(plans) == 2  # the count, and the page (the same statement for both pages)
    assert _full_scans_or_sorts(plans) == []
