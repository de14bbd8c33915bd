"""TLS for the federation port: TLS 1.3 only, a client certificate required, and the peer's
certificate pinned by the SHA-256 of its DER bytes on both sides.

Chain verification against the linked partners' own CAs happens in the handshake; the pin is
checked right after it, before a byte of HTTP is exchanged: a certificate the partner's CA issued
to anyone else than the node that was agreed on is refused. The server checks the pin again per
request (see server.py), where it also learns which partner is calling."""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Container, Iterable
from typing import Any

from polex.federation.identity import NodeKeys


class PinMismatch(ssl.SSLError):
    """The peer's certificate chains to a trusted CA but is not the one pinned."""


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _tls13(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.options |= ssl.OP_NO_COMPRESSION
    return context


def _check_pin(der: bytes | None, pins: Container[str]) -> None:
    if der is None:
        raise PinMismatch("no peer certificate")
    if fingerprint(der) not in pins:
        raise PinMismatch(f"peer certificate {fingerprint(der)} is not pinned")


class PinSet:
    """The fingerprints the server accepts, replaced whole when the links change."""

    def __init__(self) -> None:
        self._pins: frozenset[str] = frozenset()
        self._cas: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, item: object) -> bool:
        return item in self._pins

    def update(self, context: ssl.SSLContext, pins: Iterable[str], cas: Iterable[str]) -> None:
        """Trust newly linked CAs and pin exactly ``pins`` from now on.

        A CA once loaded stays in the context (OpenSSL cannot unload it); an unlinked partner's
        certificate still fails the pin."""
        with self._lock:
            fresh = [pem for pem in cas if pem not in self._cas]
            if fresh:
                context.load_verify_locations(cadata="\n".join(fresh))
                self._cas.update(fresh)
            self._pins = frozenset(pins)


def server_context(keys: NodeKeys, pins: PinSet) -> ssl.SSLContext:
    """The federation port's context; ``pins`` is consulted at every handshake."""

    class PinnedObject(ssl.SSLObject):
        refused: ssl.SSLError | None = None
        outgoing: ssl.MemoryBIO | None = None

        @classmethod
        def _create(
            cls, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, *args: Any, **kw: Any
        ) -> Any:
            created = super()._create(incoming, outgoing, *args, **kw)  # type: ignore[misc]
            created.outgoing = outgoing
            return created

        def do_handshake(self) -> None:
            if self.refused is not None:
                raise self.refused
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError as exc:
                if self.outgoing is None or not self.outgoing.pending:
                    raise
                # asyncio closes a connection whose handshake failed without writing out the
                # alert OpenSSL queued (e.g. "certificate required"), so the client would see a
                # bare EOF. Asking for more data once makes it send the alert; the peer then
                # hangs up, or its next bytes meet this error.
                self.refused = exc
                raise ssl.SSLWantReadError(str(exc)) from exc
            _check_pin(self.getpeercert(binary_form=True), pins)

    context = _tls13(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(keys.cert_file, keys.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.sslobject_class = PinnedObject
    return context


def client_context(keys: NodeKeys, partner_ca: str, pinned: str) -> ssl.SSLContext:
    """A context that speaks only to the partner whose certificate is ``pinned``.

    The partner is verified against its own CA (not the system's) and then by its exact
    certificate, so the endpoint's host name need not be in the certificate."""

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            _check_pin(self.getpeercert(binary_form=True), (pinned,))

    context = _tls13(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=partner_ca)
    context.load_cert_chain(keys.cert_file, keys.key_file)
    context.sslsocket_class = PinnedSocket
    return context
