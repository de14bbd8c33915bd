"""What every endpoint needs: the node, and the principal behind the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from polex.access import accounts
from polex.access.principal import Principal, Role
from polex.node.home import Node

bearer = HTTPBearer(auto_error=False)


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


def get_principal(
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authorization: a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with node.engine.begin() as conn:
        principal = accounts.authenticate(conn, credentials.credentials, node.name)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authorization: the token is unknown, expired or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "role: this needs the admin role")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
