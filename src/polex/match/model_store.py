"""Trained batch models, versioned in the node's database, and their match-weights chart.

Every hit a batch creates names no model version, but every batch run's audit entry does, and
a model is never changed once saved: retraining adds a version. So an analyst can always see
what weighed how much when a hit was made, and a supervisor can compare two versions before
trusting a new one. The chart is Splink's own (a Vega-Lite spec), stored with the version so
the web app can draw it without Splink, and rendered as a standalone HTML page that works
offline (its scripts are inlined: police networks are often closed)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splink import SettingsCreator
from sqlalchemy import Connection, Row, insert, select

from polex.match.tables import match_models
from polex.store.metadata import utcnow


class ModelNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Model:
    version: int
    created_at: datetime
    created_by: str
    trained_on: int
    scope: dict[str, Any]
    settings: dict[str, Any]
    metrics: dict[str, Any]
    chart: dict[str, Any]


def _splink_settings(settings: dict[str, Any]) -> Any:
    return SettingsCreator.from_path_or_dict(dict(settings)).get_settings(
        settings.get("sql_dialect") or "duckdb"
    )


def json_safe(value: Any) -> Any:
    """Plain JSON (PostgreSQL's JSONB refuses NaN and infinities; numpy numbers are not JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) or hasattr(value, "item"):
        number = value.item() if hasattr(value, "item") else value
        if isinstance(number, float) and not math.isfinite(number):
            return None
        return number
    return str(value)


def weights_chart(settings: dict[str, Any]) -> dict[str, Any]:
    """Splink's match-weights chart of a trained model as a Vega-Lite spec with its data."""
    spec = _splink_settings(settings).match_weights_chart().chart_dict
    return dict(json_safe(json.loads(json.dumps(spec, default=float))))


def chart_html(model: Model) -> str:
    """The match-weights chart as a standalone HTML page, scripts inlined (works offline)."""
    chart = _splink_settings(model.settings).match_weights_chart()
    return str(chart.to_html(inline=True))


def _from_row(row: Row[Any]) -> Model:
    m = row._mapping
    return Model(
        version=m["version"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        trained_on=m["trained_on"],
        scope=m["scope"],
        settings=m["settings"],
        metrics=m["metrics"],
        chart=m["chart"],
    )


def save(
    conn: Connection,
    settings: dict[str, Any],
    *,
    trained_on: int,
    scope: dict[str, Any],
    metrics: dict[str, Any],
    actor: str,
) -> Model:
    """Store a trained model as the next version, with its chart."""
    settings = json_safe(settings)
    version = conn.execute(
        insert(match_models)
        .values(
            created_at=utcnow(),
            created_by=actor,
            trained_on=trained_on,
            scope=json_safe(scope),
            settings=settings,
            metrics=json_safe(metrics),
            chart=weights_chart(settings),
        )
        .returning(match_models.c.version)
    ).scalar_one()
    return get(conn, version)


def get(conn: Connection, version: int) -> Model:
    row = conn.execute(select(match_models).where(match_models.c.version == version)).first()
    if row is None:
        raise ModelNotFound(f"model version {version} not found")
    return _from_row(row)


def latest(conn: Connection) -> Model | None:
    row = conn.execute(
        select(match_models).order_by(match_models.c.version.desc()).limit(1)
    ).first()
    return _from_row(row) if row is not None else None


def versions(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            match_models.c.version,
            match_models.c.created_at,
            match_models.c.created_by,
            match_models.c.trained_on,
        ).order_by(match_models.c.version.desc())
    ).all()
    return [dict(r._mapping) for r in rows]


def _weight(m: float | None, u: float | None) -> float | None:
    return round(math.log2(m / u), 3) if m and u else None


def parameters(model: Model) -> dict[str, Any]:
    """What the analyst reads: the prior, and each comparison level's m, u and match weight
    (log2 of m/u: how many times likelier the agreement is for one person than for two)."""
    settings = model.settings
    return {
        "version": model.version,
        "created_at": model.created_at,
        "created_by": model.created_by,
        "trained_on": model.trained_on,
        "scope": model.scope,
        "metrics": model.metrics,
        "probability_two_random_records_match": settings.get(
            "probability_two_random_records_match"
        ),
        "comparisons": [
            {
                "name": c.get("output_column_name"),
                "description": c.get("comparison_description"),
                "levels": [
                    {
                        "label": lv.get("label_for_charts"),
                        "m": lv.get("m_probability"),
                        "u": lv.get("u_probability"),
                        "weight": _weight(lv.get("m_probability"), lv.get("u_probability")),
                    }
                    for lv in c.get("comparison_levels", [])
                    if not lv.get("is_null_level")
                ],
            }
            for c in settings.get("comparisons", [])
        ],
    }
