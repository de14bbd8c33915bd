"""All index keys of an entity, and the keys a query name is looked up by."""

from __future__ import annotations

from itertools import combinations

from polex.model.ftm import model
from polex.search.identifiers import Key, identifier_keys
from polex.search.names import name_tokens, phonetic_keys

NAME_PROPS = (
    "name",
    "alias",
    "weakAlias",
    "previousName",
    "firstName",
    "lastName",
    "middleName",
    "fatherName",
    "secondName",
)


def entity_names(schema: str, properties: dict[str, list[str]]) -> list[str]:
    """Full names of an entity, including one assembled from its name parts."""
    get = properties.get
    names = list(get("name", [])) + list(get("alias", [])) + list(get("previousName", []))
    names += list(get("weakAlias", []))
    parts = get("firstName", []) + get("middleName", []) + get("lastName", [])
    if parts:
        names.append(" ".join(parts))
    return names


def query_keys(name: str) -> set[Key]:
    """One key per name part, and one per pair of parts: a pair of common parts ("Mohammed" and
    "Hassan") is rare, so candidates come from few index rows even for the commonest names."""
    per_token = [sorted(phonetic_keys(token)) for token in name_tokens(name)]
    keys: set[Key] = {("name", key) for keys in per_token for key in keys}
    for left, right in combinations(per_token, 2):
        keys |= {("pair", "|".join(sorted((a, b)))) for a in left for b in right}
    return keys


def name_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    schema_obj = model.get(schema)
    if schema_obj is None or not schema_obj.is_a("Thing"):
        return set()
    keys: set[Key] = set()
    for name in entity_names(schema, properties):
        keys |= query_keys(name)
    return keys


def birth_keys(properties: dict[str, list[str]], swapped: bool = False) -> set[Key]:
    """Full birth dates: few people share one, so a typo in a common name still finds its
    record by name and date together. ``swapped`` adds the day/month-swapped reading."""
    keys: set[Key] = set()
    for value in properties.get("birthDate", []):
        parts = value.split("-")
        if len(parts) != 3:
            continue
        keys.add(("born", value))
        year, month, day = parts
        if swapped and int(day) <= 12:
            keys.add(("born", f"{year}-{day}-{month}"))
    return keys


def entity_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    return (
        identifier_keys(schema, properties) | name_keys(schema, properties) | birth_keys(properties)
    )
