"""One search across every database of the node: identifiers exact, names fuzzy, owners' rules
applied to every hit, and the search itself written to the audit trail with its purpose.

Cross-matching reuses ``rank`` so that searches and hits come from one matching engine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection

from polex.access.policy import View, record_views
from polex.access.principal import Principal
from polex.audit import log as audit
from polex.model.envelope import Database
from polex.model.record import Record
from polex.search import candidates
from polex.search.identifiers import identifier_keys, query_identifier_keys
from polex.search.keys import YEAR_SPREAD, birth_keys, entity_keys, query_keys, year_keys
from polex.search.score import MATCH_THRESHOLD, Feature, date_agreement, score_pair
from polex.store import records as store

DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$|^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
# Candidates scored per hit asked of ``rank`` (search asks for twice the hits it shows, since
# policy may hide some: ten per hit shown), and at least MIN_CANDIDATES.
CANDIDATES_PER_HIT = 5
MIN_CANDIDATES = 100
# Candidates read per candidate scored: the extra ones only compete on birth-date agreement.
SCREENED_PER_SCORED = 2
# Hits are reported from this score on. A hit its reader sees in full also from
# CORROBORATED_MIN_SCORE if the birth date agrees: a family name and the birth date alike, the
# given name respelt beyond recognition, is a lead for the reader to judge, where a namesake
# alone is noise. A restricted hit, which only tells that an owner holds something and whom to
# ask, never below REPORTED_MIN_SCORE: owners would be asked about weak leads, and the
# existence of their records would leak on weak evidence.
REPORTED_MIN_SCORE = 0.5
CORROBORATED_MIN_SCORE = 0.3


class SearchQuery(BaseModel):
    """What an officer asks: free text ``q`` or structured fields, and always why."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=300)
    birth_date: str | None = None
    nationality: str | None = Field(default=None, max_length=2)
    gender: str | None = None
    identifiers: list[str] = Field(default_factory=list, max_length=20)
    databases: list[Database] | None = None
    purpose: str = Field(min_length=3, max_length=500)
    case_ref: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=20, ge=1, le=100)
    federated: bool = False

    @field_validator("purpose")
    @classmethod
    def _purpose_said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("purpose: say why the search is made")
        return value.strip()


@dataclass(frozen=True)
class Hit:
    record: Record
    score: float
    features: list[Feature]
    view: View

    @property
    def match(self) -> bool:
        return self.score >= MATCH_THRESHOLD


@dataclass
class Parsed:
    name: str | None
    properties: dict[str, list[str]]
    identifiers: list[str] = field(default_factory=list)


def _iso_date(token: str) -> str | None:
    m = DATE.match(token)
    if not m:
        return None
    if m.group(1):
        return token
    day, month, year = m.group(4), m.group(5), m.group(6)
    return f"{year}-{int(month):02d}-{int(day):02d}"


def parse(query: SearchQuery) -> Parsed:
    """Split free text into identifiers, a birth date and a name; structured fields win."""
    name_tokens: list[str] = []
    identifiers = list(query.identifiers)
    birth_date = query.birth_date
    for token in (query.q or "").split():
        iso = _iso_date(token)
        if iso and not birth_date:
            birth_date = iso
        elif query_identifier_keys(token):
            identifiers.append(token)
        else:
            name_tokens.append(token)
    name = query.name or (" ".join(name_tokens) if name_tokens else None)
    props: dict[str, list[str]] = {}
    if name:
        props["name"] = [name]
    if birth_date:
        props["birthDate"] = [birth_date]
    if query.nationality:
        props["nationality"] = [query.nationality.lower()]
    if query.gender:
        props["gender"] = [query.gender.lower()]
    return Parsed(name=name, properties=props, identifiers=identifiers)


def _identifier_hits(conn: Connection, identifiers: Sequence[str]) -> dict[str, list[Feature]]:
    found: dict[str, list[Feature]] = {}
    for text in identifiers:
        keys = query_identifier_keys(text, stated=True)
        for rid in candidates.lookup(conn, keys, limit=MIN_CANDIDATES):
            found.setdefault(rid, []).append(
                Feature("identifier", 1.0, f"identifier {text!r} matches exactly")
            )
    return found


def _screen(
    loaded: dict[str, tuple[str, dict[str, list[str]]]],
    pool: dict[str, float],
    exact: set[str],
    properties: dict[str, list[str]],
    size: int,
) -> list[tuple[str, tuple[str, dict[str, list[str]]]]]:
    """The candidates worth scoring: exact identifier hits, then the pool by key weight, ties
    broken by birth-date agreement. Many records tie on their keys (every "Durdu" when the
    query is "T. Durdu"); a year one apart or given alone, which makes no key, still tells
    them apart at the cost of comparing two strings."""
    query_dates = sorted(v.strip().lower() for v in properties.get("birthDate", ()) if v.strip())

    def birth(props: dict[str, list[str]]) -> float:
        dates = sorted(v.strip().lower() for v in props.get("birthDate", ()) if v.strip())
        if not query_dates or not dates:
            return 0.0
        return max(date_agreement(a, b)[0] for a in query_dates for b in dates)

    def order(item: tuple[str, tuple[str, dict[str, list[str]]]]) -> tuple[bool, float, float, str]:
        rid, (_schema, props) = item
        return (rid not in exact, -pool.get(rid, 0.0), -birth(props), rid)

    return sorted(loaded.items(), key=order)[:size]


def rank(
    conn: Connection,
    schema: str,
    properties: dict[str, list[str]],
    limit: int,
    identifiers: Sequence[str] = (),
    databases: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> list[tuple[Record, float, list[Feature]]]:
    """Records that match an entity, best first: the engine both search and cross-match use."""
    keys = entity_keys(schema, properties) | birth_keys(properties, swapped=True)
    if properties.get("name"):
        for name in properties["name"]:
            keys |= set(query_keys(name))
    keys |= year_keys(keys, properties, spread=YEAR_SPREAD)
    frequencies = candidates.key_frequencies(conn, keys)
    scored_size = max(MIN_CANDIDATES, limit * CANDIDATES_PER_HIT)
    pool = candidates.generate(
        conn, keys, limit=scored_size * SCREENED_PER_SCORED, frequencies=frequencies
    )
    exact = _identifier_hits(conn, identifiers)
    exact_keys = identifier_keys(schema, properties)
    ids = (set(pool) | set(exact)) - set(exclude)
    whole: dict[str, Record] | None = None
    if len(ids) <= limit:  # an identifier lookup, say: the whole records in one read
        whole = {
            rid: r
            for rid, r in store.get_many(conn, ids).items()
            if not r.deleted and (not databases or r.database in databases)
        }
        fetched = {rid: (r.schema, r.properties) for rid, r in whole.items()}
    else:
        fetched = store.live_entities(conn, ids, databases=databases)
    entities = _screen(fetched, pool, set(exact), properties, scored_size)
    total = candidates.total_records(conn)
    weights = {key[1]: candidates.idf(df, total) for key, df in frequencies.items() if df}
    top = max(weights.values(), default=1.0)

    @cache
    def token_weight(token: str) -> float:
        """Rarer name parts weigh more: the IDF of the token's own keys, relative to the rarest."""
        known = [weights[key] for _, key in query_keys(token) if key in weights]
        return max(known) / top if known else 1.0

    scored: list[tuple[str, float, list[Feature]]] = []
    for rid, (cand_schema, cand_properties) in entities:
        result = score_pair(schema, properties, cand_schema, cand_properties, token_weight)
        score, features = result.score, list(result.features)
        shared = exact_keys and exact_keys & identifier_keys(cand_schema, cand_properties)
        if rid in exact:
            score, features = 1.0, exact[rid] + features
        elif shared:
            detail = ", ".join(f"{kind} {key}" for kind, key in sorted(shared))
            score, features = 1.0, [Feature("identifier", 1.0, f"shared {detail}"), *features]
        if score >= CORROBORATED_MIN_SCORE:
            scored.append((rid, round(score, 4), features))
    scored.sort(key=lambda item: (-item[1], item[0]))
    # Whole records only for the hits: most candidates are scored and dropped.
    loaded = whole if whole is not None else store.get_many(conn, [r for r, _, _ in scored[:limit]])
    return [
        (loaded[rid], score, features)
        for rid, score, features in scored[:limit]
        if rid in loaded and not loaded[rid].deleted
    ]


def reported(view: View, score: float, features: Sequence[Feature]) -> bool:
    """Whether a ranked record is reported to a reader with this view of it."""
    if view == View.none:
        return False
    if score >= REPORTED_MIN_SCORE:
        return True
    birth_agrees = any(f.name == "birth_date" and f.score > 0 for f in features)
    return view == View.full and score >= CORROBORATED_MIN_SCORE and birth_agrees


def visible_hits(
    ranked: Sequence[tuple[Record, float, list[Feature]]], views: Sequence[View], limit: int
) -> list[Hit]:
    """The first ``limit`` ranked records the reader is told of, each with its view."""
    return [
        Hit(record=record, score=score, features=features, view=view)
        for (record, score, features), view in zip(ranked, views, strict=True)
        if reported(view, score, features)
    ][:limit]


def search(conn: Connection, principal: Principal, query: SearchQuery) -> list[Hit]:
    """Hits the principal may know of, each as full or restricted; audited with the purpose."""
    parsed = parse(query)
    schema = "Person" if parsed.properties.keys() - {"name"} else "LegalEntity"
    databases = [d.value for d in query.databases] if query.databases else None
    ranked = rank(
        conn,
        schema,
        parsed.properties,
        limit=query.limit * 2,
        identifiers=parsed.identifiers,
        databases=databases,
    )
    views = record_views(principal, [record.envelope for record, _, _ in ranked])
    hits = visible_hits(ranked, views, query.limit)
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="search",
        purpose=query.purpose,
        case_ref=query.case_ref,
        details={
            "query": query.model_dump(
                mode="json", exclude={"purpose", "case_ref", "limit"}, exclude_defaults=True
            ),
            "hits": [h.record.id for h in hits if h.view == View.full],
            "restricted_hits": [h.record.id for h in hits if h.view == View.hit],
            "node": principal.node,
        },
    )
    return hits
