"""`polex demo` refusing what it cannot use, before it builds or serves anything (the running
demo itself is tested end to end in tests/e2e/test_demo_e2e.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from polex.cli import app

runner = CliRunner()


def test_an_unfinished_demo_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / "regional").mkdir()
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path), "--port", "18400"])
    assert result.exit_code == 2
    assert "holds an unfinished demo (REGIONAL but no logins.json)" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regional"]


def test_size_and_port_are_checked(tmp_path: Path) -> None:
    size = runner.invoke(app, ["demo", "--dir", str(tmp_path), "--size", "huge"])
    assert size.exit_code == 2 and "--size" in size.output
    port = runner.invoke(app, ["demo", "--dir", str(tmp_path), "--port", "65530"])
    assert port.exit_code == 2 and "--port" in port.output
    assert list(tmp_path.iterdir()) == []


def test_codes_need_a_demo(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "codes", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no demo (run `polex demo` first)" in result.output


def test_a_logins_file_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logins.json").write_text('[{"username": "de-bka.officer"}]', encoding="utf-8")
    result = runner.invoke(app, ["demo", "codes", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not this version's" in result.output
