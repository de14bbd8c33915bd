"""Signed checkpoints: the node key vouches for the chain's head at a point in time.

A chain alone shows that entries were changed, but someone able to rewrite the whole table
could rewrite it consistently, or cut its tail and move the head back. A checkpoint — the
sequence number and hash of an entry, signed with the node's Ed25519 key, which is kept in
files, not in the database — pins everything up to that entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Row, insert, select

from polex.audit import log
from polex.audit.tables import audit_checkpoints, audit_head
from polex.store.metadata import utcnow


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signature: str  # hex
    ts: datetime


def message(node: str, seq: int, digest: str) -> bytes:
    """What is signed: the node's name binds a checkpoint to the node that made it."""
    return f"polex audit checkpoint\n{node}\n{seq}\n{digest}".encode()


def valid(checkpoint: Checkpoint, node: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(
            bytes.fromhex(checkpoint.signature), message(node, checkpoint.seq, checkpoint.hash)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def create(conn: Connection, node: str, key: Ed25519PrivateKey, actor: str) -> Checkpoint | None:
    """Sign the current head (None while the trail is empty) and audit the checkpoint.

    Everything committed is chained first, with the head locked as by any chainer, so the
    checkpoint covers it and no chaining slips in between."""
    log.chain(conn)
    row = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).first()
    if row is None or row.seq == 0:
        return None
    existing = conn.execute(
        select(audit_checkpoints).where(audit_checkpoints.c.seq == row.seq)
    ).first()
    if existing is not None:
        return _checkpoint(existing)
    signature = key.sign(message(node, row.seq, row.hash)).hex()
    ts = utcnow()
    conn.execute(
        insert(audit_checkpoints).values(seq=row.seq, hash=row.hash, signature=signature, ts=ts)
    )
    log.append(
        conn,
        actor=actor,
        action="audit.checkpoint",
        target=str(row.seq),
        details={"hash": row.hash},
    )
    return Checkpoint(seq=row.seq, hash=row.hash, signature=signature, ts=ts)


def _checkpoint(row: Row[Any]) -> Checkpoint:
    return Checkpoint(seq=row.seq, hash=row.hash, signature=row.signature, ts=row.ts)


def all_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq)).all()
    return [_checkpoint(r) for r in rows]


def due(conn: Connection, every: int) -> bool:
    """Whether ``every`` entries or more were chained since the last checkpoint, not counting
    that checkpoint's own entry (which would make an idle node's trail due forever)."""
    log.chain(conn)
    head = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar()
    if not head:
        return False
    last = conn.execute(
        select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq.desc()).limit(1)
    ).scalar()
    since = head - last - 1 if last else head
    return since >= every
