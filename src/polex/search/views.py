"""Hits as readers see them: a full hit explains itself; a restricted hit says only that a
record exists and whom to contact (the hit/no-hit principle). Shared by API, web and CLI."""

from __future__ import annotations

from typing import Any

from polex.access.policy import View
from polex.search.engine import Hit


def hit_json(hit: Hit, node: str) -> dict[str, Any]:
    record = hit.record
    if hit.view != View.full:
        return {
            "record_id": record.id,
            "restricted": True,
            "owner": record.owner,
            "contact": f"contact agency {record.owner} to learn more",
            "node": node,
        }
    return {
        "record_id": record.id,
        "source_id": record.source_id,
        "database": record.database,
        "owner": record.owner,
        "schema": record.schema,
        "caption": record.caption,
        "properties": record.properties,
        "handling": record.envelope.handling.value,
        "score": hit.score,
        "match": hit.match,
        "explanation": [
            {"feature": f.name, "score": round(f.score, 4), "detail": f.detail}
            for f in hit.features
        ],
        "restricted": False,
        "node": node,
    }
