"""Time-based one-time codes (RFC 6238, pyotp): the second factor of the web login.

A code is accepted one step (30 s) early or late, for clock drift, and never twice: the step
of the last accepted code is stored, and only later steps are accepted after it."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "polex"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, node: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=f"{username}@{node}", issuer_name=ISSUER)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def accepted_step(secret: str, code: str, now: datetime, after: int | None = None) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and later than step ``after``."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
