"""Helpers for federation tests: link two nodes, serve their federation ports in threads."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from polex.access import accounts
from polex.access.principal import Principal
from polex.federation import agreement
from polex.federation.server import FederationServer
from polex.federation.service import Federation
from polex.federation.sharing import Sharing
from polex.node.home import Node
from polex.store import agencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def link(a: Node, a_port: int, b: Node, b_port: int, a_shares: Sharing, b_shares: Sharing) -> None:
    """Each operator offers, the other accepts: the two-way agreement."""
    offer_a = agreement.make_offer(a, f"https://127.0.0.1:{a_port}", a_shares)
    offer_b = agreement.make_offer(b, f"https://127.0.0.1:{b_port}", b_shares)
    with b.engine.begin() as conn:
        agreement.accept_offer(conn, b.name, json.dumps(offer_a), "operator", b_shares)
    with a.engine.begin() as conn:
        agreement.accept_offer(conn, a.name, json.dumps(offer_b), "operator", a_shares)


def user(node: Node, username: str, agency: str, country: str, role: str = "officer") -> Principal:
    with node.engine.begin() as conn:
        if agencies.get(conn, agency) is None:
            agencies.add(conn, agency, agency, country)
        accounts.add_user(conn, username, agency, role)
        return accounts.principal_for(conn, username, node.name)


@dataclass
class Running:
    node: Node
    port: int
    fed: Federation
    server: FederationServer

    def stop(self) -> None:
        self.server.stop()


def serve(node: Node, port: int) -> Running:
    fed = Federation(node)
    server = FederationServer(fed, "127.0.0.1", port)
    server.start()
    return Running(node, port, fed, server)


@dataclass
class Pair:
    a: Running
    b: Running


def person(
    node: Node, owner: Principal, sid: str, name: str, birth: str, **envelope: object
) -> str:
    """A Person record owned by ``owner``'s agency; returns its record id."""
    from polex.node import records
    from polex.node.records import RecordInput

    data = RecordInput.model_validate(
        {
            "id": sid,
            "schema": "Person",
            "properties": {"name": [name], "birthDate": [birth]},
            "polex": {"database": "intelligence", "subject_category": "suspect", **envelope},
        }
    )
    with node.engine.begin() as conn:
        return records.create(conn, owner, data).id
