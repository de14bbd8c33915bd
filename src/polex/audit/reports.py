"""The data protection officer's reports over a period, as JSON or CSV.

- accesses: how many entries of each action per user and agency;
- searches_without_case: searches that named no case reference (each with its purpose);
- anomalous_users: users whose daily searches exceed their own baseline by more than 3σ;
- due_for_review: records whose review date falls in or before the period (overdue ones too).

The counting is done by the database (GROUP BY), so a report over a busy year never loads the
year's entries into memory."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, cast, func, select

from polex.access import review
from polex.audit import log
from polex.audit.entries import utc
from polex.audit.tables import audit_log

BASELINE_DAYS = 28
SIGMA = 3.0
MIN_SEARCHES = 10  # a day below this is never anomalous, whatever the baseline


@dataclass(frozen=True)
class Report:
    kind: str
    since: datetime
    until: datetime
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "columns": list(self.columns),
            "rows": [{c: _plain(r.get(c)) for c in self.columns} for r in self.rows],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(
                ["" if row.get(c) is None else _plain(row.get(c)) for c in self.columns]
            )
        return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _period(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [audit_log.c.ts >= utc(since), audit_log.c.ts < utc(until)]


def _day(conn: Connection) -> ColumnElement[Any]:
    """The UTC calendar day of an entry, as the database computes it."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", audit_log.c.ts), Date)
    return func.date(audit_log.c.ts)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def accesses(conn: Connection, since: datetime, until: datetime) -> Report:
    rows = conn.execute(
        select(
            audit_log.c.agency,
            audit_log.c.actor,
            audit_log.c.action,
            func.count().label("count"),
            func.min(audit_log.c.ts).label("first"),
            func.max(audit_log.c.ts).label("last"),
        )
        .where(*_period(since, until))
        .group_by(audit_log.c.agency, audit_log.c.actor, audit_log.c.action)
        .order_by(audit_log.c.agency, audit_log.c.actor, audit_log.c.action)
    ).all()
    return Report(
        "accesses",
        since,
        until,
        ("agency", "actor", "action", "count", "first", "last"),
        [dict(r._mapping) for r in rows],
    )


def searches_without_case(conn: Connection, since: datetime, until: datetime) -> Report:
    rows = conn.execute(
        select(
            audit_log.c.seq,
            audit_log.c.ts,
            audit_log.c.agency,
            audit_log.c.actor,
            audit_log.c.purpose,
            audit_log.c.details,
        )
        .where(*_period(since, until), audit_log.c.action == "search")
        .where(audit_log.c.case_ref.is_(None))
        .order_by(audit_log.c.seq)
    )
    out = []
    for r in rows:
        details = r.details or {}
        out.append(
            {
                "seq": r.seq,
                "ts": r.ts,
                "agency": r.agency,
                "actor": r.actor,
                "purpose": r.purpose,
                "hits": len(details.get("hits") or []) + len(details.get("restricted_hits") or []),
            }
        )
    return Report(
        "searches_without_case",
        since,
        until,
        ("seq", "ts", "agency", "actor", "purpose", "hits"),
        out,
    )


def _daily_searches(
    conn: Connection, since: datetime, until: datetime
) -> dict[tuple[str, str | None], dict[date, int]]:
    day = _day(conn).label("day")
    rows = conn.execute(
        select(audit_log.c.actor, audit_log.c.agency, day, func.count().label("n"))
        .where(*_period(since, until), audit_log.c.action == "search")
        .group_by(audit_log.c.actor, audit_log.c.agency, day)
    )
    counts: dict[tuple[str, str | None], dict[date, int]] = defaultdict(dict)
    for r in rows:
        counts[(r.actor, r.agency)][_as_date(r.day)] = r.n
    return counts


def anomalous_users(
    conn: Connection,
    since: datetime,
    until: datetime,
    baseline_days: int = BASELINE_DAYS,
    sigma: float = SIGMA,
    min_searches: int = MIN_SEARCHES,
) -> Report:
    """Days of the period on which a user searched more than mean + ``sigma`` × σ of their own
    daily searches over the ``baseline_days`` before the period (days without searches count
    as 0; σ is at least 1, so a quiet user's few extra searches are not an anomaly)."""
    start = since - timedelta(days=baseline_days)
    baseline = _daily_searches(conn, start, since)
    period = _daily_searches(conn, since, until)
    out = []
    for (actor, agency), days in sorted(period.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        history = baseline.get((actor, agency), {})
        values = [history.get(start.date() + timedelta(days=i), 0) for i in range(baseline_days)]
        mean = sum(values) / len(values) if values else 0.0
        var = sum((v - mean) ** 2 for v in values) / len(values) if values else 0.0
        std = math.sqrt(var)
        threshold = mean + sigma * max(std, 1.0)
        for day, n in sorted(days.items()):
            if n > threshold and n >= min_searches:
                out.append(
                    {
                        "agency": agency,
                        "actor": actor,
                        "day": day,
                        "searches": n,
                        "baseline_mean": round(mean, 2),
                        "baseline_std": round(std, 2),
                        "threshold": round(threshold, 2),
                    }
                )
    return Report(
        "anomalous_users",
        since,
        until,
        ("agency", "actor", "day", "searches", "baseline_mean", "baseline_std", "threshold"),
        out,
    )


def due_for_review(conn: Connection, since: datetime, until: datetime) -> Report:
    last_day = (utc(until) - timedelta(microseconds=1)).date()
    items = review.due(conn, last_day, today=date.today())
    return Report(
        "due_for_review",
        since,
        until,
        ("record_id", "owner", "database", "schema", "status", "review_at", "overdue"),
        [
            {
                "record_id": i.record_id,
                "owner": i.owner,
                "database": i.database,
                "schema": i.schema,
                "status": i.status,
                "review_at": i.review_at,
                "overdue": i.overdue,
            }
            for i in items
        ],
    )


KINDS: dict[str, Callable[[Connection, datetime, datetime], Report]] = {
    "accesses": accesses,
    "searches_without_case": searches_without_case,
    "anomalous_users": anomalous_users,
    "due_for_review": due_for_review,
}


class ReportError(ValueError):
    """An unknown kind or an empty period; the message names the parameter."""


def run(conn: Connection, kind: str, since: datetime, until: datetime) -> Report:
    """The report of ``kind`` over everything committed up to now (chained first)."""
    try:
        report = KINDS[kind]
    except KeyError as exc:
        raise ReportError(f"kind: one of {', '.join(KINDS)}") from exc
    if until <= since:
        raise ReportError("until: must be after since")
    log.chain(conn)
    return report(conn, since, until)
