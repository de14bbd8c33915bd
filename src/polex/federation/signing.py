"""Signed federation requests: Ed25519 over the request, a timestamp and a nonce.

Mutual TLS says which partner is connected; the signature says that partner's node made this
very request (method, path, body) for this very node, recently, once. The signed string names
both nodes, so a partner cannot replay to a third node what it was sent; the timestamp must be
within ``WINDOW`` of our clock; the nonce is remembered in the database (shared by every worker)
for longer than the window, so a request seen once is refused on any worker afterwards."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Connection, Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from polex.federation.errors import Refused
from polex.federation.tables import federation_nonces
from polex.store.metadata import utcnow

WINDOW = timedelta(minutes=5)
# Nonces are kept past both edges of the window: a request older than that is stale anyway.
NONCE_TTL = 2 * WINDOW + timedelta(minutes=1)
VERSION = "polex-federation-v1"

NODE = "x-polex-node"
TIMESTAMP = "x-polex-timestamp"
NONCE = "x-polex-nonce"
SIGNATURE = "x-polex-signature"

NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP_RE = re.compile(r"^\d{1,15}$")


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """One byte string per document (sorted keys, no spaces, UTF-8), so signatures survive
    re-serialisation by the other side."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sign_document(key: Ed25519PrivateKey, document: Mapping[str, Any]) -> str:
    return base64.b64encode(key.sign(canonical_bytes(document))).decode()


def document_signed_by(key: Ed25519PublicKey, document: Mapping[str, Any], signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical_bytes(document))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def signed_bytes(
    method: str,
    target: str,
    sender: str,
    recipient: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> bytes:
    """What a request signature covers; ``target`` is the path with its query string."""
    return "\n".join(
        [
            VERSION,
            method.upper(),
            target,
            sender,
            recipient,
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    ).encode()


def sign_request(
    key: Ed25519PrivateKey,
    method: str,
    target: str,
    sender: str,
    recipient: str,
    body: bytes,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that make a request ``sender``'s, for ``recipient`` only."""
    timestamp = str(int((now or utcnow()).timestamp()))
    nonce = secrets.token_hex(16)
    signature = key.sign(signed_bytes(method, target, sender, recipient, timestamp, nonce, body))
    return {
        NODE: sender,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: base64.b64encode(signature).decode(),
    }


@dataclass(frozen=True)
class SignedRequest:
    sender: str
    timestamp: datetime
    nonce: str


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise Refused(name, "signature.header_missing", f"{name}: header required")
    return value


def verify_request(
    key: Ed25519PublicKey,
    method: str,
    target: str,
    recipient: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> SignedRequest:
    """Check a request's signature and freshness (not yet its nonce: see ``remember_nonce``)."""
    sender = _header(headers, NODE)
    timestamp = _header(headers, TIMESTAMP)
    nonce = _header(headers, NONCE)
    signature = _header(headers, SIGNATURE)
    if not TIMESTAMP_RE.match(timestamp):
        raise Refused(TIMESTAMP, "signature.timestamp_format", f"{TIMESTAMP}: unix seconds")
    if not NONCE_RE.match(nonce):
        raise Refused(NONCE, "signature.nonce_format", f"{NONCE}: 32 lower-case hex digits")
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, signed_bytes(method, target, sender, recipient, timestamp, nonce, body))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise Refused(
            SIGNATURE, "signature.invalid", f"{SIGNATURE}: does not match the request"
        ) from exc
    now = now or utcnow()
    at = datetime.fromtimestamp(int(timestamp), now.tzinfo)
    if abs(now - at) > WINDOW:
        raise Refused(
            TIMESTAMP,
            "signature.stale",
            f"{TIMESTAMP}: more than {int(WINDOW.total_seconds())} s from this node's clock",
        )
    return SignedRequest(sender=sender, timestamp=at, nonce=nonce)


def remember_nonce(engine: Engine, node: str, nonce: str, now: datetime | None = None) -> None:
    """Record a request's nonce; a nonce already recorded is a replay and is refused."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(federation_nonces).values(node=node, nonce=nonce, seen_at=now or utcnow())
            )
    except IntegrityError as exc:
        raise Refused(NONCE, "signature.replay", f"{NONCE}: this request was seen before") from exc


def purge_nonces(conn: Connection, now: datetime | None = None) -> int:
    """Forget nonces older than any request that could still pass the timestamp check."""
    cutoff = (now or utcnow()) - NONCE_TTL
    return conn.execute(
        delete(federation_nonces).where(federation_nonces.c.seen_at < cutoff)
    ).rowcount
