"""The authenticated actor every read path is decided for."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    officer = "officer"
    analyst = "analyst"
    supervisor = "supervisor"
    dpo = "dpo"
    admin = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    agency: str
    country: str
    role: Role
    node: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """How the principal is named in versions and audit entries."""
        return f"{self.username}@{self.agency}"
