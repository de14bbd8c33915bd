"""Federation: messages/s across a link, and what a federated search adds to a local one.

    .venv/bin/python benchmarks/federation_bench.py [--messages 2000] [--records 5000]
        [--queries 40] [--rounds 3]

Two nodes on loopback, each a real `polex serve` process (API port and federation port, SQLite),
linked both ways with full sharing, each holding --records synthetic persons imported with
`polex import`.

- messages/s: --messages messages from an agency of node A to one of node B, queued through the
  batch API, then relayed over the federation port (mutual TLS, signed requests) and delivered;
  timed from the first send until A holds B's signed "delivered" receipt for every one of them;
  also the CPU time each server process spent per message (Linux), which other work on a
  shared machine does not change;
- search: the same queries (names with birth dates, half of them found on each node) through
  POST /api/v1/search on node A, local only and federated, alternating, --rounds times each;
  the overhead is the difference of the medians.

Prints a table and writes benchmarks/results/federation_bench.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from faker import Faker
from sqlalchemy import func, select

from polex.access import accounts
from polex.federation import agreement
from polex.federation.sharing import parse_shares
from polex.messaging.model import DeliveryState
from polex.messaging.tables import message_deliveries
from polex.node.home import Node, init_node
from polex.store import agencies

RESULTS = Path(__file__).parent / "results" / "federation_bench.json"
POLEX = str(Path(sys.executable).with_name("polex"))
PURPOSE = "benchmark: border screening"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Side:
    node: Node
    agency: str
    token: str
    port: int
    federation_port: int
    people: list[tuple[str, str]]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, client: httpx.Client, path: str, body: Any) -> Any:
        answer = client.post(
            f"{self.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        answer.raise_for_status()
        return answer.json()


def make_side(root: Path, name: str, agency: str, country: str, locale: str, n: int) -> Side:
    node = init_node(root / name, name)
    with node.engine.begin() as conn:
        agencies.add(conn, agency, agency, country)
        token = accounts.add_user(conn, f"officer-{agency.lower()}", agency, "officer").token
    fake = Faker(locale)
    fake.seed_instance(hash(name) % 1000)
    people = []
    rows = root / f"{name}.jsonl"
    with rows.open("w", encoding="utf-8") as out:
        for i in range(n):
            person = (fake.name(), fake.date_of_birth(minimum_age=18, maximum_age=80).isoformat())
            people.append(person)
            entity = {
                "id": f"{agency}-{i}",
                "schema": "Person",
                "properties": {"name": [person[0]], "birthDate": [person[1]]},
            }
            out.write(json.dumps(entity) + "\n")
    subprocess.run(
        [POLEX, "import", str(rows), "--database", "intelligence", "--agency", agency,
         "--subject-category", "suspect", "--home", str(node.home)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return Side(node, agency, token, free_port(), free_port(), people)


def link(a: Side, b: Side) -> None:
    full = parse_shares(["all=full"])
    offers = {
        s.node.name: agreement.make_offer(s.node, f"https://127.0.0.1:{s.federation_port}", full)
        for s in (a, b)
    }
    for mine, theirs in ((a, b), (b, a)):
        with mine.node.engine.begin() as conn:
            text = json.dumps(offers[theirs.node.name])
            agreement.accept_offer(conn, mine.node.name, text, "bench", full)


def start(side: Side) -> None:
    side.process = subprocess.Popen(
        [POLEX, "serve", "--home", str(side.node.home), "--port", str(side.port),
         "--federation-port", str(side.federation_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{side.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{side.node.name} did not start")


def stop(side: Side) -> None:
    if side.process is not None:
        side.process.send_signal(signal.SIGTERM)
        side.process.wait(60)


def delivered(node: Node, ids: list[str]) -> int:
    d = message_deliveries.c
    done = 0
    with node.engine.connect() as conn:
        for k in range(0, len(ids), 500):
            done += conn.execute(
                select(func.count())
                .select_from(message_deliveries)
                .where(d.message_id.in_(ids[k : k + 500]), d.state == DeliveryState.delivered.value)
            ).scalar_one()
    return done


def cpu_seconds(side: Side) -> float | None:
    """CPU time the side's server process has used (Linux), to show the cost per message
    apart from what other work on a shared machine leaves it."""
    assert side.process is not None
    try:
        fields = Path(f"/proc/{side.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def messages_per_second(a: Side, b: Side, count: int, client: httpx.Client) -> dict[str, Any]:
    drafts = [
        {
            "id": str(uuid.uuid4()),
            "to": [f"{b.agency}@{b.node.name}"],
            "subject": f"Sighting {i}",
            "body": "Vehicle seen at the border crossing, 14:05, heading south. " * 4,
        }
        for i in range(count)
    ]
    ids = [d["id"] for d in drafts]
    cpu_before = (cpu_seconds(a), cpu_seconds(b))
    started = time.perf_counter()
    for k in range(0, count, 500):
        a.post(client, "/messages/batch", {"messages": drafts[k : k + 500]})
    queued = time.perf_counter() - started
    while delivered(a.node, ids) < count:
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    cpu: dict[str, float | None] = {}
    for side, before in zip((a, b), cpu_before, strict=True):
        after = cpu_seconds(side)
        used = None if after is None or before is None else after - before
        cpu[side.node.name] = None if used is None else used * 1000 / count
    return {
        "messages": count,
        "seconds": elapsed,
        "queue_seconds": queued,
        "per_s": count / elapsed,
        "cpu_ms_per_message": cpu,
    }


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def search_latency(
    a: Side, b: Side, queries: int, rounds: int, client: httpx.Client
) -> dict[str, Any]:
    rng = random.Random(7)
    people = rng.sample(a.people, queries // 2) + rng.sample(b.people, queries - queries // 2)
    local: list[float] = []
    federated: list[float] = []
    remote_hits = 0
    for _ in range(rounds):
        for name, birth in people:
            body = {"q": f"{name} {birth}", "purpose": PURPOSE, "limit": 10}
            local.append(timed(lambda b=body: a.post(client, "/search", b)))
            answer: dict[str, Any] = {}

            def fed(b: dict[str, Any] = body, out: dict[str, Any] = answer) -> None:
                out.update(a.post(client, "/search", {**b, "federated": True}))

            federated.append(timed(fed))
            assert answer["partners"][0]["status"] == "ok", answer["partners"]
            remote_hits += sum(1 for h in answer["hits"] if h["node"] == b.node.name)

    def cut(samples: list[float], q: int) -> float:
        return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]

    return {
        "queries": len(local),
        "local_p50_ms": cut(local, 50),
        "local_p95_ms": cut(local, 95),
        "federated_p50_ms": cut(federated, 50),
        "federated_p95_ms": cut(federated, 95),
        "overhead_p50_ms": cut(federated, 50) - cut(local, 50),
        "remote_hits": remote_hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a = make_side(root, "NCB-DE", "DE-BKA", "DE", "de_DE", args.records)
        b = make_side(root, "NCB-FR", "FR-DCPJ", "FR", "fr_FR", args.records)
        link(a, b)
        start(a)
        start(b)
        try:
            with httpx.Client(timeout=60) as client:
                messages_per_second(a, b, 50, client)  # warm up connections and caches
                search_latency(a, b, 4, 1, client)
                throughput = messages_per_second(a, b, args.messages, client)
                search = search_latency(a, b, args.queries, args.rounds, client)
        finally:
            stop(a)
            stop(b)
    cpu = throughput["cpu_ms_per_message"]
    rows = [
        ("messages across the link (msg/s)", f"{throughput['per_s']:,.0f}", ">= 500"),
        *[
            (f"  CPU per message, {name} (ms)", "-" if ms is None else f"{ms:.2f}", "")
            for name, ms in cpu.items()
        ],
        ("local search p50 (ms)", f"{search['local_p50_ms']:.1f}", ""),
        ("federated search p50 (ms)", f"{search['federated_p50_ms']:.1f}", ""),
        ("federated search p95 (ms)", f"{search['federated_p95_ms']:.1f}", ""),
        ("added by federation, p50 (ms)", f"{search['overhead_p50_ms']:.1f}", "<= 20"),
    ]
    print(f"{'':40}{'measured':>12}   target")
    for label, value, target in rows:
        print(f"{label:40}{value:>12}   {target}")
    print(f"load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "federation",
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "load": os.getloadavg(),
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                },
                "parameters": vars(args),
                "results": {"messages": throughput, "search": search},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
