"""The durable outbox: deliveries claimed by racing workers happen once, and work queued by a
process that stopped is finished by any other process's delivery worker."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from polex.messaging import delivery, mailbox, outbox
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Draft
from polex.messaging.settings import MessagingSettings
from polex.messaging.tables import message_deliveries
from polex.node.home import Node


def _queue(node: Node, principal, count: int) -> list[str]:
    """Send as a process that queues but does not deliver (as if it died right after)."""
    stalled = Mailroom.open(node, MessagingSettings(delivery_delay=3600))
    return [
        outbox.send(
            stalled, principal, Draft(to=["FR-DCPJ", "NL-KLPD"], subject=f"n{i}")
        ).message.id
        for i in range(count)
    ]


def test_racing_workers_deliver_each_delivery_exactly_once(node: Node, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    make_actor("jan", "NL-KLPD", country="NL")
    ids = _queue(node, anna.principal, 60)
    room = Mailroom.open(node, MessagingSettings())
    counts: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while done := delivery.deliver_pending(room, limit=7):
                counts.append(done)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 2 * len(ids)
    with node.engine.connect() as conn:
        states = conn.execute(select(message_deliveries.c.state)).scalars().all()
    assert sorted(set(states)) == ["delivered"] and len(states) == 2 * len(ids)
    assert delivery.deliver_pending(room) == 0


def test_delivery_delay_holds_local_delivery_back(node: Node, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    make_actor("jan", "NL-KLPD", country="NL")
    (mid,) = _queue(node, anna.principal, 1)
    held = Mailroom.open(node, MessagingSettings(delivery_delay=3600))
    assert delivery.deliver_pending(held) == 0
    reading = mailbox.read(held, anna.principal, mid)
    assert {d.state.value for d in reading.deliveries} == {"queued"}
    assert delivery.deliver_pending(Mailroom.open(node, MessagingSettings())) == 2


def test_the_apps_worker_finishes_what_another_process_queued(client, node, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    make_actor("jan", "NL-KLPD", country="NL")
    (mid,) = _queue(node, anna.principal, 1)
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/messages/{mid}", headers=anna.headers).json()["state"]
        if state == "delivered":
            break
        time.sleep(0.1)
    assert state == "delivered"
    inbox = client.get("/api/v1/messages", headers=pierre.headers).json()
    assert [m["id"] for m in inbox["items"]] == [mid]
