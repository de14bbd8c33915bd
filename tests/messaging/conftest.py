"""Shared helpers for the messaging tests: agencies on one node and a way to send between them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node.home import Node


@dataclass
class Post:
    client: TestClient

    def send(self, actor: Any, **fields: Any) -> Any:
        body = {"subject": "Vehicle sighting", "body": "Seen at the border.", **fields}
        body.setdefault("id", str(uuid.uuid4()))
        return self.client.post("/api/v1/messages", json=body, headers=actor.headers)

    def read(self, actor: Any, message_id: str) -> Any:
        return self.client.get(f"/api/v1/messages/{message_id}", headers=actor.headers)

    def box(self, actor: Any, box: str = "inbox", **params: Any) -> Any:
        return self.client.get(
            "/api/v1/messages", params={"box": box, **params}, headers=actor.headers
        )

    def ack(self, actor: Any, message_id: str) -> Any:
        return self.client.post(f"/api/v1/messages/{message_id}/ack", headers=actor.headers)

    def upload(self, actor: Any, name: str, data: bytes, content_type: str) -> Any:
        return self.client.post(
            "/api/v1/attachments",
            files={"file": (name, data, content_type)},
            headers=actor.headers,
        )


@pytest.fixture
def post(client: TestClient) -> Post:
    return Post(client)


@pytest.fixture
def audits(node: Node) -> Callable[..., int]:
    """audits(action, target=None): how many audit entries of that action (and target)."""

    def count(action: str, target: str | None = None) -> int:
        query = select(func.count()).select_from(audit_log).where(audit_log.c.action == action)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        with node.engine.begin() as conn:
            chain(conn)
            return int(conn.execute(query).scalar_one())

    return count


@pytest.fixture
def make_record(client: TestClient) -> Callable[..., str]:
    """make_record(owner, source_id, **envelope): a Person record through the records API."""

    def make(owner: Any, source_id: str, **envelope: Any) -> str:
        body = {
            "id": source_id,
            "schema": "Person",
            "properties": {"name": ["Ivan Petrov"], "birthDate": ["1975-03-02"]},
            "polex": {
                "database": "intelligence",
                "handling": "H1",
                "subject_category": "suspect",
                **envelope,
            },
        }
        answer = client.post("/api/v1/records", json=body, headers=owner.headers)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["record_id"])

    return make
