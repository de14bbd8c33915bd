"""Calling a partner's federation port: mutual TLS pinned to the partner's certificate, and
every request signed for that partner.

One HTTP client per partner and process, kept so that connections (and TLS sessions) are
reused; rebuilt when the link's endpoint or certificates change."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from polex.federation.identity import NodeKeys
from polex.federation.links import Link
from polex.federation.signing import sign_request
from polex.federation.tls import client_context

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# Headers and body go out in separate writes: without this, Nagle's algorithm holds the body
# back until the partner acknowledges the headers, which costs tens of milliseconds a request.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
# httpcore's trace event once a request is written and its answer awaited
SENT_EVENT = "http11.receive_response_headers.started"


@dataclass
class PartnerClient:
    local_node: str
    link: Link
    http: httpx.Client
    signing_key: Ed25519PrivateKey

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        timeout: float | httpx.Timeout | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send a signed request; raises httpx errors when the partner cannot be reached, and
        ssl errors (as httpx.ConnectError) when it is not the pinned partner. ``on_sent`` is
        called once the request is on the wire and the answer is awaited."""
        headers = sign_request(
            self.signing_key, method, path, self.local_node, self.link.node, body
        )
        headers["content-type"] = "application/json"
        extensions: dict[str, Any] = {}
        if on_sent is not None:

            def trace(event: str, _info: dict[str, Any]) -> None:
                if event == SENT_EVENT:
                    on_sent()

            extensions["trace"] = trace
        return self.http.request(
            method,
            path,
            content=body,
            headers=headers,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            extensions=extensions,
        )

    def close(self) -> None:
        self.http.close()


def _identity(link: Link) -> tuple[str, str, str]:
    return (link.endpoint, link.fingerprint, link.ca_cert)


class Clients:
    """The process's clients, one per partner."""

    def __init__(self, local_node: str, keys: NodeKeys) -> None:
        self.local_node = local_node
        self.keys = keys
        self.signing_key = keys.signing_key()
        self._clients: dict[str, PartnerClient] = {}
        self._lock = threading.Lock()

    def for_link(self, link: Link) -> PartnerClient:
        with self._lock:
            client = self._clients.get(link.node)
            if client is not None and _identity(client.link) == _identity(link):
                client.link = link
                return client
            if client is not None:
                client.close()
            transport = httpx.HTTPTransport(
                verify=client_context(self.keys, link.ca_cert, link.fingerprint),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                socket_options=NO_DELAY,
            )
            http = httpx.Client(base_url=link.endpoint, transport=transport, trust_env=False)
            client = PartnerClient(self.local_node, link, http, self.signing_key)
            self._clients[link.node] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
