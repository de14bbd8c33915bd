"""All index keys of an entity, and the keys a query name is looked up by.

Candidates come from the ``record_keys`` table, never from a scan, so a record that should be
found must share at least one key with the query however its name is spelled. Each name part
gives a ("name", skeleton) key; each pair of parts a ("pair", "skel|skel") key. A pair of
common parts ("Mohammed" and "Hassan") is rare, so candidate lists stay short even for the
commonest names, while the single keys still find a record when a typo breaks the other part.
Each name part with each birth year gives a ("year", "skel|yyyy") key, for the queries that give
one common or initialled part and a year.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import combinations

from rigour._core import text_scripts

from polex.model.ftm import model
from polex.search.identifiers import Key, identifier_keys
from polex.search.names import h_for_g, key_tokens, token_keys

# Full-name properties, weakest last; and the parts a full name is assembled from, in the order
# they are usually written.
NAME_PROPS = ("name", "alias", "previousName", "weakAlias")
PART_PROPS = ("firstName", "secondName", "middleName", "fatherName", "lastName")
_PARTS = frozenset(PART_PROPS)
# Schemata whose records are found by name: parties and the things police look for by name.
MATCHABLE = ("LegalEntity", "Vehicle")
# Pairs are built from this many name parts at most: long (organisation) names would otherwise
# give a quadratic number of keys, and their first words identify them well enough.
MAX_PAIR_TOKENS = 6
SHORT_PART = 4
CJK_SCRIPTS = frozenset({"Han", "Hangul", "Hiragana", "Katakana"})
_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_YEAR = re.compile(r"^(\d{4})")
# Years either side of a query's birth year that its year keys look up: a recorded year of
# birth is often one off (an age given in the wrong month, a date misread).
YEAR_SPREAD = 1


def entity_names(schema: str, properties: dict[str, list[str]]) -> list[str]:
    """Full names of an entity, including one assembled from its name parts."""
    names = [name for prop in NAME_PROPS if prop in properties for name in properties[prop]]
    if properties.keys() & _PARTS:
        parts = [part for prop in PART_PROPS if prop in properties for part in properties[prop]]
        if parts:
            names.append(_assemble(parts, properties.get("lastName", ())))
    return names


def _assemble(parts: list[str], family: Sequence[str]) -> str:
    """Name parts as one name. Chinese, Japanese and Korean names are written family name
    first and without spaces (沈凤英), which is also how their transliteration splits them."""
    if family and not parts[0].isascii() and text_scripts(parts[0]) & CJK_SCRIPTS:
        return "".join(family) + "".join(p for p in parts if p not in family)
    return " ".join(parts)


@lru_cache(maxsize=100_000)
def _name_keys(name: str) -> frozenset[Key]:
    tokens = key_tokens(name)
    if not name.isascii() and "Cyrillic" in text_scripts(name):
        per_token = [token_keys(t) | token_keys(h_for_g(t)) for t in tokens]
    else:
        per_token = [token_keys(token) for token in tokens]
    keys: set[Key] = {("name", key) for sounds in per_token for key in sounds}
    for left, right in combinations(per_token[:MAX_PAIR_TOKENS], 2):
        keys.update(_pairs(left, right))
    # Short parts are written as one word or two: Yu Lan / Yulan (玉兰), Jose Luis / Joseluis,
    # Hsiu-chen / Xiuzhen; joined, they are a part of their own, paired with the others too.
    for i, (first, second) in enumerate(zip(tokens, tokens[1:], strict=False)):
        if len(first) <= SHORT_PART and len(second) <= SHORT_PART:
            joined = token_keys(first + second)
            keys.update(("name", key) for key in joined)
            others = [sounds for j, sounds in enumerate(per_token) if j not in (i, i + 1)]
            for sounds in others[:MAX_PAIR_TOKENS]:
                keys.update(_pairs(joined, sounds))
    return frozenset(keys)


def _pairs(left: frozenset[str], right: frozenset[str]) -> set[Key]:
    return {("pair", f"{a}|{b}" if a < b else f"{b}|{a}") for a in left for b in right}


def query_keys(name: str) -> set[Key]:
    """Keys to look up for a query name: the same keys the name would be indexed under, so a
    query and a record spelled alike meet on every key and spelled apart on at least one."""
    return set(_name_keys(name))


@lru_cache(maxsize=1024)
def _matchable(schema: str) -> bool:
    found = model.get(schema)
    return found is not None and any(found.is_a(parent) for parent in MATCHABLE)


def name_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    """Name keys of a person, organisation, vessel or vehicle (nothing for e.g. a passport,
    which is found by its number and links to its holder)."""
    if not _matchable(schema):
        return set()
    keys: set[Key] = set()
    for name in entity_names(schema, properties):
        keys |= _name_keys(name)
    return keys


def birth_keys(properties: dict[str, list[str]], swapped: bool = False) -> set[Key]:
    """("birth", date) keys for full birth dates. Alone a birth date finds far too many people,
    but summed with name keys it lifts the right one among many namesakes, and it still
    connects a record whose name was mistyped beyond its phonetic keys. ``swapped`` adds the
    date with day and month swapped, for the query side: the index holds dates as recorded.
    A year alone makes no key: it is shared by too many records to select anything."""
    keys: set[Key] = set()
    if "birthDate" not in properties:
        return keys
    for value in properties["birthDate"]:
        match = _FULL_DATE.match(value)
        if not match:
            continue
        year, month, day = match.groups()
        keys.add(("birth", f"{year}-{month}-{day}"))
        if swapped and day != month and int(day) <= 12:
            keys.add(("birth", f"{year}-{day}-{month}"))
    return keys


def year_keys(keys: set[Key], properties: dict[str, list[str]], spread: int = 0) -> set[Key]:
    """("year", "skel|yyyy") keys: each ("name", skel) key of ``keys`` with each birth year,
    and with ``spread`` years either side (for the query side).

    A year alone is shared by far too many people, and a common name part by thousands; together
    they pick out the few born that year. At 1,000,000 persons, a query giving an initial and a
    year ("E. Vasari 1960") or a common name ("Zhang Shuai 1985") shared only its name keys with
    the person, and was one of 1,280 or 2,000 records tied on them: most such misses were these
    (4 of 5 in 600 queries of the search benchmark)."""
    years = {
        int(match.group(1))
        for value in properties.get("birthDate", ())
        if (match := _YEAR.match(value))
    }
    if not years:
        return set()
    return {
        ("year", f"{key}|{year + step}")
        for kind, key in keys
        if kind == "name"
        for year in years
        for step in range(-spread, spread + 1)
    }


def entity_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    """Every index key of an entity: identifiers exact, names phonetic, birth dates exact,
    names with birth years."""
    names = name_keys(schema, properties)
    return (
        identifier_keys(schema, properties)
        | names
        | birth_keys(properties)
        | year_keys(names, properties)
    )
