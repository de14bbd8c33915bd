"""Messages to a partner node: queued for the relay, accepted once by the partner after checking
the sender node's signature, receipts signed by the partner moving the sender's deliveries on.

The two nodes are real (each its own keys and database); the transport between them is an
in-process one that calls the partner's accept functions, as the federation's HTTPS transport
will."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from polex.access import accounts
from polex.access.principal import Principal
from polex.messaging import delivery, exchange, mailbox, outbox
from polex.messaging.addresses import Address
from polex.messaging.attachments import stage
from polex.messaging.delivery import TransportError
from polex.messaging.errors import Denied, IntegrityFailure
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import DeliveryState, Draft
from polex.messaging.tables import messages
from polex.node.home import Node, init_node
from polex.store import agencies


@dataclass
class Loopback:
    """Carries one node's envelopes and receipts straight to its partners' accept functions."""

    origin: Mailroom
    partners: dict[str, Mailroom]
    fail_with: TransportError | None = None
    sent: list[bytes] = field(default_factory=list)

    def send(self, node: str, envelope: bytes) -> list[bytes]:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(envelope)
        return exchange.accept_incoming(
            self.partners[node], envelope, self.origin.node, self.origin.crypto.verify_key
        )

    def send_receipt(self, node: str, receipt: bytes) -> None:
        exchange.apply_receipt(
            self.partners[node], receipt, self.origin.node, self.origin.crypto.verify_key
        )


@dataclass
class Keys:
    rooms: dict[str, Mailroom]

    def public_key(self, node: str) -> Ed25519PublicKey | None:
        room = self.rooms.get(node)
        return room.crypto.verify_key if room else None


@dataclass
class Pair:
    a: Mailroom
    b: Mailroom
    anna: Principal  # DE-BKA on node a
    pierre: Principal  # FR-DCPJ on NODE-B

    def a_to_b(self, **kw: object) -> Loopback:
        return Loopback(self.a, {"NODE-B": self.b}, **kw)  # type: ignore[arg-type]

    def b_to_a(self) -> Loopback:
        return Loopback(self.b, {self.a.node: self.a})

    @property
    def keys(self) -> Keys:
        return Keys({self.a.node: self.a, "NODE-B": self.b})


def _user(node: Node, username: str, agency: str, country: str) -> Principal:
    with node.engine.begin() as conn:
        if agencies.get(conn, agency) is None:
            agencies.add(conn, agency, agency, country)
        accounts.add_user(conn, username, agency, "officer")
        return accounts.principal_for(conn, username, node.name)


@pytest.fixture
def pair(node: Node, tmp_path: Path) -> Pair:
    other = init_node(tmp_path / "node-b", "NODE-B")
    pair = Pair(
        a=Mailroom.open(node),
        b=Mailroom.open(other),
        anna=_user(node, "anna", "DE-BKA", "DE"),
        pierre=_user(other, "pierre", "FR-DCPJ", "FR"),
    )
    yield pair
    other.engine.dispose()


def test_message_to_a_partner_node_is_delivered_and_receipts_flow_back(pair: Pair) -> None:
    with pair.a.engine.begin() as conn:
        upload = stage(conn, pair.a.blobs, pair.anna, "plate.txt", None, b"B-XY 123", 1000)
    sent = outbox.send(
        pair.a,
        pair.anna,
        Draft(to=["FR-DCPJ@NODE-B"], subject="Van", body="Blue van", attachments=[upload.id]),
    )
    assert [d.state.value for d in sent.deliveries] == ["queued"]

    link = pair.a_to_b()
    assert delivery.relay_pending(pair.a, link, pair.keys) == 1
    assert delivery.relay_pending(pair.a, link, pair.keys) == 0  # nothing left queued
    (inbox_line,) = mailbox.list_messages(pair.b, pair.pierre, "inbox")[0]
    assert inbox_line.id == sent.message.id and inbox_line.subject == "Van"
    assert str(inbox_line.sender) == "DE-BKA@TEST-NODE"
    theirs = mailbox.read(pair.a, pair.anna, sent.message.id)
    assert [d.state.value for d in theirs.deliveries] == ["delivered"]
    meta, data = mailbox.download(pair.b, pair.pierre, sent.message.id, upload.meta.sha256)
    assert data == b"B-XY 123" and meta.filename == "plate.txt"

    mailbox.acknowledge(pair.b, pair.pierre, sent.message.id)
    delivery.relay_pending(pair.b, pair.b_to_a(), pair.keys)
    (receipt,) = mailbox.read(pair.a, pair.anna, sent.message.id).deliveries
    assert receipt.state.value == "acknowledged"
    assert receipt.acknowledged_by == "pierre@FR-DCPJ"


def test_relayed_twice_the_partner_stores_it_once(pair: Pair) -> None:
    sent = outbox.send(pair.a, pair.anna, Draft(to=["FR-DCPJ@NODE-B"], subject="Once"))
    link = pair.a_to_b()
    delivery.relay_pending(pair.a, link, pair.keys)
    receipts = link.send("NODE-B", link.sent[0])  # the relay lost the answer and sends again
    assert json.loads(receipts[0])["document"]["state"] == "delivered"
    with pair.b.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 1
    assert [m.id for m in mailbox.list_messages(pair.b, pair.pierre, "inbox")[0]] == [
        sent.message.id
    ]


def test_partner_refuses_a_tampered_or_misattributed_envelope(pair: Pair) -> None:
    outbox.send(pair.a, pair.anna, Draft(to=["FR-DCPJ@NODE-B"], subject="Original"))
    with pair.a.engine.begin() as conn:
        mid = conn.execute(select(messages.c.id)).scalar_one()
        envelope = exchange.export_envelope(conn, pair.a, mid)
    wire = json.loads(envelope)
    wire["document"]["subject"] = "Altered"
    with pytest.raises(IntegrityFailure, match="signature invalid"):
        exchange.accept_incoming(
            pair.b, json.dumps(wire).encode(), pair.a.node, pair.a.crypto.verify_key
        )
    # signed by node a, but presented as coming from a third node with a's key: refused
    with pytest.raises(Denied):
        exchange.accept_incoming(pair.b, envelope, "NODE-C", pair.a.crypto.verify_key)
    with pytest.raises(IntegrityFailure):
        exchange.accept_incoming(pair.b, envelope, pair.a.node, pair.b.crypto.verify_key)
    assert mailbox.list_messages(pair.b, pair.pierre, "inbox")[0] == []


def test_unknown_agency_and_transport_failures(pair: Pair) -> None:
    lost = outbox.send(pair.a, pair.anna, Draft(to=["XX-NONE@NODE-B"], subject="Nobody"))
    delivery.relay_pending(pair.a, pair.a_to_b(), pair.keys)
    (failed,) = mailbox.read(pair.a, pair.anna, lost.message.id).deliveries
    assert failed.state.value == "failed" and "no such agency" in (failed.reason or "")

    retry = outbox.send(pair.a, pair.anna, Draft(to=["FR-DCPJ@NODE-B"], subject="Retry"))
    delivery.relay_pending(pair.a, pair.a_to_b(fail_with=TransportError("timeout")), pair.keys)
    (waiting,) = mailbox.read(pair.a, pair.anna, retry.message.id).deliveries
    assert waiting.state.value == "queued" and waiting.reason == "retrying: timeout"

    gone = outbox.send(pair.a, pair.anna, Draft(to=["FR-DCPJ@NODE-Z"], subject="No partner"))
    delivery.relay_pending(pair.a, pair.a_to_b(), pair.keys)
    (refused,) = mailbox.read(pair.a, pair.anna, gone.message.id).deliveries
    assert refused.state.value == "failed" and "not a partner" in (refused.reason or "")


def test_a_node_signs_receipts_only_for_its_own_agencies(pair: Pair) -> None:
    sent = outbox.send(pair.a, pair.anna, Draft(to=["FR-DCPJ@NODE-B"], subject="Receipts"))
    document = exchange.receipt_document(
        pair.b,
        sent.message.id,
        Address("FR-DCPJ", "NODE-B"),
        DeliveryState.acknowledged,
        sent.message.created_at,
    )
    receipt = exchange.receipt_bytes(document, pair.b.crypto.sign(document))
    with pytest.raises(Denied):
        exchange.apply_receipt(pair.a, receipt, "NODE-C", pair.b.crypto.verify_key)
    with pytest.raises(IntegrityFailure):
        exchange.apply_receipt(pair.a, receipt, "NODE-B", pair.a.crypto.verify_key)
    applied = exchange.apply_receipt(pair.a, receipt, "NODE-B", pair.b.crypto.verify_key)
    assert applied.state.value == "acknowledged"
