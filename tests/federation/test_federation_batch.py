"""The batch path the relay uses: many envelopes in one request and one transaction, each
answered on its own, a repeat stored once, a tampered one refused without sinking the rest, and
the receipts for all of them under one signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fedkit import user
from sqlalchemy import func, select, update

from polex.messaging import exchange, outbox
from polex.messaging.errors import IntegrityFailure
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Draft
from polex.messaging.tables import message_deliveries, messages
from polex.node.home import Node, init_node


def test_a_batch_is_stored_once_and_refused_one_by_one(node: Node, tmp_path: Path) -> None:
    other = init_node(tmp_path / "node-b", "NODE-B")
    anna = user(node, "anna", "DE-BKA", "DE")
    user(other, "pierre", "FR-DCPJ", "FR")
    a, b = Mailroom.open(node), Mailroom.open(other)
    ids = [
        outbox.send(a, anna, Draft(to=["FR-DCPJ@NODE-B"], subject=f"m{i}")).message.id
        for i in range(3)
    ]
    with node.engine.connect() as conn:
        exported = exchange.export_envelopes(conn, a, ids)
    envelopes = [e for e in (exported[m] for m in ids) if isinstance(e, bytes)]
    assert len(envelopes) == 3
    tampered = json.loads(envelopes[2])
    tampered["document"]["subject"] = "altered"
    batch = [envelopes[0], envelopes[1], envelopes[0], json.dumps(tampered).encode()]
    key = a.crypto.verify_key
    taken = exchange.accept_incoming_many(b, batch, node.name, key)
    assert [type(r) for r in taken.refused] == [type(None)] * 3 + [IntegrityFailure]
    with other.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 2
    # one signed list: a receipt for each envelope taken, the repeat answered as it stands
    listed = json.loads(taken.receipts)["document"]["receipts"]
    assert [r["message_id"] for r in listed] == [ids[0], ids[1], ids[0]]
    assert {r["state"] for r in listed} == {"delivered"}

    applied = exchange.apply_receipt_list(a, taken.receipts, "NODE-B", b.crypto.verify_key)
    assert applied == [None, None, None]
    with node.engine.connect() as conn:
        states = dict(
            conn.execute(select(message_deliveries.c.message_id, message_deliveries.c.state)).all()
        )
    assert states == {ids[0]: "delivered", ids[1]: "delivered", ids[2]: "queued"}

    # a list is taken only whole, under the partner's signature
    forged = json.loads(taken.receipts)
    forged["document"]["receipts"][1]["state"] = "acknowledged"
    with pytest.raises(IntegrityFailure):
        exchange.apply_receipt_list(a, json.dumps(forged).encode(), "NODE-B", b.crypto.verify_key)
    with pytest.raises(IntegrityFailure):
        exchange.apply_receipt_list(a, taken.receipts, "NODE-B", a.crypto.verify_key)
    other.engine.dispose()


def test_a_message_altered_in_the_database_is_refused_by_the_partner(
    node: Node, tmp_path: Path
) -> None:
    """The relay exports this node's messages under their signature without checking it again:
    the partner checks it before storing, so an altered copy never arrives."""
    other = init_node(tmp_path / "node-b", "NODE-B")
    anna = user(node, "anna", "DE-BKA", "DE")
    user(other, "pierre", "FR-DCPJ", "FR")
    a, b = Mailroom.open(node), Mailroom.open(other)
    mid = outbox.send(a, anna, Draft(to=["FR-DCPJ@NODE-B"], subject="m")).message.id
    with node.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == mid).values(handling="H3"))
        exported = exchange.export_envelopes(conn, a, [mid])[mid]
    assert isinstance(exported, bytes)
    taken = exchange.accept_incoming_many(b, [exported], node.name, a.crypto.verify_key)
    assert isinstance(taken.refused[0], IntegrityFailure)
    with other.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 0
    other.engine.dispose()
