"""Delivery: queued -> delivered for this node's recipients, queued -> sent for partner nodes'.

All state is in the database, so any number of worker processes (``polex serve --workers N``
over one PostgreSQL database) share the work and a crash loses nothing:

- a local delivery is claimed and completed in one transaction (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, the single writer lock on SQLite) and the update only moves rows still queued,
  so each delivery happens exactly once however many workers race for it;
- a remote delivery is leased (``lease_until``), handed to the federation ``Transport`` outside
  any transaction, and marked sent when the partner's signed receipts come back; a lost answer
  means the lease runs out and the message goes again, which the partner, keyed on the message
  id, accepts once. A partner's queue goes out in outbox order (``seq``, the order the
  deliveries were written) and waits behind a failed message (retried after ``retry_delay``),
  so threads arrive in order after an outage.

``POLEX_DELIVERY_DELAY`` (see messaging.settings) holds local deliveries back for a while; tests
use it to kill a node between queueing and delivery."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Row, Select, bindparam, or_, select, update

from polex.messaging import exchange, store
from polex.messaging.errors import MessagingError
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Delivery, DeliveryState, aware
from polex.messaging.tables import message_deliveries, message_receipts, messages
from polex.store.db import is_sqlite
from polex.store.metadata import utcnow

log = logging.getLogger(__name__)
d = message_deliveries.c
BATCH = 500
LEASE = timedelta(seconds=60)  # a relay's claim on a delivery it is sending
SEND_BATCH = 100  # messages per request to a partner, when the transport takes batches
RETRY_FIRST = timedelta(seconds=1)
RETRY_MAX = timedelta(seconds=60)
MAX_QUEUED = timedelta(days=3)  # a delivery a partner could not take for this long fails


class Transport(Protocol):
    """How the federation carries messaging's bytes to a partner node (e.g. HTTPS with mutual
    TLS). Both calls raise TransportError when the partner could not be reached or refused."""

    def send(self, node: str, envelope: bytes) -> list[bytes]:
        """Hand a signed message envelope to ``node``; return the receipts it signed."""
        ...

    def send_receipt(self, node: str, receipt: bytes) -> None:
        """Hand a signed receipt to the node that sent the message."""
        ...


class PartnerKeys(Protocol):
    def public_key(self, node: str) -> Ed25519PublicKey | None:
        """The partner's message-signing key, or None for a node that is not a partner."""
        ...


@dataclass(frozen=True)
class BatchAnswer:
    """What a partner said to a batch: per envelope, in order, None or why it refused that one
    (a permanent error), and the receipts for the others as one signed list."""

    refused: list[TransportError | None]
    receipts: bytes


class BatchTransport(Transport, Protocol):
    """A transport that hands a partner many envelopes in one request (the relay uses it when
    the transport has it)."""

    def send_many(self, node: str, envelopes: Sequence[bytes]) -> BatchAnswer:
        """Raises TransportError when the partner took none of them."""
        ...


class TransportError(Exception):
    """``permanent``: retrying will not help (unknown node, refused by policy)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        self.reason = reason
        self.permanent = permanent
        super().__init__(reason)


# Built once per process: on the send path constructing statements costs more than running them.
_QUEUED_HERE = select(d.message_id, d.recipient).where(
    d.state == DeliveryState.queued.value, d.node == bindparam("node")
)
_MESSAGES = select(messages).where(messages.c.id.in_(bindparam("ids", expanding=True)))
_ONE_DELIVERY = (d.message_id == bindparam("b_mid"), d.recipient == bindparam("b_rcpt"))
_DELIVER = (
    update(message_deliveries)
    .where(*_ONE_DELIVERY, d.state == DeliveryState.queued.value)
    .values(
        state=DeliveryState.delivered.value,
        sent_at=bindparam("b_now"),
        delivered_at=bindparam("b_now"),
    )
)
_FAIL = (
    update(message_deliveries)
    .where(*_ONE_DELIVERY, d.state == DeliveryState.queued.value)
    .values(state=DeliveryState.failed.value, reason=bindparam("b_reason"))
)
_SENT = (
    update(message_deliveries)
    .where(*_ONE_DELIVERY, d.state == DeliveryState.queued.value)
    .values(state=DeliveryState.sent.value, sent_at=bindparam("b_now"), reason=None)
)
_LEASE = (
    update(message_deliveries)
    .where(*_ONE_DELIVERY, d.state == DeliveryState.queued.value)
    .values(lease_until=bindparam("b_lease"))
)
_LEASE_RECEIPT = (
    update(message_receipts)
    .where(
        message_receipts.c.message_id == bindparam("b_mid"),
        message_receipts.c.recipient == bindparam("b_rcpt"),
        message_receipts.c.state == bindparam("b_state"),
    )
    .values(lease_until=bindparam("b_lease"))
)


@lru_cache(maxsize=64)
def _claim(of_messages: bool, limit: int, skip_locked: bool) -> Select[Any]:
    """Queued local deliveries of given messages, or due ones oldest first; on PostgreSQL
    locked so that concurrent workers take disjoint rows."""
    if of_messages:
        query = _QUEUED_HERE.where(d.message_id.in_(bindparam("ids", expanding=True)))
    else:
        query = _QUEUED_HERE.where(d.queued_at <= bindparam("cutoff")).order_by(d.queued_at)
    query = query.limit(limit)
    return query.with_for_update(skip_locked=True) if skip_locked else query


def _deliver_rows(conn: Connection, room: Mailroom, claimed: Sequence[Row[Any]]) -> int:
    """Check each claimed message's integrity (on receipt) and move its delivery on; returns
    how many rows this call moved to delivered (only rows still queued move)."""
    ids = sorted({c.message_id for c in claimed})
    broken: dict[str, str] = {}
    for row in conn.execute(_MESSAGES, {"ids": ids}):
        try:
            store.decode(room.crypto, row)
        except MessagingError as exc:
            broken[row.id] = str(exc)
    now = utcnow()
    ok = [
        {"b_mid": c.message_id, "b_rcpt": c.recipient, "b_now": now}
        for c in claimed
        if c.message_id not in broken
    ]
    failed = [
        {"b_mid": c.message_id, "b_rcpt": c.recipient, "b_reason": broken[c.message_id]}
        for c in claimed
        if c.message_id in broken
    ]
    if failed:
        conn.execute(_FAIL, failed)
    return conn.execute(_DELIVER, ok).rowcount if ok else 0


def deliver_now(room: Mailroom, ids: Sequence[str]) -> dict[str, list[Delivery]]:
    """Deliver these messages' local recipients now (the sender's fast path); returns the
    messages' deliveries as they then stand."""
    with room.engine.begin() as conn:
        query = _claim(True, BATCH * 10, not is_sqlite(room.engine))
        claimed = conn.execute(query, {"node": room.node, "ids": list(ids)}).all()
        if claimed:
            _deliver_rows(conn, room, claimed)
        return store.deliveries(conn, ids)


def deliver_pending(room: Mailroom, limit: int = BATCH) -> int:
    """Deliver up to ``limit`` queued local deliveries, oldest first; returns how many."""
    cutoff = utcnow() - timedelta(seconds=room.settings.delivery_delay)
    with room.engine.begin() as conn:
        query = _claim(False, limit, not is_sqlite(room.engine))
        claimed = conn.execute(query, {"node": room.node, "cutoff": cutoff}).all()
        return _deliver_rows(conn, room, claimed) if claimed else 0


def retry_delay(attempts: int) -> timedelta:
    """How long a delivery waits after its ``attempts``-th failed try: 1 s, doubling, at most
    ``RETRY_MAX``, so a partner back from an outage gets its queue within a minute or so."""
    return min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_MAX)


def _lease_remote(
    room: Mailroom, limit: int, nodes: Collection[str] | None
) -> dict[tuple[str, str], list[str]]:
    """Claim queued deliveries to partner nodes for one relay pass in outbox order, grouped per
    message+node. A node with a delivery still leased (in flight, or waiting to be retried) gets
    nothing new: its queue waits behind its head, so the partner receives every thread in the
    order it was written. (The federation lets one process at a time relay to a partner.)"""
    now = utcnow()
    queued = DeliveryState.queued.value
    waiting = select(d.node).where(d.state == queued, d.node != room.node, d.lease_until > now)
    with room.engine.begin() as conn:
        query = (
            select(d.message_id, d.recipient, d.node)
            .where(
                d.state == queued,
                d.node != room.node,
                or_(d.lease_until.is_(None), d.lease_until <= now),
                d.node.not_in(waiting),
            )
            .order_by(d.seq)
            .limit(limit)
        )
        if nodes is not None:
            query = query.where(d.node.in_(list(nodes)))
        if not is_sqlite(room.engine):
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in rows:
            groups[(r.message_id, r.node)].append(r.recipient)
        if rows:
            conn.execute(
                _LEASE,
                [
                    {"b_mid": r.message_id, "b_rcpt": r.recipient, "b_lease": now + LEASE}
                    for r in rows
                ],
            )
        return groups


def _mark(room: Mailroom, message_id: str, recipients: list[str], **values: object) -> None:
    with room.engine.begin() as conn:
        conn.execute(
            update(message_deliveries)
            .where(
                d.message_id == message_id,
                d.recipient.in_(recipients),
                d.state == DeliveryState.queued.value,
            )
            .values(**values)
        )


def _release(room: Mailroom, claimed: list[tuple[str, str]]) -> None:
    """Give back deliveries claimed for a pass but not tried: they go after the one that failed."""
    if claimed:
        with room.engine.begin() as conn:
            conn.execute(_LEASE, [{"b_mid": m, "b_rcpt": r, "b_lease": None} for m, r in claimed])


def _retry_or_fail(
    room: Mailroom, message_id: str, recipients: list[str], exc: TransportError
) -> None:
    """A failed try: the delivery waits ``retry_delay`` and goes again, unless the failure is
    permanent or the delivery has waited ``MAX_QUEUED`` already (a partner's outage alone never
    loses a message sooner)."""
    now = utcnow()
    with room.engine.begin() as conn:
        rows = conn.execute(
            select(d.recipient, d.attempts, d.queued_at).where(
                d.message_id == message_id,
                d.recipient.in_(recipients),
                d.state == DeliveryState.queued.value,
            )
        ).all()
        for r in rows:
            attempts = r.attempts + 1
            values: dict[str, Any] = {"attempts": attempts}
            if exc.permanent or now - aware(r.queued_at) > MAX_QUEUED:
                values |= {"state": DeliveryState.failed.value, "reason": exc.reason}
            else:
                values |= {
                    "reason": f"retrying: {exc.reason}",
                    "lease_until": now + retry_delay(attempts),
                }
            conn.execute(
                update(message_deliveries)
                .where(d.message_id == message_id, d.recipient == r.recipient)
                .values(**values)
            )


def relay_pending(
    room: Mailroom,
    transport: Transport,
    partners: PartnerKeys,
    limit: int = 100,
    nodes: Collection[str] | None = None,
) -> int:
    """One relay pass (to ``nodes``, default every partner): queued messages in outbox order,
    then receipts this node owes; returns how many deliveries the partners accepted."""
    queues: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for (mid, node), recipients in _lease_remote(room, limit, nodes).items():
        queues[node].append((mid, recipients))
    accepted = sum(
        _relay_to(room, transport, partners, node, queue) for node, queue in queues.items()
    )
    _relay_receipts(room, transport, limit, nodes)
    return accepted


def _send_chunk(
    transport: Transport, node: str, envelopes: list[bytes]
) -> tuple[list[TransportError | None], list[bytes], bytes | None]:
    """Per envelope None or why it was refused; the receipts, single or as a signed list."""
    many = getattr(transport, "send_many", None)
    if many is not None:
        answer: BatchAnswer = many(node, envelopes)
        return answer.refused, [], answer.receipts
    (envelope,) = envelopes
    return [None], transport.send(node, envelope), None


def _relay_to(
    room: Mailroom,
    transport: Transport,
    partners: PartnerKeys,
    node: str,
    queue: list[tuple[str, list[str]]],
) -> int:
    """Hand one partner its claimed messages in order, ``SEND_BATCH`` a request when the
    transport takes batches. A partner that cannot be reached ends the pass for it: what was
    claimed behind the failed message is released to go after it."""
    key = partners.public_key(node)
    if key is None:
        for mid, recipients in queue:
            _retry_or_fail(room, mid, recipients, TransportError(f"{node} is not a partner", True))
        return 0
    with room.engine.connect() as conn:
        exported = exchange.export_envelopes(conn, room, [mid for mid, _ in queue])
    envelopes: dict[str, bytes] = {}
    for mid, recipients in queue:
        outcome = exported[mid]
        if isinstance(outcome, MessagingError):
            _mark(room, mid, recipients, state=DeliveryState.failed.value, reason=str(outcome))
        else:
            envelopes[mid] = outcome
    ready = [(mid, recipients) for mid, recipients in queue if mid in envelopes]
    size = SEND_BATCH if getattr(transport, "send_many", None) is not None else 1
    # Recording what a request delivered overlaps with sending the next one (sends stay in
    # order, in this thread).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="polex-relay-settle") as settler:
        settled: list[Future[int]] = []
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            try:
                refused, receipts, listed = _send_chunk(
                    transport, node, [envelopes[mid] for mid, _ in chunk]
                )
            except TransportError as exc:
                if exc.permanent:
                    for mid, recipients in chunk:
                        _retry_or_fail(room, mid, recipients, exc)
                    continue
                head, *rest = chunk
                _retry_or_fail(room, head[0], head[1], exc)
                _release(room, [(m, r) for m, rs in rest + ready[start + size :] for r in rs])
                break
            sent: list[tuple[str, str]] = []
            for (mid, recipients), error in zip(chunk, refused, strict=True):
                if error is not None:
                    _retry_or_fail(room, mid, recipients, error)
                    continue
                sent.extend((mid, r) for r in recipients)
            settled.append(settler.submit(_settle, room, node, key, sent, receipts, listed))
    return sum(f.result() for f in settled)


def _settle(
    room: Mailroom,
    node: str,
    key: Ed25519PublicKey,
    sent: list[tuple[str, str]],
    receipts: list[bytes],
    listed: bytes | None,
) -> int:
    """Mark what a partner took as sent and apply the receipts it signed (single ones, or a
    signed list); returns how many were applied."""
    if sent:
        with room.engine.begin() as conn:
            now = utcnow()
            conn.execute(_SENT, [{"b_mid": m, "b_rcpt": r, "b_now": now} for m, r in sent])
    outcomes = exchange.apply_receipts(room, receipts, node, key) if receipts else []
    if listed is not None:
        try:
            outcomes += exchange.apply_receipt_list(room, listed, node, key)
        except MessagingError as exc:  # the list as a whole; the partner has the messages
            log.warning("receipts from %s refused: %s", node, exc)
    accepted = 0
    for refused in outcomes:
        if refused is not None:
            log.warning("receipt from %s refused: %s", node, refused)
        else:
            accepted += 1
    return accepted


def _relay_receipts(
    room: Mailroom, transport: Transport, limit: int, nodes: Collection[str] | None
) -> None:
    r = message_receipts.c
    now = utcnow()
    with room.engine.begin() as conn:
        query = (
            select(message_receipts)
            .where(r.outbox_state == "queued", or_(r.lease_until.is_(None), r.lease_until <= now))
            .order_by(r.created_at)
            .limit(limit)
        )
        if nodes is not None:
            query = query.where(r.node.in_(list(nodes)))
        if not is_sqlite(room.engine):
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows:
            conn.execute(_LEASE_RECEIPT, [_receipt_key(row, now + LEASE) for row in rows])
    down: set[str] = set()
    for row in rows:
        if row.node in down:
            with room.engine.begin() as conn:
                conn.execute(_LEASE_RECEIPT, [_receipt_key(row, None)])
            continue
        try:
            transport.send_receipt(
                row.node, exchange.receipt_bytes(row.document, bytes(row.signature))
            )
        except TransportError as exc:
            log.warning("receipt for %s to %s not sent: %s", row.message_id, row.node, exc)
            if not exc.permanent:
                down.add(row.node)
            with room.engine.begin() as conn:
                conn.execute(
                    update(message_receipts)
                    .where(
                        r.message_id == row.message_id,
                        r.recipient == row.recipient,
                        r.state == row.state,
                    )
                    .values(
                        attempts=row.attempts + 1,
                        lease_until=utcnow() + retry_delay(row.attempts + 1),
                    )
                )
            continue
        with room.engine.begin() as conn:
            conn.execute(
                update(message_receipts)
                .where(
                    r.message_id == row.message_id,
                    r.recipient == row.recipient,
                    r.state == row.state,
                )
                .values(outbox_state="sent", sent_at=utcnow())
            )


def _receipt_key(row: Row[Any], lease: datetime | None) -> dict[str, Any]:
    return {
        "b_mid": row.message_id,
        "b_rcpt": row.recipient,
        "b_state": row.state,
        "b_lease": lease,
    }


class DeliveryWorker:
    """A background thread per process: delivers local messages, and relays to partner nodes
    once the federation provides a transport. Woken at once by sends in this process, and
    polling for work queued by other processes or left by a crash."""

    def __init__(
        self,
        room: Mailroom,
        transport: Transport | None = None,
        partners: PartnerKeys | None = None,
    ) -> None:
        self.room = room
        self.transport = transport
        self.partners = partners
        self._stop = threading.Event()
        self._wake = room.wake.listen()
        self._thread = threading.Thread(target=self._run, name="polex-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.room.wake.forget(self._wake)

    def step(self) -> int:
        done = deliver_pending(self.room)
        if self.transport is not None and self.partners is not None:
            done += relay_pending(self.room, self.transport, self.partners)
        return done

    def _run(self) -> None:
        interval = self.room.settings.delivery_interval
        if self.room.settings.delivery_delay:
            interval = min(interval, self.room.settings.delivery_delay)
        while not self._stop.is_set():
            self._wake.clear()  # before the pass: work queued during it rings again
            try:
                busy = self.step() > 0
            except Exception:  # a worker that dies silently would strand the queue
                log.exception("delivery pass failed; retrying")
                busy = False
            if not busy:
                self._wake.wait(interval)
