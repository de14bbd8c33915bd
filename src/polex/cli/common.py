"""What every `polex` command group shares: where errors go, how a node is found, JSON out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from polex.node.home import Node, NodeError, open_node

console = Console(stderr=True, soft_wrap=True)  # errors stay on one greppable line

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="POLEX_HOME", help="Node home directory ($POLEX_HOME)."),
]
UserOpt = Annotated[
    str,
    typer.Option("--user", envvar="POLEX_USER", help="Act as this user ($POLEX_USER)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop with the message (its text taken literally, never as markup) and the exit code."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def node_at(home: Path | None) -> Node:
    try:
        return open_node(home)
    except NodeError as exc:
        fail(str(exc))


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
