"""/api/v1/agencies (read: any user; add: admin) and /api/v1/users (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from polex.access import accounts
from polex.access.principal import Role
from polex.api.deps import AdminDep, NodeDep, PrincipalDep
from polex.audit import log as audit
from polex.store import agencies

router = APIRouter(tags=["agencies and users"])


class AgencyIO(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
    name: str = Field(min_length=1, max_length=255)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9._-]{2,64}$")
    agency: str
    role: Role


class UserOut(BaseModel):
    id: int
    username: str
    agency: str
    role: Role
    active: bool


class NewUserOut(UserOut):
    token: str
    totp_secret: str  # for the authenticator app; shown once, like the token


@router.get("/agencies", response_model=list[AgencyIO])
def list_agencies(node: NodeDep, _principal: PrincipalDep) -> list[AgencyIO]:
    with node.engine.begin() as conn:
        return [
            AgencyIO(code=a.code, name=a.name, country=a.country)
            for a in agencies.all_agencies(conn)
        ]


@router.post("/agencies", status_code=201, response_model=AgencyIO)
def add_agency(node: NodeDep, admin: AdminDep, body: AgencyIO) -> AgencyIO:
    with node.engine.begin() as conn:
        a = agencies.add(conn, body.code, body.name, body.country)
        audit.append(
            conn,
            actor=admin.actor,
            agency=admin.agency,
            action="admin.agency_add",
            target=a.code,
            details={"name": a.name, "country": a.country},
        )
    return AgencyIO(code=a.code, name=a.name, country=a.country)


@router.get("/users", response_model=list[UserOut])
def list_users(node: NodeDep, _admin: AdminDep, agency: str | None = None) -> list[UserOut]:
    with node.engine.begin() as conn:
        return [UserOut(**u.__dict__) for u in accounts.list_users(conn, agency)]


@router.post("/users", status_code=201, response_model=NewUserOut)
def add_user(node: NodeDep, admin: AdminDep, body: UserIn) -> NewUserOut:
    with node.engine.begin() as conn:
        new = accounts.add_user(conn, body.username, body.agency, body.role)
        audit.append(
            conn,
            actor=admin.actor,
            agency=admin.agency,
            action="admin.user_add",
            target=body.username,
            details={"agency": body.agency, "role": body.role},
        )
    return NewUserOut(**new.user.__dict__, token=new.token, totp_secret=new.totp_secret)
