"""Messaging throughput and latency on one node, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/messaging_bench.py [--backend sqlite|postgresql|both]
        [--messages 3000] [--batch 100] [--threads 4] [--rate 200] [--seconds 10]

Every message goes from DE-BKA to FR-DCPJ on the same node through the real send path (compose,
sign, encrypt, store, queue, audit) and the real delivery path (claim, decrypt, verify, deliver).

- single: one send per transaction, delivered to the local recipient before send returns;
- concurrent: the same from --threads threads at once;
- batch: --batch messages per transaction (systems exchanging data), delivered likewise;
- queue / drain: batches queued with delivery held back, then drained by the delivery worker's
  step (claims of 500): the outbox's two halves measured apart;
- latency: --rate messages/s for --seconds through each path, paced on a fixed schedule (a
  late send counts its wait): "sync" from the scheduled send time until send returned with the
  message delivered, "worker" from the message's creation until the background delivery worker
  (the one `polex serve` runs) delivered it, from the database's timestamps.

PostgreSQL: $POLEX_BENCH_PG or the local test server (a schema of its own, dropped afterwards).
Prints a table and writes benchmarks/results/messaging_bench.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from polex.access import accounts
from polex.access.principal import Principal
from polex.messaging import delivery, outbox
from polex.messaging.delivery import DeliveryWorker
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Draft
from polex.messaging.settings import MessagingSettings
from polex.messaging.tables import message_deliveries, messages
from polex.node.home import Node, init_node
from polex.store import agencies

RESULTS = Path(__file__).parent / "results" / "messaging_bench.json"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BODY = (
    "Vehicle **BMW X5** (VIN WBAFB71060LX12345) sighted at the Kehl crossing, 14:05, heading "
    "south; two occupants; plate swapped since the theft. Request: confirm owner and any hit.\n"
) * 3


def draft(i: int) -> Draft:
    return Draft(
        to=["FR-DCPJ"],
        subject=f"Sighting {i}",
        body=BODY,
        handling="H1",
        priority="urgent",
        case_ref="OP-BENCH",
    )


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'polex.db'}"
        return
    admin = os.environ.get("POLEX_BENCH_PG", PG_DEFAULT)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{admin}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def setup(home: Path, url: str) -> tuple[Node, Principal]:
    node = init_node(home, "BENCH", url)
    with node.engine.begin() as conn:
        agencies.add(conn, "DE-BKA", "Bundeskriminalamt", "DE")
        agencies.add(conn, "FR-DCPJ", "Police judiciaire", "FR")
        accounts.add_user(conn, "anna", "DE-BKA", "officer")
        return node, accounts.principal_for(conn, "anna", node.name)


def rate(count: int, run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "n": len(samples)}


def paced(per_second: float, seconds: float, send: Callable[[int], None]) -> list[float]:
    """Send on a fixed schedule; each latency runs from the scheduled time, not the actual."""
    latencies = []
    start = time.perf_counter()
    for i in range(int(per_second * seconds)):
        due = start + i / per_second
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        send(i)
        latencies.append(time.perf_counter() - due)
    return latencies


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as url:
        node, anna = setup(Path(tmp) / "home", url)
        room = Mailroom.open(node, MessagingSettings())
        held = replace(room, settings=MessagingSettings(delivery_delay=86400))
        n, b = args.messages, args.batch
        for i in range(50):  # warm up caches, connections and compiled statements
            outbox.send(room, anna, draft(i))
        out: dict[str, Any] = {}

        def single() -> None:
            for i in range(n):
                assert outbox.send(room, anna, draft(i)).deliveries[0].state == "delivered"

        out["single_msgs_per_s"] = rate(n, single)

        def concurrent() -> None:
            def work(k: int) -> None:
                for i in range(n // args.threads):
                    outbox.send(room, anna, draft(k * n + i))

            threads = [threading.Thread(target=work, args=(k,)) for k in range(args.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        out["concurrent_msgs_per_s"] = rate(n // args.threads * args.threads, concurrent)

        def batch() -> None:
            for k in range(n // b):
                sent = outbox.send_many(room, anna, [draft(k * b + i) for i in range(b)])
                assert {s.deliveries[0].state for s in sent} == {"delivered"}

        out["batch_msgs_per_s"] = rate(n // b * b, batch)

        def queue() -> None:
            for k in range(n // b):
                outbox.send_many(held, anna, [draft(k * b + i) for i in range(b)])

        out["queue_msgs_per_s"] = rate(n // b * b, queue)

        def drain() -> None:
            done = 0
            while step := delivery.deliver_pending(room):
                done += step
            assert done == n // b * b

        out["drain_msgs_per_s"] = rate(n // b * b, drain)

        out["sync_latency"] = percentiles(
            paced(args.rate, args.seconds, lambda i: outbox.send(room, anna, draft(i)))
        )
        # the background worker delivers what a sender that does not deliver itself queued
        worker = DeliveryWorker(room)
        worker.start()
        ids = []
        try:
            paced(
                args.rate,
                args.seconds,
                lambda i: ids.append(outbox.send(held, anna, draft(i)).message.id),
            )
            deadline = time.monotonic() + 60
            while delivery_lag(node, ids) is None and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.stop()
        lags = delivery_lag(node, ids)
        assert lags is not None, "the worker did not deliver everything"
        out["worker_latency"] = percentiles(lags)
        node.engine.dispose()
        return out


def delivery_lag(node: Node, ids: list[str]) -> list[float] | None:
    """Seconds from creation to delivery per message, once all of them are delivered."""
    query = (
        select(messages.c.created_at, message_deliveries.c.delivered_at)
        .join(message_deliveries, message_deliveries.c.message_id == messages.c.id)
        .where(messages.c.id.in_(ids))
    )
    with node.engine.connect() as conn:
        rows = conn.execute(query).all()
    if len(rows) != len(ids) or any(r.delivered_at is None for r in rows):
        return None
    aware = [(r.created_at, r.delivered_at) for r in rows]
    return [
        (d.replace(tzinfo=d.tzinfo or UTC) - c.replace(tzinfo=c.tzinfo or UTC)).total_seconds()
        for c, d in aware
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s for latency")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {b: run_backend(b, args) for b in backends}

    rows = [
        ("single send, delivered (msg/s)", "single_msgs_per_s"),
        (f"{args.threads} threads sending (msg/s)", "concurrent_msgs_per_s"),
        (f"batch of {args.batch}, delivered (msg/s)", "batch_msgs_per_s"),
        ("queue only (msg/s)", "queue_msgs_per_s"),
        ("delivery worker drain (msg/s)", "drain_msgs_per_s"),
    ]
    print(f"{'':42}" + "".join(f"{b:>14}" for b in backends))
    for label, key in rows:
        print(f"{label:42}" + "".join(f"{results[b][key]:>14,.0f}" for b in backends))
    for path in ("sync", "worker"):
        for cut in ("p50_ms", "p99_ms"):
            label = f"{path} latency at {args.rate:.0f}/s, {cut[:3]} (ms)"
            values = "".join(f"{results[b][f'{path}_latency'][cut]:>14.1f}" for b in backends)
            print(f"{label:42}{values}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "messaging",
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                },
                "parameters": vars(args),
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
