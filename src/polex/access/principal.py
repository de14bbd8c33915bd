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
    """A user, as the node deciding for them knows them.

    ``node`` is the node the user is registered on. A user of a partner node, asking through a
    federation link, is built with ``partner_principal``: ``local_node`` then names the node
    that decides, and the owners' rules for partners apply (H2, the link's sharing grant)."""

    user_id: int
    username: str
    agency: str
    country: str
    role: Role
    node: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    # case references of the workspaces the user's agency is a member of (need-to-know)
    case_refs: frozenset[str] = field(default_factory=frozenset)
    local_node: str | None = None

    @property
    def actor(self) -> str:
        """How the principal is named in versions and audit entries."""
        if self.partner:
            return f"{self.username}@{self.agency}@{self.node}"
        return f"{self.username}@{self.agency}"

    @property
    def partner(self) -> bool:
        """Whether the user belongs to another node than the one deciding."""
        return self.local_node is not None and self.local_node.casefold() != self.node.casefold()

    @property
    def address(self) -> str:
        """The user's agency as a message address, ``AGENCY@NODE``."""
        return f"{self.agency}@{self.node}"


def partner_principal(
    local_node: str,
    node: str,
    agency: str,
    country: str,
    username: str,
    role: Role = Role.officer,
    case_refs: frozenset[str] = frozenset(),
) -> Principal:
    """A partner node's user, as that node vouches for them in a signed federation request."""
    return Principal(
        user_id=0,
        username=username,
        agency=agency.upper(),
        country=country.upper(),
        role=role,
        node=node,
        scopes=frozenset({"search"}),
        case_refs=case_refs,
        local_node=local_node,
    )
