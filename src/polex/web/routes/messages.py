"""Messages between agencies: inbox and outbox, a message and its thread, compose and reply,
acknowledge. Bodies are Markdown rendered by the messaging capability's sanitiser."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from polex.access.principal import Principal
from polex.api.messages import mailroom_for
from polex.messaging import attachments, mailbox, outbox, refs, render, workspaces
from polex.messaging.errors import Invalid, MessagingError
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import AttachmentMeta, DeliveryState, Draft, Priority
from polex.model.envelope import Handling
from polex.store import agencies
from polex.web import purpose
from polex.web.deps import FormDep, ReaderDep, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
PAGE_SIZE = 50
NOTICES = {
    "sent": "Message sent.",
    "forwarded": "Message forwarded.",
    "acknowledged": "Message acknowledged: the sender is told.",
}
COMPOSE_FIELDS = (
    "id",
    "to",
    "subject",
    "body",
    "handling",
    "priority",
    "case_ref",
    "in_reply_to",
    "workspace_id",
)


def room_of(request: Request) -> Mailroom:
    """The worker's mailroom, shared with the API (keys loaded once, one delivery worker)."""
    return mailroom_for(request.app)


@router.get("/messages")
def message_list(
    request: Request,
    principal: ReaderDep,
    box: Literal["inbox", "outbox"] = "inbox",
    offset: Annotated[int, Query(ge=0)] = 0,
    notice: str = "",
) -> HTMLResponse:
    items, total = mailbox.list_messages(room_of(request), principal, box, None, offset, PAGE_SIZE)
    return page(
        request,
        "messages/list.html",
        title="Inbox" if box == "inbox" else "Sent messages",
        section="messages",
        notice=NOTICES.get(notice),
        box=box,
        items=items,
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        unacknowledged=DeliveryState.delivered,
    )


def _compose_page(
    request: Request,
    principal: Principal,
    values: dict[str, str],
    records: list[refs.RecordRef],
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
    files: list[tuple[str, AttachmentMeta]] | None = None,
) -> HTMLResponse:
    web = web_of(request)
    with web.node.engine.begin() as conn:
        known = [a for a in agencies.all_agencies(conn) if a.code != principal.agency]
        mine = workspaces.list_mine(conn, web.node.name, principal)
    return page(
        request,
        "messages/compose.html",
        title="New message",
        section="messages",
        status=status,
        values=values,
        records=records,
        errors=errors or {},
        agencies=known,
        workspaces=mine,
        handlings=list(Handling),
        priorities=list(Priority),
        files=files or [],
        max_mb=room_of(request).settings.attachment_max_bytes // 2**20,
    )


@router.get("/messages/new")
def compose(
    request: Request,
    principal: ReaderDep,
    to: str = "",
    record: Annotated[list[str] | None, Query()] = None,
    about: str = "",
    reply: str = "",
    workspace: str = "",
) -> HTMLResponse:
    values = {k: "" for k in COMPOSE_FIELDS}
    values.update(
        id=str(uuid.uuid4()), to=to, handling="H0", priority="routine", workspace_id=workspace
    )
    web = web_of(request)
    values["case_ref"] = purpose.load(request, web.settings, web.secret).case_ref
    if about:
        values["body"] = f"About a record of yours that my search hit: `{about}`.\n\n"
    with web.node.engine.begin() as conn:
        shown = refs.visible(conn, principal, record or [])
    if shown and shown[0].caption:
        values["subject"] = shown[0].caption
    if reply:
        try:
            original = mailbox.read(room_of(request), principal, reply).message
        except MessagingError:
            original = None
        if original is not None:
            values.update(
                in_reply_to=original.id,
                subject=original.subject
                if original.subject.lower().startswith("re:")
                else f"Re: {original.subject}",
                case_ref=original.case_ref or "",
                handling=original.handling.value,
            )
    return _compose_page(request, principal, values, shown)


@router.post("/messages/new")
def send(request: Request, principal: ReaderDep, data: FormDep) -> Response:
    values = {k: str(data.get(k) or "").strip() for k in COMPOSE_FIELDS}
    record_ids = [str(r) for r in data.getlist("records")]
    errors: dict[str, list[str]] = {}
    room = room_of(request)
    staged = [str(a) for a in data.getlist("attachments")]
    try:
        staged += _stage_files(room, principal, data)
        draft = Draft(
            id=values["id"] or None,
            to=[t.strip() for t in values["to"].replace(";", ",").split(",") if t.strip()],
            subject=values["subject"],
            body=values["body"],
            handling=Handling(values["handling"] or "H0"),
            priority=Priority(values["priority"] or "routine"),
            case_ref=values["case_ref"] or None,
            in_reply_to=values["in_reply_to"] or None,
            workspace_id=values["workspace_id"] or None,
            records=record_ids,
            attachments=staged,
        )
        sent = outbox.send(room, principal, draft)
        return redirect(f"/messages/{sent.message.id}?notice=sent")
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "form"
            errors.setdefault(name, []).append(f"{name}: {err['msg']}")
    except ValueError as exc:  # an unknown handling code or priority
        errors.setdefault("handling", []).append(f"handling: {exc}")
    except MessagingError as exc:
        name = exc.field.split("[")[0].split(".")[0]
        name = "attachments" if name in ("file", "files") else name
        known = name in COMPOSE_FIELDS or name in ("attachments", "records")
        errors.setdefault(name if known else "form", []).append(exc.message)
    with web_of(request).node.engine.begin() as conn:
        shown = refs.visible(conn, principal, record_ids)
        try:
            metas = attachments.staged(conn, principal.agency, staged)
        except MessagingError:  # a forged id: offer none of them again
            staged, metas = [], []
    files = list(zip(staged, metas, strict=True))
    return _compose_page(request, principal, values, shown, errors, status=422, files=files)


def _stage_files(room: Mailroom, principal: Principal, data: FormData) -> list[str]:
    """Keep each uploaded file for this message (type sniffed, size capped); their ids."""
    ids = []
    limit = room.settings.attachment_max_bytes
    for upload in data.getlist("files"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = attachments.read_capped(upload.file, limit)
        with room.engine.begin() as conn:
            staged = attachments.stage(
                conn, room.blobs, principal, upload.filename, upload.content_type, content, limit
            )
        ids.append(staged.id)
    return ids


def _not_found(request: Request, exc: MessagingError) -> HTMLResponse:
    return page(
        request,
        "error.html",
        title="Message not found",
        section="messages",
        status=exc.status,
        error=exc.message,
    )


@router.get("/messages/{message_id}")
def read(
    request: Request,
    principal: ReaderDep,
    message_id: str,
    notice: str = "",
    forward_error: str | None = None,
) -> HTMLResponse:
    room = room_of(request)
    try:
        reading = mailbox.read(room, principal, message_id)
    except MessagingError as exc:
        return _not_found(request, exc)
    me = f"{principal.agency}@{room.node}"
    mine = [d for d in reading.deliveries if str(d.recipient) == me]
    return page(
        request,
        "messages/read.html",
        title=reading.message.subject,
        section="messages",
        notice=NOTICES.get(notice),
        reading=reading,
        m=reading.message,
        body_html=render.to_html(reading.message.body),
        can_ack=bool(mine) and mine[0].state == DeliveryState.delivered,
        sent_by_me=str(reading.message.sender) == me,
        forward_error=forward_error,
        forward_id=str(uuid.uuid4()),
        status=422 if forward_error else 200,
    )


@router.post("/messages/{message_id}/forward")
def forward(request: Request, principal: ReaderDep, message_id: str, data: FormDep) -> Response:
    """Pass the message on; the handling code travels with it and H2 needs the permission."""
    to = [t.strip() for t in str(data.get("to") or "").replace(";", ",").split(",") if t.strip()]
    try:
        if not to:
            raise Invalid("to", "to.required", "to: at least one recipient agency")
        sent = outbox.forward(
            room_of(request),
            principal,
            message_id,
            to,
            str(data.get("note") or ""),
            str(data.get("id") or "") or None,
        )
    except MessagingError as exc:
        return read(request, principal, message_id, forward_error=exc.message)
    return redirect(f"/messages/{sent.message.id}?notice=forwarded")


@router.post("/messages/{message_id}/ack")
def acknowledge(request: Request, principal: ReaderDep, message_id: str) -> Response:
    try:
        mailbox.acknowledge(room_of(request), principal, message_id)
    except MessagingError as exc:
        return _not_found(request, exc)
    return redirect(f"/messages/{message_id}?notice=acknowledged")


@router.get("/messages/{message_id}/attachments/{sha256}")
def download(request: Request, principal: ReaderDep, message_id: str, sha256: str) -> Response:
    """The file as its sender's node signed it; never rendered inline."""
    try:
        meta, content = mailbox.download(room_of(request), principal, message_id, sha256)
    except MessagingError as exc:
        return _not_found(request, exc)
    return Response(
        content,
        media_type=meta.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/threads/{thread_id}")
def thread(request: Request, principal: ReaderDep, thread_id: str) -> HTMLResponse:
    try:
        readings = mailbox.thread(room_of(request), principal, thread_id)
    except MessagingError as exc:
        return _not_found(request, exc)
    return page(
        request,
        "messages/thread.html",
        title=readings[0].message.subject,
        section="messages",
        readings=[(r, render.to_html(r.message.body)) for r in readings],
    )
