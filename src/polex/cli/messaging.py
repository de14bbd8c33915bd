"""`polex message …` and `polex workspace …`: the CLI acts as a named user (``--user`` or
$POLEX_USER), so the same access rules and audit apply as through the API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polex.cli.common import HomeOpt, JsonOpt, UserOpt, console, fail, print_json

if TYPE_CHECKING:
    from polex.access.principal import Principal
    from polex.messaging.mailroom import Mailroom

message_app = typer.Typer(no_args_is_help=True, help="Secure messages between agencies.")
workspace_app = typer.Typer(no_args_is_help=True, help="Case workspaces shared by agencies.")


def _open(home: Path | None, user: str) -> tuple[Mailroom, Principal]:
    from polex.access.accounts import AccountError, principal_for
    from polex.messaging.mailroom import Mailroom
    from polex.node.home import NodeError, open_node

    try:
        node = open_node(home)
    except NodeError as exc:
        fail(str(exc))
    with node.engine.begin() as conn:
        try:
            principal = principal_for(conn, user, node.name)
        except AccountError as exc:
            fail(str(exc))
    return Mailroom.open(node), principal


def _run(action: Any, *args: Any) -> Any:
    """Run a messaging use case, turning its errors into exit codes: 2 for what the caller
    should change, 1 for everything else (not found, refused, failed integrity)."""
    from polex.messaging.errors import Invalid, MessagingError, TooLarge

    try:
        return action(*args)
    except MessagingError as exc:
        fail(exc.message, 2 if isinstance(exc, Invalid | TooLarge) else 1)


def _summary_json(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "subject": s.subject,
        "from": str(s.sender),
        "to": [str(a) for a in s.recipients],
        "state": s.state.value,
        "priority": s.priority,
        "handling": s.handling,
        "case_ref": s.case_ref,
        "thread_id": s.thread_id,
        "created_at": s.created_at.isoformat(),
        "integrity_error": s.integrity_error,
    }


def _delivery_json(d: Any) -> dict[str, Any]:
    return {
        "recipient": str(d.recipient),
        "state": d.state.value,
        "reason": d.reason,
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "acknowledged_at": d.acknowledged_at.isoformat() if d.acknowledged_at else None,
        "acknowledged_by": d.acknowledged_by,
    }


def _message_json(m: Any, state: Any, deliveries: list[Any]) -> dict[str, Any]:
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "subject": m.subject,
        "from": str(m.sender),
        "sender_user": m.sender_user,
        "to": [str(a) for a in m.recipients],
        "state": state.value,
        "handling": m.handling.value,
        "priority": m.priority.value,
        "case_ref": m.case_ref,
        "body": m.body,
        "records": list(m.records),
        "attachments": [a.document() for a in m.attachments],
        "created_at": m.created_at.isoformat(),
        "deliveries": [_delivery_json(d) for d in deliveries],
    }


@message_app.command("send")
def message_send(
    from_agency: Annotated[str, typer.Option("--from", help="Sending agency (USER's own).")],
    to: Annotated[list[str], typer.Option("--to", help="AGENCY or AGENCY@NODE; repeat.")],
    subject: Annotated[str, typer.Option("--subject")],
    body: Annotated[str, typer.Option("--body", help="Markdown; '-' reads standard input.")],
    user: UserOpt,
    handling: Annotated[str, typer.Option("--handling", help="H0|H1|H2|H3")] = "H0",
    priority: Annotated[str, typer.Option("--priority", help="routine|urgent|immediate")] = (
        "routine"
    ),
    case_ref: Annotated[str | None, typer.Option("--case-ref")] = None,
    record: Annotated[list[str] | None, typer.Option("--record", help="Record id; repeat.")] = None,
    attach: Annotated[list[Path] | None, typer.Option("--attach", help="File; repeat.")] = None,
    reply_to: Annotated[str | None, typer.Option("--reply-to", help="Message id.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Workspace id.")] = None,
    permit: Annotated[
        list[str] | None, typer.Option("--permit", help="Agency allowed to pass H2 on; repeat.")
    ] = None,
    message_id: Annotated[str | None, typer.Option("--id", help="UUID (idempotent).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a message from an agency of this node; local recipients get it at once."""
    from pydantic import ValidationError

    from polex.messaging import attachments, outbox
    from polex.messaging.model import Draft, overall_state

    room, principal = _open(home, user)
    if principal.agency != from_agency.upper():
        fail(f"from: user {user} belongs to {principal.agency}, not {from_agency.upper()}")
    upload_ids = []
    for path in attach or []:
        try:
            with path.open("rb") as fh:
                data = _run(attachments.read_capped, fh, room.settings.attachment_max_bytes)
        except OSError as exc:
            fail(f"attach: {exc}")
        with room.engine.begin() as conn:
            staged = _run(
                attachments.stage,
                conn,
                room.blobs,
                principal,
                path.name,
                None,
                data,
                room.settings.attachment_max_bytes,
            )
        upload_ids.append(staged.id)
    try:
        draft = Draft.model_validate(
            {
                "id": message_id,
                "to": to,
                "subject": subject,
                "body": sys.stdin.read() if body == "-" else body,
                "handling": handling.upper(),
                "priority": priority.lower(),
                "case_ref": case_ref,
                "in_reply_to": reply_to,
                "workspace_id": workspace,
                "records": record or [],
                "attachments": upload_ids,
                "passing_permitted": permit or [],
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(problems)
    sent = _run(outbox.send, room, principal, draft)
    state = overall_state([d.state for d in sent.deliveries])
    if as_json:
        print_json(_message_json(sent.message, state, sent.deliveries))
    else:
        typer.echo(sent.message.id)
        note = "" if sent.created else " (sent before; unchanged)"
        console.print(f"message {sent.message.id}: {state.value}{note}")


@message_app.command("list")
def message_list(
    agency: Annotated[str, typer.Option("--agency", help="Whose mailbox (USER's agency).")],
    user: UserOpt,
    box: Annotated[str, typer.Option("--box", help="inbox|outbox")] = "inbox",
    case_ref: Annotated[str | None, typer.Option("--case-ref")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List an agency's inbox or outbox, newest first."""
    from polex.messaging import mailbox

    if box not in ("inbox", "outbox"):
        fail("box: inbox or outbox")
    room, principal = _open(home, user)
    if principal.agency != agency.upper():
        fail(f"agency: user {user} belongs to {principal.agency}, not {agency.upper()}")
    page, _ = _run(
        mailbox.list_messages, room, principal, box, mailbox.Filters(case_ref=case_ref), 0, limit
    )
    if as_json:
        print_json([_summary_json(s) for s in page])
        return
    for s in page:
        other = str(s.sender) if box == "inbox" else ",".join(str(a) for a in s.recipients)
        subject = s.subject if s.subject is not None else f"[{s.integrity_error}]"
        typer.echo(f"{s.id}\t{s.state.value}\t{s.priority}\t{other}\t{subject}")


@message_app.command("read")
def message_read(
    message_id: str,
    user: UserOpt,
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one message (its signature is checked on every read)."""
    from polex.messaging import mailbox

    room, principal = _open(home, user)
    reading = _run(mailbox.read, room, principal, message_id, purpose)
    data = _message_json(reading.message, reading.state, reading.deliveries)
    data["records"] = [
        {"record_id": r.record_id, "view": r.view.value, "owner": r.owner, "caption": r.caption}
        for r in reading.records
    ]
    if as_json:
        print_json(data)
        return
    m = reading.message
    typer.echo(f"From:     {m.sender} ({m.sender_user})")
    typer.echo(f"To:       {', '.join(str(a) for a in m.recipients)}")
    typer.echo(f"Subject:  {m.subject}")
    typer.echo(f"Handling: {m.handling.value}  Priority: {m.priority.value}  Case: {m.case_ref}")
    typer.echo(f"State:    {reading.state.value}")
    typer.echo("")
    typer.echo(m.body)


@message_app.command("ack")
def message_ack(
    message_id: str, user: UserOpt, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """Acknowledge a message in USER's agency's inbox; the sender gets the receipt."""
    from polex.messaging import mailbox

    room, principal = _open(home, user)
    delivery = _run(mailbox.acknowledge, room, principal, message_id)
    if as_json:
        print_json(_delivery_json(delivery))
    else:
        console.print(f"message {message_id}: {delivery.state.value} by {principal.agency}")


@message_app.command("forward")
def message_forward(
    message_id: str,
    to: Annotated[list[str], typer.Option("--to", help="AGENCY or AGENCY@NODE; repeat.")],
    user: UserOpt,
    note: Annotated[str, typer.Option("--note")] = "",
    home: HomeOpt = None,
) -> None:
    """Pass a message on (refused for H2 without its sender's permission)."""
    from polex.messaging import outbox

    room, principal = _open(home, user)
    sent = _run(outbox.forward, room, principal, message_id, to, note)
    typer.echo(sent.message.id)


def _workspace_json(ws: Any) -> dict[str, Any]:
    return {
        "id": ws.id,
        "name": ws.name,
        "case_ref": ws.case_ref,
        "owner_agency": ws.owner_agency,
        "created_at": ws.created_at.isoformat(),
        "members": [str(a) for a in ws.members],
    }


@workspace_app.command("create")
def workspace_create(
    name: str,
    user: UserOpt,
    case_ref: Annotated[str | None, typer.Option("--case-ref")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a workspace owned by USER's agency."""
    from polex.messaging import workspaces

    room, principal = _open(home, user)
    with room.engine.begin() as conn:
        ws = _run(workspaces.create, conn, room.node, principal, name, case_ref)
    if as_json:
        print_json(_workspace_json(ws))
    else:
        typer.echo(ws.id)


@workspace_app.command("invite")
def workspace_invite(
    workspace_id: str,
    agency: Annotated[str, typer.Argument(help="AGENCY or AGENCY@NODE")],
    user: UserOpt,
    home: HomeOpt = None,
) -> None:
    """Invite an agency (only the owner agency invites)."""
    from polex.messaging import workspaces

    room, principal = _open(home, user)
    with room.engine.begin() as conn:
        ws = _run(workspaces.invite, conn, room.node, principal, workspace_id, agency)
    console.print(f"workspace {ws.id}: {', '.join(str(a) for a in ws.members)}")


@workspace_app.command("add-record")
def workspace_add_record(
    workspace_id: str, record_id: str, user: UserOpt, home: HomeOpt = None
) -> None:
    """Share a record in the workspace (members see it as its owner's policy allows)."""
    from polex.messaging import workspaces

    room, principal = _open(home, user)
    with room.engine.begin() as conn:
        _run(workspaces.add_record, conn, room.node, principal, workspace_id, record_id)
    console.print(f"record {record_id} shared in workspace {workspace_id}")


@workspace_app.command("list")
def workspace_list(user: UserOpt, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Workspaces USER's agency is a member of."""
    from polex.messaging import workspaces

    room, principal = _open(home, user)
    with room.engine.begin() as conn:
        found = _run(workspaces.list_mine, conn, room.node, principal)
    if as_json:
        print_json([_workspace_json(ws) for ws in found])
        return
    for ws in found:
        typer.echo(f"{ws.id}\t{ws.case_ref or '-'}\t{ws.name}")


@workspace_app.command("show")
def workspace_show(
    workspace_id: str, user: UserOpt, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """A workspace: members, shared records (as USER may see them) and its messages."""
    from polex.messaging import mailbox, workspaces

    room, principal = _open(home, user)
    with room.engine.begin() as conn:
        ws = _run(workspaces.get, conn, room.node, principal, workspace_id)
        shown = _run(workspaces.shared_records, conn, room.node, principal, workspace_id)
    page, _ = _run(
        mailbox.list_messages,
        room,
        principal,
        None,
        mailbox.Filters(workspace_id=workspace_id),
        0,
        500,
    )
    data = _workspace_json(ws) | {
        "records": [
            {"record_id": r.record_id, "view": r.view.value, "owner": r.owner, "caption": r.caption}
            for r in shown
        ],
        "messages": [_summary_json(s) for s in page],
    }
    if as_json:
        print_json(data)
        return
    typer.echo(f"{ws.name} ({ws.case_ref or 'no case'}), owner {ws.owner_agency}")
    typer.echo(f"members: {', '.join(data['members'])}")
    for r in data["records"]:
        typer.echo(f"record {r['record_id']}\t{r['view']}\t{r['caption'] or ''}")
    for s in page:
        typer.echo(f"message {s.id}\t{s.sender}\t{s.subject}")
