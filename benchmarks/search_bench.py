"""Search latency and recall on synthetic persons and travel documents, side by side with
PostgreSQL pg_trgm similarity search and a brute-force rapidfuzz scan (the recall ceiling), and
the audit trail's share of search throughput.

Queries are the generator's planted name variants (another agency's spelling, script, typo or
order of the same person, with the truth written beside them): recall@10 asks whether the
original record is among the first ten hits. Identifier queries are passport numbers drawn
evenly from the documents.

Data is written once to JSON Lines files and loaded into each database by ``polex import``'s
importer (its validation and cleaning, key functions, duplicate checks and match queue, with its
worker processes checking rows), so what is searched is what an import stores; loading takes
most of a run at full scale (2,000-10,000 documents/s on 2-core machines). Load times,
CPU seconds, database sizes, peak memory and the load averages are written to the JSON.

Audit overhead: the same mix of identifier and name searches runs with the audit trail (the
append in the search's transaction, and chaining the round's entries) and with the append
replaced, for this benchmark only, by a no-op, in alternating rounds of one run, by one client
and by several at once; the overhead given is the median over the rounds (each round compares
its two arms, run back to back), with the lowest and highest beside it.

    nice -n 10 .venv/bin/python benchmarks/search_bench.py          # 1M persons, 10M documents
    .venv/bin/python benchmarks/search_bench.py --persons 20000 --documents 100000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, delete, text

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AGENCY = "DE-BKA"
PURPOSE = "benchmark"
MAX_QUERIES = 2000
HTTP_AUDIT_ROUNDS = 4
# Identifier lookups per round of the in-process audit arms: a round of 200 took 0.1 s, too
# short to keep one arm's stray pause out of its median.
ID_ROUND = 1000
KINDS = {
    "id": "identifier",
    "name": "name",
    "mixed": "half and half",
    "id-http": "identifier, HTTP",
}
# Rows per file, each file one import (one transaction): SQLite looks every page it reads up in
# the write-ahead log, at a cost that grows with the log, which holds the whole transaction, so
# one import of ten million documents slows down as it goes (2.3k/s at the end, 69 % of the
# writer's CPU in sqlite3WalFindFrame); agencies send files of this size anyway.
FILE_ROWS = 1_000_000
console = Console(stderr=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Data:
    """The generated rows, written once to files every backend imports (streamed: ten million
    documents are never in memory), the persons' names (the brute-force scan's choices), the
    name queries with their truth, and a sample of document numbers to look up."""

    def __init__(self, persons: int, documents: int, seed: int, workdir: Path) -> None:
        self.persons, self.documents, self.seed = persons, documents, seed
        self.names: dict[str, tuple[str, str]] = {}
        self.variants: list[tuple[str, str]] = []
        self.numbers: list[str] = []
        self.workdir = workdir
        self.person_files: list[Path] = []
        self.document_files: list[Path] = []

    def write(self) -> None:
        from polex.demo.generate import persons_with_truth, travel_documents

        def persons() -> Iterator[dict[str, Any]]:
            for kind, item in persons_with_truth(self.persons, self.seed):
                if kind == "record":
                    props = item["properties"]
                    self.names[item["id"]] = (props["name"][0], props["birthDate"][0])
                    yield item
                elif item["kind"] == "variant" and len(self.variants) < MAX_QUERIES:
                    self.variants.append((item["records"][-1], item["records"][0]))

        def documents() -> Iterator[dict[str, Any]]:
            step = max(1, self.documents // MAX_QUERIES)
            for i, item in enumerate(travel_documents(self.documents, self.seed + 1)):
                if i % step == 0:
                    self.numbers.append(item["properties"]["number"][0])
                yield item

        self.person_files = self._files("persons", persons())
        self.document_files = self._files("documents", documents())

    def _files(self, stem: str, items: Iterator[dict[str, Any]]) -> list[Path]:
        """``items`` as JSON Lines files of FILE_ROWS rows at most."""
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        paths: list[Path] = []
        fh = None
        for i, item in enumerate(items):
            if i % FILE_ROWS == 0:
                if fh is not None:
                    fh.close()
                paths.append(self.workdir / f"{stem}-{len(paths):03d}.jsonl")
                fh = paths[-1].open("w", encoding="utf-8")
            assert fh is not None
            fh.write(encode(item) + "\n")
        if fh is not None:
            fh.close()
        return paths

    @property
    def name_queries(self) -> list[tuple[str, str, str, str]]:
        """(name, birth date, expected source id, the variant's own source id)."""
        return [
            (*self.names[v], o, v) for v, o in self.variants if v in self.names and o in self.names
        ]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the importer's workers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine() -> dict[str, Any]:
    """Load averages and peak memory so far (KiB: this process, and its largest child)."""
    return {
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "max_child_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def import_load(engine: Engine, path: Path, database: Any, actor: str) -> int:
    """A file through ``polex import``'s importer, with its worker processes."""
    from polex.match.tables import match_queue
    from polex.node import importer
    from polex.node.sources import open_source

    options = importer.ImportOptions(database=database, agency=AGENCY, actor=actor)
    report = importer.import_rows(
        engine,
        open_source(path),
        options,
        on_progress=_progress(path.stat().st_size),
    )
    if not report.committed:
        raise RuntimeError(f"import of {path.name} refused: {report.rejects[:3]}")
    with engine.begin() as conn:
        # The import queued its records for cross-matching, which `polex serve` workers drain
        # in the background: at millions of records that is hours of CPU, taken from the very
        # searches measured here. The node is measured at rest, each file's backlog dropped
        # while its pages are still cached (one delete of every file's 11M at the end read
        # the whole table back from disk for hours).
        conn.execute(delete(match_queue))
    return int(report.imported)


def _progress(size: int) -> Callable[[int], None]:
    """A line per tenth of the file, with the time so far: a long load shows its pace."""
    start, shown = time.perf_counter(), [0]

    def show(position: int) -> None:
        if position * 10 // size > shown[0]:
            shown[0] = position * 10 // size
            console.print(f"    {shown[0] * 10} % in {time.perf_counter() - start:.0f} s")

    return show


def database_bytes(engine: Engine) -> int:
    """The database's size on disk: SQLite's file (with its write-ahead log), or PostgreSQL's
    tables with their indexes and TOAST in the benchmark's schema."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    query = text(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def load(url: str, home: Path, data: Data) -> tuple[Any, str, dict[str, Any]]:
    from polex.access import accounts
    from polex.model.envelope import Database
    from polex.node import importer
    from polex.node.home import init_node
    from polex.store import agencies

    node = init_node(home, "BENCH", url)
    with node.engine.begin() as conn:
        agencies.add(conn, AGENCY, "Bundeskriminalamt", "DE")
        actor = importer.import_actor(conn, node.name, AGENCY, None)
        token = accounts.add_user(conn, "bench", AGENCY, "officer").token
    figures: dict[str, Any] = {}
    for label, paths, database in (
        ("persons", data.person_files, Database.intelligence),
        ("documents", data.document_files, Database.travel_documents),
    ):
        start, cpu = time.perf_counter(), cpu_seconds()
        count = sum(import_load(node.engine, path, database, actor) for path in paths)
        elapsed = time.perf_counter() - start
        figures[label] = {
            "rows": count,
            "seconds": round(elapsed, 1),
            "cpu_seconds": round(cpu_seconds() - cpu, 1),
            "per_s": round(count / elapsed),
        }
        console.print(f"  loaded {count:,} {label} in {elapsed:.0f} s ({count / elapsed:,.0f}/s)")
    start = time.perf_counter()
    with node.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # statistics from a sample of each index, as `PRAGMA optimize` takes them: a full
            # ANALYZE reads the whole database (22 GB at 1M persons and 10M documents)
            conn.execute(text("PRAGMA analysis_limit = 1000"))
        conn.execute(text("ANALYZE"))
    figures["analyze_seconds"] = round(time.perf_counter() - start, 1)
    figures["database_bytes"] = database_bytes(node.engine)
    figures["machine_after_load"] = machine()
    console.print(f"  {figures}")
    return node, token, figures


def timed(calls: Iterable[Callable[[], Any]]) -> list[float]:
    latencies = []
    for call in calls:
        start = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def _searcher(node: Any) -> Callable[[Any], list[Any]]:
    from polex.access.accounts import principal_for
    from polex.search.engine import search
    from polex.store import db

    with node.engine.begin() as conn:
        principal = principal_for(conn, "bench", node.name)

    def run(query: Any) -> list[Any]:
        with db.reading(), node.engine.begin() as conn:  # as the API, CLI and web app search
            return search(conn, principal, query)

    return run


def polex_runs(node: Any, data: Data) -> tuple[dict[str, Any], dict[str, list[str]]]:
    from polex.search.engine import SearchQuery

    run = _searcher(node)
    ids = [SearchQuery(identifiers=[n], purpose=PURPOSE, limit=10) for n in data.numbers]
    run(ids[0])  # warm caches (IDF total, policy decisions)
    id_latency = timed(lambda q=q: run(q) for q in ids)
    found_ids = sum(bool(run(q)) for q in ids[:200])
    found: dict[str, list[str]] = {}
    name_latency = []
    for name, birth, _expected, itself in data.name_queries:
        query = SearchQuery(name=name, birth_date=birth, purpose=PURPOSE, limit=11)
        start = time.perf_counter()
        hits = run(query)
        name_latency.append((time.perf_counter() - start) * 1000)
        # the variant is itself indexed: it is not an answer to its own query
        found[itself] = [h.record.source_id for h in hits if h.record.source_id != itself][:10]
    result = {
        "id_p50_ms": percentile(id_latency, 0.5),
        "id_p99_ms": percentile(id_latency, 0.99),
        "id_found": found_ids / min(200, len(ids)),
        "name_p50_ms": percentile(name_latency, 0.5),
        "name_p95_ms": percentile(name_latency, 0.95),
        **quality(data, found),
    }
    return result, found


def quality(data: Data, found: dict[str, list[str]]) -> dict[str, float]:
    queries = [q for q in data.name_queries if q[3] in found]
    n = max(1, len(queries))
    return {
        "recall_at_10": sum(q[2] in found[q[3]] for q in queries) / n,
        "precision_at_1": sum(found[q[3]][:1] == [q[2]] for q in queries) / n,
        "queries": len(queries),
    }


@contextmanager
def audit_replaced_by_noop() -> Iterator[None]:
    """The search engine's audit append as a no-op, for the "without audit" arm only."""
    from polex.search import engine

    real = engine.audit

    class NoAudit:
        @staticmethod
        def append(*_args: Any, **_kwargs: Any) -> int:
            return 0

    engine.audit = NoAudit  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.audit = real


_chainers: dict[int, Any] = {}


def _chain_all(node: Any) -> None:
    """What the server workers do in the background (chaining, and vacuuming the queue every so
    many entries), paid here inside the timed arm."""
    from polex.node.background import AuditChainer

    if id(node.engine) not in _chainers:
        _chainers[id(node.engine)] = AuditChainer(node.engine)
    _chainers[id(node.engine)]()


def _round(run: Callable[[Any], Any], queries: list[Any], clients: int) -> None:
    if clients == 1:
        for q in queries:
            run(q)
        return
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, queries))


def audit_overhead(node: Any, data: Data, rounds: int, clients: int) -> dict[str, Any]:
    """Searches per second with and without the audit trail, in alternating rounds of the
    same queries (after a warm-up pass, each arm first in every other round) so that caches and
    load from elsewhere favour neither: identifier lookups, name searches, and both together
    (equal numbers of each). With the audit, each round ends by chaining its entries, as the
    server workers do in the background, so the arm pays for the whole trail.

    Run by one client (each search waits for the last: the commit's flush is all latency) and by
    ``clients`` threads at once, as a node serves many officers (commits overlap). Also the CPU
    a search cost (this process and, on PostgreSQL, the server), which a stray pause of the
    machine moves less than it moves the rate."""
    from polex.search.engine import SearchQuery

    run = _searcher(node)
    kinds = {
        "id": [
            SearchQuery(identifiers=[n], purpose=PURPOSE, limit=10) for n in data.numbers[:ID_ROUND]
        ],
        "name": [
            SearchQuery(name=n, birth_date=b, purpose=PURPOSE, limit=10)
            for n, b, _, _ in data.name_queries[:100]
        ],
    }
    for queries in kinds.values():  # warm every cache first: neither arm may pay for it
        for q in queries:
            run(q)
    _chain_all(node)
    postgres = node.engine.dialect.name == "postgresql"

    def cpu() -> float:
        """This process's CPU (every client thread) and the database server's."""
        return time.process_time() + (_postgres_cpu() if postgres else 0.0)

    result: dict[str, Any] = {}
    for threads in (1, clients):
        spent = {(kind, arm): [0.0] * rounds for kind in kinds for arm in ("with", "without")}
        used = {(kind, arm): 0.0 for kind in kinds for arm in ("with", "without")}
        for n in range(rounds):
            for arm in ("with", "without") if n % 2 == 0 else ("without", "with"):
                for kind, queries in kinds.items():
                    cpu_start = cpu()
                    start = time.perf_counter()
                    if arm == "with":
                        _round(run, queries, threads)
                        _chain_all(node)
                    else:
                        with audit_replaced_by_noop():
                            _round(run, queries, threads)
                    spent[kind, arm][n] = time.perf_counter() - start
                    used[kind, arm] += cpu() - cpu_start
        for kind in (*kinds, "mixed"):
            parts = list(kinds) if kind == "mixed" else [kind]
            per_round = sum(len(kinds[k]) for k in parts)
            took = {
                arm: [sum(spent[k, arm][n] for k in parts) for n in range(rounds)]
                for arm in ("with", "without")
            }
            # each round's two arms ran back to back: their ratio is what the audit cost then
            overheads = [
                100 * (1 - bare / audited)  # 1 - rate with / rate without
                for audited, bare in zip(took["with"], took["without"], strict=True)
            ]
            # summed over the rounds: /proc counts the server's CPU in ticks of 10 ms
            cpu_with, cpu_without = (
                1e6 * sum(used[k, arm] for k in parts) / (rounds * per_round)
                for arm in ("with", "without")
            )
            result[f"{kind}/{threads}"] = {
                "kind": kind,
                "clients": threads,
                "searches": rounds * per_round,
                "cpu_us_per_request_with": cpu_with,
                "cpu_us_per_request_without": cpu_without,
                "cpu_overhead_pct": 100 * (1 - cpu_without / cpu_with),
                "with_audit_per_s": rounds * per_round / sum(took["with"]),
                "without_audit_per_s": rounds * per_round / sum(took["without"]),
                "overhead_pct": statistics.median(overheads),
                "overhead_pct_range": [min(overheads), max(overheads)],
            }
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_client(args: tuple[str, str, list[str], int, float]) -> tuple[int, list[float]]:
    """One client process: ``threads`` keep-alive connections looking numbers up in a loop."""
    import httpx

    base, token, numbers, threads, seconds = args
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0]
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            n = i
            while time.perf_counter() < stop:
                body = {"identifiers": [numbers[n % len(numbers)]], "purpose": PURPOSE}
                start = time.perf_counter()
                response = c.post("/api/v1/search", json={**body, "limit": 5})
                latencies[i].append((time.perf_counter() - start) * 1000)
                errors[0] += response.status_code != 200
                n += threads

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors[0], [x for per in latencies for x in per]


def _serve(home: Path, workers: int, audit: bool = True) -> Iterator[tuple[str, int]]:
    """`polex serve --workers N` on free ports until the caller is done; yields its base URL and
    process id. Without ``audit``, its searches skip the audit append
    (``without_audit/sitecustomize.py``)."""
    import httpx

    port = _free_port()
    log = home / f"serve-{port}.log"
    command = [sys.executable, "-m", "polex", "serve", "--home", str(home)]
    command += ["--port", str(port), "--federation-port", str(_free_port())]
    env = dict(os.environ)
    if not audit:
        paths = [str(Path(__file__).with_name("without_audit")), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    with log.open("w") as out:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)], stdout=out, stderr=out, env=env
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"polex serve did not come up: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(30)


def _httpx_rate(
    base: str, token: str, numbers: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    """Python httpx clients in two processes (one Python process alone would be the
    bottleneck); on a 2-core machine they take much of the CPU the server needs."""
    processes = 2
    per = max(1, clients // processes)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_http_client, [(base, token, numbers, per, 1.0)] * processes)  # warm up
        results = pool.map(_http_client, [(base, token, numbers, per, seconds)] * processes)
    latencies = [x for _, lat in results for x in lat]
    return {
        "generator": "httpx",
        "req_per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "errors": sum(e for e, _ in results),
        "clients": per * processes,
    }


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process now: parent, name and CPU seconds so far (Linux /proc; none elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            name, fields = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        stat = fields.split()
        comm = name.partition("(")[2]
        found[int(entry.name)] = (int(stat[1]), comm, (int(stat[11]) + int(stat[12])) / tick)
    return found


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants now."""
    processes = _processes()
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (parent, _, _) in processes.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(processes[p][2] for p in tree if p in processes)


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process of this machine now (its backends serve the
    node; another database's load would count too)."""
    return sum(cpu for _, comm, cpu in _processes().values() if comm == "postgres")


def _wrk_rate(
    wrk: str,
    base: str,
    token: str,
    numbers: list[str],
    clients: int,
    seconds: float,
    home: Path,
    cpu: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """wrk (C, event-driven, two threads) with search_wrk.lua rotating the numbers: the load
    generator takes little of the CPU the server needs. With ``cpu`` (the server's CPU seconds
    so far), also the CPU it spent per request of the measured run."""
    listing = home / "numbers.txt"
    listing.write_text("\n".join(numbers) + "\n", encoding="utf-8")
    script = Path(__file__).with_name("search_wrk.lua")

    def run(duration: float) -> dict[str, Any]:
        command = [wrk, "-t2", f"-c{clients}", f"-d{duration:.0f}s", "-s"]
        command += [str(script), base, "--", str(listing), token, PURPOSE]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("JSON "))
        figures: dict[str, Any] = json.loads(line.removeprefix("JSON "))
        return figures

    run(2)  # warm up
    before = cpu() if cpu else 0.0
    figures = run(seconds)
    spent = cpu() - before if cpu else None
    return {
        "cpu_us_per_request": spent and 1e6 * spent / max(1, figures["requests"]),
        "generator": "wrk",
        "req_per_s": figures["requests"] / figures["seconds"],
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
        "errors": figures["non_200"] + figures["socket_errors"],
        "clients": clients,
    }


def _http_audit_overhead(
    wrk: str,
    servers: dict[str, tuple[str, int]],
    token: str,
    numbers: list[str],
    clients: int,
    seconds: float,
    home: Path,
    postgres: bool,
) -> dict[str, Any]:
    """Requests per second of two servers over the same database, one with the audit trail and
    one without, measured in turn (each first in every other round): the audit's share of
    what the node serves, where the request's HTTP, authentication and search all count.

    Also the CPU each request cost the server (its workers, and on PostgreSQL the database
    server's processes): on a machine whose CPUs the server fills, throughput follows it, and
    it varies less from round to round than the rate does."""
    rates: dict[str, list[float]] = {"with": [], "without": []}
    cpus: dict[str, list[float]] = {"with": [], "without": []}
    for n in range(HTTP_AUDIT_ROUNDS):
        for arm in ("with", "without") if n % 2 == 0 else ("without", "with"):
            base, pid = servers[arm]

            def cpu(pid: int = pid) -> float:
                return _process_cpu(pid) + (_postgres_cpu() if postgres else 0.0)

            run = _wrk_rate(wrk, base, token, numbers, clients, seconds, home, cpu)
            rates[arm].append(run["req_per_s"])
            cpus[arm].append(run["cpu_us_per_request"])
    overheads = [
        100 * (1 - audited / bare)
        for audited, bare in zip(rates["with"], rates["without"], strict=True)
    ]
    cpu_with, cpu_without = (statistics.median(cpus[arm]) for arm in ("with", "without"))
    return {
        "cpu_us_per_request_with": cpu_with,
        "cpu_us_per_request_without": cpu_without,
        "cpu_overhead_pct": 100 * (1 - cpu_without / cpu_with),
        "kind": "id-http",
        "clients": clients,
        "with_audit_per_s": statistics.mean(rates["with"]),
        "without_audit_per_s": statistics.mean(rates["without"]),
        "overhead_pct": statistics.median(overheads),
        "overhead_pct_range": [min(overheads), max(overheads)],
    }


def http_rate(
    home: Path,
    token: str,
    numbers: list[str],
    clients: int,
    workers: int,
    seconds: float,
    postgres: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Identifier lookups per second over HTTP against `polex serve --workers N` with
    concurrent keep-alive clients: wrk when installed (Debian's `wrk`, `make system`), and
    httpx clients in the same run for comparison; the main table shows wrk's figures if any.
    With wrk, also the audit's share of that throughput (a second server without it)."""
    runs = []
    overhead = None
    serve = contextmanager(_serve)
    with serve(home, workers) as audited, serve(home, workers, audit=False) as bare:
        base = audited[0]
        if wrk := shutil.which("wrk"):
            runs.append(_wrk_rate(wrk, base, token, numbers, clients, seconds, home))
        runs.append(_httpx_rate(base, token, numbers, clients, seconds))
        if wrk:
            overhead = _http_audit_overhead(
                wrk,
                {"with": audited, "without": bare},
                token,
                numbers,
                clients,
                seconds,
                home,
                postgres=postgres,
            )
    first = runs[0]
    return {
        "http_req_per_s": first["req_per_s"],
        "http_p50_ms": first["p50_ms"],
        "http_p99_ms": first["p99_ms"],
        "http_generator": first["generator"],
        "http_clients": first["clients"],
        "http_workers": workers,
        "http_runs": runs,
    }, overhead


def _sorted_tokens(name: str) -> str:
    from polex.search.names import latinise

    return " ".join(sorted(latinise(name).split()))


def brute_force(data: Data, sample: int) -> tuple[dict[str, Any], set[str]]:
    """A full scan with the evidence a query gives: rapidfuzz's ratio of the transliterated,
    token-sorted names against every person, moved by the birth dates' agreement as polex
    weighs it (``score.date_agreement``). It misses no candidate, so it is the recall ceiling
    of a search by name and birth date; a scan by name alone would not be one (polex, which
    weighs the birth date, beat it). The dates' agreement is computed once per distinct date
    (tens of thousands), not per person."""
    import numpy as np

    from polex.search.score import date_agreement

    ids = list(data.names)
    choices = [_sorted_tokens(data.names[i][0]) for i in ids]
    dates = sorted({birth for _, birth in data.names.values()})
    place = {d: n for n, d in enumerate(dates)}
    date_of = np.array([place[data.names[i][1]] for i in ids])
    found: dict[str, list[str]] = {}
    latency = []
    for name, birth, _expected, itself in data.name_queries[:sample]:
        start = time.perf_counter()
        names = process.cdist([_sorted_tokens(name)], choices, scorer=fuzz.ratio)[0] / 100
        agreement = np.array([date_agreement(birth, d)[0] for d in dates])
        combined = names + agreement[date_of]
        best = np.argpartition(-combined, 11)[:11]
        top = best[np.argsort(-combined[best], kind="stable")]
        latency.append((time.perf_counter() - start) * 1000)
        found[itself] = [ids[i] for i in top if ids[i] != itself][:10]
    result = {
        "name_p50_ms": percentile(latency, 0.5),
        "name_p95_ms": percentile(latency, 0.95),
        **quality(data, found),
    }
    result["recall_at_10_on_ceiling_queries"] = result["recall_at_10"]
    return result, set(found)


def pg_trgm(pg_url: str, data: Data, sample: int) -> dict[str, Any]:
    """PostgreSQL trigram distance over the transliterated names, GiST-indexed (KNN), on the
    brute-force scan's queries: at a million names a query takes about half a second."""
    from polex.search.names import latinise

    schema = f"bench_trgm_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE TABLE {schema}.names (id text, name text)"))
            insert = text(f"INSERT INTO {schema}.names VALUES (:id, :name)")
            batch: list[dict[str, str]] = []
            for i, (n, _) in data.names.items():
                batch.append({"id": i, "name": latinise(n)})
                if len(batch) == 10_000:
                    conn.execute(insert, batch)
                    batch = []
            if batch:
                conn.execute(insert, batch)
            conn.execute(text(f"CREATE INDEX ON {schema}.names USING gist (name gist_trgm_ops)"))
            conn.execute(text(f"ANALYZE {schema}.names"))
        found: dict[str, list[str]] = {}
        latency = []
        query = text(f"SELECT id FROM {schema}.names ORDER BY name <-> :q LIMIT 11")
        with engine.connect() as conn:
            for name, _birth, _expected, itself in data.name_queries[:sample]:
                start = time.perf_counter()
                ids = conn.execute(query, {"q": latinise(name)}).scalars().all()
                latency.append((time.perf_counter() - start) * 1000)
                found[itself] = [i for i in ids if i != itself][:10]
        result = {
            "name_p50_ms": percentile(latency, 0.5),
            "name_p95_ms": percentile(latency, 0.95),
            **quality(data, found),
        }
        result["recall_at_10_on_ceiling_queries"] = result["recall_at_10"]
        return result
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def backend_url(name: str, workdir: Path, pg_url: str) -> tuple[str, Callable[[], None]]:
    if name == "sqlite":
        (workdir / name).mkdir()
        return f"sqlite:///{workdir / name / 'polex.db'}", lambda: shutil.rmtree(workdir / name)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return f"{pg_url}?options=-csearch_path%3D{schema}", drop


def _cell(row: dict[str, Any], key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else "-"


def print_tables(rows: list[dict[str, Any]], audit_rows: list[dict[str, Any]]) -> None:
    columns = {
        "id p50 ms": ("id_p50_ms", ".2f"),
        "id p99 ms": ("id_p99_ms", ".2f"),
        "HTTP req/s": ("http_req_per_s", ",.0f"),
        "HTTP p50/p99 ms": ("http_p50_ms", ".1f"),
        "name p50 ms": ("name_p50_ms", ".1f"),
        "name p95 ms": ("name_p95_ms", ".1f"),
        "recall@10": ("recall_at_10", ".3f"),
        "recall@10 on ceiling queries": ("recall_at_10_on_ceiling_queries", ".3f"),
        "precision@1": ("precision_at_1", ".3f"),
        "queries": ("queries", "d"),
    }
    table = Table("engine", *columns, title="search")
    for row in rows:
        cells = [_cell(row, key, fmt) for key, fmt in columns.values()]
        if "http_p99_ms" in row:
            cells[2] += f" ({row['http_generator']})"
            cells[3] = f"{row['http_p50_ms']:.1f} / {row['http_p99_ms']:.1f}"
        table.add_row(row["engine"], *cells)
    Console(width=200).print(table)
    http = Table("engine", "generator", "workers", "clients", "req/s", "p50 ms", "p99 ms", "errors")
    http.title = "identifier lookup over HTTP (polex serve)"
    for row in rows:
        for run in row.get("http_runs", ()):
            http.add_row(
                row["engine"],
                run["generator"],
                str(row["http_workers"]),
                str(run["clients"]),
                f"{run['req_per_s']:,.0f}",
                f"{run['p50_ms']:.1f}",
                f"{run['p99_ms']:.1f}",
                str(run["errors"]),
            )
    Console(width=200).print(http)
    audit = Table(
        "backend",
        "searches",
        "clients",
        "with audit /s",
        "without audit /s",
        "overhead",
        "rounds",
        "CPU µs per search with / without (overhead)",
    )
    audit.title = "audit overhead on search throughput"
    for row in audit_rows:
        for figures in row["runs"].values():
            audit.add_row(
                row["backend"],
                KINDS[figures["kind"]],
                str(figures["clients"]),
                f"{figures['with_audit_per_s']:.1f}",
                f"{figures['without_audit_per_s']:.1f}",
                f"{figures['overhead_pct']:.1f} %",
                "{:.1f} to {:.1f} %".format(*figures["overhead_pct_range"]),
                "{:,.0f} / {:,.0f} ({:.1f} %)".format(
                    figures["cpu_us_per_request_with"],
                    figures["cpu_us_per_request_without"],
                    figures["cpu_overhead_pct"],
                )
                if "cpu_overhead_pct" in figures
                else "-",
            )
    Console(width=200).print(audit)


def _interrupted(*_args: Any) -> None:
    """A run stopped with kill drops its schemas and files on the way out, as Ctrl-C does."""
    raise KeyboardInterrupt


def save(path: Path, args: argparse.Namespace, started: float, **parts: Any) -> None:
    """The JSON so far: written after each backend too, so a long run that fails late keeps
    what it measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": "search",
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": multiprocessing.cpu_count(),
            "python": platform.python_version(),
            "note": "2 cores shared with other work while it ran",
            **machine(),
        },
        "persons": args.persons,
        "documents": args.documents,
        "seconds": round(time.perf_counter() - started),
        **parts,
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="polex serve workers")
    parser.add_argument("--http-seconds", type=float, default=15.0)
    parser.add_argument("--audit-rounds", type=int, default=8)
    parser.add_argument("--audit-clients", type=int, default=4, help="concurrent searchers")
    parser.add_argument(
        "--ceiling-queries", type=int, default=300, help="brute-force and pg_trgm queries"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the files and SQLite go (many GB)"
    )
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/search.json"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    if args.audit_rounds < 1 or args.audit_clients < 1:
        parser.error("--audit-rounds and --audit-clients: at least 1")
    backends = args.backends.split(",")
    rows: list[dict[str, Any]] = []
    answers: dict[str, dict[str, list[str]]] = {}
    audit_rows: list[dict[str, Any]] = []
    loads: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="polex-search-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        data = Data(args.persons, args.documents, args.seed, workdir)
        start = time.perf_counter()
        data.write()
        loads["generate_seconds"] = round(time.perf_counter() - start, 1)
        console.print(f"generated {args.persons:,} persons, {args.documents:,} documents")
        # the arms that need no polex database first: a late failure keeps them
        console.print("brute force")
        ceiling, asked = brute_force(data, args.ceiling_queries)
        others = [{"engine": "rapidfuzz brute force, name + birth date", **ceiling}]
        # the named peer, whichever backends polex is measured on
        console.print("pg_trgm")
        others.append(
            {"engine": "PostgreSQL pg_trgm", **pg_trgm(args.pg_url, data, args.ceiling_queries)}
        )
        console.print(others)
        for name in backends:
            url, drop = backend_url(name, workdir, args.pg_url)
            try:
                console.print(f"{name}: loading {args.persons:,} persons, {args.documents:,} docs")
                node, token, loads[name] = load(url, workdir / f"{name}-home", data)
                console.print(f"{name}: {len(data.name_queries)} name queries, searching")
                result, answers[name] = polex_runs(node, data)
                console.print(f"{name}: {result}")
                console.print(f"{name}: audit overhead")
                runs = audit_overhead(node, data, args.audit_rounds, args.audit_clients)
                audit_rows.append({"backend": name, "runs": runs})
                console.print(f"{name}: HTTP, {args.workers} workers, {args.clients} clients")
                http, http_overhead = http_rate(
                    node.home,
                    token,
                    data.numbers,
                    args.clients,
                    args.workers,
                    args.http_seconds,
                    postgres=name == "postgresql",
                )
                result |= http
                if http_overhead is not None:
                    runs["id/http"] = http_overhead
                node.engine.dispose()
            finally:
                drop()
            # polex on the very queries the brute-force scan answered
            same = {k: v for k, v in answers[name].items() if k in asked}
            result["recall_at_10_on_ceiling_queries"] = quality(data, same)["recall_at_10"]
            rows.append({"engine": f"polex ({name})", **result})
            save(
                args.json,
                args,
                started,
                results=rows + others,
                audit_overhead=audit_rows,
                load=loads,
            )
    rows += others
    print_tables(rows, audit_rows)
    save(args.json, args, started, results=rows, audit_overhead=audit_rows, load=loads)


if __name__ == "__main__":
    main()
