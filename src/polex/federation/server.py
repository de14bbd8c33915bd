"""The federation port: an HTTPS application of its own, for partner nodes only.

Every request must come over TLS 1.3 with the client certificate pinned for a link, carry that
partner's signature (fresh, never seen before) and no user token. What a partner may then do is
small: hand over messages and receipts, search, match a record, check the link is up."""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from uvicorn.protocols.http.h11_impl import H11Protocol

from polex.federation import crossnode, fedsearch, relay
from polex.federation.errors import FederationError, Refused
from polex.federation.links import Link
from polex.federation.service import Federation
from polex.federation.signing import remember_nonce, verify_request
from polex.federation.tls import PinSet, fingerprint, server_context
from polex.messaging import exchange
from polex.messaging.errors import MessagingError
from polex.store import db
from polex.store.metadata import utcnow

log = logging.getLogger(__name__)
PREFIX = "/federation/v1"
# Partners keep idle connections open and do not answer a TLS close on them: waiting longer
# than this for them only delays shutdown (every federation request is safe to send again).
SHUTDOWN_GRACE = 1
MAX_BATCH = 500

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class TlsH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, adding the ASGI TLS extension (the peer's certificate) to
    each request's scope, which uvicorn itself does not provide."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tls = {
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "tls_version": 0x0304 if ssl_object is not None else None,
        }
        inner: ASGIApp = self.app

        async def with_tls(scope: Scope, receive: Any, send: Any) -> None:
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": tls}
            await inner(scope, receive, send)

        self.app = with_tls


@dataclass(frozen=True)
class Peer:
    """A partner's verified request: who sent it and its body."""

    link: Link
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise Refused("body", "request.json", "body: not JSON", 422) from exc


def _peer_certificate(request: Request) -> str:
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise Refused(
            "certificate", "tls.client_cert", "certificate: a client certificate is required"
        )
    return fingerprint(ssl.PEM_cert_to_DER_cert(chain[0]))


def _target(request: Request) -> str:
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")


def _federation(request: Request) -> Federation:
    fed: Federation = request.app.state.federation
    return fed


async def verified_peer(request: Request) -> Peer:
    """The partner behind a request, or Refused: no user tokens, a pinned certificate, the
    partner's signature over this request, fresh and never seen before."""
    if "authorization" in request.headers:
        raise Refused(
            "authorization",
            "federation.no_user_tokens",
            "authorization: the federation port accepts no user tokens",
        )
    fed = _federation(request)
    pinned = _peer_certificate(request)
    link = await run_in_threadpool(fed.link_by_fingerprint, pinned)
    if link is None:
        raise Refused("certificate", "link.unpinned", "certificate: not pinned for any link", 403)
    body = await request.body()
    # the rest in one trip to a worker thread (each trip costs a thread hand-off)
    return await run_in_threadpool(_verify, fed, link, request, body)


def _verify(fed: Federation, link: Link, request: Request, body: bytes) -> Peer:
    claimed = request.headers.get("x-polex-node")
    if claimed is not None and claimed != link.node:
        raise Refused(
            "x-polex-node",
            "link.node_mismatch",
            f"x-polex-node: the certificate is {link.node}'s",
            403,
        )
    signed = verify_request(
        link.signing_key, request.method, _target(request), fed.name, request.headers, body
    )
    remember_nonce(fed.engine, link.node, signed.nonce)
    fed.contact(link.node)
    return Peer(link=link, body=body)


PeerDep = Annotated[Peer, Depends(verified_peer)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _outcome(refused: MessagingError | None) -> dict[str, Any]:
    if refused is None:
        return {}
    return {
        "error": {
            "status": refused.status,
            "field": refused.field,
            "rule": refused.rule,
            "detail": refused.message,
        }
    }


def _json(content: dict[str, Any]) -> Response:
    """An answer made of plain JSON values, serialised as it is: FastAPI's generic encoder
    walks every value first, which costs more than a search's own scoring on small answers."""
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, media_type="application/json")


def create_federation_app(
    fed: Federation, on_links: Callable[[list[Link]], None] | None = None
) -> FastAPI:
    """The federation application; its lifespan runs the relay, which calls ``on_links`` with
    the current links on every pass (the server keeps its TLS pins in step that way)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = relay.Relay(fed, on_links=on_links)
        worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    app = FastAPI(
        title=f"polex federation {fed.name}",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.federation = fed

    @app.exception_handler(FederationError)
    async def _refused(_: Request, exc: FederationError) -> JSONResponse:
        status = exc.status if isinstance(exc, Refused) else 422
        return JSONResponse(
            status_code=status,
            content={"detail": exc.message, "field": exc.field, "rule": exc.rule},
        )

    @app.exception_handler(MessagingError)
    async def _messaging(_: Request, exc: MessagingError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status,
            content={"detail": exc.message, "field": exc.field, "rule": exc.rule},
        )

    @app.get(f"{PREFIX}/ping")
    def ping(peer: PeerDep) -> dict[str, Any]:
        return {"node": fed.name, "partner": peer.link.node, "time": utcnow().isoformat()}

    @app.post(f"{PREFIX}/messages")
    def accept_message(peer: PeerDep) -> dict[str, Any]:
        receipts = exchange.accept_incoming(
            fed.mailroom, peer.body, peer.link.node, peer.link.signing_key
        )
        return {"receipts": [_b64(r) for r in receipts]}

    @app.post(f"{PREFIX}/messages/batch")
    def accept_messages(peer: PeerDep) -> Response:
        """Many envelopes, stored in one transaction, each answered on its own; the receipts
        for all of them come as one signed list."""
        wire = peer.json()
        items = wire.get("envelopes") if isinstance(wire, dict) else None
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            raise Refused(
                "envelopes", "request.batch", f"envelopes: a list of at most {MAX_BATCH}", 422
            )
        taken = exchange.accept_incoming_many(
            fed.mailroom, items, peer.link.node, peer.link.signing_key
        )
        return _json(
            {"results": [_outcome(r) for r in taken.refused], "receipts": _b64(taken.receipts)}
        )

    @app.post(f"{PREFIX}/receipts")
    def accept_receipt(peer: PeerDep) -> dict[str, Any]:
        delivery = exchange.apply_receipt(
            fed.mailroom, peer.body, peer.link.node, peer.link.signing_key
        )
        return {"recipient": str(delivery.recipient), "state": delivery.state.value}

    @app.post(f"{PREFIX}/match")
    def match(peer: PeerDep) -> Response:
        with fed.engine.begin() as conn:
            return _json(crossnode.answer(conn, fed.name, peer.link, peer.json()))

    @app.post(f"{PREFIX}/search")
    def search(peer: PeerDep) -> Response:
        with db.reading(), fed.engine.begin() as conn:
            return _json(fedsearch.answer(conn, fed.name, peer.link, peer.json()))

    return app


class FederationServer:
    """The federation port served by uvicorn in a thread of the calling process (``polex
    serve`` runs it beside the API), with the TLS pins kept in step with the links."""

    def __init__(self, fed: Federation, host: str, port: int) -> None:
        self.fed = fed
        self.port = port
        self.pins = PinSet()
        self.context = server_context(fed.node.keys, self.pins)
        self.app = create_federation_app(fed, on_links=self.update_pins)
        self.update_pins(fed.refresh())
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            http=TlsH11Protocol,
            loop="asyncio",  # tls.server_context relies on asyncio's TLS transport
            ssl_context_factory=lambda _config, _default: self.context,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, name="polex-federation", daemon=True
        )

    def update_pins(self, current: list[Link]) -> None:
        self.pins.update(
            self.context, [link.fingerprint for link in current], [link.ca_cert for link in current]
        )

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; returns once the port listens, raises if it cannot (port taken)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"federation port {self.port}: could not listen")
            time.sleep(0.02)

    @property
    def started(self) -> bool:
        return self.server.started

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.fed.close()
