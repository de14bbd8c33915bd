"""Batch cross-matching over a real node: synthetic persons imported for several agencies, the
model trained on them and saved as a version, planted cross-agency variants found as hits for
both owners, restricted sides, decisions, re-runs, the CLI and the model endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from polex.access.principal import Principal, Role
from polex.cli import app
from polex.demo.generate import generate_with_truth, owner_of
from polex.match import batch, crossmatch, hits, model_store
from polex.match.tables import hits as hits_table
from polex.model.envelope import Database
from polex.node import importer
from polex.node.home import Node
from polex.node.sources import open_source
from polex.store import agencies
from polex.store import records as store

SAME_PERSON = ("variant", "duplicate")
RECORDS = 1500
# fewer random pairs than a node draws (linkage.U_MAX_PAIRS): the same training, faster
U_PAIRS = 2e5


def import_for(node: Node, tmp_path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Import rows per owning agency (registered on the fly), as `polex import` would."""
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_owner.setdefault(owner_of(row), []).append(row)
    for owner, owned in by_owner.items():
        with node.engine.begin() as conn:
            if agencies.get(conn, owner) is None:
                agencies.add(conn, owner, f"Agency {owner}", owner[:2])
        path = tmp_path / f"{owner}-{len(list(tmp_path.iterdir()))}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in owned))
        options = importer.ImportOptions(
            database=Database.intelligence, agency=owner, actor=f"import:{owner}", partial=True
        )
        report = importer.import_rows(node.engine, open_source(path), options)
        assert report.committed


def planted(tmp_path: Path, node: Node) -> set[frozenset[str]]:
    """Import generated persons; return the planted same-person pairs between agencies."""
    rows, pairs = [], set()
    for kind, item in generate_with_truth(RECORDS, seed=3, databases={Database.intelligence}):
        if kind == "record" and item["schema"] == "Person":
            rows.append(item)
        elif kind == "truth" and item["kind"] in SAME_PERSON:
            ids = item["records"]
            pairs |= {frozenset((a, b)) for a in ids for b in ids if a < b}
    import_for(node, tmp_path / "data", rows)
    return pairs


def hit_pairs(node: Node) -> list[tuple[str, str, str, str]]:
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(hits_table.c.record_a, hits_table.c.record_b).where(
                hits_table.c.method == "batch"
            )
        ).all()
        loaded = store.get_many(conn, {r.record_a for r in rows} | {r.record_b for r in rows})
    return [
        (
            loaded[r.record_a].source_id,
            loaded[r.record_b].source_id,
            loaded[r.record_a].owner,
            loaded[r.record_b].owner,
        )
        for r in rows
    ]


def hit_count(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(hits_table)).scalar_one())


def officer(agency: str) -> Principal:
    return Principal(
        user_id=0,
        username="analyst",
        agency=agency,
        role=Role.officer,
        country=agency[:2],
        node="TEST-NODE",
    )


def person(sid: str, name: str, **envelope: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "schema": "Person",
        "properties": {
            "name": [name],
            "birthDate": ["1979-04-02"],
            "nationality": ["al"],
            "passportNumber": ["AL4471902"],
        },
        "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


def test_batch_finds_planted_variants_for_both_owners_and_never_twice(
    node: Node, data_dir: Path
) -> None:
    truth = planted(data_dir, node)
    first = batch.run(node.engine, node.name, u_max_pairs=U_PAIRS)
    assert first.trained and first.model_version == 1
    assert first.owners >= 5 and first.records > RECORDS * 0.8
    found = hit_pairs(node)
    assert all(owner_a != owner_b for _, _, owner_a, owner_b in found)
    pairs = {frozenset((a, b)) for a, b, _, _ in found}
    recall = len(pairs & truth) / len(truth)
    precision = len(pairs & truth) / len(pairs)
    assert recall >= 0.75, f"recall {recall:.3f}"
    assert precision >= 0.95, f"precision {precision:.3f}"
    # each hit is on both owners' lists, each side seeing its own record
    a, b, owner_a, owner_b = next(f for f in found if frozenset(f[:2]) in truth)
    with node.engine.begin() as conn:
        for owner, own in ((owner_a, a), (owner_b, b)):
            items, _ = hits.list_hits(conn, officer(owner), limit=500)
            mine = [h for h in items if own in {r.get("source_id") for r in h["records"]}]
            assert len(mine) >= 1 and mine[0]["method"] == "batch"
    # a re-run with the same model creates nothing; retraining adds a version, not duplicates
    count = hit_count(node)
    again = batch.run(node.engine, node.name)
    assert not again.trained and again.model_version == 1
    assert again.hits_created == 0 and again.hits_existing == first.pairs
    assert hit_count(node) == count
    retrained = batch.run(node.engine, node.name, train=True, u_max_pairs=U_PAIRS)
    assert retrained.trained and retrained.model_version == 2
    assert retrained.hits_existing >= count * 0.9
    assert hit_count(node) == count + retrained.hits_created
    with node.engine.connect() as conn:
        assert [v["version"] for v in model_store.versions(conn)] == [2, 1]
        saved = model_store.latest(conn)
    assert saved is not None and saved.trained_on == first.records
    params = model_store.parameters(saved)
    names = [c["name"] for c in params["comparisons"]]
    assert names[:2] == ["name", "birth"] and "identifiers" in names
    exact = params["comparisons"][0]["levels"][0]
    assert exact["weight"] is not None and exact["weight"] > 5
    assert saved.chart["data"]["values"] and "$schema" in saved.chart
    assert "<script" in model_store.chart_html(saved)


def test_batch_hits_restricted_sides_and_decisions(
    node: Node, data_dir: Path, client: TestClient, make_actor
) -> None:  # type: ignore[no-untyped-def]
    planted(data_dir, node)
    batch.run(node.engine, node.name, train=True, u_max_pairs=U_PAIRS)
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    sup = make_actor("sven", "DE-BKA", "supervisor", "DE")
    it = make_actor("luca", "IT-SCIP", "officer", "IT")
    secret = person("IT-SCIP-SECRET", "Arben Hoxha", restrictions={"allow_agencies": ["IT-SCIP"]})
    # imported, so only the batch (or the queue) matches them: the import queues, it never hits
    import_for(node, data_dir / "data", [secret, person("DE-BKA-HOXHA", "Hoxha, Arben")])
    listed = client.get("/api/v1/hits?limit=200", headers=de.headers).json()["items"]
    assert "DE-BKA-HOXHA" not in json.dumps(listed)
    report = batch.run(node.engine, node.name)
    assert report.hits_created >= 1
    mine = [
        h
        for h in client.get("/api/v1/hits?limit=200", headers=de.headers).json()["items"]
        if any(r.get("source_id") == "DE-BKA-HOXHA" for r in h["records"])
    ]
    assert len(mine) == 1
    hit = mine[0]
    assert hit["method"] == "batch" and hit["colour"] == "yellow" and hit["score"] >= 0.9
    assert any(e["feature"] == "identifiers" for e in hit["explanation"])
    theirs = [r for r in hit["records"] if r["owner"] == "IT-SCIP"][0]
    assert theirs == {
        "owner": "IT-SCIP",
        "node": "TEST-NODE",
        "restricted": True,
        "contact": "a record of agency IT-SCIP matches: contact them",
    }
    assert "IT-SCIP-SECRET" not in json.dumps(hit)
    own_view = [
        h
        for h in client.get("/api/v1/hits?limit=200", headers=it.headers).json()["items"]
        if h["id"] == hit["id"]
    ]
    assert all(not r["restricted"] for r in own_view[0]["records"])
    decided = client.post(
        f"/api/v1/hits/{hit['id']}/decision",
        json={"decision": "confirmed", "fraudulent": True, "comment": "one man, two passports"},
        headers=sup.headers,
    )
    assert decided.status_code == 200 and decided.json()["colour"] == "red"
    # a decided hit stays as decided when the batch runs again
    batch.run(node.engine, node.name)
    again = client.get(f"/api/v1/hits/{hit['id']}", headers=it.headers).json()
    assert again["colour"] == "red" and again["status"] == "confirmed"


def test_import_queues_and_a_drain_hits_both_owners(node: Node, data_dir: Path) -> None:
    import_for(
        node,
        data_dir / "data",
        [person("IT-SCIP-1", "Arben Hoxha"), person("DE-BKA-1", "Arben Hoxa")],
    )
    assert hit_count(node) == 0
    drained = CliRunner().invoke(app, ["crossmatch", "run"], env={"POLEX_HOME": str(node.home)})
    assert drained.exit_code == 0 and "2 records matched" in drained.output
    with node.engine.begin() as conn:
        for owner in ("DE-BKA", "IT-SCIP"):
            items, total = hits.list_hits(conn, officer(owner))
            assert total == 1 and items[0]["method"] == "realtime"
    assert crossmatch.drain(node.engine, node.name) == 0
    assert hit_count(node) == 1


def test_batch_with_one_agency_has_nothing_to_match(node: Node, data_dir: Path) -> None:
    import_for(node, data_dir / "data", [person("DE-BKA-1", "Arben Hoxha")])
    report = batch.run(node.engine, node.name)
    assert report.owners == 1 and report.pairs == 0 and report.model_version is None
    with pytest.raises(batch.BatchRefused, match="records: training needs"):
        batch.run(node.engine, node.name, train=True, u_max_pairs=U_PAIRS)


def test_cli_batch_model_and_endpoint(
    node: Node, data_dir: Path, client: TestClient, make_actor
) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"POLEX_HOME": str(node.home)}
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    assert client.get("/api/v1/crossmatch/model", headers=de.headers).status_code == 404
    none = runner.invoke(app, ["crossmatch", "model"], env=env)
    assert none.exit_code == 2 and "none trained yet" in none.output
    planted(data_dir, node)
    result = runner.invoke(
        app, ["crossmatch", "batch", "--train", "--random-pairs", "200000", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trained"] and report["model_version"] == 1 and report["hits_created"] > 0
    chart = data_dir / "weights.html"
    shown = runner.invoke(app, ["crossmatch", "model", "--html", str(chart)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "model v1" in shown.output and "same name" in shown.output
    assert "vega" in chart.read_text()
    body = client.get("/api/v1/crossmatch/model", headers=de.headers).json()
    assert body["version"] == 1 and body["versions"][0]["version"] == 1
    assert body["chart"]["data"]["values"]
    assert body["probability_two_random_records_match"] > 0
    assert client.get("/api/v1/crossmatch/model?version=9", headers=de.headers).status_code == 404
    page = client.get("/api/v1/crossmatch/model/chart", headers=de.headers)
    assert page.status_code == 200 and "<script" in page.text
    assert client.get("/api/v1/crossmatch/model").status_code == 401


def test_features_agree_across_scripts_orders_and_formats() -> None:
    """The columns the model compares come from the search engine's normalisers."""
    from polex.match.features import Entity, frame, row

    def columns(name: str, birth: str, passport: str) -> dict[str, Any]:
        props = {"name": [name], "birthDate": [birth], "passportNumber": [passport]}
        return row(Entity("r", "DE-BKA", "Person", props))

    cyrillic = columns("Сергей Иванов", "1978-03-14", "P-123 456")
    latin = columns("Ivanov, Sergei", "1978", "p123456")
    assert cyrillic["name"] == latin["name"] == "ivanov sergei"
    assert (cyrillic["name_first"], cyrillic["name_last"]) == ("sergei", "ivanov")
    # the Cyrillic name has the Latin one's keys, and those of г as h (Serhei) besides
    assert set(latin["name_keys"]) < set(cyrillic["name_keys"]) and cyrillic["name_pairs"]
    assert cyrillic["id_keys"] == latin["id_keys"] and latin["document"] == "P123456"
    assert (cyrillic["birth_date"], cyrillic["birth_day"]) == ("1978-03-14", "14")
    assert (latin["birth_date"], latin["birth_year"], latin["birth_month"]) == (None, "1978", None)
    empty = row(Entity("e", "DE-BKA", "Person", {}))
    assert all(empty[c] is None for c in empty if c not in ("unique_id", "owner"))
    table = frame([Entity(str(i), "DE-BKA", "Person", {"name": ["A B"]}) for i in range(5)], 2)
    assert table.num_rows == 5 and table.column("name").to_pylist() == ["a b"] * 5


def test_export_shared_among_processes_is_the_same_frame(node: Node, data_dir: Path) -> None:
    """A large node's export is read in id ranges by one process per core; the frame is the
    one a single process reads, row for row."""
    planted(data_dir, node)
    alone = batch.export(node.engine, workers=1)
    shared = batch.export(node.engine, workers=2)
    assert alone.num_rows > RECORDS * 0.8
    assert shared.equals(alone)
