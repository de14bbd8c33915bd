"""/api/v1/messages, /attachments, /threads: send, list, read, acknowledge, forward, download.

The router also owns the messaging runtime of each worker process: its lifespan opens the node's
Mailroom and runs a DeliveryWorker thread (merged into the app's lifespan when included). A
federation transport set on ``app.state.message_transport`` and ``app.state.partner_keys``
before startup makes the same worker relay to partner nodes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from polex.access.principal import Principal
from polex.api.deps import PrincipalDep
from polex.api.schemas import Page
from polex.messaging import attachments, mailbox, outbox, render
from polex.messaging.delivery import DeliveryWorker
from polex.messaging.errors import IntegrityFailure, Invalid, MessagingError
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import (
    AttachmentMeta,
    Delivery,
    DeliveryState,
    Draft,
    Priority,
    overall_state,
)
from polex.messaging.refs import RecordRef
from polex.model.envelope import Handling

# Multipart framing around the file: a Content-Length beyond the cap plus this is refused
# before a byte of the body is read.
MULTIPART_SLACK = 64 * 1024
_lock = threading.Lock()


def mailroom_for(app: FastAPI) -> Mailroom:
    """The process's Mailroom (keys loaded once), created on first use."""
    with _lock:
        room: Mailroom | None = getattr(app.state, "mailroom", None)
        if room is None:
            room = Mailroom.open(app.state.node)
            app.state.mailroom = room
        return room


def get_mailroom(request: Request) -> Mailroom:
    return mailroom_for(request.app)


MailroomDep = Annotated[Mailroom, Depends(get_mailroom)]


@asynccontextmanager
async def delivery_lifespan(app: FastAPI) -> AsyncIterator[None]:
    worker = DeliveryWorker(
        mailroom_for(app),
        getattr(app.state, "message_transport", None),
        getattr(app.state, "partner_keys", None),
    )
    worker.start()
    try:
        yield
    finally:
        await asyncio.to_thread(worker.stop)


router = APIRouter(tags=["messages"], lifespan=delivery_lifespan)


def install(app: FastAPI) -> None:
    """Messaging errors as HTTP answers naming the field and the rule."""

    @app.exception_handler(MessagingError)
    async def _messaging(_: Request, exc: MessagingError) -> JSONResponse:
        content: dict[str, Any] = {
            "detail": [{"field": exc.field, "rule": exc.rule, "message": exc.message}]
        }
        if isinstance(exc, IntegrityFailure):
            content["message_id"] = exc.message_id
        return JSONResponse(status_code=exc.status, content=content)


class AttachmentOut(BaseModel):
    sha256: str
    filename: str
    content_type: str = Field(description="sniffed from the content, not the client's claim")
    declared_type: str | None
    size: int
    executable: bool
    type_mismatch: bool

    @classmethod
    def of(cls, meta: AttachmentMeta) -> AttachmentOut:
        return cls(
            **meta.document(),
            executable=attachments.is_executable(meta.content_type),
            type_mismatch=meta.declared_type is not None
            and meta.declared_type != meta.content_type,
        )


class UploadOut(AttachmentOut):
    id: str


class DeliveryOut(BaseModel):
    recipient: str
    state: DeliveryState
    reason: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(**{**d.__dict__, "recipient": str(d.recipient)})


class RecordRefOut(BaseModel):
    record_id: str
    view: str
    owner: str | None = None
    schema_: str | None = Field(default=None, serialization_alias="schema")
    caption: str | None = None
    database: str | None = None
    handling: str | None = None

    @classmethod
    def of(cls, ref: RecordRef) -> RecordRefOut:
        return cls(
            record_id=ref.record_id,
            view=ref.view.value,
            owner=ref.owner,
            schema_=ref.schema,
            caption=ref.caption,
            database=ref.database,
            handling=ref.handling,
        )


class SummaryOut(BaseModel):
    id: str
    thread_id: str
    from_: str = Field(serialization_alias="from")
    to: list[str]
    subject: str | None
    handling: str
    priority: str
    case_ref: str | None
    created_at: datetime
    state: DeliveryState
    workspace_id: str | None
    attachments: int
    integrity_error: str | None = None

    @classmethod
    def of(cls, s: mailbox.Summary) -> SummaryOut:
        return cls(
            id=s.id,
            thread_id=s.thread_id,
            from_=str(s.sender),
            to=[str(a) for a in s.recipients],
            subject=s.subject,
            handling=s.handling,
            priority=s.priority,
            case_ref=s.case_ref,
            created_at=s.created_at,
            state=s.state,
            workspace_id=s.workspace_id,
            attachments=s.attachments,
            integrity_error=s.integrity_error,
        )


class MessageOut(BaseModel):
    id: str
    thread_id: str
    in_reply_to: str | None
    forwarded_from: str | None
    workspace_id: str | None
    from_: str = Field(serialization_alias="from")
    sender_user: str
    to: list[str]
    case_ref: str | None
    handling: Handling
    priority: Priority
    subject: str
    body: str
    body_html: str
    records: list[RecordRefOut]
    attachments: list[AttachmentOut]
    passing_permitted: list[str]
    created_at: datetime
    state: DeliveryState
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, r: mailbox.Reading | outbox.Sent) -> MessageOut:
        m = r.message
        state = (
            overall_state([x.state for x in r.deliveries])
            if isinstance(r, outbox.Sent)
            else r.state
        )
        return cls(
            id=m.id,
            thread_id=m.thread_id,
            in_reply_to=m.in_reply_to,
            forwarded_from=m.forwarded_from,
            workspace_id=m.workspace_id,
            from_=str(m.sender),
            sender_user=m.sender_user,
            to=[str(a) for a in m.recipients],
            case_ref=m.case_ref,
            handling=m.handling,
            priority=m.priority,
            subject=m.subject,
            body=m.body,
            body_html=render.to_html(m.body),
            records=[RecordRefOut.of(ref) for ref in r.records],
            attachments=[AttachmentOut.of(a) for a in m.attachments],
            passing_permitted=list(m.passing_permitted),
            created_at=m.created_at,
            state=state,
            deliveries=[DeliveryOut.of(x) for x in r.deliveries],
        )


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=100_000)
    id: str | None = Field(default=None, description="UUID of the new message (idempotent)")


@router.post(
    "/messages",
    status_code=201,
    response_model=MessageOut,
    responses={200: {"description": "this id was sent before: the message as it stands"}},
)
def send_message(
    room: MailroomDep, principal: PrincipalDep, body: Draft, response: Response
) -> MessageOut:
    sent = outbox.send(room, principal, body)
    if not sent.created:
        response.status_code = 200
    return MessageOut.of(sent)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Draft] = Field(min_length=1, max_length=outbox.MAX_BATCH)


class SentOut(BaseModel):
    """A message of a batch as sent: what a system exchanging data keeps (it has the content;
    rendering every body back to it would cost the sender more than sending)."""

    id: str
    thread_id: str
    created_at: datetime
    created: bool = Field(description="False: this id had been sent before")
    state: DeliveryState
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, s: outbox.Sent) -> SentOut:
        return cls(
            id=s.message.id,
            thread_id=s.message.thread_id,
            created_at=s.message.created_at,
            created=s.created,
            state=overall_state([x.state for x in s.deliveries]),
            deliveries=[DeliveryOut.of(x) for x in s.deliveries],
        )


class BatchOut(BaseModel):
    created: int = Field(description="how many were new; the others had been sent before")
    messages: list[SentOut]


@router.post("/messages/batch", status_code=201, response_model=BatchOut)
def send_batch(room: MailroomDep, principal: PrincipalDep, body: BatchIn) -> BatchOut:
    """Send many messages in one transaction, all or nothing (systems exchanging data);
    an error names the message as ``messages[i]``. Resending the batch changes nothing."""
    sent = outbox.send_many(room, principal, body.messages)
    return BatchOut(created=sum(s.created for s in sent), messages=[SentOut.of(s) for s in sent])


@router.get("/messages", response_model=Page[SummaryOut])
def list_messages(
    room: MailroomDep,
    principal: PrincipalDep,
    box: Literal["inbox", "outbox"] | None = "inbox",
    case_ref: str | None = None,
    priority: Priority | None = None,
    handling: Handling | None = None,
    state: DeliveryState | None = None,
    thread_id: str | None = None,
    workspace_id: str | None = None,
    since: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[SummaryOut]:
    """A page of the inbox or outbox (newest first), or with ``box`` empty and a
    ``workspace_id``, of every message posted in that workspace."""
    filters = mailbox.Filters(
        case_ref=case_ref,
        priority=priority.value if priority else None,
        handling=handling.value if handling else None,
        state=state,
        thread_id=thread_id,
        workspace_id=workspace_id,
        since=since,
    )
    page, total = mailbox.list_messages(room, principal, box, filters, offset, limit)
    return Page(items=[SummaryOut.of(s) for s in page], total=total, offset=offset, limit=limit)


@router.get("/messages/{message_id}", response_model=MessageOut)
def read_message(
    room: MailroomDep, principal: PrincipalDep, message_id: str, purpose: str | None = None
) -> MessageOut:
    return MessageOut.of(mailbox.read(room, principal, message_id, purpose))


@router.post("/messages/{message_id}/ack", response_model=DeliveryOut)
def acknowledge_message(room: MailroomDep, principal: PrincipalDep, message_id: str) -> DeliveryOut:
    return DeliveryOut.of(mailbox.acknowledge(room, principal, message_id))


@router.post("/messages/{message_id}/forward", status_code=201, response_model=MessageOut)
def forward_message(
    room: MailroomDep, principal: PrincipalDep, message_id: str, body: ForwardIn, response: Response
) -> MessageOut:
    sent = outbox.forward(room, principal, message_id, body.to, body.note, body.id)
    if not sent.created:
        response.status_code = 200
    return MessageOut.of(sent)


@router.get("/messages/{message_id}/attachments/{sha256}")
def download_attachment(
    room: MailroomDep, principal: PrincipalDep, message_id: str, sha256: str
) -> Response:
    meta, data = mailbox.download(room, principal, message_id, sha256)
    return Response(
        content=data,
        media_type=meta.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.filename)}",
            "X-Content-Type-Options": "nosniff",
            "X-Polex-Sha256": meta.sha256,
        },
    )


@router.post(
    "/attachments",
    status_code=201,
    response_model=UploadOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
    responses={413: {"description": "the file is over the node's per-attachment limit"}},
)
async def upload_attachment(request: Request, principal: PrincipalDep) -> UploadOut:
    """Upload one file (multipart field ``file``) to attach to a message by its ``id``."""
    room = mailroom_for(request.app)
    limit = room.settings.attachment_max_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_SLACK:
        raise attachments.too_large(limit)
    form = await request.form(max_files=1, max_fields=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("file", "attachment.file_required", "file: a multipart file field")
        data = await run_in_threadpool(attachments.read_capped, upload.file, limit)
        staged = await run_in_threadpool(
            _stage, room, principal, upload.filename, upload.content_type, data
        )
    finally:
        await form.close()
    return UploadOut(id=staged.id, **AttachmentOut.of(staged.meta).model_dump())


def _stage(
    room: Mailroom,
    principal: Principal,
    filename: str | None,
    declared: str | None,
    data: bytes,
) -> attachments.Upload:
    with room.engine.begin() as conn:
        return attachments.stage(
            conn,
            room.blobs,
            principal,
            filename,
            declared,
            data,
            room.settings.attachment_max_bytes,
        )


@router.get("/threads/{thread_id}", response_model=list[MessageOut])
def read_thread(room: MailroomDep, principal: PrincipalDep, thread_id: str) -> list[MessageOut]:
    """The thread's messages the caller may read, oldest first."""
    return [MessageOut.of(r) for r in mailbox.thread(room, principal, thread_id)]
