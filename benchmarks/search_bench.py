"""Search latency and recall on synthetic persons and travel documents, side by side with
PostgreSQL pg_trgm similarity search and a brute-force rapidfuzz scan (the recall ceiling).

Queries are the generator's planted name variants (another agency's spelling, script, typo or
order of the same person, with the truth written beside them): recall@10 asks whether the
original record is among the first ten hits.

    .venv/bin/python benchmarks/search_bench.py --persons 1000000 --documents 10000000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AGENCY = "DE-BKA"
PURPOSE = "benchmark"
console = Console(stderr=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def write_data(workdir: Path, persons: int, documents: int, seed: int) -> dict[str, Any]:
    """JSONL files for import, the variant queries with their truth, and document numbers."""
    from polex.demo.generate import persons_with_truth, travel_documents

    people, queries, names = workdir / "persons.jsonl", [], {}
    with people.open("w", encoding="utf-8") as fh:
        for kind, item in persons_with_truth(persons, seed):
            if kind == "record":
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
                names[item["id"]] = (
                    item["properties"]["name"][0],
                    item["properties"]["birthDate"][0],
                )
            elif item["kind"] == "variant" and len(queries) < 2000:
                original, variant = item["records"][0], item["records"][-1]
                queries.append((variant, original))
    docs_file, numbers = workdir / "documents.jsonl", []
    with docs_file.open("w", encoding="utf-8") as fh:
        for i, item in enumerate(travel_documents(documents, seed + 1)):
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            if i % max(1, documents // 2000) == 0:
                numbers.append(item["properties"]["number"][0])
    # query with the variant's name and birth date, expect the original record's source id
    name_queries = [
        (names[v][0], names[v][1], o, v) for v, o in queries if v in names and o in names
    ]
    return {
        "persons": people,
        "documents": docs_file,
        "name_queries": name_queries,
        "numbers": numbers,
        "all_names": names,
    }


def load(url: str, home: Path, files: dict[str, Any]) -> Any:
    from polex.access import accounts
    from polex.model.envelope import Database
    from polex.node import importer
    from polex.node.home import init_node
    from polex.node.sources import open_source
    from polex.store import agencies

    node = init_node(home, "BENCH", url)
    with node.engine.begin() as conn:
        agencies.add(conn, AGENCY, "Bundeskriminalamt", "DE")
        actor = importer.import_actor(conn, node.name, AGENCY, None)
        token = accounts.add_user(conn, "bench", AGENCY, "officer").token
    for key, database in (
        ("persons", Database.intelligence),
        ("documents", Database.travel_documents),
    ):
        start = time.perf_counter()
        options = importer.ImportOptions(database=database, agency=AGENCY, actor=actor)
        report = importer.import_rows(node.engine, open_source(files[key]), options)
        console.print(
            f"  imported {report.imported:,} {key} in {time.perf_counter() - start:.0f} s"
        )
    return node, token


def timed(calls: Iterator[Callable[[], Any]]) -> list[float]:
    latencies = []
    for call in calls:
        start = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def polex_runs(node: Any, files: dict[str, Any]) -> dict[str, Any]:
    from polex.access.accounts import principal_for
    from polex.search.engine import SearchQuery, search

    with node.engine.begin() as conn:
        principal = principal_for(conn, "bench", node.name)

    def run(query: SearchQuery) -> list[Any]:
        with node.engine.begin() as conn:
            return search(conn, principal, query)

    ids = [SearchQuery(identifiers=[n], purpose=PURPOSE, limit=10) for n in files["numbers"]]
    id_latency = timed(lambda q=q: run(q) for q in ids)
    hits_at_10, first, name_latency = 0, 0, []
    for name, birth, expected, itself in files["name_queries"]:
        query = SearchQuery(name=name, birth_date=birth, purpose=PURPOSE, limit=11)
        start = time.perf_counter()
        hits = run(query)
        name_latency.append((time.perf_counter() - start) * 1000)
        # the variant is itself indexed: it is not an answer to its own query
        found = [h.record.source_id for h in hits if h.record.source_id != itself][:10]
        hits_at_10 += expected in found
        first += bool(found) and found[0] == expected
    n = max(1, len(files["name_queries"]))
    return {
        "id_p50_ms": percentile(id_latency, 0.5),
        "id_p99_ms": percentile(id_latency, 0.99),
        "name_p50_ms": percentile(name_latency, 0.5),
        "name_p95_ms": percentile(name_latency, 0.95),
        "recall_at_10": hits_at_10 / n,
        "precision_at_1": first / n,
    }


def http_rate(home: Path, token: str, numbers: list[str], clients: int, seconds: float) -> float:
    """Identifier lookups per second over HTTP against `polex serve` with concurrent clients."""
    import socket
    import subprocess

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polex.cli",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        done = [0] * clients
        stop = time.perf_counter() + seconds

        def client(i: int) -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                while time.perf_counter() < stop:
                    number = numbers[done[i] % len(numbers)]
                    c.post(
                        "/api/v1/search",
                        json={"identifiers": [number], "purpose": PURPOSE, "limit": 5},
                    )
                    done[i] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(done) / seconds
    finally:
        server.terminate()
        server.wait(10)


def brute_force(files: dict[str, Any]) -> dict[str, Any]:
    """rapidfuzz over every name (transliterated): the recall a full scan reaches."""
    from polex.search.names import latinise

    ids = list(files["all_names"])
    choices = [latinise(files["all_names"][i][0]) for i in ids]
    hits, latency = 0, []
    for name, _birth, expected, itself in files["name_queries"]:
        start = time.perf_counter()
        top = process.extract(latinise(name), choices, scorer=fuzz.token_sort_ratio, limit=11)
        latency.append((time.perf_counter() - start) * 1000)
        hits += expected in [ids[i] for _, _, i in top if ids[i] != itself][:10]
    return {
        "name_p50_ms": percentile(latency, 0.5),
        "name_p95_ms": percentile(latency, 0.95),
        "recall_at_10": hits / max(1, len(files["name_queries"])),
    }


def pg_trgm(pg_url: str, files: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL trigram similarity over the transliterated names, GiST-indexed."""
    from polex.search.names import latinise

    schema = f"bench_trgm_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE TABLE {schema}.names (id text, name text)"))
            rows = [{"id": i, "name": latinise(n)} for i, (n, _) in files["all_names"].items()]
            for start in range(0, len(rows), 10_000):
                conn.execute(
                    text(f"INSERT INTO {schema}.names VALUES (:id, :name)"),
                    rows[start : start + 10_000],
                )
            conn.execute(text(f"CREATE INDEX ON {schema}.names USING gist (name gist_trgm_ops)"))
        hits, latency = 0, []
        with engine.connect() as conn:
            for name, _birth, expected in files["name_queries"]:
                start = time.perf_counter()
                found = (
                    conn.execute(
                        text(f"SELECT id FROM {schema}.names ORDER BY name <-> :q LIMIT 10"),
                        {"q": latinise(name)},
                    )
                    .scalars()
                    .all()
                )
                latency.append((time.perf_counter() - start) * 1000)
                hits += expected in found
        return {
            "name_p50_ms": percentile(latency, 0.5),
            "name_p95_ms": percentile(latency, 0.95),
            "recall_at_10": hits / max(1, len(files["name_queries"])),
        }
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def backend_url(name: str, workdir: Path, pg_url: str) -> tuple[str, Callable[[], None]]:
    if name == "sqlite":
        (workdir / name).mkdir()
        return f"sqlite:///{workdir / name / 'polex.db'}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    return f"{pg_url}?options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/search.json"))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="polex-search-bench-") as tmp:
        workdir = Path(tmp)
        console.print(f"writing {args.persons:,} persons and {args.documents:,} documents")
        files = write_data(workdir, args.persons, args.documents, args.seed)
        console.print(f"{len(files['name_queries'])} name queries with ground truth")
        for name in args.backends.split(","):
            url, drop = backend_url(name, workdir, args.pg_url)
            try:
                console.print(f"{name}: loading")
                node, token = load(url, workdir / f"{name}-home", files)
                result = polex_runs(node, files)
                result["http_req_per_s"] = http_rate(
                    node.home, token, files["numbers"], args.clients, args.http_seconds
                )
                node.engine.dispose()
            finally:
                drop()
            rows.append({"engine": f"polex ({name})", **result})
        rows.append({"engine": "rapidfuzz brute force", **brute_force(files)})
        if "postgresql" in args.backends:
            rows.append({"engine": "PostgreSQL pg_trgm", **pg_trgm(args.pg_url, files)})

    table = Table(
        "engine",
        "id p50 ms",
        "id p99 ms",
        "HTTP req/s",
        "name p50 ms",
        "name p95 ms",
        "recall@10",
        "precision@1",
    )

    def cell(row: dict[str, Any], key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    for row in rows:
        table.add_row(
            row["engine"],
            cell(row, "id_p50_ms", ".2f"),
            cell(row, "id_p99_ms", ".2f"),
            cell(row, "http_req_per_s", ",.0f"),
            cell(row, "name_p50_ms", ".1f"),
            cell(row, "name_p95_ms", ".1f"),
            cell(row, "recall_at_10", ".3f"),
            cell(row, "precision_at_1", ".3f"),
        )
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "search",
                "command": " ".join(sys.argv),
                "machine": {
                    "cpus": multiprocessing.cpu_count(),
                    "python": platform.python_version(),
                },
                "persons": args.persons,
                "documents": args.documents,
                "results": rows,
                "median_name_p50_ms": statistics.median(
                    [r["name_p50_ms"] for r in rows if "name_p50_ms" in r]
                ),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
