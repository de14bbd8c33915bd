"""Checking the audit chain: every entry's hash, every link, the head, every checkpoint.

The walk streams the table in sequence order (never all of it in memory) and recomputes each
hash. It goes on after a problem, re-anchored on the stored chain, so that one changed entry
is reported once and every independent problem is listed; ``first`` names the earliest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from polex.audit import checkpoint as checkpoints
from polex.audit.log import GENESIS, chain, entry_hash
from polex.audit.tables import audit_head, audit_log

BATCH = 2000
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    seq: int
    rule: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "rule": self.rule, "message": self.message}


@dataclass
class Verification:
    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.seq) if self.problems else None

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "entries": self.entries,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "checkpoints": self.checkpoints,
            "first_bad_seq": first.seq if first else None,
            "problems": [p.to_json() for p in sorted(self.problems, key=lambda p: p.seq)],
        }


def verify(
    conn: Connection, node: str | None = None, key: Ed25519PublicKey | None = None
) -> Verification:
    """Walk the chain; with the node's name and public key, check the checkpoints' signatures.

    Detects a changed entry (its hash no longer matches), a removed one (a gap in the
    sequence, or a head beyond the last entry), reordered or swapped entries (hashes cover the
    sequence number and the previous hash), and a consistently rewritten or cut chain up to
    the last signed checkpoint. Entries committed but not yet chained are chained first: an
    entry is checked once it is in the chain."""
    chain(conn)
    result = Verification()
    marks = {c.seq: c for c in checkpoints.all_checkpoints(conn)}
    result.checkpoints = len(marks)

    def problem(seq: int, rule: str, message: str) -> None:
        if len(result.problems) < MAX_PROBLEMS:
            result.problems.append(Problem(seq, rule, message))

    if key is not None and node is not None:
        for mark in marks.values():
            if not checkpoints.valid(mark, node, key):
                problem(
                    mark.seq,
                    "audit.checkpoint_signature",
                    f"checkpoint at entry {mark.seq}: the node key's signature does not match",
                )

    expected, prev = 1, GENESIS
    rows = conn.execute(
        select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=BATCH)
    )
    for row in rows:
        result.entries += 1
        seq = row.seq
        recomputed = entry_hash(
            seq,
            row.ts,
            row.actor,
            row.agency,
            row.action,
            row.target,
            row.purpose,
            row.case_ref,
            row.details,
            row.prev_hash,
        )
        if seq > expected:
            gap = f"entry {expected}" if seq == expected + 1 else f"entries {expected}-{seq - 1}"
            problem(expected, "audit.missing", f"{gap} missing: the chain jumps to entry {seq}")
        if recomputed != row.hash:
            problem(seq, "audit.changed", f"entry {seq} was changed: it no longer matches its hash")
        elif seq == expected and row.prev_hash != prev:
            problem(
                seq,
                "audit.chain",
                f"entry {seq} does not follow entry {seq - 1}: one of them was changed or moved",
            )
        signed = marks.get(seq)
        if signed is not None and signed.hash != row.hash:
            problem(
                seq,
                "audit.checkpoint",
                f"entry {seq} differs from the signed checkpoint: the chain was rewritten",
            )
        expected, prev = seq + 1, row.hash
    result.last_seq, result.last_hash = expected - 1, prev

    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq > result.last_seq:
        cut = result.last_seq + 1
        problem(
            cut,
            "audit.missing",
            f"entries {cut}-{head_seq} missing: the chain ends at {result.last_seq}"
            f" but its head is at {head_seq}",
        )
    elif head_seq < result.last_seq or head_hash != result.last_hash:
        problem(
            result.last_seq,
            "audit.head",
            f"the chain head ({head_seq}) does not match the last entry ({result.last_seq})",
        )
    beyond = [seq for seq in marks if seq > result.last_seq]
    if beyond:
        cut = result.last_seq + 1
        problem(
            cut,
            "audit.missing",
            f"entries {cut}-{max(beyond)} missing: a signed checkpoint vouches for entry"
            f" {max(beyond)}",
        )
    return result
