"""`polex message` and `polex workspace` through the real console entry point, as named users."""

from __future__ import annotations

import json

from sqlalchemy import select, update
from typer.testing import CliRunner

from polex.cli import app
from polex.messaging.tables import messages
from polex.node.home import Node

runner = CliRunner()


def test_send_list_read_ack(node: Node, make_actor, tmp_path) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    env = {"POLEX_HOME": str(node.home)}
    sent = runner.invoke(
        app,
        [
            "message", "send", "--from", "DE-BKA", "--to", "FR-DCPJ", "--to", "NL-KLPD@NCB-NL",
            "--subject", "Red notice 2026/114", "--body", "Subject travelling to **Lyon**.",
            "--priority", "immediate", "--handling", "H2", "--user", "anna", "--json",
        ],
        env=env,
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    message = json.loads(sent.stdout)
    assert message["to"] == ["FR-DCPJ@TEST-NODE", "NL-KLPD@NCB-NL"]
    assert {d["recipient"]: d["state"] for d in message["deliveries"]} == {
        "FR-DCPJ@TEST-NODE": "delivered",
        "NL-KLPD@NCB-NL": "queued",
    }

    inbox = runner.invoke(
        app,
        ["message", "list", "--agency", "FR-DCPJ", "--box", "inbox", "--json"],
        env={**env, "POLEX_USER": "pierre"},
    )
    assert inbox.exit_code == 0, inbox.output
    (line,) = json.loads(inbox.stdout)
    assert {k: line[k] for k in ("id", "subject", "from", "to", "state")} == {
        "id": message["id"],
        "subject": "Red notice 2026/114",
        "from": "DE-BKA@TEST-NODE",
        "to": ["FR-DCPJ@TEST-NODE", "NL-KLPD@NCB-NL"],
        "state": "delivered",
    }

    read = runner.invoke(app, ["message", "read", message["id"], "--user", "pierre"], env=env)
    assert read.exit_code == 0, read.output
    assert "Subject travelling to **Lyon**." in read.stdout
    ack = runner.invoke(app, ["message", "ack", message["id"], "--user", "pierre"], env=env)
    assert ack.exit_code == 0, ack.output
    outbox = runner.invoke(
        app,
        ["message", "list", "--agency", "DE-BKA", "--box", "outbox", "--json", "--user", "anna"],
        env=env,
    )
    # one recipient acknowledged, the remote one still waits for the relay
    assert json.loads(outbox.stdout)[0]["state"] == "queued"

    forward = runner.invoke(
        app, ["message", "forward", message["id"], "--to", "DE-BKA", "--user", "pierre"], env=env
    )
    assert forward.exit_code == 1 and "H2" in forward.output


def test_the_sender_must_belong_to_the_from_agency(node: Node, make_actor) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    env = {"POLEX_HOME": str(node.home)}
    args = ["message", "send", "--to", "DE-BKA", "--subject", "s", "--body", "b"]
    wrong = runner.invoke(app, [*args, "--from", "FR-DCPJ", "--user", "anna"], env=env)
    assert wrong.exit_code == 2 and "from: user anna belongs to DE-BKA" in wrong.output
    unknown = runner.invoke(app, [*args, "--from", "DE-BKA", "--user", "nobody"], env=env)
    assert unknown.exit_code == 2 and "user: nobody" in unknown.output
    bad_to = runner.invoke(
        app,
        [*args[:2], "--to", "XX-NONE", *args[4:], "--from", "DE-BKA", "--user", "anna"],
        env=env,
    )
    assert bad_to.exit_code == 2 and "to: agency XX-NONE" in bad_to.output
    other_box = runner.invoke(
        app, ["message", "list", "--agency", "FR-DCPJ", "--user", "anna"], env=env
    )
    assert other_box.exit_code == 2


def test_tampered_message_is_refused_on_the_cli(node: Node, make_actor) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    env = {"POLEX_HOME": str(node.home), "POLEX_USER": "anna"}
    sent = runner.invoke(
        app,
        ["message", "send", "--from", "DE-BKA", "--to", "FR-DCPJ", "--subject", "s", "--body", "b"],
        env=env,
    )
    mid = sent.stdout.strip()
    with node.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == mid).values(priority="urgent"))
        assert conn.execute(select(messages.c.priority)).scalar_one() == "urgent"
    read = runner.invoke(app, ["message", "read", mid], env=env)
    assert read.exit_code == 1
    assert f"message {mid} failed its integrity check: signature invalid" in read.output


def test_workspace_commands(node: Node, make_actor) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    env = {"POLEX_HOME": str(node.home)}
    created = runner.invoke(
        app,
        [
            "workspace",
            "create",
            "Operation Rhine",
            "--case-ref",
            "OP-R",
            "--user",
            "anna",
            "--json",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    wid = json.loads(created.stdout)["id"]
    invited = runner.invoke(app, ["workspace", "invite", wid, "FR-DCPJ", "--user", "anna"], env=env)
    assert invited.exit_code == 0, invited.output
    listed = runner.invoke(app, ["workspace", "list", "--user", "pierre", "--json"], env=env)
    assert [w["id"] for w in json.loads(listed.stdout)] == [wid]
    shown = runner.invoke(app, ["workspace", "show", wid, "--user", "pierre", "--json"], env=env)
    assert json.loads(shown.stdout)["members"] == ["DE-BKA@TEST-NODE", "FR-DCPJ@TEST-NODE"]
    outsider = runner.invoke(
        app, ["workspace", "invite", wid, "DE-BKA", "--user", "pierre"], env=env
    )
    assert outsider.exit_code == 1


def test_send_with_an_attachment_and_a_body_from_stdin(node: Node, make_actor, tmp_path) -> None:
    make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    photo = tmp_path / "plate.jpg"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a PNG, whatever the name says
    sent = runner.invoke(
        app,
        [
            "message", "send", "--from", "DE-BKA", "--to", "FR-DCPJ", "--subject", "Photo",
            "--body", "-", "--attach", str(photo), "--user", "anna", "--json",
        ],
        input="Plate seen **twice**.\n",
        env={"POLEX_HOME": str(node.home)},
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    data = json.loads(sent.stdout)
    assert data["body"] == "Plate seen **twice**.\n"
    (attached,) = data["attachments"]
    assert attached["filename"] == "plate.jpg" and attached["content_type"] == "image/png"
