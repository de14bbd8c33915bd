"""The node's home directory: HOME/polex.toml (name, database URL) and HOME/keys."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from polex.node.keys import Keystore
from polex.store.db import create_schema, make_engine

CONFIG_FILE = "polex.toml"


class NodeError(Exception):
    """A node home that is missing, incomplete or already exists."""


@dataclass(frozen=True)
class NodeConfig:
    name: str
    database_url: str


@dataclass
class Node:
    """An opened node: configuration, keys and a database engine, shared by API, web and CLI."""

    home: Path
    config: NodeConfig

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def keys(self) -> Keystore:
        return Keystore(self.home / "keys")

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)


def _write_config(home: Path, config: NodeConfig) -> None:
    # json.dumps gives TOML-compatible quoted strings
    text = f"name = {json.dumps(config.name)}\ndatabase_url = {json.dumps(config.database_url)}\n"
    (home / CONFIG_FILE).write_text(text, encoding="utf-8")


def init_node(home: Path, name: str, database_url: str | None = None) -> Node:
    """Create a node: configuration, keys and the database schema."""
    home = home.resolve()
    if (home / CONFIG_FILE).exists():
        raise NodeError(f"{home} already holds a polex node")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise NodeError("node name: letters, digits, '-' and '_' only")
    home.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{home / 'polex.db'}"
    config = NodeConfig(name=name, database_url=url)
    Keystore(home / "keys").create(name)
    _write_config(home, config)
    node = Node(home=home, config=config)
    create_schema(node.engine)
    return node


def open_node(home: Path | str | None = None) -> Node:
    """Open the node at HOME (or $POLEX_HOME)."""
    home = home or os.environ.get("POLEX_HOME")
    if not home:
        raise NodeError("no node home given: pass --home or set POLEX_HOME")
    path = Path(home).resolve()
    try:
        data = tomllib.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NodeError(f"{path} is not a polex node (run `polex init` first)") from exc
    return Node(home=path, config=NodeConfig(name=data["name"], database_url=data["database_url"]))
