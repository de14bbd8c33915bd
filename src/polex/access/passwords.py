"""Password hashing with Argon2id (argon2-cffi).

The parameters are OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane): strong against
offline guessing yet cheap enough that several server workers on two cores can log users in.
Hashes carry their parameters, so raising them later rehashes each user at their next login."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def problem(password: str) -> str | None:
    """Why a password is refused ("password: ..."), or None. Length is what resists guessing;
    composition rules only make people write passwords down."""
    if len(password) < MIN_LENGTH:
        return f"password: at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password: at most {MAX_LENGTH} characters"
    if not password.strip():
        return "password: not only spaces"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; without a stored hash a dummy one is checked,
    so that an unknown user or a user without a password takes as long as a wrong password."""
    try:
        return _hasher.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


@cache
def _dummy() -> str:
    return _hasher.hash("polex: no such user, no such password")
