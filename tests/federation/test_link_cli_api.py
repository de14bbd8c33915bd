"""`polex link offer|accept|share|status` through the real entry point, and GET /api/v1/links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from polex.cli import app
from polex.node.home import Node, init_node

runner = CliRunner()


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_operators_link_two_nodes_and_watch_the_link(
    node: Node, tmp_path: Path, client: TestClient, make_actor: Any
) -> None:
    other = init_node(tmp_path / "node-b", "NODE-B")
    home_a, home_b = str(node.home), str(other.home)
    offer_a = tmp_path / "a.link"
    offer_a.write_text(
        cli(
            "link",
            "offer",
            "--home",
            home_a,
            "--endpoint",
            "https://127.0.0.1:8401",
            "--share",
            "vehicles=full",
            "--share",
            "intelligence",
        ).stdout
    )
    offer_b = tmp_path / "b.link"
    offer_b.write_text(
        cli("link", "offer", "--home", home_b, "--endpoint", "https://10.0.0.2:9401").stdout
    )
    accepted = json.loads(cli("link", "accept", "--home", home_a, str(offer_b), "--json").stdout)
    assert accepted["node"] == "NODE-B" and accepted["endpoint"] == "https://10.0.0.2:9401"
    assert accepted["fingerprint"] == other.keys.certificate_fingerprint()
    assert accepted["ours"]["databases"] == {"vehicles": "full", "intelligence": "hit"}
    cli("link", "accept", "--home", home_b, str(offer_a))

    shared = json.loads(
        cli(
            "link", "share", "NODE-B", "--home", home_a, "--share", "all=hit", "--no-crossmatch"
        ).stdout
    )
    assert set(shared["ours"]["databases"].values()) == {"hit"}
    assert shared["ours"]["crossmatch"] is False

    status = json.loads(cli("link", "status", "--home", home_a, "--json").stdout)
    (link,) = status["links"]
    assert link["node"] == "NODE-B" and link["state"] == "unknown" and link["queue_depth"] == 0
    assert link["certificate_expires"] and status["certificate_expires"]
    assert "NODE-B" in cli("link", "status", "--home", home_a).stdout

    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    answer = client.get("/api/v1/links", headers=anna.headers)
    assert answer.status_code == 200
    assert [x["node"] for x in answer.json()["links"]] == ["NODE-B"]
    assert answer.json()["fingerprint"] == node.keys.certificate_fingerprint()
    assert client.get("/api/v1/links").status_code == 401
    other.engine.dispose()


def test_a_tampered_offer_file_is_refused(node: Node, tmp_path: Path) -> None:
    other = init_node(tmp_path / "node-b", "NODE-B")
    offer = json.loads(
        cli("link", "offer", "--home", str(other.home), "--endpoint", "https://h:1").stdout
    )
    offer["endpoint"] = "https://attacker:1"
    path = tmp_path / "b.link"
    path.write_text(json.dumps(offer))
    refused = runner.invoke(app, ["link", "accept", "--home", str(node.home), str(path)])
    assert refused.exit_code == 2 and "altered" in refused.output
    bad = runner.invoke(app, ["link", "offer", "--home", str(node.home), "--endpoint", "http://h"])
    assert bad.exit_code == 2 and "endpoint" in bad.output
    other.engine.dispose()
