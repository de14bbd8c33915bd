"""The operator's account commands and a supervisor's review commands through `polex`."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from polex.access import accounts
from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.cli import app
from polex.node.home import Node

runner = CliRunner()


def polex(node: Node, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin, env={"POLEX_HOME": str(node.home)})


def audited(node: Node) -> list[tuple[str, str, str | None]]:
    with node.engine.begin() as conn:
        chain(conn)
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    return [(r.action, r.actor, r.target) for r in rows]


def test_user_add_prints_token_and_totp_secret_once(node: Node) -> None:
    assert polex(node, "agency", "add", "DE-BKA", "--name", "BKA", "--country", "DE").exit_code == 0
    added = polex(node, "user", "add", "anna", "--agency", "DE-BKA", "--role", "officer", "--json")
    assert added.exit_code == 0, added.output
    data = json.loads(added.stdout)
    assert data["token"].startswith("plx_") and len(data["totp_secret"]) >= 16
    action, actor, target = audited(node)[-1]
    assert (action, target) == ("admin.user_add", "anna") and actor.startswith("cli:")


def test_passwd_token_revoke_and_totp(node: Node, make_actor: Any) -> None:
    make_actor("anna", "DE-BKA", "officer", "DE")
    short = polex(node, "user", "passwd", "anna", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "password: at least 12 characters" in short.output
    ok = polex(node, "user", "passwd", "anna", "--password-stdin", stdin="a long enough secret\n")
    assert ok.exit_code == 0, ok.output
    issued = polex(node, "user", "token", "anna", "--scope", "search", "--days", "7", "--json")
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.stdout)["token"]
    with node.engine.begin() as conn:
        principal = accounts.authenticate(conn, token, node.name)
    assert principal is not None and principal.scopes == {"search"}
    bad_scope = polex(node, "user", "token", "anna", "--scope", "everything")
    assert bad_scope.exit_code == 2 and "scopes:" in bad_scope.output
    revoked = polex(node, "user", "revoke", "anna", "--kind", "api")
    assert revoked.exit_code == 0 and "2 tokens" in revoked.output
    with node.engine.begin() as conn:
        assert accounts.authenticate(conn, token, node.name) is None
    reset = polex(node, "user", "totp", "anna", "--json")
    assert reset.exit_code == 0 and json.loads(reset.stdout)["totp_uri"].startswith("otpauth://")
    actions = [a for a, _, t in audited(node) if t == "anna"]
    assert actions == [
        "account.password",
        "account.token_issue",
        "account.tokens_revoke",
        "account.totp_reset",
    ]


def test_review_through_the_cli(node: Node, make_actor: Any, client: Any) -> None:
    owner = make_actor("anna", "PL-KGP", "officer", "PL")
    make_actor("sam", "PL-KGP", "supervisor", "PL")
    body = {
        "id": "pl-1",
        "schema": "Person",
        "properties": {"name": ["Marek Nowak"], "birthDate": ["1981-02-03"]},
        "polex": {
            "database": "wanted_persons",
            "subject_category": "suspect",
            "notice_type": "red",
        },
    }
    rid = client.post("/api/v1/records", json=body, headers=owner.headers).json()["record_id"]
    listed = polex(node, "review", "list", "--user", "sam", "--json")
    assert listed.exit_code == 0, listed.output
    assert [i["record_id"] for i in json.loads(listed.stdout)] == [rid]
    refused = polex(
        node, "review", "approve", rid, "--user", "sam", "--legal-basis", "warrant 1/26"
    )
    assert refused.exit_code == 2 and "review.identifiers_checked" in refused.output
    officer = polex(node, "review", "list", "--user", "anna")
    assert officer.exit_code == 2 and "supervisor" in officer.output
    approved = polex(
        node,
        "review",
        "approve",
        rid,
        "--user",
        "sam",
        "--legal-basis",
        "warrant 1/26",
        "--identifiers-checked",
        "--article3-clear",
    )
    assert approved.exit_code == 0, approved.output
    assert polex(node, "review", "list", "--user", "sam", "--json").stdout.strip() == "[]"
    unit = polex(node, "review", "unit", "PL-KGP", "--json")
    assert unit.exit_code == 0 and json.loads(unit.stdout) == ["PL-KGP"]
    purged = polex(node, "review", "purge", rid, "--user", "sam", "--reason", "arrested")
    assert purged.exit_code == 0, purged.output
    gone = polex(node, "review", "purge", rid, "--user", "sam", "--reason", "again")
    assert gone.exit_code == 1
