"""What every endpoint needs: the node, and the principal behind the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection

from polex.access import accounts
from polex.access.principal import Principal, Role
from polex.node.home import Node

bearer = HTTPBearer(auto_error=False)


async def get_node(request: Request) -> Node:
    """``async`` only because it never waits: FastAPI runs a plain function in a worker
    thread, and a thread hop costs more than the lookup."""
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token as sent; ``async`` since it needs no database (no worker thread)."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authorization: a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


async def request_token(request: Request) -> str:
    """``bearer_token`` for an endpoint that reads it itself rather than as a dependency:
    FastAPI's solving of the node and token dependencies cost a third more instructions than
    all the rest of an identifier lookup's request (callgrind, 2.5 against 1.9 million)."""
    return await bearer_token(await bearer(request))


def authenticated(conn: Connection, node: Node, token: str) -> Principal:
    """The principal behind the token, in the caller's transaction: endpoints on the hot path
    (search) resolve it in their own transaction rather than in a dependency of its own, which
    would cost a worker thread, a pool checkout and a transaction more per request."""
    principal = accounts.authenticate(conn, token, node.name)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authorization: the token is unknown, expired or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def get_principal(node: NodeDep, token: TokenDep) -> Principal:
    with node.engine.begin() as conn:
        return authenticated(conn, node, token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "role: this needs the admin role")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
