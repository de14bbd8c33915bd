"""Scoring a candidate against a query entity, with the reasons: names, then agreement or
disagreement of birth date, nationality and gender, and shared identifiers.

Names are compared token by token in Latin, order-independent, each token weighted by how rare
it is (a shared "Mohammed" or "Wei" says less than a shared "Alhassan"). Birth dates agree
fully, with day and month swapped (a common data-entry error), on the year only (when one side
knows only the year), or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

from polex.search.identifiers import identifier_keys
from polex.search.keys import entity_names
from polex.search.names import name_tokens, phonetic_keys

# At and above this a hit is reported as a match (`match: true`); below, as a possible one.
MATCH_THRESHOLD = 0.75
TOKEN_FLOOR = 0.75  # token similarities below this count as no match at all
SAME_SOUND = 0.9  # tokens that share a phonetic key but are spelled differently


@dataclass(frozen=True)
class Feature:
    name: str
    score: float
    detail: str


@dataclass(frozen=True)
class Score:
    score: float
    features: list[Feature]


TokenWeight = Callable[[str], float]


def token_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if phonetic_keys(a) & phonetic_keys(b):
        return max(SAME_SOUND, JaroWinkler.similarity(a, b))
    sim = JaroWinkler.similarity(a, b)
    return sim if sim >= TOKEN_FLOOR + 0.1 else 0.0


def _directional(left: list[str], right: list[str], weight: TokenWeight) -> float:
    total = sum(weight(t) for t in left)
    if not total:
        return 0.0
    matched = sum(
        weight(t) * max((token_similarity(t, r) for r in right), default=0.0) for t in left
    )
    return matched / total


def name_similarity(a: str, b: str, weight: TokenWeight) -> float:
    """Order-independent: all of the query should be there; extra parts (a middle name) cost
    little."""
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return 0.0
    forward, backward = _directional(ta, tb, weight), _directional(tb, ta, weight)
    return 0.75 * max(forward, backward) + 0.25 * min(forward, backward)


def _best_names(
    query: list[str], candidate: list[str], weight: TokenWeight
) -> tuple[float, str, str]:
    best = (0.0, "", "")
    for q in query:
        for c in candidate:
            sim = name_similarity(q, c, weight)
            if sim > best[0]:
                best = (sim, q, c)
    return best


def _date_parts(value: str) -> tuple[str, str | None, str | None]:
    parts = value.split("-")
    return parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None


def date_agreement(a: str, b: str) -> tuple[float, str]:
    """Adjustment to the score and why."""
    (ya, ma, da), (yb, mb, db) = _date_parts(a), _date_parts(b)
    if a == b and da:
        return 0.15, f"birth date {a} identical"
    if ya == yb and (ma is None or mb is None):
        return 0.05, f"birth year {ya} agrees ({a} / {b})"
    if ya == yb and ma and mb and da and db and ma == db and da == mb:
        return 0.1, f"birth date {a} ~ {b} (day and month swapped)"
    if ya == yb and ma == mb:
        return 0.05, f"birth year and month agree ({a} / {b})"
    if ya.isdigit() and yb.isdigit() and abs(int(ya) - int(yb)) == 1 and ma == mb and da == db:
        return 0.0, f"birth date {a} ~ {b} (one year apart)"
    return -0.3, f"birth dates differ ({a} / {b})"


def _values(props: dict[str, list[str]], *names: str) -> set[str]:
    return {v.lower() for n in names for v in props.get(n, [])}


def score_pair(
    query_schema: str,
    query: dict[str, list[str]],
    cand_schema: str,
    candidate: dict[str, list[str]],
    token_weight: TokenWeight | None = None,
) -> Score:
    weight = token_weight or (lambda _token: 1.0)
    features: list[Feature] = []
    shared = identifier_keys(query_schema, query) & identifier_keys(cand_schema, candidate)
    if shared:
        detail = ", ".join(f"{kind} {key}" for kind, key in sorted(shared))
        features.append(Feature("identifier", 1.0, f"same {detail}"))
    sim, q, c = _best_names(
        entity_names(query_schema, query), entity_names(cand_schema, candidate), weight
    )
    if sim:
        features.append(Feature("name", sim, f"{q!r} ~ {c!r}"))
    score = 1.0 if shared else sim
    if not sim and not shared:
        return Score(0.0, features)
    qd, cd = sorted(_values(query, "birthDate")), sorted(_values(candidate, "birthDate"))
    if qd and cd:
        delta, why = max(date_agreement(a, b) for a in qd for b in cd)
        features.append(Feature("birth_date", delta, why))
        score += delta
    qn, cn = (
        _values(query, "nationality", "citizenship"),
        _values(candidate, "nationality", "citizenship"),
    )
    if qn and cn:
        agree = bool(qn & cn)
        features.append(
            Feature(
                "nationality",
                0.05 if agree else -0.1,
                f"nationality {'agrees' if agree else 'differs'} ({'/'.join(sorted(qn | cn))})",
            )
        )
        score += 0.05 if agree else -0.1
    qg, cg = _values(query, "gender"), _values(candidate, "gender")
    if qg and cg and not qg & cg:
        features.append(Feature("gender", -0.15, f"gender differs ({'/'.join(sorted(qg | cg))})"))
        score -= 0.15
    return Score(round(min(1.0, max(0.0, score)), 4), features)
