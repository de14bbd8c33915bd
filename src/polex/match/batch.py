"""Batch cross-matching of a whole database (or of everything an import brought): the node's
records as comparable columns, the trained model's predictions, and a hit for both owners of
each pair of different owners it scores at or above the review probability.

The real-time path matches one record as it is written; this one re-reads everything at once,
so it finds what the real-time path could not (the second record of a pair arrived when the
first was not yet there, a model retrained on more data) and learns the node's own data.
Hits go through ``record_hits``, the bulk form of the real-time path's ``record_hit``: one
per pair whichever path found it first, restricted sides handled there, and a re-run creates
nothing twice. Hits are written in chunks, each in its own transaction (a few statements per
thousand pairs), so a run stopped half way leaves whole chunks and the next run completes
them."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, create_engine, make_url

from polex.audit import log as audit
from polex.match import features, linkage, model_store
from polex.match.hits import Match, record_hits
from polex.store import records as store
from polex.store.db import make_engine

DEFAULT_SCHEMATA = ("Person",)
# Bumped when the comparable columns change: a model trained on other columns is retrained.
FEATURES_VERSION = 2
ACTOR = "system:crossmatch-batch"
# Records above which the export is shared among one process per core.
PARALLEL_FROM = 50_000


class BatchRefused(ValueError):
    """The batch cannot run: nothing to compare, or no model to compare with."""


@dataclass
class BatchReport:
    records: int = 0
    owners: int = 0
    pairs: int = 0
    hits_created: int = 0
    hits_existing: int = 0
    model_version: int | None = None
    trained: bool = False
    seconds: float = 0.0
    # wall seconds of each phase: export, train, predict, hits
    phases: dict[str, float] = field(default_factory=dict)

    def lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + now - since, 2)
        return now

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _entities(
    engine: Engine,
    schemata: Sequence[str],
    database: str | None,
    start: str = "",
    stop: str | None = None,
) -> Iterator[features.Entity]:
    with engine.connect() as conn:
        found = store.scan_properties(
            conn, schemata=schemata, database=database, start=start, stop=stop
        )
        for entity in found:
            yield features.Entity(*entity)


def _reader(url: str) -> Engine:
    """An engine that only reads. On SQLite, without the node engine's ``BEGIN IMMEDIATE``
    (which takes the write lock at every BEGIN, so parallel readers would queue behind one
    another); WAL lets any number of them read beside a writer."""
    if make_url(url).get_backend_name() == "sqlite":
        return create_engine(url, connect_args={"timeout": 30})
    return make_engine(url)


def _shard(
    url: str, schemata: Sequence[str], database: str | None, start: str, stop: str | None
) -> pa.Table:
    """One id range of the export, in a worker process with its own connection."""
    engine = _reader(url)
    try:
        return features.frame(_entities(engine, schemata, database, start, stop))
    finally:
        engine.dispose()


def _bounds(shards: int) -> list[tuple[str, str | None]]:
    """Id ranges covering every string: record ids are ``r`` and hex digits of a hash, so
    ranges on the first digit are about equal."""
    cuts = [f"r{(i * 16) // shards:x}" for i in range(1, shards)]
    return list(zip(["", *cuts], [*cuts, None], strict=True))


def _workers(engine: Engine, records: int) -> int:
    """Processes to derive the columns with: one per core for a large export of a database
    other processes can open; at or below ``PARALLEL_FROM`` records starting them costs more
    than it saves."""
    url = engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if in_memory or records <= PARALLEL_FROM:
        return 1
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 16)


def export(
    engine: Engine,
    schemata: Sequence[str] = DEFAULT_SCHEMATA,
    database: str | None = None,
    workers: int | None = None,
) -> pa.Table:
    """The node's live records of these schemata as comparable columns, in id order.

    Deriving the columns (latinising names, their phonetic keys, identifier keys) is Python,
    one core's work per record: a large export is read in id ranges by ``workers`` processes
    (default: one per core when there are more than ``PARALLEL_FROM`` records)."""
    if workers is None:
        with engine.connect() as conn:
            workers = _workers(engine, store.count_live(conn, schemata=schemata, database=database))
    if workers <= 1:
        return features.frame(_entities(engine, schemata, database))
    url = engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        parts = [
            pool.submit(_shard, url, list(schemata), database, start, stop)
            for start, stop in _bounds(2 * workers)
        ]
        return pa.concat_tables([part.result() for part in parts])


def _scope(schemata: Sequence[str], database: str | None) -> dict[str, Any]:
    return {"schemata": sorted(schemata), "database": database, "features": FEATURES_VERSION}


def _train(
    engine: Engine,
    linker: Any,
    table: pa.Table,
    scope: dict[str, Any],
    actor: str,
    u_max_pairs: float,
) -> model_store.Model:
    started = time.perf_counter()
    metrics = linkage.train(linker, u_max_pairs=u_max_pairs)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    with engine.begin() as conn:
        return model_store.save(
            conn,
            linkage.model_dict(linker),
            trained_on=table.num_rows,
            scope=scope,
            metrics=metrics,
            actor=actor,
        )


def run(
    engine: Engine,
    node: str,
    *,
    schemata: Sequence[str] = DEFAULT_SCHEMATA,
    database: str | None = None,
    train: bool = False,
    threshold: float = linkage.REVIEW_PROBABILITY,
    actor: str = ACTOR,
    db_api: Any = None,
    u_max_pairs: float = linkage.U_MAX_PAIRS,
) -> BatchReport:
    """Cross-match every live record of ``schemata`` (in ``database``, else all databases).

    Trains and saves a new model version when asked, or when none fits the current columns;
    otherwise predicts with the latest one. ``db_api`` is the Splink backend (DuckDB in memory
    by default; a ``SparkAPI`` for a node that outgrows one machine); ``u_max_pairs`` is how
    many random pairs training draws to learn what chance agreement looks like."""
    started = time.perf_counter()
    table = export(engine, schemata, database)
    report = BatchReport(records=table.num_rows)
    lap = report.lap("export", started)
    report.owners = len(set(table.column("owner").to_pylist()))
    if report.owners < 2:
        if train:
            raise BatchRefused("records: training needs records of at least two agencies")
        report.seconds = round(time.perf_counter() - started, 2)
        return report
    if db_api is None:
        from splink import DuckDBAPI

        db_api = DuckDBAPI()
    scope = _scope(schemata, database)
    with engine.connect() as conn:
        model = model_store.latest(conn)
    if train or model is None or model.scope.get("features") != FEATURES_VERSION:
        linker = linkage.linker(db_api, table)
        model, report.trained = _train(engine, linker, table, scope, actor, u_max_pairs), True
        lap = report.lap("train", lap)
    else:
        linker = linkage.linker(db_api, table, model.settings)
    report.model_version = model.version
    predictions = linkage.predict(linker, threshold)
    lap = report.lap("predict", lap)
    for chunk in linkage.pairs(linker, predictions, model.settings):
        lap = report.lap("predict", lap)
        created, existing = _write_hits(engine, node, chunk)
        lap = report.lap("hits", lap)
        report.pairs += len(chunk)
        report.hits_created += created
        report.hits_existing += existing
    report.seconds = round(time.perf_counter() - started, 2)
    with engine.begin() as conn:
        audit.append(
            conn,
            actor=actor,
            action="crossmatch.batch",
            details={**report.to_json(), **scope, "threshold": threshold},
        )
    return report


def _write_hits(engine: Engine, node: str, chunk: Sequence[linkage.Pair]) -> tuple[int, int]:
    with engine.begin() as conn:
        loaded = store.get_many(conn, {p.left for p in chunk} | {p.right for p in chunk})
        matches = []
        for pair in chunk:
            left, right = loaded.get(pair.left), loaded.get(pair.right)
            if left is None or right is None or left.deleted or right.deleted:
                continue  # changed since the export; the next run sees it as it is now
            if left.owner == right.owner:
                continue
            matches.append(Match(left, right, round(pair.probability, 4), pair.features))
        written = record_hits(conn, matches, "batch", node)
    created = sum(hit.created for hit in written)
    return created, len(written) - created
