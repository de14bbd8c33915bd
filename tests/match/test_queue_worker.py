"""An import's records become hits for both owners with no one running `polex crossmatch run`:
the server application drains the match queue in the background of every worker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polex.api import server
from polex.match.tables import match_queue
from polex.model.envelope import Database
from polex.node import importer
from polex.node.home import Node
from polex.node.sources import open_source


def suspect(sid: str, name: str) -> dict[str, object]:
    return {
        "id": sid,
        "schema": "Person",
        "properties": {"name": [name], "birthDate": ["1979-04-02"], "nationality": ["al"]},
        "polex": {"database": "intelligence", "subject_category": "suspect"},
    }


def test_a_served_node_turns_an_import_into_hits_for_both_owners(
    node: Node, make_actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    monkeypatch.setenv("POLEX_HOME", str(node.home))
    rows = [suspect("it-9", "Arben Hoxha")]
    path = tmp_path / "it.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with TestClient(server.app()) as client:
        created = client.post(
            "/api/v1/records", json=suspect("de-9", "Arben Hoxa"), headers=de.headers
        )
        assert created.status_code == 201, created.text
        with node.engine.begin() as conn:
            actor = importer.import_actor(conn, node.name, "IT-DCSA", None)
        options = importer.ImportOptions(
            database=Database.intelligence, agency="IT-DCSA", actor=actor
        )
        assert importer.import_rows(node.engine, open_source(path), options).imported == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = client.get("/api/v1/hits", headers=it.headers).json()["items"]
            if items:
                break
            time.sleep(0.2)
        for actor in (de, it):
            found = client.get("/api/v1/hits", headers=actor.headers).json()["items"]
            assert [{r["source_id"] for r in h["records"]} for h in found] == [{"de-9", "it-9"}]
    with node.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(match_queue)).scalar_one() == 0
