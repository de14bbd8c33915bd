"""A record: one FtM entity inside its owner's envelope, at one version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polex.model.envelope import Envelope


@dataclass(frozen=True)
class Record:
    id: str
    source_id: str
    schema: str
    properties: dict[str, list[str]]
    envelope: Envelope
    version: int
    caption: str
    created_at: datetime
    updated_at: datetime
    deleted: bool = False
    deleted_reason: str | None = None

    @property
    def owner(self) -> str:
        return self.envelope.owner

    @property
    def database(self) -> str:
        return self.envelope.database.value

    def entity(self) -> dict[str, Any]:
        """The FtM entity as FtM serialises it; its id is the source id it was created with."""
        return {"id": self.source_id, "schema": self.schema, "properties": self.properties}


@dataclass(frozen=True)
class RecordVersion:
    record_id: str
    version: int
    actor: str
    reason: str | None
    created_at: datetime
    tombstone: bool
    snapshot: dict[str, Any] = field(default_factory=dict)
