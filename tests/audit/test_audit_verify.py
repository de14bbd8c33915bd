"""Tampering with the audit trail in the database — one changed byte, a removed entry, two
swapped entries, a cut tail, a rewritten chain — is found by `verify`, which names the first
bad entry. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from polex.audit import checkpoint, log
from polex.audit.log import entry_hash
from polex.audit.tables import audit_checkpoints, audit_head, audit_log, audit_pending
from polex.audit.verify import Verification, verify
from polex.cli import app
from polex.node.home import Node

ENTRIES = 8


def fill(node: Node, count: int = ENTRIES) -> None:
    for i in range(count):
        with node.engine.begin() as conn:
            log.append(
                conn,
                actor=f"user{i % 3}@DE-BKA",
                agency="DE-BKA",
                action="search" if i % 2 else "record.read",
                target=f"r{i:031d}",
                purpose="border check Müller — Ü",
                case_ref=None if i % 3 else f"OP-{i}",
                details={"hits": [f"r{i}", f"r{i + 1}"], "score": 0.875, "n": i},
            )
    with node.engine.begin() as conn:
        assert log.chain(conn) >= count


def check(node: Node) -> Verification:
    with node.engine.begin() as conn:
        return verify(conn, node.name, node.keys.verify_key())


def first_bad(node: Node) -> int | None:
    result = check(node)
    return result.first.seq if result.first else None


def row(node: Node, seq: int) -> Any:
    with node.engine.begin() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()


def flip(value: str) -> str:
    """The same text with one byte changed."""
    return value[:-1] + ("a" if value[-1] != "a" else "b")


def test_an_untouched_chain_verifies(node: Node) -> None:
    fill(node)
    result = check(node)
    assert result.ok and result.entries == ENTRIES and result.first is None
    with node.engine.begin() as conn:
        head = conn.execute(select(audit_head)).one()
    assert (
        (head.seq, head.hash)
        == (result.last_seq, result.last_hash)
        == (ENTRIES, row(node, ENTRIES).hash)
    )


@pytest.mark.parametrize(
    "column", ["actor", "agency", "action", "target", "purpose", "hash", "prev_hash"]
)
def test_one_changed_byte_names_the_entry(node: Node, column: str) -> None:
    fill(node)
    changed = flip(getattr(row(node, 3), column))
    with node.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_log SET {column} = :value WHERE seq = 3"), {"value": changed}
        )
    result = check(node)
    assert not result.ok and result.first is not None and result.first.seq == 3
    assert result.first.rule == "audit.changed"


def test_changed_details_and_time_are_found(node: Node) -> None:
    fill(node)
    original = row(node, 5)
    with node.engine.begin() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == 5)
            .values(details=dict(original.details, n=50))
        )
    assert first_bad(node) == 5
    with node.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 5).values(details=original.details))
    assert first_bad(node) is None
    later = row(node, 2).ts + timedelta(microseconds=1)
    with node.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(ts=later))
    assert first_bad(node) == 2


@pytest.mark.parametrize("seq", [1, 4, ENTRIES])
def test_a_deleted_entry_is_named(node: Node, seq: int) -> None:
    fill(node)
    with node.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = :seq"), {"seq": seq})
    result = check(node)
    assert result.first is not None and result.first.seq == seq
    assert result.first.rule == "audit.missing"
    assert len(result.problems) == 1


def test_two_swapped_entries_are_found(node: Node) -> None:
    fill(node)
    a, b = row(node, 2), row(node, 6)
    columns = [c.name for c in audit_log.columns if c.name != "seq"]
    with node.engine.begin() as conn:
        for target, source in ((2, b), (6, a)):
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == target)
                .values({c: getattr(source, c) for c in columns})
            )
    result = check(node)
    assert result.first is not None and result.first.seq == 2
    assert {p.seq for p in result.problems} >= {2, 6}


def test_reordered_sequence_numbers_are_found(node: Node) -> None:
    fill(node)
    with node.engine.begin() as conn:
        for old, new in ((3, 1000), (7, 3), (1000, 7)):
            conn.execute(
                text("UPDATE audit_log SET seq = :new WHERE seq = :old"), {"old": old, "new": new}
            )
    assert first_bad(node) == 3


def rewrite_from(node: Node, seq: int, actor: str) -> None:
    """A consistent forgery: change an entry, recompute every later hash and the head."""
    with node.engine.begin() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.seq >= seq).order_by("seq")).all()
        prev = rows[0].prev_hash
        for r in rows:
            new_actor = actor if r.seq == seq else r.actor
            digest = entry_hash(
                r.seq,
                r.ts,
                new_actor,
                r.agency,
                r.action,
                r.target,
                r.purpose,
                r.case_ref,
                r.details,
                prev,
            )
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == r.seq)
                .values(actor=new_actor, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(audit_head).values(hash=prev))


def test_a_consistent_rewrite_is_caught_by_the_signed_checkpoint(node: Node) -> None:
    fill(node)
    rewrite_from(node, 3, "nobody@DE-BKA")
    assert first_bad(node) is None  # a chain alone cannot tell
    fill(node, 2)
    with node.engine.begin() as conn:
        made = checkpoint.create(conn, node.name, node.keys.signing_key(), "cli:root")
    assert made is not None and check(node).ok
    rewrite_from(node, 4, "nobody@DE-BKA")
    result = check(node)
    assert result.first is not None and result.first.rule == "audit.checkpoint"
    assert result.first.seq == made.seq


def test_a_cut_tail_is_caught_by_the_head_and_the_checkpoint(node: Node) -> None:
    fill(node)
    with node.engine.begin() as conn:
        made = checkpoint.create(conn, node.name, node.keys.signing_key(), "cli:root")
    assert made is not None
    fifth = row(node, 5).hash
    with node.engine.begin() as conn:
        log.chain(conn)  # the checkpoint's own entry, as a server worker would have
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 6))
        conn.execute(update(audit_head).values(seq=5, hash=fifth))
    result = check(node)
    assert result.first is not None and result.first.seq == 6
    assert result.first.rule == "audit.missing"


def test_a_forged_checkpoint_signature_is_found(node: Node) -> None:
    fill(node)
    with node.engine.begin() as conn:
        made = checkpoint.create(conn, node.name, node.keys.signing_key(), "cli:root")
        assert made is not None
        conn.execute(update(audit_checkpoints).values(signature="00" * 64))
    result = check(node)
    assert result.first is not None and result.first.rule == "audit.checkpoint_signature"


def test_an_entry_is_written_only_if_its_action_commits(node: Node) -> None:
    fill(node, 2)
    with pytest.raises(RuntimeError), node.engine.begin() as conn:
        log.append(conn, actor="anna@DE-BKA", action="record.read", target="r1")
        raise RuntimeError("the read failed after its audit entry was written")
    result = check(node)
    assert result.ok and result.entries == 2


def test_concurrent_appenders_and_chainers_keep_one_chain(node: Node) -> None:
    """Four threads append, and every third time also chain, as server workers do: every entry
    is chained once, in one unbroken chain."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                with node.engine.begin() as conn:
                    log.append(conn, actor=f"worker{n}", action="search", details={"i": i})
                if i % 3 == 0:
                    with node.engine.begin() as conn:
                        log.chain(conn)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = check(node)
    assert result.ok and result.entries == 40
    with node.engine.begin() as conn:
        chained = conn.execute(select(audit_log.c.actor, audit_log.c.details)).all()
    assert sorted((a, d["i"]) for a, d in chained) == [
        (f"worker{n}", i) for n in range(4) for i in range(10)
    ]


def test_append_many_chains_like_single_appends(node: Node) -> None:
    with node.engine.begin() as conn:
        log.append_many(
            conn, [{"actor": "a", "action": "message.send", "details": {"i": i}} for i in range(5)]
        )
        log.append(conn, actor="a", action="message.read")
    assert check(node).ok
    with node.engine.begin() as conn:
        chained = conn.execute(
            select(audit_log.c.seq, audit_log.c.action, audit_log.c.details).order_by("seq")
        ).all()
    assert [(r.seq, r.action, r.details) for r in chained] == [
        *((i + 1, "message.send", {"i": i}) for i in range(5)),
        (6, "message.read", {}),
    ]


def test_entries_wait_unchained_until_a_chainer_or_reader_comes(node: Node) -> None:
    """The action pays for one insert; the chain grows when a worker or a reader chains."""
    with node.engine.begin() as conn:
        log.append(conn, actor="a", action="record.read", target="r1")
    with node.engine.begin() as conn:
        assert conn.execute(select(audit_log)).all() == []
        assert conn.execute(select(audit_pending.c.action)).scalars().all() == ["record.read"]
    result = check(node)
    assert result.ok and result.entries == 1
    with node.engine.begin() as conn:
        assert conn.execute(select(audit_pending)).all() == []
        assert log.chain(conn) == 0


def test_cli_verify_names_the_first_bad_entry(node: Node) -> None:
    fill(node)
    runner = CliRunner()
    env = {"POLEX_HOME": str(node.home)}
    ok = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert ok.exit_code == 0 and "signed" in ok.output
    intact = runner.invoke(app, ["audit", "verify"], env=env)
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output
    with node.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET purpose = 'curiosity' WHERE seq = 4"))
    broken = runner.invoke(app, ["audit", "verify", "--json"], env=env)
    assert broken.exit_code == 1
    assert "FIRST BAD ENTRY: 4" in broken.output
    assert '"first_bad_seq": 4' in broken.stdout


def test_the_hash_is_that_of_the_canonical_json_array_of_the_fields() -> None:
    """Chaining hashes the stored details text; the result must be the hash of the whole
    array encoded at once, as chains written before verify against it."""
    import hashlib
    import json
    from datetime import UTC, datetime

    ts = datetime(2026, 12, 1, 9, 30, 1, 250, tzinfo=UTC)
    details = {"z": [1, 2.5, None], "a": {"ü": "Müller — Ü", "n": 10**20}, "q": 'say "hi"\n'}
    fields = [7, "2026-12-01T09:30:01.000250", "anna@DE-BKA", "DE-BKA", "search", None]
    fields += ["border check — Ü", "OP-1", details, "ab" * 32]
    whole = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    expected = hashlib.sha256(whole.encode()).hexdigest()
    args = (7, ts, "anna@DE-BKA", "DE-BKA", "search", None, "border check — Ü", "OP-1")
    assert entry_hash(*args, details, "ab" * 32) == expected
    # as chaining reads it on SQLite: the timestamp as stored text, the details as hashed text
    stored = ("2026-12-01 09:30:01.000250", *args[2:])
    assert log._hash(7, *stored, log.canonical(details), "ab" * 32) == expected
    assert log.canonical(details) == json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_cli_checkpoint_every_counts_entries_since_the_last_checkpoint(node: Node) -> None:
    runner = CliRunner()
    env = {"POLEX_HOME": str(node.home)}
    fill(node, 2)
    assert (
        "no checkpoint due"
        in runner.invoke(app, ["audit", "checkpoint", "--every", "3"], env=env).output
    )
    fill(node, 1)
    assert "signed" in runner.invoke(app, ["audit", "checkpoint", "--every", "3"], env=env).output
    # the checkpoint's own entry does not count towards the next one
    fill(node, 2)
    assert (
        "no checkpoint due"
        in runner.invoke(app, ["audit", "checkpoint", "--every", "3"], env=env).output
    )
