"""`polex demo [--dir DIR] [--size small|medium|large] [--port PORT]` and `polex demo codes`.

``demo`` is a command group that runs when no subcommand is named, so the command the issue
names keeps working as it is and the codes live beside it, where a demo user looks for them."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from polex.cli.common import console, fail
from polex.demo import federation

demo_app = typer.Typer(invoke_without_command=True, subcommand_metavar="[codes ...]")
DirOpt = Annotated[Path, typer.Option("--dir", help="Where the demo lives.")]


class Size(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


def _logins_table(demo: federation.Demo) -> Table:
    table = Table("node", "user", "agency", "role", "password", "TOTP secret")
    for x in demo.logins:
        table.add_row(
            x["node"], x["username"], x["agency"], x["role"], x["password"], x["totp_secret"]
        )
    return table


@demo_app.callback()
def demo(
    ctx: typer.Context,
    directory: DirOpt = Path("demo-home"),
    size: Annotated[Size, typer.Option("--size", help="Records: small 2,000 … large 1M.")] = (
        Size.small
    ),
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=1,
            max=65_000,
            help="GLOBAL's web port; REGIONAL's is PORT+10, each node's federation port +1.",
        ),
    ] = federation.DEFAULT_PORT,
) -> None:
    """A global and a regional node with agencies, users and synthetic data, served locally
    until Ctrl-C; `polex demo codes` prints the users' current one-time codes."""
    if ctx.invoked_subcommand is not None:
        return
    started = time.monotonic()
    try:
        made = federation.prepare(directory, size.value, port, console.print)
    except federation.DemoError as exc:
        fail(str(exc))
    # wide enough that no password or secret is cut short, in a log as on a terminal
    out = Console(soft_wrap=True, width=max(Console().width, 120))
    out.print(_logins_table(made))
    out.print(
        f"Every user's password is {federation.PASSWORD}; the one-time codes: "
        f"polex demo codes --dir {directory} [--user NAME]. "
        f"Tokens for the API are in {directory / federation.LOGINS_FILE}; "
        "the walkthrough is docs/demo.md.",
        highlight=False,
    )
    try:
        federation.serve(made, out.print, started)
    except federation.DemoError as exc:
        fail(str(exc), 1)


@demo_app.command("codes")
def codes(
    directory: DirOpt = Path("demo-home"),
    user: Annotated[str | None, typer.Option("--user", help="Only this demo user.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The demo users' current one-time codes (what their authenticator app would show)."""
    try:
        found = federation.current_codes(federation.load(directory), user)
    except federation.DemoError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return
    table = Table("node", "user", "code", "valid for")
    for x in found:
        table.add_row(x["node"], x["username"], x["code"], f"{x['valid_seconds']} s")
    Console().print(table)
