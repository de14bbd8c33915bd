"""Bulk import end to end through `polex import`: JSON Lines and CSV, all or nothing, --partial,
idempotent re-import, and the per-row error report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.cli import app
from polex.match.tables import match_queue
from polex.model.envelope import Database
from polex.node import importer
from polex.node import records as service
from polex.node.home import Node
from polex.node.sources import JsonlReader
from polex.search import index
from polex.search.tables import record_keys
from polex.store import agencies
from polex.store import records as store
from polex.store.tables import record_versions, records

runner = CliRunner()


def person(source_id: str, name: str = "Sergei Ivanov", **envelope: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": source_id,
        "schema": "Person",
        "properties": {"name": [name], "birthDate": ["1980-05-17"], "nationality": ["ru"]},
    }
    if envelope:
        row["polex"] = envelope
    return row


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def counts(node: Node) -> dict[str, int]:
    with node.engine.begin() as conn:
        chain(conn)
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (records, record_versions, record_keys, audit_log, match_queue)
        }


@pytest.fixture
def bka(node: Node) -> str:
    with node.engine.begin() as conn:
        agencies.add(conn, "DE-BKA", "Bundeskriminalamt", "DE")
    return "DE-BKA"


def polex_import(node: Node, *args: str) -> Any:
    return runner.invoke(app, ["import", *args], env={"POLEX_HOME": str(node.home)})


def by_source(node: Node, source_id: str, database: str = "intelligence") -> Any:
    with node.engine.connect() as conn:
        return store.get(conn, store.record_id("DE-BKA", database, source_id))


def test_jsonl_import_stores_records_versions_keys_and_one_audit_entry(
    node: Node, bka: str, tmp_path: Path
) -> None:
    file = write_jsonl(
        tmp_path / "persons.jsonl",
        [
            person("p-1"),
            "",
            person("p-2", "Олена Коваленко", handling="H2", case_ref="BKA-17"),
            {**person("p-3", "Jean Dupont"), "caption": "Jean Dupont", "datasets": ["x"]},
        ],
    )
    result = polex_import(
        node,
        str(file),
        "--database",
        "intelligence",
        "--agency",
        "de-bka",
        "--handling",
        "H1",
        "--subject-category",
        "suspect",
        "--reliability",
        "B",
        "--accuracy",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["unchanged"], summary["rejected"]) == (3, 0, 0)
    assert summary["committed"] is True

    first, second = by_source(node, "p-1"), by_source(node, "p-2")
    assert first.envelope.handling.value == "H1"  # the flag's default
    assert second.envelope.handling.value == "H2"  # the row's own envelope wins
    assert second.envelope.case_ref == "BKA-17"
    assert (first.envelope.reliability.value, first.envelope.accuracy.value) == ("B", "2")
    assert first.envelope.subject_category is not None
    assert first.envelope.owner == "DE-BKA"
    assert second.properties["name"] == ["Олена Коваленко"]

    with node.engine.begin() as conn:
        chain(conn)
        versions = store.history(conn, first.id)
        keyed = conn.execute(
            select(func.count(func.distinct(record_keys.c.record_id)))
        ).scalar_one()
        entries = conn.execute(select(audit_log).where(audit_log.c.action == "record.import"))
        entry = entries.one()
    assert [(v.version, v.actor) for v in versions] == [(1, "import:DE-BKA")]
    assert versions[0].reason == "imported from persons.jsonl"
    assert keyed == 3
    assert counts(node)["match_queue"] == 3  # cross-matched after the import, not during it
    assert entry.actor == "import:DE-BKA"
    assert entry.details["sha256"] == summary["sha256"]
    assert entry.details["imported"] == 3


def test_reimport_is_idempotent_and_a_changed_row_gets_a_new_version(
    node: Node, bka: str, tmp_path: Path
) -> None:
    rows = [person(f"p-{i}", subject_category="suspect") for i in range(5)]
    file = write_jsonl(tmp_path / "persons.jsonl", rows)
    args = [str(file), "--database", "intelligence", "--agency", "DE-BKA", "--json"]
    assert polex_import(node, *args).exit_code == 0
    before = counts(node)

    again = polex_import(node, *args)
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert (summary["imported"], summary["updated"], summary["unchanged"]) == (0, 0, 5)
    after = counts(node)
    assert after["records"] == before["records"] == 5
    assert after["record_versions"] == before["record_versions"] == 5
    assert after["record_keys"] == before["record_keys"]
    assert after["audit_log"] == before["audit_log"] + 1  # the re-import itself is audited

    rows[2] = person("p-2", "Jean Dupont", subject_category="suspect")
    rows[4] = person("p-4", subject_category="suspect", handling="H3")
    write_jsonl(file, [*rows, person("p-new", subject_category="suspect")])
    changed = polex_import(node, *args)
    summary = json.loads(changed.stdout)
    assert (summary["imported"], summary["updated"], summary["unchanged"]) == (1, 2, 3)
    renamed = by_source(node, "p-2")
    assert renamed.version == 2
    assert renamed.properties["name"] == ["Jean Dupont"]
    assert by_source(node, "p-4").envelope.handling.value == "H3"
    assert by_source(node, "p-1").version == 1
    with node.engine.connect() as conn:
        history = store.history(conn, renamed.id)
        keys = conn.execute(
            select(record_keys.c.kind, record_keys.c.key).where(
                record_keys.c.record_id == renamed.id
            )
        ).all()
    assert [v.version for v in history] == [1, 2]
    assert history[0].snapshot["properties"]["name"] == ["Sergei Ivanov"]
    # the index follows the new version
    old = replace(renamed, properties=history[0].snapshot["properties"])
    assert {tuple(k) for k in keys} == {(kind, key) for _, kind, key in index.key_rows([renamed])}
    assert {tuple(k) for k in keys} != {(kind, key) for _, kind, key in index.key_rows([old])}


def test_csv_with_mapping(node: Node, bka: str, tmp_path: Path) -> None:
    mapping = tmp_path / "register.yaml"
    mapping.write_text(
        """
schema: Person
id: [office, number]
properties:
  firstName: first_name
  lastName: last_name
  name: {columns: [first_name, last_name], join: " "}
  nationality: {column: nationalities, split: ";"}
  birthDate: dob
polex:
  subject_category: category
  restrictions.deny_countries: {column: not_for, split: ";"}
  restrictions.conditions: conditions
constants:
  properties:
    notes: "From the register"
  polex:
    provenance: Register export
    handling: H2
""",
        encoding="utf-8",
    )
    csv_file = tmp_path / "register.csv"
    csv_file.write_text(
        "\ufeffoffice,number,first_name,last_name,nationalities,dob,category,not_for,conditions\n"
        "WI,17,Anna,Schmidt,de;at,1975-03-02,suspect,,\n"
        'WI,18,"Jean ""JJ""",Dupont,fr,1981,victim,RU; BY,Ask BKA first\n',
        encoding="utf-8",
    )
    result = polex_import(
        node,
        str(csv_file),
        "--mapping",
        str(mapping),
        "--database",
        "intelligence",
        "--agency",
        "DE-BKA",
        "--handling",
        "H0",
    )
    assert result.exit_code == 0, result.output
    anna = by_source(node, "WI:17")
    assert anna.properties["name"] == ["Anna Schmidt"]
    assert sorted(anna.properties["nationality"]) == ["at", "de"]
    assert anna.properties["notes"] == ["From the register"]
    assert anna.envelope.handling.value == "H2"  # the mapping's constant beats the flag
    assert anna.envelope.provenance == "Register export"
    assert anna.envelope.restrictions.deny_countries == []
    jean = by_source(node, "WI:18")
    assert jean.properties["firstName"] == ['Jean "JJ"']
    assert jean.envelope.subject_category is not None
    assert jean.envelope.subject_category.value == "victim"
    assert jean.envelope.restrictions.deny_countries == ["BY", "RU"]
    assert jean.envelope.restrictions.conditions == "Ask BKA first"


def test_csv_mapping_problems_stop_the_import_before_any_row(
    node: Node, bka: str, tmp_path: Path
) -> None:
    csv_file = tmp_path / "register.csv"
    csv_file.write_text("nr,name\n1,Anna\n", encoding="utf-8")
    cases = {
        "schema: Person\nid: nr\nproperties: {name: nom}\n": "columns not in the CSV header: nom",
        "schema: Person\nid: nr\nproperties: {colour: name}\n": "properties.colour",
        "schema: Persona\nid: nr\n": "schema: Persona is not an FtM schema",
        "schema: Person\nid: nr\npolex: {owner: name}\n": "polex.owner",
        "schema: Person\nid: nr\nextra: 1\n": "extra",
        "schema: Person\nid: nr\ncsv: {encoding: utf-16}\n": "utf-16",
    }
    for text, message in cases.items():
        mapping = tmp_path / "m.yaml"
        mapping.write_text(text, encoding="utf-8")
        result = polex_import(
            node, str(csv_file), "--mapping", str(mapping), "--database", "intelligence",
            "--agency", "DE-BKA",
        )  # fmt: skip
        assert result.exit_code == 2, (text, result.output)
        assert message in " ".join(result.output.split()), (text, result.output)
    assert counts(node)["records"] == 0


def bad_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            person("ok-1", subject_category="suspect"),  # line 1
            "{not json",  # line 2
            person("ok-2", handling="H9", subject_category="suspect"),  # line 3
            {**person("ok-3", subject_category="suspect"), "id": None},  # line 4
            person("ok-1", "Someone Else", subject_category="suspect"),  # line 5: duplicate
            person("ok-4", subject_category="suspect", database="vehicles"),  # line 6
            person("ok-5"),  # line 7: a person needs a data-subject category
            person("ok-6", subject_category="suspect"),  # line 8
        ],
    )


EXPECTED = {
    2: ("line", "json.syntax"),
    3: ("polex.handling", "input.enum"),
    4: ("id", "import.id_required"),
    5: ("id", "import.duplicate"),
    6: ("polex.database", "import.database"),
}


def test_a_bad_row_rejects_the_whole_file_and_names_line_field_and_rule(
    node: Node, bka: str, tmp_path: Path
) -> None:
    file = bad_file(tmp_path)
    rejects = tmp_path / "rejects.jsonl"
    result = polex_import(
        node, str(file), "--database", "intelligence", "--agency", "DE-BKA",
        "--rejects", str(rejects), "--json",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert set(counts(node).values()) == {0}
    summary = json.loads(result.stdout)
    assert (summary["committed"], summary["rows"], summary["rejected"]) == (False, 8, 6)
    assert summary["imported"] == 0
    for line, (field, rule) in EXPECTED.items():
        assert f"line {line}: {field} [{rule}]" in result.output
    assert "line 5: id [import.duplicate] id: ok-1 is already used on line 1" in result.output
    assert "line 7: " in result.output and "subject_category" in result.output
    assert "nothing imported" in result.output

    written = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert [w["line"] for w in written] == [2, 3, 4, 5, 6, 7]
    assert written[1]["row"]["polex"]["handling"] == "H9"  # the row as the file held it
    assert written[0]["row"] == "{not json"
    assert all(w["errors"] and {"field", "rule", "message"} <= set(w["errors"][0]) for w in written)


def test_partial_keeps_the_good_rows_and_writes_the_rejects_file(
    node: Node, bka: str, tmp_path: Path
) -> None:
    file = bad_file(tmp_path)
    result = polex_import(
        node, str(file), "--database", "intelligence", "--agency", "DE-BKA", "--partial", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["rejected"], summary["committed"]) == (2, 6, True)
    assert counts(node)["records"] == 2
    assert by_source(node, "ok-1").properties["name"] == ["Sergei Ivanov"]  # the first line won
    rejects = tmp_path / "mixed.jsonl.rejects.jsonl"
    written = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert [w["line"] for w in written] == [2, 3, 4, 5, 6, 7]
    with node.engine.begin() as conn:
        chain(conn)
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "record.import")).one()
    assert (entry.details["rejected"], entry.details["partial"]) == (6, True)


def test_duplicates_across_batches_and_progress(node: Node, bka: str, tmp_path: Path) -> None:
    rows = [person(f"p-{i}", subject_category="suspect") for i in range(7)]
    rows.append(person("p-1", subject_category="suspect"))
    file = write_jsonl(tmp_path / "persons.jsonl", rows)
    reader = JsonlReader(file)
    options = importer.ImportOptions(
        database=Database.intelligence,
        agency="DE-BKA",
        actor="import:DE-BKA",
        partial=True,
        batch_size=3,
    )
    positions: list[int] = []
    refused: list[importer.Rejected] = []
    report = importer.import_rows(
        node.engine, reader, options, on_progress=positions.append, on_reject=refused.append
    )
    assert (report.imported, report.rejected, report.rows) == (7, 1, 8)
    assert [(r.line, r.errors[0].rule) for r in refused] == [(8, "import.duplicate")]
    assert "line 2" in refused[0].errors[0].message
    assert len(positions) == 3
    assert positions == sorted(positions)
    assert positions[-1] == file.stat().st_size


def test_a_deleted_record_is_not_revived_and_review_starts_again(
    node: Node, make_actor, tmp_path: Path
) -> None:
    officer = make_actor("anna", "DE-BKA")
    file = write_jsonl(
        tmp_path / "wanted.jsonl",
        [person(f"w-{i}", subject_category="suspect", notice_type="red") for i in (1, 2)],
    )
    args = [str(file), "--database", "wanted_persons", "--agency", "DE-BKA", "--user", "anna"]
    assert polex_import(node, *args).exit_code == 0
    first = by_source(node, "w-1", "wanted_persons")
    assert first.envelope.status.value == "pending"  # a reviewed database
    assert by_source(node, "w-1", "wanted_persons").version == 1
    with node.engine.begin() as conn:
        assert store.history(conn, first.id)[0].actor == "anna@DE-BKA"
        service.delete(conn, officer.principal, first.id, "court order")
        conn.execute(update(records).where(records.c.id != first.id).values(status="approved"))

    write_jsonl(
        file,
        [
            person(f"w-{i}", "Sergei Ivanoff", subject_category="suspect", notice_type="red")
            for i in (1, 2)
        ],
    )
    result = polex_import(node, *args, "--partial")
    assert result.exit_code == 0, result.output
    assert "line 1: id [import.deleted]" in result.output
    assert by_source(node, "w-1", "wanted_persons").deleted
    changed = by_source(node, "w-2", "wanted_persons")
    assert (changed.version, changed.envelope.status.value) == (2, "pending")


def test_the_import_needs_a_known_agency_and_a_writer_of_it(
    node: Node, make_actor, tmp_path: Path
) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    make_actor("dora", "DE-BKA", "dpo")
    file = write_jsonl(tmp_path / "p.jsonl", [person("p-1", subject_category="suspect")])
    base = [str(file), "--database", "intelligence"]
    for extra, message in [
        (["--agency", "XX-NONE"], "agency: XX-NONE is not an agency of this node"),
        (["--agency", "DE-BKA", "--user", "pierre"], "belongs to FR-DCPJ"),
        (["--agency", "DE-BKA", "--user", "dora"], "does not write records"),
        (["--agency", "DE-BKA", "--user", "nobody"], "nobody"),
    ]:
        result = polex_import(node, *base, *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output
    missing = polex_import(node, str(tmp_path / "nope.jsonl"), "--database", "intelligence",
                           "--agency", "DE-BKA")  # fmt: skip
    assert missing.exit_code == 2
    assert counts(node)["records"] == 0


def test_csv_rows_with_reader_problems_are_reported_by_line(
    node: Node, bka: str, tmp_path: Path
) -> None:
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps({"schema": "Person", "id": "nr", "properties": {"name": "name"}}),
        encoding="utf-8",
    )
    csv_file = tmp_path / "p.csv"
    csv_file.write_bytes(b'nr,name\n1,"Anna\nSchmidt"\n2,Bob,extra\n3,J\xfcrgen\n\n4,Dora\n')
    result = polex_import(
        node, str(csv_file), "--mapping", str(mapping), "--database", "intelligence",
        "--agency", "DE-BKA", "--subject-category", "suspect", "--partial", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2
    assert [(r["line"], r["errors"][0]["rule"]) for r in summary["rejects"]] == [
        (4, "csv.columns"),
        (5, "encoding.invalid"),
    ]
    assert summary["rejects"][1]["row"]["name"] == "J\ufffdrgen"
    assert by_source(node, "1").properties["name"] == ["Anna Schmidt"]  # a quoted line break


def test_worker_processes_check_the_rows_and_the_result_is_the_same(
    node: Node, bka: str, tmp_path: Path
) -> None:
    """A large file is checked by worker processes: the records, versions, keys, rejects and
    re-import decisions are those of a file checked in the importing process."""
    rows: list[Any] = [
        person(f"p-{i}", f"Anna Schmidt {i}", subject_category="suspect") for i in range(9)
    ]
    rows[4] = person("p-1", subject_category="suspect")  # duplicate of line 2
    rows[6] = "{not json"
    file = write_jsonl(tmp_path / "persons.jsonl", rows)

    def run(workers: int) -> tuple[importer.ImportReport, list[importer.Rejected]]:
        options = importer.ImportOptions(
            database=Database.intelligence,
            agency="DE-BKA",
            actor="import:DE-BKA",
            partial=True,
            batch_size=2,
            workers=workers,
        )
        refused: list[importer.Rejected] = []
        report = importer.import_rows(
            node.engine, JsonlReader(file), options, on_reject=refused.append
        )
        return report, refused

    report, refused = run(2)
    assert (report.rows, report.imported, report.rejected) == (9, 7, 2)
    assert [(r.line, r.errors[0].rule) for r in refused] == [
        (5, "import.duplicate"),
        (7, "json.syntax"),
    ]
    assert refused[0].raw == rows[4]
    with node.engine.connect() as conn:
        stored = store.get_many(
            conn, [store.record_id("DE-BKA", "intelligence", f"p-{i}") for i in range(9)]
        )
        keys = conn.execute(
            select(record_keys.c.record_id, record_keys.c.kind, record_keys.c.key)
        ).all()
        versions = conn.execute(
            select(record_versions.c.record_id, record_versions.c.snapshot)
        ).all()
    assert len(stored) == 7
    assert sorted(tuple(k) for k in keys) == sorted(index.key_rows(list(stored.values())))
    assert {v.record_id: v.snapshot for v in versions} == {
        r.id: store.snapshot(r) for r in stored.values()
    }
    assert counts(node)["match_queue"] == 7

    rows[3] = person("p-3", "Jean Dupont", subject_category="suspect")
    write_jsonl(file, rows)
    report, refused = run(2)
    assert (report.imported, report.updated, report.unchanged, report.rejected) == (0, 1, 6, 2)
    assert by_source(node, "p-3").version == 2


def test_the_imports_connection_with_its_large_page_cache_is_closed_not_pooled(
    node: Node, bka: str, tmp_path: Path
) -> None:
    """A connection whose page cache grew for an import stays slower for everything after it,
    so the import closes it rather than hand it back to the pool."""
    if node.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's page cache")
    from sqlalchemy import event

    from polex.node.sources import open_source

    with node.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # the pool now holds one connection
    checked_out: list[Any] = []
    closed: list[Any] = []
    listen = [("checkout", lambda dbapi, *_: checked_out.append(dbapi))]
    listen.append(("invalidate", lambda dbapi, *_: closed.append(dbapi)))
    for name, fn in listen:
        event.listen(node.engine, name, fn)
    options = importer.ImportOptions(
        database=Database.intelligence,
        agency=bka,
        actor="import:DE-BKA",
        defaults={"subject_category": "suspect"},
    )
    file = write_jsonl(tmp_path / "persons.jsonl", [person("p-1"), person("p-2", "Jean Dupont")])
    report = importer.import_rows(node.engine, open_source(file), options)
    for name, fn in listen:
        event.remove(node.engine, name, fn)
    assert report.committed and report.imported == 2
    (used,) = checked_out
    assert closed == [used]
    with node.engine.connect() as conn:
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        assert conn.connection.dbapi_connection is not used
    assert cache == -2000
    assert by_source(node, "p-2").properties["name"] == ["Jean Dupont"]
