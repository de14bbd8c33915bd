"""The operator's commands through the real console entry point (Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polex.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> Path:
    home = tmp_path / "node"
    result = runner.invoke(
        app, ["init", str(home), "--name", "NCB-DE", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    return home


def test_init_creates_config_keys_and_refuses_twice(home: Path) -> None:
    assert (home / "polex.toml").exists()
    for key in ("signing.pem", "data.key", "ca.pem", "node.pem", "node.key"):
        assert (home / "keys" / key).exists()
    assert (home / "keys" / "data.key").stat().st_mode & 0o077 == 0
    again = runner.invoke(app, ["init", str(home), "--name", "NCB-DE"])
    assert again.exit_code == 2
    assert "already holds a polex node" in again.output


def test_agency_and_user_add_with_json_token(home: Path) -> None:
    env = {"POLEX_HOME": str(home)}
    added = runner.invoke(
        app, ["agency", "add", "DE-BKA", "--name", "BKA", "--country", "DE"], env=env
    )
    assert added.exit_code == 0, added.output
    bad_country = runner.invoke(
        app, ["agency", "add", "XX-1", "--name", "X", "--country", "ZZ"], env=env
    )
    assert bad_country.exit_code == 2
    user = runner.invoke(
        app, ["user", "add", "anna", "--agency", "DE-BKA", "--role", "officer", "--json"], env=env
    )
    assert user.exit_code == 0, user.output
    data = json.loads(user.stdout)
    assert data["token"].startswith("plx_")
    assert data["agency"] == "DE-BKA"
    bad_role = runner.invoke(
        app, ["user", "add", "bob", "--agency", "DE-BKA", "--role", "king"], env=env
    )
    assert bad_role.exit_code == 2
    assert "role" in bad_role.output


def test_commands_need_a_home(tmp_path: Path) -> None:
    result = runner.invoke(app, ["agency", "list"], env={"POLEX_HOME": ""})
    assert result.exit_code == 2
    assert "POLEX_HOME" in result.output


@pytest.mark.parametrize(
    ("kind", "value", "exit_code"),
    [
        ("vin", "1M8GDM9AXKP042788", 0),
        ("vin", "1M8GDM9AYKP042788", 1),
        ("imo", "9074729", 0),
        ("imo", "9074728", 1),
        ("country", "FR", 0),
        ("country", "ZZ", 1),
        (
            "mrz",
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\\n"
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
            0,
        ),
        (
            "mrz",
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\\n"
            "L898902C37UTO7408122F1204159ZE184226B<<<<<10",
            1,
        ),
    ],
)
def test_validate_prints_json_and_exit_code(kind: str, value: str, exit_code: int) -> None:
    result = runner.invoke(app, ["validate", kind, value])
    assert result.exit_code == exit_code, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is (exit_code == 0)
    assert set(data) == {"valid", "errors", "warnings"}
    if exit_code:
        assert data["errors"] and all(e["rule"] for e in data["errors"])
