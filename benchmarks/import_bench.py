"""Bulk import throughput and memory: N synthetic persons into SQLite and PostgreSQL.

The file is written first (not timed). Each backend's import then runs in a fresh process, so
its peak RSS is its own; the timed run is the one `polex import` makes (same reader, same
transaction, the same worker processes checking rows), without tracemalloc. Peak RSS is given
for the importing process and for the largest of its workers. CPU seconds (the importing
process and its workers together) are given beside wall time: on a shared machine records per
CPU-second say what the code costs, records per second also what the machine had to spare.
A second, untimed run into a fresh database measures the peak of Python allocations (of the
importing process) with tracemalloc, which slows Python too much to time alongside.

    .venv/bin/python benchmarks/import_bench.py --records 100000 --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AGENCY = "DE-BKA"


def write_file(path: Path, records: int, seed: int) -> None:
    from polex.demo.generate import persons

    with path.open("w", encoding="utf-8") as fh:
        for row in persons(records, seed):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the import's worker processes):
    on a machine shared with other work, records per CPU-second say more than wall time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _import(url: str, home: Path, file: Path, database: str, trace: bool) -> dict[str, Any]:
    """One import into a fresh node, in this (fresh) process."""
    from polex.model.envelope import Database
    from polex.node import importer
    from polex.node.home import init_node
    from polex.node.sources import open_source
    from polex.store import agencies

    node = init_node(home, "BENCH", url)
    with node.engine.begin() as conn:
        agencies.add(conn, AGENCY, "Bundeskriminalamt", "DE")
        actor = importer.import_actor(conn, node.name, AGENCY, None)
    # --partial: a generated row the rules refuse is reported, not a reason to roll back (and
    # so time) nothing
    options = importer.ImportOptions(
        database=Database(database), agency=AGENCY, actor=actor, partial=True
    )
    if trace:
        tracemalloc.start()
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    report = importer.import_rows(node.engine, open_source(file), options)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    node.engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "imported": report.imported,
        "rejected": report.rejected,
        "rejects": [r.to_json() for r in report.rejects],
        "committed": report.committed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "peak_tracemalloc_mb": traced / 2**20,
    }


def _in_fresh_process(*args: Any) -> dict[str, Any]:
    # not a multiprocessing.Pool: its daemonic processes may not start the import's workers
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_import, *args).result()


class _Backend:
    """A fresh, empty database per run: a SQLite file, or a PostgreSQL schema of its own."""

    def __init__(self, name: str, workdir: Path, pg_url: str) -> None:
        self.name = name
        self.workdir = workdir
        self.pg_url = pg_url
        self.schemas: list[str] = []

    def url(self, run: str) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{self.workdir / run / 'polex.db'}"
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with create_engine(self.pg_url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        return f"{self.pg_url}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        if self.schemas:
            with create_engine(self.pg_url).begin() as conn:
                for schema in self.schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    console = Console(stderr=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="polex-import-bench-") as tmp:
        workdir = Path(tmp)
        file = workdir / "persons.jsonl"
        console.print(f"writing {args.records:,} persons to {file} (not timed)")
        write_file(file, args.records, args.seed)
        for name in args.backends.split(","):
            backend = _Backend(name, workdir, args.pg_url)
            try:
                console.print(f"{name}: importing")
                timed = _in_fresh_process(
                    backend.url(f"{name}-timed"),
                    workdir / f"{name}-timed",
                    file,
                    args.database,
                    False,
                )
                traced = {"peak_tracemalloc_mb": None}
                if not args.no_tracemalloc:
                    console.print(f"{name}: importing again under tracemalloc")
                    traced = _in_fresh_process(
                        backend.url(f"{name}-traced"),
                        workdir / f"{name}-traced",
                        file,
                        args.database,
                        True,
                    )
            finally:
                backend.drop()
            results.append(
                {
                    "backend": name,
                    "records": args.records,
                    "file_mb": file.stat().st_size / 2**20,
                    "imported": timed["imported"],
                    "rejected": timed["rejected"],
                    "rejects": timed["rejects"],
                    "committed": timed["committed"],
                    "seconds": timed["seconds"],
                    "records_per_s": args.records / timed["seconds"],
                    "cpu_seconds": timed["cpu_seconds"],
                    "records_per_cpu_s": args.records / timed["cpu_seconds"],
                    "peak_rss_mb": timed["peak_rss_mb"],
                    "worker_peak_rss_mb": timed["worker_peak_rss_mb"],
                    "peak_tracemalloc_mb": traced["peak_tracemalloc_mb"],
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database", default="intelligence", help="polex database to import to")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced run")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/import.json"))
    args = parser.parse_args()
    results = run(args)

    table = Table(
        "backend",
        "records",
        "imported",
        "rejected",
        "seconds",
        "records/s",
        "CPU s",
        "records/CPU-s",
        "peak RSS MB",
        "worker RSS MB",
        "tracemalloc MB",
    )
    for r in results:
        traced = r["peak_tracemalloc_mb"]
        table.add_row(
            r["backend"],
            f"{r['records']:,}",
            f"{r['imported']:,}",
            f"{r['rejected']:,}",
            f"{r['seconds']:.1f}",
            f"{r['records_per_s']:,.0f}",
            f"{r['cpu_seconds']:.1f}",
            f"{r['records_per_cpu_s']:,.0f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['worker_peak_rss_mb']:.0f}",
            "-" if traced is None else f"{traced:.1f}",
        )
    Console(width=160).print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "import",
                "command": " ".join(sys.argv),
                "machine": {
                    "cpus": multiprocessing.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_at_end": os.getloadavg(),
                },
                "results": results,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
