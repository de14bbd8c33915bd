"""One process's federation runtime: the node, its links (cached), clients to the partners and
the record of how the last contact with each partner went.

Links change rarely (an operator accepts an offer) and are read on every federation request, so
they are cached and reloaded every ``LINKS_TTL`` seconds, or at once when an unknown partner or
certificate shows up (at most every ``MISS_INTERVAL``, so that unknown callers cannot make every
request a database query)."""

from __future__ import annotations

import threading
import time
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from polex.federation import links as links_mod
from polex.federation.client import Clients
from polex.federation.identity import NodeLike
from polex.federation.links import Link
from polex.messaging.mailroom import Mailroom
from polex.store.metadata import utcnow

LINKS_TTL = 2.0
MISS_INTERVAL = 0.5
# The same outcome is written at most this often per partner; a change of outcome at once.
CONTACT_WRITE_INTERVAL = 5.0


class Federation:
    def __init__(self, node: NodeLike) -> None:
        self.node = node
        self.name = node.name
        self.engine = node.engine
        self.clients = Clients(node.name, node.keys)
        self._lock = threading.Lock()
        self._links: dict[str, Link] = {}
        self._by_fingerprint: dict[str, Link] = {}
        self._loaded_at = float("-inf")
        self._contact: dict[str, tuple[bool, float]] = {}

    @cached_property
    def mailroom(self) -> Mailroom:
        return Mailroom.open(self.node)

    def refresh(self) -> list[Link]:
        with self.engine.connect() as conn:
            current = links_mod.all_links(conn)
        with self._lock:
            self._links = {link.node: link for link in current}
            self._by_fingerprint = {link.fingerprint: link for link in current}
            self._loaded_at = time.monotonic()
        return current

    def _fresh(self, miss: bool) -> None:
        age = time.monotonic() - self._loaded_at
        if age > LINKS_TTL or (miss and age > MISS_INTERVAL):
            self.refresh()

    def links(self) -> list[Link]:
        self._fresh(False)
        return sorted(self._links.values(), key=lambda link: link.node)

    def link(self, node: str) -> Link | None:
        self._fresh(False)
        if node not in self._links:
            self._fresh(True)
        return self._links.get(node)

    def link_by_fingerprint(self, fingerprint: str) -> Link | None:
        self._fresh(False)
        if fingerprint not in self._by_fingerprint:
            self._fresh(True)
        return self._by_fingerprint.get(fingerprint)

    def public_key(self, node: str) -> Ed25519PublicKey | None:
        """The partner's signing key (messaging's PartnerKeys)."""
        link = self.link(node)
        return link.signing_key if link else None

    def contact(self, node: str, error: str | None = None) -> None:
        """Note a successful (``error`` None) or failed exchange with a partner, for link status."""
        ok = error is None
        now = time.monotonic()
        with self._lock:
            last = self._contact.get(node)
            if last is not None and last[0] == ok and now - last[1] < CONTACT_WRITE_INTERVAL:
                return
            self._contact[node] = (ok, now)
        with self.engine.begin() as conn:
            links_mod.record_contact(conn, node, utcnow(), error)

    def close(self) -> None:
        self.clients.close()
