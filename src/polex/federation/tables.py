"""Links to partner nodes, the nonces of requests already seen, and who relays to which partner.

Everything here is in the database rather than in a process because several workers (and
several hosts over one PostgreSQL database) share one node: a nonce seen by one worker must be
refused by every other, and only one process at a time relays to a given partner so that the
partner receives a thread's messages in the order they were sent."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from polex.store.metadata import Json, Timestamp, metadata

federation_links = Table(
    "federation_links",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("endpoint", String(500), nullable=False),
    Column("ca_cert", Text, nullable=False),
    Column("cert", Text, nullable=False),
    # SHA-256 of the partner's node certificate (DER): the only client/server cert accepted
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("signing_key", Text, nullable=False),
    # what this node shares with the partner (enforced here) and what the partner said it
    # shares with us (used only to decide what to ask it)
    Column("ours", Json, nullable=False),
    Column("theirs", Json, nullable=False),
    # the partner's signed offer as accepted, kept to show what was agreed
    Column("offer", Json, nullable=False),
    Column("accepted_at", Timestamp, nullable=False),
    Column("accepted_by", String(160), nullable=False),
    Column("last_contact_at", Timestamp),
    Column("last_failure_at", Timestamp),
    Column("last_error", Text),
)

federation_nonces = Table(
    "federation_nonces",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", Timestamp, nullable=False),
    Index("ix_federation_nonces_seen", "seen_at"),
)

# One row per partner: the process currently relaying to it, until its lease runs out.
federation_relay = Table(
    "federation_relay",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("lease_until", Timestamp, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("retry_at", Timestamp),
)

# Offers this node issued: what it declared it shares, the default grant when it accepts the
# partner's offer in return.
federation_offers = Table(
    "federation_offers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("endpoint", String(500), nullable=False),
    Column("shares", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# Per partner: the records written since they were last offered to it for cross-node
# matching, queued in the writer's own transaction (federation/offers.py), and offered oldest
# first by the index (revision 0007).
federation_offer_queue = Table(
    "federation_offer_queue",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("record_id", String(40), primary_key=True),
    Column("queued_at", Timestamp, nullable=False),
    Index("ix_federation_offer_queue_oldest", "node", "queued_at", "record_id"),
)
