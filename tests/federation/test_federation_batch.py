"""The batch path the relay uses: many envelopes in one request and one transaction, each
answered on its own, a repeat stored once, a tampered one refused without sinking the rest."""

from __future__ import annotations

import json
from pathlib import Path

from fedkit import user
from sqlalchemy import func, select

from polex.messaging import exchange, outbox
from polex.messaging.errors import IntegrityFailure, MessagingError
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Draft
from polex.messaging.tables import messages
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
    outcomes = exchange.accept_incoming_many(b, batch, node.name, key)
    assert isinstance(outcomes[3], IntegrityFailure)
    receipts = [o for o in outcomes[:3] if not isinstance(o, MessagingError)]
    assert len(receipts) == 3 and receipts[0] == receipts[2]
    with other.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 2

    again = exchange.accept_incoming_many(b, batch[:2], node.name, key)
    states = [json.loads(r[0])["document"]["state"] for r in again if isinstance(r, list)]
    assert states == ["delivered"] * 2
    applied = exchange.apply_receipts(
        a, [r for o in receipts for r in o], "NODE-B", b.crypto.verify_key
    )
    assert applied == [None, None, None]
    other.engine.dispose()
