"""Cost of the policy decision point and of the audit trail.

- Cedar per request, uncached (cedarpy, the policy set under src/polex/access/policies);
- the decision point per search result: a cold cache over envelopes as they repeat in real
  data (owners, databases, handling codes, a few restriction lists), and a warm cache;
- audit.append per entry inside a transaction, and per transaction with its commit;
- chaining the appended entries (what the server workers do in the background);
- `verify` throughput over a chain.

Run on SQLite and, when reachable, PostgreSQL (127.0.0.1:5432/test, a throw-away schema).

    .venv/bin/python benchmarks/access_bench.py [--entries 20000]

Prints a table and writes benchmarks/results/access_bench.json."""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from polex.access import policy
from polex.access.cedar import ENGINE, Request, entity
from polex.access.principal import Principal, Role
from polex.audit import log
from polex.audit.verify import verify
from polex.model.envelope import Database, Envelope, Handling, Restrictions
from polex.node.home import init_node

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results" / "access_bench.json"
console = Console(stderr=True)
READER = Principal(1, "anna", "DE-BKA", "DE", Role.officer, "NCB-DE")


def envelopes(count: int, seed: int = 1) -> list[Envelope]:
    """Envelopes distributed like a node's records: 20 owners, every database and code, most
    without restrictions, some with allow/deny lists, a few overdue or case-bound."""
    rnd = random.Random(seed)
    lists = [
        {},
        {},
        {},
        {"allow_agencies": ["IT-DCSA", "FR-DCPJ"]},
        {"deny_countries": ["RU"]},
        {"passing_permitted": ["DE-BKA"]},
    ]
    today = date.today()
    out = []
    for _ in range(count):
        db = rnd.choice(list(Database))
        out.append(
            Envelope(
                database=db,
                owner=f"AG-{rnd.randrange(20):02d}",
                handling=rnd.choice(list(Handling)),
                restrictions=Restrictions(**rnd.choice(lists)),
                review_at=today + timedelta(days=rnd.choice([-30, 400, 900, 1500])),
                case_ref=rnd.choice([None, None, None, "OP-1"]) if db == "intelligence" else None,
            )
        )
    return out


def per_call(fn: Callable[[], Any], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def cedar_raw(batch: int) -> float:
    """µs per Cedar request, evaluating ``batch`` distinct records in one call."""
    principal = policy._user(READER)
    ents = [principal]
    requests = []
    for i, env in enumerate(envelopes(batch, seed=7)):
        rid = f"r{i}"
        ents.append(
            entity("Record", rid, policy._record_attrs(policy._record_key(env, date.today())))
        )
        ctx = {"use": "crime", "grant": "local", "in_case": False}
        requests += [Request("principal", a, ("Record", rid), ctx) for a in ("read", "locate")]
    seconds = per_call(lambda: ENGINE.decide(requests, ents), 5)
    return seconds / len(requests) * 1e6


def decision_point(results: int, searches: int) -> dict[str, float]:
    """µs per envelope through decide_many, for ``searches`` result lists of ``results``."""
    pool = envelopes(results * searches, seed=3)
    lists = [pool[i * results : (i + 1) * results] for i in range(searches)]
    policy.clear_cache()
    start = time.perf_counter()
    for envs in lists:
        policy.decide_many(READER, envs)
    cold = (time.perf_counter() - start) / (results * searches) * 1e6
    start = time.perf_counter()
    for envs in lists:
        policy.decide_many(READER, envs)
    warm = (time.perf_counter() - start) / (results * searches) * 1e6
    return {"cold_us": cold, "warm_us": warm, "distinct_keys": float(len(policy._cache))}


def audit_costs(url: str | None, entries: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp()) / "node"
    node = init_node(home, "BENCH", url)
    details = {"hits": [f"r{i:031d}" for i in range(10)], "query": {"q": "Ivan Petrov"}}

    def one(conn: Any) -> None:
        log.append(
            conn,
            actor="anna@DE-BKA",
            agency="DE-BKA",
            action="search",
            purpose="checking a traveller",
            details=details,
        )

    n = 300
    with node.engine.begin() as conn:
        one(conn)

    def tx_empty() -> None:
        with node.engine.begin() as conn:
            conn.execute(text("SELECT 1"))

    def tx_append() -> None:
        with node.engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            one(conn)

    empty = per_call(tx_empty, n)
    with_append = per_call(tx_append, n)
    with node.engine.begin() as conn:
        start = time.perf_counter()
        for _ in range(n):
            one(conn)
        in_tx = (time.perf_counter() - start) / n
    remaining = max(0, entries - 2 * n - 1)
    batch = [{"actor": "x", "action": "search", "details": details}] * 1000
    while remaining > 0:
        with node.engine.begin() as conn:
            log.append_many(conn, batch[: min(1000, remaining)])
        remaining -= 1000
    with node.engine.begin() as conn:
        start = time.perf_counter()
        chained = log.chain(conn)
        chain_seconds = time.perf_counter() - start
    with node.engine.begin() as conn:
        start = time.perf_counter()
        result = verify(conn, node.name, node.keys.verify_key())
        seconds = time.perf_counter() - start
    assert result.ok
    node.engine.dispose()
    return {
        "append_in_tx_ms": in_tx * 1e3,
        "tx_without_append_ms": empty * 1e3,
        "tx_with_append_ms": with_append * 1e3,
        "chain_entries_per_s": chained / chain_seconds,
        "verify_entries": float(result.entries),
        "verify_entries_per_s": result.entries / seconds,
    }


def pg_schema_url() -> tuple[str, Callable[[], None]] | None:
    try:
        admin = create_engine(PG_URL)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception:  # noqa: BLE001 - no server: SQLite only
        return None

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "cedar_us_per_request": {str(b): cedar_raw(b) for b in (1, 10, 100)},
        "decision_point": {str(r): decision_point(r, 50) for r in (20, 100)},
        "audit": {"sqlite": audit_costs(None, args.entries)},
    }
    pg = pg_schema_url()
    if pg is not None:
        url, drop = pg
        try:
            results["audit"]["postgresql"] = audit_costs(url, args.entries)
        finally:
            drop()

    table = Table("measure", "value", title="policy decision point and audit trail")
    for batch, us in results["cedar_us_per_request"].items():
        table.add_row(f"Cedar, uncached, batch of {batch}", f"{us:.0f} µs/request")
    for size, d in results["decision_point"].items():
        table.add_row(
            f"decide_many, {size} results × 50 searches",
            f"cold {d['cold_us']:.1f} µs, warm {d['warm_us']:.1f} µs per envelope"
            f" ({d['distinct_keys']:.0f} distinct keys)",
        )
    for backend, a in results["audit"].items():
        table.add_row(f"{backend}: audit.append in a transaction", f"{a['append_in_tx_ms']:.2f} ms")
        table.add_row(
            f"{backend}: transaction without / with one entry",
            f"{a['tx_without_append_ms']:.2f} ms / {a['tx_with_append_ms']:.2f} ms",
        )
        table.add_row(f"{backend}: chain", f"{a['chain_entries_per_s']:.0f} entries/s")
        table.add_row(
            f"{backend}: verify",
            f"{a['verify_entries_per_s']:.0f} entries/s over {a['verify_entries']:.0f}",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
