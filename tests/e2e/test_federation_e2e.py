"""Two real nodes, each a `polex serve` process on loopback, linked with `polex link offer` and
`polex link accept`: a message crosses and its receipts return, a federated search returns the
partner's hit, and the partner stopped while 100 messages are sent receives all of them once,
each thread in order, when it is back."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from polex.access import accounts
from polex.messaging.tables import message_deliveries, messages
from polex.node.home import init_node
from polex.store import agencies

POLEX = str(Path(sys.executable).with_name("polex"))
PURPOSE = "Joint investigation ALPHA, vehicle trafficking"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def polex(*args: str, stdout: Any = subprocess.PIPE) -> str:
    done = subprocess.run([POLEX, *args], stdout=stdout, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout if stdout == subprocess.PIPE else ""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class NodeProcess:
    name: str
    home: Path
    port: int
    federation_port: int
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                POLEX,
                "serve",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
                "--federation-port",
                str(self.federation_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, "serve exited"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, f"{self.name} to serve")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def api(self, method: str, path: str, user: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        answer = httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kw
        )
        assert answer.status_code < 300, answer.text
        return answer.json()

    def status(self) -> dict[str, Any]:
        """The link's status as GET /api/v1/links reports it."""
        (link,) = self.api("GET", "/links", next(iter(self.tokens)))["links"]
        return dict(link)


def make_node(root: Path, name: str, agency: str, country: str, username: str) -> NodeProcess:
    """A node home with one agency and one officer (made in this process: the CLI's start-up
    time would dominate the test; linking goes through the CLI below)."""
    home = root / name
    node = init_node(home, name)
    with node.engine.begin() as conn:
        agencies.add(conn, agency, agency, country)
        token = accounts.add_user(conn, username, agency, "officer").token
    node.engine.dispose()
    running = NodeProcess(name, home, free_port(), free_port())
    running.tokens[username] = token
    return running


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    root = tmp_path_factory.mktemp("federation")
    a = make_node(root, "NCB-DE", "DE-BKA", "DE", "anna")
    b = make_node(root, "NCB-FR", "FR-DCPJ", "FR", "pierre")
    for node in (a, b):  # each operator offers first: accepting grants what the offer declared
        with (root / f"{node.name}.link").open("w") as out:
            polex(
                "link",
                "offer",
                "--home",
                str(node.home),
                "--endpoint",
                f"https://127.0.0.1:{node.federation_port}",
                "--share",
                "intelligence=full",
                stdout=out,
            )
    polex("link", "accept", "--home", str(b.home), str(root / f"{a.name}.link"))
    polex("link", "accept", "--home", str(a.home), str(root / f"{b.name}.link"))
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def delivery_states(node: NodeProcess, user: str, message_id: str) -> list[str]:
    return [d["state"] for d in node.api("GET", f"/messages/{message_id}", user)["deliveries"]]


def test_a_message_crosses_and_its_receipts_return(nodes: tuple[NodeProcess, NodeProcess]) -> None:
    a, b = nodes
    sent = a.api(
        "POST",
        "/messages",
        "anna",
        json={"to": ["FR-DCPJ@NCB-FR"], "subject": "Blue van", "body": "Plate B-XY 123."},
    )
    mid = sent["id"]
    wait_for(lambda: delivery_states(a, "anna", mid) == ["delivered"], 30, "delivered receipt")
    inbox = b.api("GET", "/messages", "pierre", params={"box": "inbox"})["items"]
    assert [m["id"] for m in inbox] == [mid] and inbox[0]["from"] == "DE-BKA@NCB-DE"
    b.api("POST", f"/messages/{mid}/ack", "pierre")
    wait_for(lambda: delivery_states(a, "anna", mid) == ["acknowledged"], 30, "ack receipt")
    (status,) = json.loads(polex("link", "status", "--home", str(a.home), "--json"))["links"]
    assert status["node"] == "NCB-FR" and status["state"] == "up"
    assert status["queue_depth"] == 0 and status["certificate_expires"]


def test_a_federated_search_returns_the_partners_hit(
    nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    a, b = nodes
    b.api(
        "POST",
        "/records",
        "pierre",
        json={
            "id": "fr-77",
            "schema": "Person",
            "properties": {"name": ["Dmitri Volkov"], "birthDate": ["1979-02-11"]},
            "polex": {"database": "intelligence", "subject_category": "suspect"},
        },
    )
    query = {"q": "Dmitri Volkov 1979-02-11", "purpose": PURPOSE, "federated": True}
    answer = a.api("POST", "/search", "anna", json=query)
    assert answer["partners"] == [
        {**answer["partners"][0], "node": "NCB-FR", "status": "ok", "hits": 1}
    ]
    (hit,) = answer["hits"]
    assert hit["node"] == "NCB-FR" and hit["source_id"] == "fr-77" and hit["owner"] == "FR-DCPJ"
    links = a.api("GET", "/links", "anna")["links"]
    assert [(x["node"], x["state"]) for x in links] == [("NCB-FR", "up")]


def test_an_outage_loses_nothing_and_keeps_threads_in_order(
    nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    a, b = nodes
    b.stop()
    heads: list[str] = []
    sent: list[str] = []
    for i in range(100):
        thread = i % 4
        body: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "to": ["FR-DCPJ@NCB-FR"],
            "subject": f"thread {thread}, message {i}",
        }
        if len(heads) > thread:
            body["in_reply_to"] = heads[thread]
        mid = a.api("POST", "/messages", "anna", json=body)["id"]
        if len(heads) <= thread:
            heads.append(mid)
        sent.append(mid)
    wait_for(lambda: a.status()["state"] == "down", 30, "the link to be seen down")
    assert a.status()["queued_messages"] == 100

    b.start()
    wait_for(lambda: a.status()["queued_messages"] == 0, 120, "the queue to drain")
    assert all(delivery_states(a, "anna", m) == ["delivered"] for m in sent)
    engine = create_engine(f"sqlite:///{b.home / 'polex.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.id, messages.c.thread_id)
            .join(message_deliveries, message_deliveries.c.message_id == messages.c.id)
            .where(messages.c.id.in_(sent))
            .order_by(message_deliveries.c.seq)  # the arrival order
        ).all()
        copies = (
            conn.execute(
                select(message_deliveries.c.message_id).where(
                    message_deliveries.c.message_id.in_(sent)
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert sorted(r.id for r in rows) == sorted(sent)  # every message, stored once
    assert sorted(copies) == sorted(sent)  # one delivery each
    for head in heads:
        arrived = [r.id for r in rows if r.thread_id == head]
        assert arrived == [m for m in sent if m in set(arrived)] and len(arrived) == 25
