"""Case workspaces: the agencies working one operation, their threads and shared records.

Like an operational analysis project: the agency that opens it invites the others; every member
agency sees the workspace's threads (also those from before it joined) and its records, each
record as the policy decision point lets that member see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from polex.access.policy import READING_ROLES
from polex.access.principal import Principal
from polex.audit import log as audit
from polex.messaging import refs
from polex.messaging.addresses import Address, parse
from polex.messaging.errors import Conflict, Denied, Invalid, NotFound
from polex.messaging.model import aware, message_id
from polex.messaging.tables import workspace_members, workspace_records, workspaces
from polex.store import agencies
from polex.store.metadata import utcnow


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    case_ref: str | None
    owner_agency: str
    created_by: str
    created_at: datetime
    members: tuple[Address, ...]


def _not_found(workspace_id: str) -> NotFound:
    return NotFound(
        "workspace_id", "workspace.not_found", f"workspace_id: workspace {workspace_id} not found"
    )


def _require_role(principal: Principal) -> None:
    if principal.role not in READING_ROLES:
        raise Denied("role", "workspace.role", f"role: {principal.role.value} has no workspaces")


def members(conn: Connection, workspace_id: str) -> list[Address]:
    rows = conn.execute(
        select(workspace_members.c.agency, workspace_members.c.node)
        .where(workspace_members.c.workspace_id == workspace_id)
        .order_by(workspace_members.c.member)
    ).all()
    return [Address(agency=r.agency, node=r.node) for r in rows]


def local_members(conn: Connection, node: str, workspace_id: str | None) -> set[str]:
    """Agency codes of this node that are members of the workspace (none without one)."""
    if workspace_id is None:
        return set()
    return {a.agency for a in members(conn, workspace_id) if a.node == node}


def _load(conn: Connection, workspace_id: str) -> Workspace | None:
    row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).first()
    if row is None:
        return None
    return Workspace(
        id=row.id,
        name=row.name,
        case_ref=row.case_ref,
        owner_agency=row.owner_agency,
        created_by=row.created_by,
        created_at=aware(row.created_at),
        members=tuple(members(conn, workspace_id)),
    )


def get(conn: Connection, node: str, principal: Principal, workspace_id: str) -> Workspace:
    """The workspace, for a user of a member agency; anyone else learns nothing of it."""
    _require_role(principal)
    ws = _load(conn, workspace_id)
    if ws is None or Address(principal.agency, node) not in ws.members:
        raise _not_found(workspace_id)
    return ws


def create(
    conn: Connection,
    node: str,
    principal: Principal,
    name: str,
    case_ref: str | None = None,
    workspace_id: str | None = None,
) -> Workspace:
    _require_role(principal)
    name = name.strip()
    if not 1 <= len(name) <= 255:
        raise Invalid("name", "workspace.name", "name: 1 to 255 characters")
    wid = message_id(workspace_id, "id")
    if _load(conn, wid) is not None:
        raise Conflict("id", "workspace.exists", f"id: workspace {wid} already exists")
    now = utcnow()
    conn.execute(
        insert(workspaces).values(
            id=wid,
            name=name,
            case_ref=case_ref,
            owner_agency=principal.agency,
            created_by=principal.actor,
            created_at=now,
        )
    )
    _add_member(conn, wid, Address(principal.agency, node), principal, now)
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="workspace.create",
        target=wid,
        case_ref=case_ref,
        details={"name": name},
    )
    return get(conn, node, principal, wid)


def _add_member(
    conn: Connection, wid: str, member: Address, principal: Principal, now: datetime
) -> None:
    conn.execute(
        insert(workspace_members).values(
            workspace_id=wid,
            member=str(member),
            agency=member.agency,
            node=member.node,
            invited_by=principal.actor,
            invited_at=now,
        )
    )


def invite(
    conn: Connection, node: str, principal: Principal, workspace_id: str, agency: str
) -> Workspace:
    """Add an agency (``CODE`` or ``CODE@NODE``); only the workspace's owner agency invites."""
    ws = get(conn, node, principal, workspace_id)
    if principal.agency != ws.owner_agency:
        raise Denied(
            "workspace_id",
            "workspace.owner_invites",
            f"workspace_id: only agency {ws.owner_agency} invites to workspace {ws.id}",
        )
    member = parse(agency, node, "agency")
    if member.node == node and agencies.get(conn, member.agency) is None:
        raise Invalid(
            "agency",
            "address.unknown_agency",
            f"agency: {member.agency} is not registered on node {node}",
        )
    if member in ws.members:
        return ws
    _add_member(conn, ws.id, member, principal, utcnow())
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="workspace.invite",
        target=ws.id,
        case_ref=ws.case_ref,
        details={"member": str(member)},
    )
    return get(conn, node, principal, ws.id)


def add_record(
    conn: Connection, node: str, principal: Principal, workspace_id: str, record_id: str
) -> None:
    """Share a record the principal may read in full; each member still sees only its view."""
    ws = get(conn, node, principal, workspace_id)
    refs.require_full(conn, principal, [record_id], "record_id")
    exists = conn.execute(
        select(workspace_records.c.record_id).where(
            workspace_records.c.workspace_id == ws.id,
            workspace_records.c.record_id == record_id,
        )
    ).first()
    if exists:
        return
    conn.execute(
        insert(workspace_records).values(
            workspace_id=ws.id, record_id=record_id, added_by=principal.actor, added_at=utcnow()
        )
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="workspace.add_record",
        target=ws.id,
        case_ref=ws.case_ref,
        details={"record_id": record_id},
    )


def shared_records(
    conn: Connection, node: str, principal: Principal, workspace_id: str
) -> list[refs.RecordRef]:
    ws = get(conn, node, principal, workspace_id)
    ids = list(
        conn.execute(
            select(workspace_records.c.record_id)
            .where(workspace_records.c.workspace_id == ws.id)
            .order_by(workspace_records.c.added_at, workspace_records.c.record_id)
        ).scalars()
    )
    shown = refs.visible(conn, principal, ids)
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="workspace.read",
        target=ws.id,
        case_ref=ws.case_ref,
        details={"records": {r.record_id: r.view.value for r in shown}},
    )
    return shown


def list_mine(conn: Connection, node: str, principal: Principal) -> list[Workspace]:
    _require_role(principal)
    ids = conn.execute(
        select(workspace_members.c.workspace_id).where(
            workspace_members.c.agency == principal.agency, workspace_members.c.node == node
        )
    ).scalars()
    found = [ws for wid in ids if (ws := _load(conn, wid)) is not None]
    return sorted(found, key=lambda w: (w.created_at, w.id), reverse=True)
