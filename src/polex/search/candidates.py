"""Candidate generation from the key index: rare keys first, never a scan of the records.

A key shared by many records (a common name's phonetic key) says little, so each key counts
by its inverse document frequency and very common keys are only used when nothing rarer is
there. The work per query is bounded by COMMON_CAP rows per key, and a query costs two round
trips whatever its number of keys: one for the (capped) key frequencies, one for the rows."""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, func, select, text

from polex.search.tables import record_keys
from polex.store import reads
from polex.store.tables import records

# A key held by more records than this is "common": counted only up to the cap.
COMMON_CAP = 2000
# Index rows one query reads at most (beyond its rarest key).
ROW_BUDGET = 4000
_TOTAL_TTL = 60.0
_TERMS = 200
# per engine, hashed by identity: a URL is hashed by rendering it as text, on every search
_total_cache: WeakKeyDictionary[Engine, tuple[float, int]] = WeakKeyDictionary()

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
    cached = _total_cache.get(conn.engine)
    now = time.monotonic()
    if cached and now - cached[0] < _TOTAL_TTL:
        return cached[1]
    estimate = _ESTIMATES.get(conn.dialect.name)
    total = conn.execute(estimate).scalar() if estimate is not None else None
    if not total or total < 0:
        total = conn.execute(select(func.count()).select_from(records)).scalar_one()
    _total_cache[conn.engine] = (now, int(total))
    return int(total)


@lru_cache(maxsize=64)
def _statement(terms: int, cap: int, count: bool) -> reads.Read:
    """For ``terms`` keys (bound as k0, v0, k1, v1...): each key's record ids, up to ``cap``,
    tagged with the key's position; or, with ``count``, how many there are (up to ``cap``).
    Written once per shape as plain SQL, valid in SQLite and PostgreSQL alike: building and
    compiling a fresh expression for every query cost more than running it."""
    table, kind, key, rid = (
        record_keys.name,
        record_keys.c.kind.name,
        record_keys.c.key.name,
        record_keys.c.record_id.name,
    )
    outer = "count(*) AS n" if count else f"s{{i}}.{rid}"
    part = (
        f"SELECT {{i}} AS i, {outer} FROM (SELECT {rid} FROM {table} "
        f'WHERE {kind} = :k{{i}} AND "{key}" = :v{{i}} LIMIT {cap}) AS s{{i}}'
    )
    return reads.Read(text(" UNION ALL ".join(part.format(i=i) for i in range(terms))))


def _execute(conn: Connection, keys: Sequence[Key], cap: int, count: bool) -> list[tuple[int, Any]]:
    """One round trip per _TERMS keys (SQLite caps a compound SELECT at 500 terms)."""
    rows: list[tuple[int, Any]] = []
    for start in range(0, len(keys), _TERMS):
        chunk = keys[start : start + _TERMS]
        params: dict[str, str] = {}
        for i, (kind, key) in enumerate(chunk):
            params[f"k{i}"], params[f"v{i}"] = kind, key
        result = _statement(len(chunk), cap, count).rows(conn, params)
        rows.extend((int(i) + start, value) for i, value in result)
    return rows


def key_frequencies(conn: Connection, keys: Iterable[Key]) -> dict[Key, int]:
    """How many index rows hold each key, counted up to COMMON_CAP + 1."""
    ordered = list(keys)
    result: dict[Key, int] = dict.fromkeys(ordered, 0)
    for i, n in _execute(conn, ordered, COMMON_CAP + 1, count=True):
        result[ordered[i]] = int(n)
    return result


def _within_budget(rare: list[Key], df: dict[Key, int]) -> list[Key]:
    """The rarest keys whose rows fit in ROW_BUDGET (the rarest always). Keys come rarest
    first, and a record that shares only a frequent key with the query is one of hundreds
    that tie on it: reading them all costs more than it ever ranks into the pool."""
    chosen: list[Key] = []
    rows = 0
    for key in rare:
        if chosen and rows + df[key] > ROW_BUDGET:
            break
        chosen.append(key)
        rows += df[key]
    return chosen


def idf(df: int, total: int) -> float:
    return math.log(1 + max(total, 1) / max(df, 1))


def _choose(keys: Iterable[Key], df: dict[Key, int]) -> list[Key]:
    """The keys to read records of: the rare ones within the row budget, or else the rarest."""
    present = sorted((k for k in keys if df.get(k, 0) > 0), key=lambda k: (df[k], k))
    return _within_budget([k for k in present if df[k] <= COMMON_CAP], df) or present[:1]


def _ranked(
    rows: Iterable[tuple[Key, str]], df: dict[Key, int], total: int, limit: int
) -> dict[str, float]:
    """The ``limit`` record ids with the largest summed key weight (ties by id)."""
    weight = {key: idf(n, total) for key, n in df.items() if n}
    weights: dict[str, float] = defaultdict(float)
    for key, rid in rows:
        weights[rid] += weight[key]
    return dict(heapq.nsmallest(limit, weights.items(), key=lambda item: (-item[1], item[0])))


def generate(
    conn: Connection, keys: set[Key], limit: int, frequencies: dict[Key, int] | None = None
) -> dict[str, float]:
    """Record ids most likely to match, by the summed weight of the keys they share."""
    if not keys:
        return {}
    df = frequencies if frequencies is not None else key_frequencies(conn, keys)
    chosen = _choose(keys, df)
    rows = ((chosen[i], rid) for i, rid in _execute(conn, chosen, COMMON_CAP, count=False))
    return _ranked(rows, df, total_records(conn), limit)


def lookup(conn: Connection, keys: set[Key], limit: int) -> dict[str, float]:
    """``generate`` for identifier keys, which nearly always belong to a record or two: their
    records and their frequencies are read together, in one round trip instead of two."""
    if not keys:
        return {}
    ordered = sorted(keys)
    fetched = [(ordered[i], rid) for i, rid in _execute(conn, ordered, COMMON_CAP + 1, False)]
    df = Counter(key for key, _ in fetched)
    chosen = set(_choose(ordered, df))
    holders: dict[Key, list[str]] = defaultdict(list)
    for key, rid in fetched:
        if key in chosen:
            holders[key].append(rid)
    rows = ((key, rid) for key, rids in holders.items() for rid in rids[:COMMON_CAP])
    return _ranked(rows, df, total_records(conn), limit)
