"""The comparable columns of an entity, derived with polex's own normalisers.

The batch model compares what the search engine compares: names as latinised tokens and their
phonetic skeletons (so "Сергей Иванов", "Sergei Ivanov" and "Ivanov, Serguei" agree), birth dates
split into parts (so a swapped day and month, or a year given alone, still say something), and
identifiers as the exact keys the index holds. Blocking uses the same keys as candidate
generation: a pair of name parts that sound alike, a shared document, a name part and a birth
year. Everything here is plain data (strings and lists of strings), so the same frame feeds
DuckDB on one machine or Spark on many."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from polex.search.identifiers import identifier_keys
from polex.search.keys import entity_names, name_keys
from polex.search.names import latinise, name_tokens

# Identifier kinds of objects: they identify the car or the gun, not the person holding it.
OBJECT_KEYS = frozenset({"vin", "plate", "imo", "mmsi", "serial", "serialn"})
# The kind of key that holds a document number as written (compacted, not folded).
DOCUMENT_KEY = "docn"

SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("owner", pa.string()),
        ("name", pa.string()),
        ("name_first", pa.string()),
        ("name_last", pa.string()),
        ("name_keys", pa.list_(pa.string())),
        ("name_pairs", pa.list_(pa.string())),
        ("name_initials", pa.string()),
        ("birth_date", pa.string()),
        ("birth_year", pa.string()),
        ("birth_month", pa.string()),
        ("birth_day", pa.string()),
        ("nationality", pa.list_(pa.string())),
        ("gender", pa.string()),
        ("id_keys", pa.list_(pa.string())),
        ("document", pa.string()),
        ("address", pa.list_(pa.string())),
        ("address_numbers", pa.list_(pa.string())),
    ]
)
COLUMNS = tuple(SCHEMA.names)


@dataclass(frozen=True)
class Entity:
    """What the frame needs of a record: who owns it and its FtM properties."""

    id: str
    owner: str
    schema: str
    properties: dict[str, list[str]]


def _name_columns(schema: str, properties: dict[str, list[str]]) -> dict[str, Any]:
    keys = name_keys(schema, properties)
    first = next((t for n in entity_names(schema, properties) if (t := name_tokens(n))), [])
    return {
        # tokens in sorted order: the order of given and family names carries no meaning
        "name": " ".join(sorted(set(first))) or None,
        # as written ("Hassan, Mohamed" reordered): the parts a typo or a new surname leaves
        "name_first": first[0] if first else None,
        "name_last": first[-1] if first else None,
        "name_keys": sorted(k for kind, k in keys if kind == "name") or None,
        "name_pairs": sorted(k for kind, k in keys if kind == "pair") or None,
        # "J. Ogunbamigbe" and "Juwon Ogunbamigbe": a given name cut to its initial
        "name_initials": "".join(sorted(t[0] for t in first)) or None,
    }


def _birth_columns(properties: dict[str, list[str]]) -> dict[str, Any]:
    dates = sorted(properties.get("birthDate", []), key=len, reverse=True)
    if not dates:
        return {"birth_date": None, "birth_year": None, "birth_month": None, "birth_day": None}
    parts = dates[0].split("-")
    year, month, day = (parts + [None, None])[:3]
    return {
        # only a full date blocks and compares as a date; a year alone still compares as a year
        "birth_date": dates[0] if day else None,
        "birth_year": year,
        "birth_month": month,
        "birth_day": day,
    }


def _address_columns(properties: dict[str, list[str]]) -> dict[str, Any]:
    tokens = sorted({t for value in properties.get("address", []) for t in latinise(value).split()})
    return {
        "address": tokens or None,
        # house and postal numbers: two addresses sharing them are rarely a coincidence
        "address_numbers": [t for t in tokens if any(c.isdigit() for c in t)] or None,
    }


def row(entity: Entity) -> dict[str, Any]:
    """One entity as comparable columns (None where the entity says nothing)."""
    props = entity.properties
    found = identifier_keys(entity.schema, props)
    keys = sorted(f"{kind}:{key}" for kind, key in found if kind not in OBJECT_KEYS)
    documents = sorted(key for kind, key in found if kind == DOCUMENT_KEY)
    nationality = sorted({v.lower() for v in props.get("nationality", [])})
    genders = sorted({v.lower() for v in props.get("gender", [])})
    return {
        "unique_id": entity.id,
        "owner": entity.owner,
        **_name_columns(entity.schema, props),
        **_birth_columns(props),
        "nationality": nationality or None,
        "gender": genders[0] if len(genders) == 1 else None,
        "id_keys": keys or None,
        # one document number for the near-miss comparison (a digit typed wrong)
        "document": documents[0] if documents else None,
        **_address_columns(props),
    }


def frame(entities: Iterable[Entity], batch: int = 50_000) -> pa.Table:
    """The comparable columns of many entities, built in batches so memory stays flat."""
    batches = []
    rows: list[dict[str, Any]] = []
    for entity in entities:
        rows.append(row(entity))
        if len(rows) >= batch:
            batches.append(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
            rows = []
    if rows or not batches:
        batches.append(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
    return pa.Table.from_batches(batches, schema=SCHEMA)
