"""The Cedar policy set under policies/: loaded and validated once, evaluated in batches.

Cedar evaluation costs about 100-200 µs per request in cedarpy, too much to pay per search
hit; policy.py therefore caches decisions by the attributes they depend on, and asks Cedar
only for combinations it has not seen."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

POLICY_DIR = Path(__file__).with_name("policies")
SCHEMA_FILE = "schema.cedarschema"


class PolicyError(RuntimeError):
    """The policy files are invalid, or a request could not be evaluated (fail closed)."""


@dataclass(frozen=True)
class Request:
    principal: str  # entity id of a User
    action: str
    resource: tuple[str, str]  # (entity type, id)
    context: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    # the @id of the policies that decided: permits when allowed, forbids when refused
    # (none when nothing permitted it: Cedar's default deny)
    reasons: tuple[str, ...]


def entity(kind: str, eid: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"uid": {"type": kind, "id": eid}, "attrs": attrs, "parents": []}


class PolicyEngine:
    """One policy set and its schema, parsed once; decisions are pure functions of them."""

    def __init__(self, directory: Path = POLICY_DIR) -> None:
        files = sorted(directory.glob("*.cedar"))
        self.text = "\n".join(f.read_text(encoding="utf-8") for f in files)
        schema = (directory / SCHEMA_FILE).read_text(encoding="utf-8")
        validation = cedarpy.validate_policies(self.text, schema)
        if not validation.validation_passed:
            raise PolicyError(
                "policies: " + "; ".join(str(e) for e in validation.errors) or "invalid"
            )
        self.policies = cedarpy.PolicySet.from_str(self.text)
        self.schema = cedarpy.Schema.from_str(schema)

    def ids(self) -> list[str]:
        """The @id of every policy, in file order (tests hold one test per rule)."""
        return re.findall(r'@id\("([^"]+)"\)', self.text)

    def decide(self, requests: Sequence[Request], entities: list[dict[str, Any]]) -> list[Outcome]:
        if not requests:
            return []
        batch = [
            {
                "principal": {"type": "User", "id": r.principal},
                "action": {"type": "Action", "id": r.action},
                "resource": {"type": r.resource[0], "id": r.resource[1]},
                "context": r.context,
            }
            for r in requests
        ]
        try:
            results = cedarpy.is_authorized_batch(batch, self.policies, entities, self.schema)
        except (ValueError, RuntimeError) as exc:
            raise PolicyError(f"policy evaluation failed: {exc}") from exc
        outcomes = []
        for result in results:
            diagnostics = result.diagnostics
            if diagnostics.errors:
                raise PolicyError("policy evaluation failed: " + "; ".join(diagnostics.errors))
            names = diagnostics.id_annotations_by_reason
            reasons = tuple(sorted(names.get(p, p) for p in diagnostics.reasons))
            outcomes.append(Outcome(allowed=result.allowed, reasons=reasons))
        return outcomes


ENGINE = PolicyEngine()
