"""Candidate generation from the key index: rare keys first, never a scan of the records.

A key shared by many records (a common name's phonetic key) says little, so each key counts
by its inverse document frequency and very common keys are only used when nothing rarer is
there. The work per query is bounded by COMMON_CAP rows per key."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, func, select

from polex.search.tables import record_keys
from polex.store.tables import records

# A key held by more records than this is "common": counted only up to the cap.
COMMON_CAP = 2000
_TOTAL_TTL = 60.0
_total_cache: dict[str, tuple[float, int]] = {}

Key = tuple[str, str]


def total_records(conn: Connection) -> int:
    """Record count for IDF weights; a minute-old figure weighs keys just as well."""
    url = str(conn.engine.url)
    cached = _total_cache.get(url)
    now = time.monotonic()
    if cached and now - cached[0] < _TOTAL_TTL:
        return cached[1]
    total = conn.execute(select(func.count()).select_from(records)).scalar_one()
    _total_cache[url] = (now, total)
    return int(total)


def key_frequencies(conn: Connection, keys: Iterable[Key]) -> dict[Key, int]:
    """How many index rows hold each key, counted up to COMMON_CAP + 1."""
    result: dict[Key, int] = {}
    for kind, key in keys:
        capped = (
            select(record_keys.c.record_id)
            .where(record_keys.c.kind == kind, record_keys.c.key == key)
            .limit(COMMON_CAP + 1)
            .subquery()
        )
        result[(kind, key)] = conn.execute(select(func.count()).select_from(capped)).scalar_one()
    return result


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
    present = sorted((k for k in keys if df.get(k, 0) > 0), key=lambda k: df[k])
    rare = [k for k in present if df[k] <= COMMON_CAP]
    chosen = rare or present[:1]
    weights: dict[str, float] = defaultdict(float)
    for kind, key in chosen:
        weight = idf(df[(kind, key)], total)
        rows = conn.execute(
            select(record_keys.c.record_id)
            .where(record_keys.c.kind == kind, record_keys.c.key == key)
            .limit(COMMON_CAP)
        )
        for (rid,) in rows:
            weights[rid] += weight
    ranked = sorted(weights.items(), key=lambda item: item[1], reverse=True)
    return dict(ranked[:limit])
