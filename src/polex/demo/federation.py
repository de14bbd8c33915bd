"""`polex demo`: a global and a regional node with national agencies, users and synthetic data.

One data set is generated over the agencies of both nodes and each agency's file goes to its
own node, so the planted stories (one man under three spellings, a network whose members two
organisations know, a wanted person on another country's stolen passport) cross organisations
the way they do in life. Re-running reuses what exists: its logins, with the same passwords
and TOTP secrets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from polex.access import accounts, review, totp
from polex.demo.generate import Agency, write_split
from polex.federation.agreement import accept_offer, make_offer
from polex.match.crossmatch import drain
from polex.model.envelope import Database
from polex.node import importer
from polex.node.home import Node, init_node, open_node
from polex.node.sources import open_source
from polex.store import agencies as agency_store

SIZES = {"small": 2_000, "medium": 50_000, "large": 1_000_000}
SEED = 2026
DEFAULT_PORT = 8400
# One password for every demo user, so a walkthrough can say it; the second factor is what
# tells the users apart (each has a TOTP secret of its own). Never a real deployment's habit.
PASSWORD = "polex-demo-password"
ROLES = ("officer", "supervisor")
ROLES_OF_FIRST_AGENCY = ("analyst", "dpo", "admin")
LOGINS_FILE = "logins.json"
STARTUP_SECONDS = 120
STOP_SECONDS = 20


class DemoError(Exception):
    """A demo directory that cannot be used as it is, or a node that did not start."""


@dataclass(frozen=True)
class DemoNode:
    name: str
    offset: int  # its web port is the base --port plus this; its federation port one more
    agencies: tuple[Agency, ...]

    def port(self, base: int) -> int:
        return base + self.offset

    def url(self, base: int) -> str:
        return f"http://127.0.0.1:{self.port(base)}"

    def federation_endpoint(self, base: int) -> str:
        return f"https://127.0.0.1:{self.port(base) + 1}"


NODES = (
    DemoNode(
        "GLOBAL",
        0,
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
        10,
        (
            Agency("DE-BKA", "Bundeskriminalamt", "DE"),
            Agency("FR-OCRGDF", "Office central de lutte contre le crime organisé", "FR"),
            Agency("IT-DCSA", "Direzione Centrale per i Servizi Antidroga", "IT"),
            Agency("ES-CNP", "Cuerpo Nacional de Policía", "ES"),
            Agency("UA-NPU", "National Police of Ukraine", "UA"),
        ),
    ),
)


def generated_agencies() -> list[Agency]:
    """Every demo agency, in the order the generator is given them. A story told of a country
    goes to that country's first agency: France's is the police (FR-OCRGDF), not INTERPOL's
    General Secretariat, which only happens to sit in Lyon, so the Secretariat comes last."""
    every = [a for spec in NODES for a in spec.agencies]
    return sorted(every, key=lambda a: a.code == "IP-GS")


@dataclass(frozen=True)
class Demo:
    """What `polex demo` prints and keeps in DIR/logins.json."""

    directory: Path
    port: int
    logins: list[dict[str, Any]]

    def urls(self) -> dict[str, str]:
        return {spec.name: f"{spec.url(self.port)}/" for spec in NODES}

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "urls": self.urls(), "logins": self.logins}


def _users(node: Node, spec: DemoNode) -> list[dict[str, Any]]:
    """The agencies and their users: an officer and a supervisor each (who reviews the
    agency's records and decides its hits), and at the node's first agency an analyst, a DPO
    and an admin too."""
    logins = []
    with node.engine.begin() as conn:
        for agency in spec.agencies:
            agency_store.add(conn, agency.code, agency.name, agency.country)
            first = agency == spec.agencies[0]
            for role in ROLES + (ROLES_OF_FIRST_AGENCY if first else ()):
                username = f"{agency.code.lower()}.{role}"
                new = accounts.add_user(conn, username, agency.code, role, password=PASSWORD)
                logins.append(
                    {
                        "node": spec.name,
                        "username": username,
                        "agency": agency.code,
                        "role": role,
                        "password": PASSWORD,
                        "totp_secret": new.totp_secret,
                        "token": new.token,
                    }
                )
    return logins


def _load(node: Node, spec: DemoNode, data: Path, say: Callable[[str], None]) -> None:
    """Import each agency's file per database, then cross-match everything imported."""
    for agency in spec.agencies:
        parts = sorted(data.glob(f"{agency.code}.*.jsonl"))
        imported = 0
        for part in parts:
            database = Database(part.name.split(".")[1])
            with node.engine.begin() as conn:
                actor = importer.import_actor(conn, node.name, agency.code, None)
            options = importer.ImportOptions(database=database, agency=agency.code, actor=actor)
            imported += importer.import_rows(node.engine, open_source(part), options).imported
        say(f"{spec.name}: {agency.code}: {imported} records in {len(parts)} databases")
    say(f"{spec.name}: cross-matched {drain(node.engine, node.name)} records")


def _approve(node: Node, spec: DemoNode, say: Callable[[str], None]) -> None:
    """Each agency's supervisor approves its wanted, missing and terrorist-fighter records
    (until then nobody outside the agency sees them); every tenth generated one is left
    pending, so the review queue has work to show."""
    checklist = review.Checklist(
        identifiers_checked=True,
        legal_basis="Demo data: synthetic records, approved when the demo was made",
        article3_clear=True,
    )
    approved = waiting = 0
    with node.engine.begin() as conn:
        for agency in spec.agencies:
            supervisor = f"{agency.code.lower()}.supervisor"
            principal = accounts.principal_for(conn, supervisor, node.name)
            pending = review.queue(conn, principal, review.Queue.pending, limit=10_000_000)
            for i, item in enumerate(pending):
                if i % 10 == 9 and "-STORY-" not in item.source_id:
                    waiting += 1
                    continue
                review.approve(conn, principal, item.record_id, checklist)
                approved += 1
    say(f"{spec.name}: supervisors approved {approved} records, left {waiting} for review")


def _link(nodes: list[Node], port: int, say: Callable[[str], None]) -> None:
    """Each node offers a link on its federation port (its web port + 1); the other accepts
    it, or renews it when the ports moved. Linked before the data is loaded, so cross-node
    matching offers the partner every record."""
    offers = {
        node.name: json.dumps(make_offer(node, spec.federation_endpoint(port)))
        for node, spec in zip(nodes, NODES, strict=True)
    }
    for node in nodes:
        for partner, offer in offers.items():
            if partner != node.name:
                with node.engine.begin() as conn:
                    accept_offer(conn, node.name, offer, "demo")
                say(f"{node.name}: linked to {partner}")


def _relink(directory: Path, port: int, say: Callable[[str], None]) -> None:
    nodes = [open_node(directory / spec.name.lower()) for spec in NODES]
    try:
        _link(nodes, port, say)
    finally:
        for node in nodes:
            node.engine.dispose()


def _write(demo: Demo) -> None:
    path = demo.directory / LOGINS_FILE
    path.write_text(json.dumps(demo.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")


def load(directory: Path) -> Demo:
    """The demo made in ``directory`` (its logins.json)."""
    path = directory / LOGINS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DemoError(f"--dir: {directory} holds no demo (run `polex demo` first)") from exc
    if not isinstance(data, dict) or not {"port", "logins"} <= data.keys():
        raise DemoError(f"--dir: {path} is not this version's; delete {directory}, run again")
    return Demo(directory=directory, port=int(data["port"]), logins=list(data["logins"]))


def prepare(directory: Path, size: str, port: int, say: Callable[[str], None]) -> Demo:
    """Create, link and load the demo nodes unless they exist; returns the demo."""
    if (directory / LOGINS_FILE).exists():
        say(f"reusing the demo in {directory} (delete it for a new one, e.g. of another size)")
        demo = load(directory)
        if demo.port != port:
            _relink(directory, port, say)
            demo = Demo(directory=directory, port=port, logins=demo.logins)
            _write(demo)
        return demo
    unfinished = [spec.name for spec in NODES if (directory / spec.name.lower()).exists()]
    if unfinished:
        raise DemoError(
            f"--dir: {directory} holds an unfinished demo ({', '.join(unfinished)} but no "
            f"{LOGINS_FILE}); delete it and run again"
        )
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    say(f"generating {SIZES[size]:,} records")
    write_split(data, SIZES[size], seed=SEED, agencies=generated_agencies())
    logins: list[dict[str, Any]] = []
    nodes = [init_node(directory / spec.name.lower(), spec.name) for spec in NODES]
    _link(nodes, port, say)
    for node, spec in zip(nodes, NODES, strict=True):
        logins += _users(node, spec)
        _load(node, spec, data, say)
        _approve(node, spec, say)
        node.engine.dispose()
    demo = Demo(directory=directory, port=port, logins=logins)
    _write(demo)
    return demo


def current_codes(demo: Demo, username: str | None = None) -> list[dict[str, Any]]:
    """Each demo user's one-time code now, and how many seconds it stays valid."""
    now = datetime.now(UTC)
    left = 30 - int(now.timestamp()) % 30
    chosen = [x for x in demo.logins if username in (None, x["username"])]
    if username is not None and not chosen:
        raise DemoError(f"--user: {username} is not a demo user")
    return [
        {
            "node": x["node"],
            "username": x["username"],
            "code": totp.code_at(x["totp_secret"], now),
            "valid_seconds": left,
        }
        for x in chosen
    ]


def _start(directory: Path, spec: DemoNode, port: int) -> subprocess.Popen[bytes]:
    """One node's `polex serve`, in a session of its own: Ctrl-C reaches only the demo,
    which then stops the node (SIGTERM: it leaves with exit code 0)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polex",
            "serve",
            "--home",
            str(directory / spec.name.lower()),
            "--port",
            str(spec.port(port)),
            "--federation-port",
            str(spec.port(port) + 1),
        ],
        start_new_session=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise DemoError(f"the node at {url} stopped with exit code {process.returncode}")
        if time.monotonic() > deadline:
            raise DemoError(f"the node at {url} did not answer in {STARTUP_SECONDS} s")
        time.sleep(0.2)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def serve(demo: Demo, say: Callable[[str], None], started: float) -> None:
    """Run both nodes until Ctrl-C (or SIGTERM), then stop them both; raises DemoError when a
    node fails to start or stops on its own. ``started``: when the demo command began
    (``time.monotonic()``), to say how long it took to get ready."""
    # Ctrl-C, and SIGINT from a shell that started the demo in the background (which would
    # otherwise be ignored), and SIGTERM all stop the demo the same way
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for spec in NODES:
            processes.append(_start(demo.directory, spec, demo.port))
        for spec, process in zip(NODES, processes, strict=True):
            _wait_healthy(spec.url(demo.port), process)
            say(f"{spec.name}: {spec.url(demo.port)}/  (API docs {spec.url(demo.port)}/api/docs)")
        ready = time.monotonic() - started
        say(f"both nodes ready {ready:.0f} s after the start; Ctrl-C stops them")
        while True:
            for spec, process in zip(NODES, processes, strict=True):
                if process.poll() is not None:
                    raise DemoError(f"{spec.name} stopped with exit code {process.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping both nodes")
    finally:
        _stop(processes)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
