"""kill -9 of a serving node between queueing and delivery: after a restart the message is
delivered, exactly once (a real `polex serve` in a subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.messaging.tables import message_deliveries, messages
from polex.node.home import Node

POLEX = str(Path(sys.executable).parent / "polex")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(node: Node, port: int, log: Path, workers: int = 1, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k != "POLEX_DELIVERY_DELAY"}
    environ |= {"POLEX_HOME": str(node.home), **env}
    proc = subprocess.Popen(
        # a free federation port of its own: --port + 1 may be taken
        [POLEX, "serve", "--port", str(port), "--workers", str(workers)]
        + ["--federation-port", str(_free_port())],
        env=environ,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"server did not start: {log.read_text()}")


def _state(node: Node, mid: str) -> list[str]:
    with node.engine.connect() as conn:
        return list(
            conn.execute(
                select(message_deliveries.c.state).where(message_deliveries.c.message_id == mid)
            ).scalars()
        )


def test_kill_9_between_queue_and_delivery_then_restart_delivers_once(
    node: Node, make_actor, tmp_path: Path, database_url: str
) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    port = _free_port()
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}/api/v1"
    mid = str(uuid.uuid4())
    body = {"id": mid, "to": ["FR-DCPJ"], "subject": "Before the crash", "body": "..."}

    server = _serve(node, port, log, POLEX_DELIVERY_DELAY="3600")
    try:
        sent = httpx.post(f"{base}/messages", json=body, headers=anna.headers, timeout=30)
        assert sent.status_code == 201, sent.text
        assert sent.json()["state"] == "queued"
        assert _state(node, mid) == ["queued"]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    assert _state(node, mid) == ["queued"]  # the kill came before delivery

    # several worker processes race for the queue where the backend allows it
    workers = 1 if database_url.startswith("sqlite") else 2
    server = _serve(node, port, log, workers=workers)
    try:
        deadline = time.monotonic() + 60
        while _state(node, mid) != ["delivered"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _state(node, mid) == ["delivered"]
        again = httpx.post(f"{base}/messages", json=body, headers=anna.headers, timeout=30)
        assert again.status_code == 200  # the client's retry changes nothing
        inbox = httpx.get(f"{base}/messages", headers=pierre.headers, timeout=30).json()
        assert [m["id"] for m in inbox["items"]] == [mid]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    with node.engine.begin() as conn:
        chain(conn)
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(message_deliveries)).scalar_one() == 1
        sends = select(func.count()).where(
            audit_log.c.action == "message.send", audit_log.c.target == mid
        )
        assert conn.execute(sends).scalar_one() == 1
