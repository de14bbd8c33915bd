"""kill -9 of a real `polex import` half-way through a file: the database is exactly as it was
before the import, and the next import runs as if nothing had happened."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from polex.audit.log import chain
from polex.audit.tables import audit_head, audit_log
from polex.match.tables import match_queue
from polex.node.home import Node
from polex.search.tables import record_keys
from polex.store import agencies
from polex.store.tables import record_versions, records

POLEX = str(Path(sys.executable).parent / "polex")
ROWS = 16_000


def state(node: Node) -> dict[str, object]:
    with node.engine.begin() as conn:
        chain(conn)
        found: dict[str, object] = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (records, record_versions, record_keys, audit_log, match_queue)
        }
        found["audit_head"] = tuple(conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one())
        found["versions"] = conn.execute(select(func.max(records.c.version))).scalar_one()
    return found


def write_persons(path: Path, count: int, name: str) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            row = {
                "id": f"p-{i}",
                "schema": "Person",
                "properties": {
                    "name": [f"{name} {i}"],
                    "birthDate": [f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}"],
                    "nationality": ["de"],
                },
            }
            fh.write(json.dumps(row) + "\n")
    return path


def polex_import(node: Node, file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [POLEX, "import", str(file), "--database", "intelligence", "--agency", "DE-BKA",
         "--subject-category", "suspect"],
        env={**os.environ, "POLEX_HOME": str(node.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip


def test_kill_9_half_way_leaves_the_database_exactly_as_before(node: Node, tmp_path: Path) -> None:
    with node.engine.begin() as conn:
        agencies.add(conn, "DE-BKA", "Bundeskriminalamt", "DE")
    small = write_persons(tmp_path / "small.jsonl", 50, "Anna Schmidt")
    first = polex_import(node, small)
    assert first.wait(120) == 0, first.stderr.read() if first.stderr else ""
    before = state(node)
    assert before["records"] == 50

    # the first file's ids with new names, and new ids: updates and inserts are both in flight
    big = write_persons(tmp_path / "big.jsonl", ROWS, "Anna Schmidt-Weber")
    proc = polex_import(node, big)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        found = re.match(r"progress: (\d+)%", line)
        if found and int(found.group(1)) >= 50:
            break
    assert proc.poll() is None, "".join(seen)  # still importing: the kill comes half-way
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(60) == -signal.SIGKILL
    assert state(node) == before

    again = polex_import(node, small)
    assert again.wait(120) == 0, again.stderr.read() if again.stderr else ""
    after = state(node)
    assert after["records"] == before["records"]
    assert after["audit_log"] == before["audit_log"] + 1
