"""The DPO's view of the trail through the API and the CLI: entries, the four reports as JSON
and CSV, who may see them (only the DPO; the admin verifies the chain), and that reading the
trail is itself audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from polex.audit import log
from polex.audit.tables import audit_head, audit_log
from polex.audit.verify import verify
from polex.cli import app
from polex.node.home import Node

PURPOSE = "checking a traveller at the border"


def person(sid: str, name: str, **envelope: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "schema": "Person",
        "properties": {"name": [name], "birthDate": ["1980-01-01"]},
        "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
    }


def backdated(node: Node, entries: list[tuple[datetime, str, str]]) -> None:
    """Entries made before the test (ts, actor, action), chained as the node chains them —
    the trail of past weeks the reports look back on."""
    with node.engine.begin() as conn:
        head = conn.execute(select(audit_head)).first()
        seq, prev = (head.seq, head.hash) if head else (0, log.GENESIS)
        rows = []
        for ts, actor, action in sorted(entries):
            seq += 1
            digest = log.entry_hash(seq, ts, actor, "DE-BKA", action, None, PURPOSE, None, {}, prev)
            rows.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "actor": actor,
                    "agency": "DE-BKA",
                    "action": action,
                    "target": None,
                    "purpose": PURPOSE,
                    "case_ref": None,
                    "details": {},
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        conn.execute(insert(audit_log), rows)
        if head is None:
            conn.execute(insert(audit_head).values(id=1, seq=seq, hash=prev))
        else:
            conn.execute(update(audit_head).values(seq=seq, hash=prev))


def test_only_the_dpo_reads_the_trail_and_the_reading_is_audited(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    admin = make_actor("root", "DE-BKA", "admin", "DE")
    dpo = make_actor("dora", "DE-BKA", "dpo", "DE")
    for actor in (officer, admin):
        for url in ("/api/v1/audit/entries", "/api/v1/audit/reports/accesses"):
            refused = client.get(url, headers=actor.headers)
            assert refused.status_code == 403 and refused.json()["detail"][0]["field"] == "role"
    assert client.get("/api/v1/audit/verify", headers=officer.headers).status_code == 403
    verified = client.get("/api/v1/audit/verify", headers=admin.headers)
    assert verified.status_code == 200 and verified.json()["ok"] is True
    listed = client.get("/api/v1/audit/entries", headers=dpo.headers).json()
    assert [e["action"] for e in listed["items"]] == ["audit.verify"]
    again = client.get("/api/v1/audit/entries", params={"action": "audit."}, headers=dpo.headers)
    assert [e["action"] for e in again.json()["items"]] == ["audit.verify", "audit.read"]


def test_entries_filter_and_page(client: TestClient, make_actor: Any, node: Node) -> None:
    officer = make_actor("anna", "DE-BKA", "officer", "DE")
    dpo = make_actor("dora", "DE-BKA", "dpo", "DE")
    rid = client.post(
        "/api/v1/records", json=person("p1", "Zhang Wei"), headers=officer.headers
    ).json()["record_id"]
    for _ in range(3):
        client.get(f"/api/v1/records/{rid}", params={"purpose": PURPOSE}, headers=officer.headers)
    params = {"actor": "anna@DE-BKA", "action": "record.", "limit": 2}
    first = client.get("/api/v1/audit/entries", params=params, headers=dpo.headers).json()
    assert [e["action"] for e in first["items"]] == ["record.create", "record.read"]
    assert first["items"][1]["purpose"] == PURPOSE and first["items"][1]["target"] == rid
    rest = client.get(
        "/api/v1/audit/entries",
        params={**params, "after_seq": first["next_after_seq"]},
        headers=dpo.headers,
    ).json()
    assert [e["action"] for e in rest["items"]] == ["record.read", "record.read"]
    by_target = client.get(
        "/api/v1/audit/entries", params={"target": rid, "limit": 10}, headers=dpo.headers
    )
    assert len(by_target.json()["items"]) == 4


def test_accesses_and_searches_without_case(
    client: TestClient, make_actor: Any, node: Node
) -> None:
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    luca = make_actor("luca", "IT-DCSA", "analyst", "IT")
    dpo = make_actor("dora", "DE-BKA", "dpo", "DE")
    client.post("/api/v1/records", json=person("p1", "Arben Hoxha"), headers=luca.headers)
    for actor, case in ((anna, None), (anna, "OP-7"), (luca, None)):
        answer = client.post(
            "/api/v1/search",
            json={"q": "Arben Hoxha", "purpose": PURPOSE, "case_ref": case},
            headers=actor.headers,
        )
        assert answer.status_code == 200
    report = client.get("/api/v1/audit/reports/accesses", headers=dpo.headers).json()
    counts = {(r["agency"], r["actor"], r["action"]): r["count"] for r in report["rows"]}
    assert counts[("DE-BKA", "anna@DE-BKA", "search")] == 2
    assert counts[("IT-DCSA", "luca@IT-DCSA", "search")] == 1
    assert counts[("IT-DCSA", "luca@IT-DCSA", "record.create")] == 1
    no_case = client.get("/api/v1/audit/reports/searches_without_case", headers=dpo.headers).json()
    assert sorted((r["actor"], r["hits"]) for r in no_case["rows"]) == [
        ("anna@DE-BKA", 1),
        ("luca@IT-DCSA", 1),
    ]
    as_csv = client.get(
        "/api/v1/audit/reports/searches_without_case", params={"format": "csv"}, headers=dpo.headers
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["purpose"] for r in rows] == [PURPOSE, PURPOSE]
    assert set(rows[0]) == {"seq", "ts", "agency", "actor", "purpose", "hits"}
    unknown = client.get("/api/v1/audit/reports/gossip", headers=dpo.headers)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "kind"
    reports = client.get(
        "/api/v1/audit/entries", params={"action": "audit.report"}, headers=dpo.headers
    )
    # the refused request for an unknown kind read nothing and is not an entry
    assert [e["target"] for e in reports.json()["items"]] == [
        "accesses",
        "searches_without_case",
        "searches_without_case",
    ]


def test_anomalous_users_against_their_own_baseline(node: Node) -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    entries = []
    for day in range(28):
        ts = since - timedelta(days=28 - day) + timedelta(hours=9)
        entries += [(ts + timedelta(minutes=i), "quiet@DE-BKA", "search") for i in range(2)]
        entries += [(ts + timedelta(minutes=i), "busy@DE-BKA", "search") for i in range(20)]
    spike = since + timedelta(days=3, hours=10)
    entries += [(spike + timedelta(seconds=i), "quiet@DE-BKA", "search") for i in range(12)]
    entries += [(spike + timedelta(seconds=i), "busy@DE-BKA", "search") for i in range(22)]
    entries += [(spike + timedelta(seconds=i), "quiet@DE-BKA", "record.read") for i in range(40)]
    backdated(node, entries)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["audit", "report", "anomalous_users", "--since", "2026-03-01", "--until", "2026-03-08"],
        env={"POLEX_HOME": str(node.home)},
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert rows == [
        {
            "agency": "DE-BKA",
            "actor": "quiet@DE-BKA",
            "day": "2026-03-04",
            "searches": 12,
            "baseline_mean": 2.0,
            "baseline_std": 0.0,
            "threshold": 5.0,
        }
    ]
    with node.engine.begin() as conn:
        assert verify(conn).ok


def test_due_for_review_report_in_csv(client: TestClient, make_actor: Any, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    soon = (datetime.now(UTC) + timedelta(days=10)).date()
    client.post(
        "/api/v1/records",
        json=person("old", "Old Case", review_at="2021-01-01"),
        headers=anna.headers,
    )
    client.post(
        "/api/v1/records",
        json=person("soon", "Soon Due", review_at=soon.isoformat()),
        headers=anna.headers,
    )
    client.post("/api/v1/records", json=person("later", "Much Later"), headers=anna.headers)
    out = node.home / "due.csv"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "report",
            "due_for_review",
            "--until",
            (soon + timedelta(days=1)).isoformat(),
            "--format",
            "csv",
            "-o",
            str(out),
        ],
        env={"POLEX_HOME": str(node.home)},
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["review_at"], r["overdue"]) for r in rows] == [
        ("2021-01-01", "True"),
        (soon.isoformat(), "False"),
    ]
