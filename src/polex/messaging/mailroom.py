"""Everything the messaging use cases need from a node, opened once per process.

Messaging reads the node's keys, database and home through this small context rather than
importing the node package, so the capability stays below the composition layer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from polex.messaging import settings as settings_mod
from polex.messaging.attachments import BlobStore
from polex.messaging.crypto import KeySource, NodeCrypto
from polex.messaging.settings import MessagingSettings


class NodeLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def home(self) -> Path: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def keys(self) -> KeySource: ...


class Doorbell:
    """Rung when this process queues work for a node (a message, a receipt): every worker
    listening (the delivery worker, the federation relay) wakes at once instead of at its next
    poll. One per node and process, whichever Mailroom queued the work."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[threading.Event] = []

    def listen(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._listeners.append(event)
        return event

    def forget(self, event: threading.Event) -> None:
        with self._lock:
            self._listeners = [e for e in self._listeners if e is not event]

    def ring(self) -> None:
        with self._lock:
            for event in self._listeners:
                event.set()


_doorbells: dict[str, Doorbell] = {}
_doorbells_lock = threading.Lock()


def doorbell(node: str) -> Doorbell:
    with _doorbells_lock:
        return _doorbells.setdefault(node, Doorbell())


@dataclass
class Mailroom:
    engine: Engine
    node: str
    crypto: NodeCrypto
    blobs: BlobStore
    settings: MessagingSettings
    # rung when this process queues work, so that its workers run without waiting a poll
    wake: Doorbell = field(default_factory=Doorbell)
    # agency codes seen registered: agencies are never removed, so a hit holds for the process
    known_agencies: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, node: NodeLike, settings: MessagingSettings | None = None) -> Mailroom:
        crypto = NodeCrypto.of(node.keys)
        return cls(
            engine=node.engine,
            node=node.name,
            crypto=crypto,
            blobs=BlobStore(node.home / "attachments", crypto),
            settings=settings or settings_mod.load(node.home),
            wake=doorbell(node.name),
        )
