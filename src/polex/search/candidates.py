"""Candidate generation from the key index: rare keys first, never a scan of the records.

A key shared by many records (a common name's phonetic key) says little, so each key counts
by its inverse document frequency and very common keys are only used when nothing rarer is
there. The work per query is bounded by COMMON_CAP rows per key, and a query costs two round
trips whatever its number of keys: one for the (capped) key frequencies, one for the rows."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Select, func, literal, select, text, union_all

from polex.search.tables import record_keys
from polex.store.tables import records

# A key held by more records than this is "common": counted only up to the cap.
COMMON_CAP = 2000
_TOTAL_TTL = 60.0
_TERMS = 200
_total_cache: dict[str, tuple[float, int]] = {}

Key = tuple[str, str]

# The planner's row count: free to read, and as good as an exact count for IDF weights
# (PostgreSQL keeps it from VACUUM/ANALYZE, -1 before the first). SQLite's largest rowid is
# the count of records ever written, which records never fall below (deletion is a tombstone).
_ESTIMATES = {
    "postgresql": text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('records')"),
    "sqlite": text("SELECT max(rowid) FROM records"),
}


def total_records(conn: Connection) -> int:
    """Record count for IDF weights; a minute-old estimate weighs keys just as well, and an
    exact count of millions of rows would stall a query every minute."""
    url = str(conn.engine.url)
    cached = _total_cache.get(url)
    now = time.monotonic()
    if cached and now - cached[0] < _TOTAL_TTL:
        return cached[1]
    estimate = _ESTIMATES.get(conn.dialect.name)
    total = conn.execute(estimate).scalar() if estimate is not None else None
    if not total or total < 0:
        total = conn.execute(select(func.count()).select_from(records)).scalar_one()
    _total_cache[url] = (now, int(total))
    return int(total)


def _holders(index: int, key: Key, cap: int) -> Select[tuple[int, str]]:
    """Up to ``cap`` record ids holding ``key``, tagged with the key's position."""
    kind, value = key
    inner = (
        select(record_keys.c.record_id)
        .where(record_keys.c.kind == kind, record_keys.c.key == value)
        .limit(cap)
        .subquery()
    )
    return select(literal(index).label("i"), inner.c.record_id)


def _union(parts: Sequence[Select[Any]]) -> Iterator[Select[Any] | CompoundSelect]:
    """Statements of at most _TERMS parts each (SQLite caps a compound SELECT at 500)."""
    for start in range(0, len(parts), _TERMS):
        chunk = parts[start : start + _TERMS]
        yield chunk[0] if len(chunk) == 1 else union_all(*chunk)


def key_frequencies(conn: Connection, keys: Iterable[Key]) -> dict[Key, int]:
    """How many index rows hold each key, counted up to COMMON_CAP + 1."""
    ordered = list(keys)
    result: dict[Key, int] = dict.fromkeys(ordered, 0)
    parts = [
        select(literal(i).label("i"), func.count().label("n")).select_from(
            _holders(i, key, COMMON_CAP + 1).subquery()
        )
        for i, key in enumerate(ordered)
    ]
    for statement in _union(parts):
        for i, n in conn.execute(statement):
            result[ordered[i]] = int(n)
    return result


def _rows(conn: Connection, keys: Sequence[Key]) -> list[tuple[int, str]]:
    """Record ids of each key (up to COMMON_CAP), in one round trip per _TERMS keys."""
    parts = [_holders(i, key, COMMON_CAP) for i, key in enumerate(keys)]
    return [(int(i), rid) for statement in _union(parts) for i, rid in conn.execute(statement)]


def idf(df: int, total: int) -> float:
    return math.log(1 + max(total, 1) / max(df, 1))


def generate(
    conn: Connection, keys: set[Key], limit: int, frequencies: dict[Key, int] | None = None
) -> dict[str, float]:
    """Record ids most likely to match, by the summed weight of the keys they share."""
    if not keys:
        return {}
    total = total_records(conn)
    df = frequencies if frequencies is not None else key_frequencies(conn, keys)
    present = sorted((k for k in keys if df.get(k, 0) > 0), key=lambda k: (df[k], k))
    rare = [k for k in present if df[k] <= COMMON_CAP]
    chosen = rare or present[:1]
    if not chosen:
        return {}
    weight = [idf(df[key], total) for key in chosen]
    weights: dict[str, float] = defaultdict(float)
    for i, rid in _rows(conn, chosen):
        weights[rid] += weight[i]
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:limit])
