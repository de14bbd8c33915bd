"""/api/v1/workspaces: case workspaces — create, invite agencies, share records, list threads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from polex.api.deps import NodeDep, PrincipalDep
from polex.api.messages import MailroomDep, RecordRefOut, SummaryOut
from polex.api.schemas import Page
from polex.messaging import mailbox, workspaces
from polex.messaging.workspaces import Workspace

router = APIRouter(prefix="/workspaces", tags=["workspaces"])


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    case_ref: str | None = Field(default=None, max_length=128)
    id: str | None = Field(default=None, description="UUID; a new one when absent")


class WorkspaceOut(BaseModel):
    id: str
    name: str
    case_ref: str | None
    owner_agency: str
    created_by: str
    created_at: datetime
    members: list[str]

    @classmethod
    def of(cls, ws: Workspace) -> WorkspaceOut:
        return cls(
            id=ws.id,
            name=ws.name,
            case_ref=ws.case_ref,
            owner_agency=ws.owner_agency,
            created_by=ws.created_by,
            created_at=ws.created_at,
            members=[str(a) for a in ws.members],
        )


class WorkspaceDetailOut(WorkspaceOut):
    records: list[RecordRefOut]


class MemberIn(BaseModel):
    agency: str = Field(description="CODE for an agency of this node, CODE@NODE for a partner's")


class RecordIn(BaseModel):
    record_id: str


@router.post("", status_code=201, response_model=WorkspaceOut)
def create_workspace(node: NodeDep, principal: PrincipalDep, body: WorkspaceIn) -> WorkspaceOut:
    with node.engine.begin() as conn:
        ws = workspaces.create(conn, node.name, principal, body.name, body.case_ref, body.id)
    return WorkspaceOut.of(ws)


@router.get("", response_model=list[WorkspaceOut])
def list_workspaces(node: NodeDep, principal: PrincipalDep) -> list[WorkspaceOut]:
    with node.engine.begin() as conn:
        return [WorkspaceOut.of(ws) for ws in workspaces.list_mine(conn, node.name, principal)]


@router.get("/{workspace_id}", response_model=WorkspaceDetailOut)
def read_workspace(node: NodeDep, principal: PrincipalDep, workspace_id: str) -> WorkspaceDetailOut:
    """The workspace, its members, and its records as the caller may see each of them."""
    with node.engine.begin() as conn:
        ws = workspaces.get(conn, node.name, principal, workspace_id)
        shown = workspaces.shared_records(conn, node.name, principal, workspace_id)
    return WorkspaceDetailOut(
        **WorkspaceOut.of(ws).model_dump(), records=[RecordRefOut.of(r) for r in shown]
    )


@router.post("/{workspace_id}/members", response_model=WorkspaceOut)
def invite_agency(
    node: NodeDep, principal: PrincipalDep, workspace_id: str, body: MemberIn
) -> WorkspaceOut:
    with node.engine.begin() as conn:
        ws = workspaces.invite(conn, node.name, principal, workspace_id, body.agency)
    return WorkspaceOut.of(ws)


@router.post("/{workspace_id}/records", status_code=204)
def share_record(node: NodeDep, principal: PrincipalDep, workspace_id: str, body: RecordIn) -> None:
    with node.engine.begin() as conn:
        workspaces.add_record(conn, node.name, principal, workspace_id, body.record_id)


@router.get("/{workspace_id}/messages", response_model=Page[SummaryOut])
def workspace_messages(
    room: MailroomDep,
    principal: PrincipalDep,
    workspace_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[SummaryOut]:
    """Every message posted in the workspace, newest first (members read them all)."""
    page, total = mailbox.list_messages(
        room, principal, None, mailbox.Filters(workspace_id=workspace_id), offset, limit
    )
    return Page(items=[SummaryOut.of(s) for s in page], total=total, offset=offset, limit=limit)
