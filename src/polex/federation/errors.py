"""Federation errors name the field and the rule, like every other polex error."""

from __future__ import annotations


class FederationError(Exception):
    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(message)


class LinkError(FederationError):
    """An offer that cannot be accepted, or a link that does not exist."""


class Refused(FederationError):
    """A federation request that is not from a linked partner, or not as that partner signed it.

    ``status`` is the HTTP status the federation port answers with."""

    def __init__(self, field: str, rule: str, message: str, status: int = 401) -> None:
        super().__init__(field, rule, message)
        self.status = status
