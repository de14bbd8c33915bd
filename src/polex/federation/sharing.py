"""What a node shares with a partner: which databases the partner may search, and whether it
learns the records (``full``) or only that a record exists and whom to ask (``hit``).

A grant is a ceiling, never a key: the owner's restrictions on each record still apply to the
partner's users, and a record the owner restricts stays restricted whatever the grant says."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from polex.model.envelope import Database


class Mode(StrEnum):
    full = "full"
    hit = "hit"


class Sharing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    databases: dict[Database, Mode] = Field(default_factory=dict)
    # whether this node takes part in cross-node matching with the partner: its records offered
    # to the partner, the partner's matched here (both owners get the hits)
    crossmatch: bool = True

    def mode(self, database: str) -> Mode | None:
        try:
            return self.databases.get(Database(database))
        except ValueError:
            return None

    def grants(self) -> dict[str, str]:
        """database -> "full" | "hit", as the policy decision point takes a link's grant."""
        return {db.value: mode.value for db, mode in self.databases.items()}

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")


def default_sharing() -> Sharing:
    """Hit/no-hit on every database, as Europol's EIS shares: the partner learns of a match and
    whom to contact, and asks the owner for more."""
    return Sharing(databases=dict.fromkeys(Database, Mode.hit))


def parse_shares(items: list[str]) -> Sharing:
    """``DATABASE=full|hit`` items (``all=...`` for every database); none: the default grant."""
    if not items:
        return default_sharing()
    databases: dict[Database, Mode] = {}
    for item in items:
        name, sep, mode = item.partition("=")
        name = name.strip().lower()
        try:
            chosen = Mode(mode.strip().lower()) if sep else Mode.hit
        except ValueError as exc:
            raise ValueError(f"share: {item!r}: mode is full or hit") from exc
        if name == "all":
            databases |= dict.fromkeys(Database, chosen)
            continue
        try:
            databases[Database(name)] = chosen
        except ValueError as exc:
            raise ValueError(
                f"share: {item!r}: database is one of all, {', '.join(d.value for d in Database)}"
            ) from exc
    return Sharing(databases=databases)
