"""Message addresses: ``AGENCY@NODE``; a bare ``AGENCY`` means an agency of this node."""

from __future__ import annotations

import re
from dataclasses import dataclass

from polex.messaging.errors import Invalid

AGENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True, order=True)
class Address:
    agency: str
    node: str

    def __str__(self) -> str:
        return f"{self.agency}@{self.node}"

    def is_on(self, node: str) -> bool:
        return self.node.casefold() == node.casefold()


def parse(text: str, local_node: str, field: str = "to") -> Address:
    """Parse one address; agency codes are upper case everywhere, node names keep their case."""
    agency, sep, node = text.strip().partition("@")
    node = node if sep else local_node
    if not AGENCY_RE.match(agency) or not NODE_RE.match(node):
        raise Invalid(
            field, "address.format", f"{field}: {text!r} is not an address AGENCY or AGENCY@NODE"
        )
    if node.casefold() == local_node.casefold():
        node = local_node
    return Address(agency=agency.upper(), node=node)


def parse_many(texts: list[str], local_node: str, field: str = "to") -> list[Address]:
    """Distinct addresses in a stable (sorted) order, so the signed list does not depend on
    how the sender happened to order or repeat them."""
    return sorted({parse(t, local_node, field) for t in texts})
