"""Database grants per role, kept as data (policies/grants.yaml) beside the Cedar rules.

The grants fill the ``databases`` attribute of the Cedar ``User``; the "grant" rule of
records.cedar enforces them."""

from __future__ import annotations

from pathlib import Path

import yaml

from polex.access.principal import Role
from polex.model.envelope import Database

GRANTS_FILE = Path(__file__).with_name("policies") / "grants.yaml"


class GrantsError(ValueError):
    pass


def load(path: Path = GRANTS_FILE) -> dict[Role, frozenset[str]]:
    """Every role's databases; a role or database the model does not know is an error, and a
    role the file forgets would read nothing, so it must be listed (if only as ``[]``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {d.value for d in Database}
    grants: dict[Role, frozenset[str]] = {}
    for name, databases in data.items():
        try:
            role = Role(name)
        except ValueError as exc:
            raise GrantsError(f"{path.name}: {name}: not a role") from exc
        unknown = set(databases or []) - known
        if unknown:
            raise GrantsError(f"{path.name}: {name}: unknown databases {sorted(unknown)}")
        grants[role] = frozenset(databases or [])
    missing = set(Role) - grants.keys()
    if missing:
        raise GrantsError(f"{path.name}: roles {sorted(missing)} are not listed")
    return grants


GRANTS = load()

# Roles that read records at all (and so write them, search, message and work cases).
READING_ROLES = frozenset(role for role, databases in GRANTS.items() if databases)
