"""`polex demo`: a global and a regional node with national agencies, users and synthetic data.

One data set is generated over the agencies of both nodes and each agency's file goes to its
own node, so the planted stories (one man under three spellings, a network whose members two
organisations know, a wanted person on another country's stolen passport) cross organisations
the way they do in life. Re-running reuses what exists."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from polex.access import accounts
from polex.demo.generate import Agency, write_split
from polex.federation.agreement import accept_offer, make_offer
from polex.match.crossmatch import drain
from polex.model.envelope import Database
from polex.node import importer
from polex.node.home import Node, init_node, open_node
from polex.node.sources import open_source
from polex.store import agencies as agency_store

SIZES = {"small": 2_000, "medium": 50_000, "large": 1_000_000}
ROLES_OF_FIRST_AGENCY = ("supervisor", "analyst", "dpo", "admin")


@dataclass(frozen=True)
class DemoNode:
    name: str
    port: int
    agencies: tuple[Agency, ...]


NODES = (
    DemoNode(
        "GLOBAL",
        8400,
        (
            Agency("IP-GS", "General Secretariat", "FR"),
            Agency("US-FBI", "Federal Bureau of Investigation", "US"),
            Agency("NG-NPF", "Nigeria Police Force", "NG"),
            Agency("CN-MPS", "Ministry of Public Security", "CN"),
            Agency("EG-NCB", "NCB Cairo", "EG"),
            Agency("TR-EGM", "Emniyet Genel Müdürlüğü", "TR"),
        ),
    ),
    DemoNode(
        "REGIONAL",
        8410,
        (
            Agency("DE-BKA", "Bundeskriminalamt", "DE"),
            Agency("FR-OCRGDF", "Office central de lutte contre le crime organisé", "FR"),
            Agency("IT-DCSA", "Direzione Centrale per i Servizi Antidroga", "IT"),
            Agency("ES-CNP", "Cuerpo Nacional de Policía", "ES"),
            Agency("UA-NPU", "National Police of Ukraine", "UA"),
        ),
    ),
)


def _users(node: Node, spec: DemoNode) -> list[dict[str, Any]]:
    logins = []
    with node.engine.begin() as conn:
        for agency in spec.agencies:
            agency_store.add(conn, agency.code, agency.name, agency.country)
            roles = (
                ("officer", *ROLES_OF_FIRST_AGENCY) if agency == spec.agencies[0] else ("officer",)
            )
            for role in roles:
                username = f"{agency.code.lower()}.{role}"
                new = accounts.add_user(conn, username, agency.code, role)
                logins.append(
                    {
                        "node": spec.name,
                        "username": username,
                        "agency": agency.code,
                        "role": role,
                        "token": new.token,
                    }
                )
    return logins


def _load(node: Node, spec: DemoNode, data: Path, say: Callable[[str], None]) -> None:
    """Import each agency's file per database, then cross-match everything imported."""
    for agency in spec.agencies:
        for part in sorted(data.glob(f"{agency.code}.*.jsonl")):
            database = Database(part.name.split(".")[1])
            with node.engine.begin() as conn:
                actor = importer.import_actor(conn, node.name, agency.code, None)
            options = importer.ImportOptions(database=database, agency=agency.code, actor=actor)
            report = importer.import_rows(node.engine, open_source(part), options)
            say(f"{spec.name}: {agency.code} {database.value}: {report.imported} records")
    drain(node.engine, node.name)


def _link(nodes: list[Node], say: Callable[[str], None]) -> None:
    """Each node offers a link on its federation port (--port + 1); the other accepts it."""
    offers = {
        node.name: json.dumps(make_offer(node, f"https://127.0.0.1:{spec.port + 1}"))
        for node, spec in zip(nodes, NODES, strict=True)
    }
    for node in nodes:
        for partner, offer in offers.items():
            if partner != node.name:
                with node.engine.begin() as conn:
                    accept_offer(conn, node.name, offer, "demo")
                say(f"{node.name}: linked to {partner}")


def prepare(directory: Path, size: str, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Create and load the demo nodes unless they exist; returns every login."""
    logins_file = directory / "logins.json"
    if logins_file.exists():
        say(f"reusing the demo in {directory}")
        return list(json.loads(logins_file.read_text(encoding="utf-8")))
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    every_agency = [a for spec in NODES for a in spec.agencies]
    say(f"generating {SIZES[size]:,} records")
    write_split(data, SIZES[size], seed=2026, agencies=every_agency)
    logins: list[dict[str, Any]] = []
    nodes = []
    for spec in NODES:
        node = init_node(directory / spec.name.lower(), spec.name)
        logins += _users(node, spec)
        _load(node, spec, data, say)
        nodes.append(node)
    _link(nodes, say)
    for node in nodes:
        node.engine.dispose()
    logins_file.write_text(json.dumps(logins, indent=2) + "\n", encoding="utf-8")
    return logins


def serve(directory: Path, say: Callable[[str], None]) -> None:
    """Run both nodes until Ctrl-C, then stop them cleanly."""
    processes = []
    for spec in NODES:
        node = open_node(directory / spec.name.lower())
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "polex",
                    "serve",
                    "--home",
                    str(node.home),
                    "--port",
                    str(spec.port),
                ],
            )
        )
    try:
        for spec in NODES:
            url = f"http://127.0.0.1:{spec.port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            say(f"{spec.name}: {url}/  (API {url}/api/v1, docs {url}/api/docs)")
        say("Ctrl-C stops both nodes")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            p.send_signal(signal.SIGINT)
        for p in processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
