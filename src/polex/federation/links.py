"""Links as stored: the partner's pinned certificates, endpoint, signing key and both grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Row, select, update

from polex.audit import log as audit
from polex.federation.errors import LinkError
from polex.federation.sharing import Sharing
from polex.federation.tables import federation_links


@dataclass(frozen=True)
class Link:
    node: str
    endpoint: str
    ca_cert: str
    cert: str
    fingerprint: str
    signing_key_pem: str
    ours: Sharing
    theirs: Sharing
    accepted_at: datetime
    accepted_by: str
    last_contact_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None

    @cached_property
    def signing_key(self) -> Ed25519PublicKey:
        key = serialization.load_pem_public_key(self.signing_key_pem.encode())
        assert isinstance(key, Ed25519PublicKey)
        return key

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.encode())

    @property
    def certificate_expires(self) -> datetime:
        return self.certificate.not_valid_after_utc


def _link(row: Row[Any]) -> Link:
    return Link(
        node=row.node,
        endpoint=row.endpoint,
        ca_cert=row.ca_cert,
        cert=row.cert,
        fingerprint=row.fingerprint,
        signing_key_pem=row.signing_key,
        ours=Sharing.model_validate(row.ours),
        theirs=Sharing.model_validate(row.theirs),
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by,
        last_contact_at=row.last_contact_at,
        last_failure_at=row.last_failure_at,
        last_error=row.last_error,
    )


def get(conn: Connection, node: str) -> Link | None:
    row = conn.execute(select(federation_links).where(federation_links.c.node == node)).first()
    return _link(row) if row else None


def require(conn: Connection, node: str) -> Link:
    link = get(conn, node)
    if link is None:
        raise LinkError("node", "link.unknown", f"node: no link to {node}")
    return link


def by_fingerprint(conn: Connection, fingerprint: str) -> Link | None:
    query = select(federation_links).where(federation_links.c.fingerprint == fingerprint)
    row = conn.execute(query).first()
    return _link(row) if row else None


def all_links(conn: Connection) -> list[Link]:
    rows = conn.execute(select(federation_links).order_by(federation_links.c.node)).all()
    return [_link(r) for r in rows]


def record_contact(conn: Connection, node: str, at: datetime, error: str | None = None) -> None:
    """Note how the last exchange with the partner went: what link status reports as up/down."""
    values: dict[str, Any] = (
        {"last_contact_at": at} if error is None else {"last_failure_at": at, "last_error": error}
    )
    conn.execute(update(federation_links).where(federation_links.c.node == node).values(**values))


def set_grant(conn: Connection, node: str, ours: Sharing, actor: str) -> Link:
    """Change what this node shares with a partner; every process applies it within seconds
    (the links cache), without the partner doing anything."""
    before = require(conn, node)
    conn.execute(
        update(federation_links).where(federation_links.c.node == node).values(ours=ours.to_json())
    )
    audit.append(
        conn,
        actor=actor,
        action="link.share",
        target=node,
        details={"before": before.ours.to_json(), "after": ours.to_json()},
    )
    return require(conn, node)
