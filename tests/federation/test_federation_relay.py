"""Messages and receipts cross the link through the real federation ports and relays; a partner
that is down loses nothing, receives each message once, and each thread in order."""

from __future__ import annotations

from typing import Any

from fedkit import Pair, serve, user, wait_for
from sqlalchemy import func, select

from polex.federation.relay import RelayLeases
from polex.federation.status import link_status
from polex.messaging import mailbox, outbox
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Draft
from polex.messaging.tables import message_deliveries, messages


def states(room: Mailroom, principal: Any, message_id: str) -> list[str]:
    return [d.state.value for d in mailbox.read(room, principal, message_id).deliveries]


def test_a_message_crosses_and_its_receipts_return(pair: Pair) -> None:
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    pierre = user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    room_a, room_b = pair.a.fed.mailroom, pair.b.fed.mailroom
    sent = outbox.send(room_a, anna, Draft(to=["FR-DCPJ@NODE-B"], subject="Blue van"))
    mid = sent.message.id
    wait_for(lambda: states(room_a, anna, mid) == ["delivered"], what="delivered receipt")
    (inbox,) = mailbox.list_messages(room_b, pierre, "inbox")[0]
    assert inbox.id == mid and inbox.subject == "Blue van"

    mailbox.acknowledge(room_b, pierre, mid)
    wait_for(lambda: states(room_a, anna, mid) == ["acknowledged"], what="acknowledged receipt")
    (delivery,) = mailbox.read(room_a, anna, mid).deliveries
    assert delivery.acknowledged_by == "pierre@FR-DCPJ"


def test_an_outage_loses_nothing_and_keeps_threads_in_order(pair: Pair) -> None:
    anna = user(pair.a.node, "anna", "DE-BKA", "DE")
    user(pair.b.node, "pierre", "FR-DCPJ", "FR")
    room_a = pair.a.fed.mailroom
    pair.b.stop()
    sent: list[str] = []
    heads: list[str] = []
    for i in range(12):
        thread = i % 3
        draft = Draft(
            to=["FR-DCPJ@NODE-B"],
            subject=f"thread {thread} message {i}",
            in_reply_to=heads[thread] if len(heads) > thread else None,
        )
        message = outbox.send(room_a, anna, draft).message
        if len(heads) <= thread:
            heads.append(message.id)
        sent.append(message.id)

    def queued() -> int:
        with pair.a.node.engine.connect() as conn:
            (status,) = link_status(conn)
        return status.queued_messages if status.state == "down" else -1

    wait_for(lambda: queued() == 12, what="link down with 12 queued")

    pair.b = serve(pair.b.node, pair.b.port)
    wait_for(lambda: all(states(room_a, anna, m) == ["delivered"] for m in sent), 60, "delivery")
    with pair.b.node.engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.id, messages.c.thread_id)
            .join(message_deliveries, message_deliveries.c.message_id == messages.c.id)
            .order_by(message_deliveries.c.seq)  # the arrival order
        ).all()
        deliveries = conn.execute(select(func.count()).select_from(message_deliveries)).scalar()
    assert sorted(r.id for r in rows) == sorted(sent) and deliveries == 12
    for head in heads:
        arrived = [r.id for r in rows if r.thread_id == head]
        assert arrived == [m for m in sent if m in arrived]
    with pair.a.node.engine.connect() as conn:
        (status,) = link_status(conn)
    assert status.state == "up" and status.queue_depth == 0


def test_one_process_at_a_time_relays_to_a_partner(pair: Pair) -> None:
    mine, other = RelayLeases(pair.a.fed), RelayLeases(pair.a.fed)
    # the running relay of node A holds NODE-B already
    assert not mine.claim("NODE-B") and not other.claim("NODE-B")
    assert mine.claim("NODE-X") and not other.claim("NODE-X")
    mine.release_all()
    assert other.claim("NODE-X")
