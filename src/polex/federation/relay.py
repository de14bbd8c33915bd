"""The relay: messaging's durable outbox carried to partner nodes over the federation port.

Messaging owns the outbox (what is queued, leases, retries with backoff, receipts); this module
gives it a transport (HTTPS with mutual TLS, signed requests) and the loop that drives it. So
that a partner receives each thread in order, only one process relays to a given partner at a
time: it holds that partner's row in ``federation_relay`` for ``RELAY_LEASE`` and renews it while
it runs; another worker or host takes over once the lease runs out. The same loop keeps the
links fresh (and the TLS pins with them), forgets old nonces and pings idle partners so that
link status stays true when no traffic flows, and offers partners this node's new records
for cross-node matching (crossnode.py)."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

import httpx
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from polex.federation import crossnode
from polex.federation.links import Link
from polex.federation.service import Federation
from polex.federation.signing import purge_nonces
from polex.federation.tables import federation_relay
from polex.messaging import delivery
from polex.messaging.delivery import TransportError
from polex.store.metadata import utcnow

log = logging.getLogger(__name__)

RELAY_LEASE = timedelta(seconds=30)
RENEW_BEFORE = timedelta(seconds=10)
# Sends in this process ring the relay at once; the poll finds work queued by other workers,
# retries falling due and records to offer for matching.
POLL_INTERVAL = 0.5
MATCH_INTERVAL = 1.0
RELAY_BATCH = 500  # deliveries claimed per pass and partner (sent SEND_BATCH a request)
PURGE_INTERVAL = 60.0
HEARTBEAT_INTERVAL = 15.0
PING_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
# Answers after which sending the same request again cannot succeed.
PERMANENT_STATUSES = frozenset({400, 404, 409, 413, 422})


class HttpsTransport:
    """messaging's (batch) Transport over the federation port."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed

    def _post(self, node: str, path: str, body: bytes) -> httpx.Response:
        link = self.fed.link(node)
        if link is None:
            raise TransportError(f"{node} is not a partner", permanent=True)
        try:
            response = self.fed.clients.for_link(link).request("POST", path, body)
        except httpx.HTTPError as exc:
            reason = f"{node} unreachable: {exc.__class__.__name__}: {exc}"
            self.fed.contact(node, reason)
            raise TransportError(reason) from exc
        if response.status_code >= 400:
            reason = f"{node} answered {response.status_code}: {response.text[:300]}"
            self.fed.contact(node, reason)
            raise TransportError(reason, permanent=response.status_code in PERMANENT_STATUSES)
        self.fed.contact(node)
        return response

    def send(self, node: str, envelope: bytes) -> list[bytes]:
        answer = self._post(node, "/federation/v1/messages", envelope).json()
        return [base64.b64decode(r) for r in answer.get("receipts", [])]

    def send_many(self, node: str, envelopes: Sequence[bytes]) -> delivery.BatchAnswer:
        body = b'{"envelopes":[' + b",".join(envelopes) + b"]}"
        answer = self._post(node, "/federation/v1/messages/batch", body).json()
        results = answer.get("results") if isinstance(answer, dict) else None
        receipts = answer.get("receipts") if isinstance(answer, dict) else None
        if (
            not isinstance(results, list)
            or len(results) != len(envelopes)
            or not isinstance(receipts, str)
        ):
            raise TransportError(f"{node} answered a batch of {len(envelopes)} unreadably")
        refused: list[TransportError | None] = []
        for result in results:
            error = result.get("error") if isinstance(result, dict) else None
            if error is None:
                refused.append(None)
                continue
            reason = f"{node} refused it: {error.get('rule')}: {error.get('detail')}"
            refused.append(TransportError(reason, permanent=True))
        return delivery.BatchAnswer(refused, base64.b64decode(receipts))

    def send_receipt(self, node: str, receipt: bytes) -> None:
        self._post(node, "/federation/v1/receipts", receipt)


def ping(fed: Federation, link: Link) -> bool:
    """Ask the partner whether the link is up, and record the answer for link status."""
    try:
        response = fed.clients.for_link(link).request(
            "GET", "/federation/v1/ping", timeout=PING_TIMEOUT
        )
    except httpx.HTTPError as exc:
        fed.contact(link.node, f"{link.node} unreachable: {exc.__class__.__name__}: {exc}")
        return False
    if response.status_code != 200:
        fed.contact(link.node, f"{link.node} answered {response.status_code}")
        return False
    fed.contact(link.node)
    return True


class RelayLeases:
    """Which partners this process relays to: a row per partner, held until its lease ends."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.holder = uuid.uuid4().hex
        self._held: dict[str, float] = {}  # node -> monotonic time to renew by

    def claim(self, node: str) -> bool:
        if time.monotonic() < self._held.get(node, float("-inf")):
            return True
        now = utcnow()
        r = federation_relay.c
        with self.fed.engine.begin() as conn:
            taken = conn.execute(
                update(federation_relay)
                .where(r.node == node, (r.holder == self.holder) | (r.lease_until < now))
                .values(holder=self.holder, lease_until=now + RELAY_LEASE)
            ).rowcount
        if not taken:
            try:
                with self.fed.engine.begin() as conn:
                    conn.execute(
                        insert(federation_relay).values(
                            node=node, holder=self.holder, lease_until=now + RELAY_LEASE, failures=0
                        )
                    )
            except IntegrityError:
                self._held.pop(node, None)
                return False
        renew_in = (RELAY_LEASE - RENEW_BEFORE).total_seconds()
        self._held[node] = time.monotonic() + renew_in
        return True

    def release_all(self) -> None:
        r = federation_relay.c
        with self.fed.engine.begin() as conn:
            conn.execute(
                update(federation_relay)
                .where(r.holder == self.holder)
                .values(lease_until=utcnow() - RELAY_LEASE)
            )
        self._held.clear()


class Relay:
    """Background threads per process serving the federation port: one relays messages and
    receipts (woken at once when this process queues any), one offers records for cross-node
    matching, so that a backlog of records to match never holds up a message."""

    def __init__(
        self,
        fed: Federation,
        on_links: Callable[[list[Link]], None] | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.fed = fed
        self.on_links = on_links
        self.transport = HttpsTransport(fed)
        self.leases = RelayLeases(fed)
        self._stop = threading.Event()
        self._wake = fed.mailroom.wake.listen()
        self._threads = [
            threading.Thread(
                target=self._loop,
                args=(self.step, self._wake, interval),
                name="polex-relay",
                daemon=True,
            ),
            threading.Thread(
                target=self._loop,
                args=(self.match_step, self._stop, max(interval, MATCH_INTERVAL)),
                name="polex-crossnode",
                daemon=True,
            ),
        ]
        self._purged = float("-inf")
        self._pinged: dict[str, float] = {}
        self._match_retry: dict[str, float] = {}
        self._match_failures: dict[str, int] = {}

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self.fed.mailroom.wake.forget(self._wake)
        self.leases.release_all()

    def _held(self) -> list[Link]:
        """The partners this process relays to now."""
        return [
            link
            for link in self.fed.links()
            if not self._stop.is_set() and self.leases.claim(link.node)
        ]

    def step(self) -> int:
        """One pass over every partner; returns how many deliveries went through."""
        current = self.fed.links()
        if self.on_links is not None:
            self.on_links(current)
        moved = 0
        for link in self._held():
            moved += delivery.relay_pending(
                self.fed.mailroom, self.transport, self.fed, limit=RELAY_BATCH, nodes=[link.node]
            )
            self._heartbeat(link)
        if time.monotonic() - self._purged > PURGE_INTERVAL:
            with self.fed.engine.begin() as conn:
                purge_nonces(conn)
            self._purged = time.monotonic()
        return moved

    def match_step(self) -> int:
        """One pass of cross-node matching offers; returns how many records were offered."""
        return sum(self._crossmatch(link) for link in self._held())

    def _crossmatch(self, link: Link) -> int:
        """Offer the partner our new records, backing off while it cannot be reached."""
        if time.monotonic() < self._match_retry.get(link.node, float("-inf")):
            return 0
        try:
            offered = crossnode.push(self.fed, link)
        except httpx.HTTPError as exc:
            failures = self._match_failures.get(link.node, 0) + 1
            self._match_failures[link.node] = failures
            delay = delivery.retry_delay(failures).total_seconds()
            self._match_retry[link.node] = time.monotonic() + delay
            self.fed.contact(link.node, f"{link.node} cross-matching failed: {exc}")
            return 0
        self._match_failures.pop(link.node, None)
        return offered

    def _heartbeat(self, link: Link) -> None:
        if time.monotonic() - self._pinged.get(link.node, float("-inf")) < HEARTBEAT_INTERVAL:
            return
        self._pinged[link.node] = time.monotonic()
        ping(self.fed, link)

    def _loop(self, step: Callable[[], int], wake: threading.Event, interval: float) -> None:
        while not self._stop.is_set():
            if wake is not self._stop:
                wake.clear()  # before the pass: work queued during it rings again
            try:
                busy = step() > 0
            except Exception:  # a relay that dies silently would strand the outbox
                log.exception("relay pass failed; retrying")
                busy = False
            if not busy:
                wake.wait(interval)
