"""Records referenced by a message or shared in a workspace, as one reader may see them.

The reference itself (a record id) is the sender's words and always shown; what it points to is
decided per reader by the policy decision point, so a message never carries a record further
than its owner's restrictions allow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from polex.access.policy import View, record_view
from polex.access.principal import Principal
from polex.messaging.errors import Invalid
from polex.store import records as record_store


@dataclass(frozen=True)
class RecordRef:
    record_id: str
    view: View
    owner: str | None = None  # for a hit: whom to contact
    schema: str | None = None
    caption: str | None = None
    database: str | None = None
    handling: str | None = None


def visible(conn: Connection, principal: Principal, ids: list[str]) -> list[RecordRef]:
    found = record_store.get_many(conn, ids)
    refs = []
    for rid in ids:
        record = found.get(rid)
        view = (
            View.none
            if record is None or record.deleted
            else record_view(principal, record.envelope)
        )
        if record is None or view == View.none:
            refs.append(RecordRef(record_id=rid, view=View.none))
        elif view == View.hit:
            refs.append(RecordRef(record_id=rid, view=view, owner=record.owner))
        else:
            refs.append(
                RecordRef(
                    record_id=rid,
                    view=view,
                    owner=record.owner,
                    schema=record.schema,
                    caption=record.caption,
                    database=record.database,
                    handling=record.envelope.handling.value,
                )
            )
    return refs


def require_full(conn: Connection, principal: Principal, ids: list[str], field: str) -> None:
    """A sender references only records it may read in full (and learns nothing more from the
    refusal than from a search: not found and not visible read the same)."""
    for i, ref in enumerate(visible(conn, principal, ids)):
        if ref.view != View.full:
            raise Invalid(
                f"{field}[{i}]",
                "record.not_visible",
                f"{field}[{i}]: record {ref.record_id} not found",
            )
