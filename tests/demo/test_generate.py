"""The generator: deterministic, valid under polex's own rules, truthful, and streaming."""

from __future__ import annotations

import itertools
import json
import random
import tracemalloc
from collections import Counter
from pathlib import Path

from polex.demo import identifiers
from polex.demo.generate import generate, generate_with_truth, owner_of, write
from polex.model.envelope import Database
from polex.model.validation import validate_imo, validate_mrz, validate_vin
from polex.node.records import RecordInput, prepare


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = list(itertools.islice(generate(500, seed=7), 500))
    assert first == list(generate(500, seed=7))
    assert first != list(generate(500, seed=8))


def test_every_database_present_and_every_record_valid() -> None:
    databases: Counter[str] = Counter()
    for record in generate(2000, seed=3):
        databases[record["polex"]["database"]] += 1
        prepare(RecordInput(**record), owner=owner_of(record))  # raises when invalid
    assert set(databases) == {db.value for db in Database}


def test_identifiers_pass_their_check_digits() -> None:
    rng = random.Random(1)
    for _ in range(200):
        assert validate_vin(identifiers.vin(rng)).to_json() == {
            "valid": True,
            "errors": [],
            "warnings": [],
        }
        assert validate_imo(identifiers.imo(rng)).valid
    mrz = identifiers.mrz_td3("L898902C3", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415")
    assert validate_mrz(mrz).valid


def test_truth_names_records_that_exist() -> None:
    ids, truths = set(), []
    for kind, item in generate_with_truth(3000, seed=5):
        if kind == "record":
            ids.add(item["id"])
        else:
            truths.append(item)
    kinds = {t["kind"] for t in truths}
    assert {"variant", "network", "firearm_seized_twice"} <= kinds
    for truth in truths:
        assert set(truth["records"]) <= ids, truth


def test_write_splits_by_agency(tmp_path: Path) -> None:
    counts = write(tmp_path, 1000, seed=2)
    assert sum(counts.values()) == 1000
    for code, count in counts.items():
        lines = (tmp_path / f"{code}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == count
        assert all(json.loads(line)["id"].startswith(code) for line in lines)
    assert (tmp_path / "truth.jsonl").stat().st_size > 0


def test_memory_stays_flat_as_size_grows() -> None:
    def peak(size: int) -> int:
        tracemalloc.start()
        for _ in generate(size, seed=1):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    generate(10, seed=1)  # name pools are built once per process
    list(generate(100, seed=1))
    small, large = peak(5_000), peak(50_000)
    assert large < small * 1.5 + 1_000_000
