"""Response bodies shared by routers."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from polex.model.envelope import Envelope
from polex.model.record import Record

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class RecordOut(BaseModel):
    record_id: str
    source_id: str
    schema_: str = Field(alias="schema")
    caption: str
    properties: dict[str, list[str]]
    envelope: Envelope
    version: int
    created_at: datetime
    updated_at: datetime
    deleted: bool
    deleted_reason: str | None = None

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        return cls(
            record_id=record.id,
            source_id=record.source_id,
            schema=record.schema,
            caption=record.caption,
            properties=record.properties,
            envelope=record.envelope,
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            deleted=record.deleted,
            deleted_reason=record.deleted_reason,
        )
