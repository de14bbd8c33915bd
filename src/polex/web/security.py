"""What keeps a page from being turned against its user: a strict Content-Security-Policy and
companion headers on every response, and a CSRF check on every state-changing request.

The CSRF token is an HMAC, under a key derived from the node's data key, of the value that
identifies the browser: the session token once logged in, a random pre-session cookie before
(so the login form is protected too). Every worker of a node computes the same token without
storing it, and a token is worthless with another browser's cookies. The token travels in a
hidden form field or, for htmx requests, in the ``X-CSRF-Token`` header; the Origin and
Sec-Fetch-Site headers are checked as a second, independent line."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polex.node.home import Node

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
# Swagger UI is a third-party page with inline code; it keeps its own defaults.
EXEMPT_PREFIXES = ("/api/docs",)
# Pages carry police data: no browser or proxy cache may keep them.
CACHEABLE_PREFIXES = ("/static/",)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response it passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not path.startswith(CACHEABLE_PREFIXES):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfRefused(Exception):
    """A state-changing request that does not prove it came from one of our own pages."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message
        super().__init__(message)


def derive_secret(node: Node) -> bytes:
    """A key for web HMACs, separate from the data key it is derived from."""
    return hmac.new(node.keys.data_key(), b"polex web v1", hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, binding: str) -> str:
    return sign(secret, "csrf", binding)


def new_binding() -> str:
    return secrets.token_urlsafe(32)


def _same_origin(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfRefused("csrf.origin", f"the request came from a {site} page")
    origin = request.headers.get("origin")
    if origin is None:
        return
    # the host, not the scheme: behind a TLS-terminating proxy the app itself sees http
    host = request.headers.get("host", request.url.netloc)
    if urlsplit(origin).netloc != host:
        raise CsrfRefused("csrf.origin", f"the request came from {origin}, not from {host}")


async def supplied_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def verify(request: Request, secret: bytes, binding: str | None) -> None:
    """Refuse an unsafe request without a valid token for this browser (or from elsewhere)."""
    if request.method in SAFE_METHODS:
        return
    _same_origin(request)
    if not binding:
        raise CsrfRefused("csrf.cookie", "the browser sent no session or pre-session cookie")
    token = await supplied_token(request)
    if not token:
        raise CsrfRefused("csrf.missing", f"the form carried no {CSRF_FIELD}")
    if not hmac.compare_digest(token, csrf_token(secret, binding)):
        raise CsrfRefused("csrf.mismatch", f"the {CSRF_FIELD} is not this browser's")
