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


@dataclass
class Mailroom:
    engine: Engine
    node: str
    crypto: NodeCrypto
    blobs: BlobStore
    settings: MessagingSettings
    # set when this process queues work, so its delivery worker runs without waiting a poll
    wake: threading.Event = field(default_factory=threading.Event)
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
        )
