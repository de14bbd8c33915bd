"""How long a browser session lasts and how its cookies are marked.

Secure cookies stay on by default even for plain-http test servers: browsers treat
http://localhost and http://127.0.0.1 as secure contexts and accept them there."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class WebSettings:
    # an officer who walks away from the desk is logged out after this long without a request
    idle_timeout: timedelta = timedelta(minutes=30)
    # and after this long in any case (one shift)
    session_lifetime: timedelta = timedelta(hours=12)
    secure_cookies: bool = True

    @property
    def cookie_prefix(self) -> str:
        """``__Host-`` binds a cookie to this exact origin, but browsers demand Secure for it."""
        return "__Host-" if self.secure_cookies else ""


def from_environment() -> WebSettings:
    """Operators tune the session from the environment of ``polex serve``."""
    idle = int(os.environ.get("POLEX_WEB_IDLE_MINUTES", "30"))
    lifetime = int(os.environ.get("POLEX_WEB_SESSION_HOURS", "12"))
    insecure = os.environ.get("POLEX_WEB_INSECURE_COOKIES", "") == "1"
    return WebSettings(
        idle_timeout=timedelta(minutes=idle),
        session_lifetime=timedelta(hours=lifetime),
        secure_cookies=not insecure,
    )
