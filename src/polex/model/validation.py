"""The validation rules police data needs, each named so an error says which rule failed.

Check digits follow the standards (ICAO 9303 for travel documents, ISO 3779 for VINs, the IMO
scheme for ships); countries are ISO 3166-1 alpha-2; dates are ISO 8601, partial dates allowed
as FtM allows them. Data-protection rules (a person needs a data-subject category) live here
too, because a record that breaks them must be refused like any other invalid record."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache, partial
from typing import Any

import icu
import stdnum.imo
from followthemoney.types import registry

from polex.model.envelope import Database, Envelope, NoticeType, SubjectCategory
from polex.model.ftm import model


@dataclass(frozen=True)
class Issue:
    field: str
    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Result:
    valid: bool
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [e.to_json() for e in self.errors],
            "warnings": [w.to_json() for w in self.warnings],
        }


def _result(errors: list[Issue], warnings: list[Issue] | None = None) -> Result:
    return Result(valid=not errors, errors=errors, warnings=warnings or [])


def _merge(*results: Result) -> Result:
    errors = [e for r in results for e in r.errors]
    warnings = [w for r in results for w in r.warnings]
    return _result(errors, warnings)


def _at(result: Result, name: str) -> Result:
    """The same issues, reported at another field name (a property of a record)."""

    def move(issue: Issue) -> Issue:
        return Issue(name, issue.rule, f"{name}: {issue.message.split(': ', 1)[-1]}")

    return Result(
        valid=result.valid,
        errors=[move(e) for e in result.errors],
        warnings=[move(w) for w in result.warnings],
    )


# --- ICAO 9303 ---------------------------------------------------------------------------

_MRZ_WEIGHTS = (7, 3, 1)


def _mrz_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    return 0  # filler '<'


def mrz_check_digit(data: str) -> str:
    """ICAO 9303 check digit: weights 7-3-1 over digit/letter values, modulo 10."""
    total = sum(_mrz_value(c) * _MRZ_WEIGHTS[i % 3] for i, c in enumerate(data))
    return str(total % 10)


# (field name, slice of the data, position of its check digit) per format, over the joined lines
_MRZ_FIELDS: dict[str, list[tuple[str, slice, int]]] = {
    "TD1": [
        ("document_number", slice(5, 14), 14),
        ("birth_date", slice(30, 36), 36),
        ("expiry_date", slice(38, 44), 44),
    ],
    "TD2": [
        ("document_number", slice(36, 45), 45),
        ("birth_date", slice(49, 55), 55),
        ("expiry_date", slice(57, 63), 63),
    ],
    "TD3": [
        ("document_number", slice(44, 53), 53),
        ("birth_date", slice(57, 63), 63),
        ("expiry_date", slice(65, 71), 71),
        ("personal_number", slice(72, 86), 86),
    ],
}
_MRZ_COMPOSITE: dict[str, tuple[list[slice], int]] = {
    "TD1": ([slice(5, 30), slice(30, 37), slice(38, 45), slice(48, 59)], 59),
    "TD2": ([slice(36, 46), slice(49, 56), slice(57, 71)], 71),
    "TD3": ([slice(44, 54), slice(57, 64), slice(65, 87)], 87),
}
_MRZ_SHAPES = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}
_MRZ_CHARS = re.compile(r"^[A-Z0-9<]+$")


def validate_mrz(value: str) -> Result:
    """A machine-readable zone (TD1, TD2 or TD3), lines separated by newlines."""
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    shape = (len(lines), len(lines[0]) if lines else 0)
    kind = _MRZ_SHAPES.get(shape)
    if kind is None or any(len(line) != shape[1] for line in lines):
        return _result(
            [
                Issue(
                    "mrz",
                    "icao9303.format",
                    "mrz: expected 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3) "
                    "characters (ICAO 9303)",
                )
            ]
        )
    joined = "".join(lines)
    if not _MRZ_CHARS.match(joined):
        return _result([Issue("mrz", "icao9303.charset", "mrz: only A-Z, 0-9 and '<' (ICAO 9303)")])
    errors = []
    for name, data, pos in _MRZ_FIELDS[kind]:
        expected, found = mrz_check_digit(joined[data]), joined[pos]
        if name == "personal_number" and found == "<" and set(joined[data]) == {"<"}:
            continue
        if found != expected:
            errors.append(
                Issue(
                    f"mrz.{name}",
                    "icao9303.check_digit",
                    f"mrz.{name}: check digit is {found}, expected {expected} (ICAO 9303)",
                )
            )
    parts, pos = _MRZ_COMPOSITE[kind]
    expected = mrz_check_digit("".join(joined[p] for p in parts))
    if joined[pos] != expected:
        errors.append(
            Issue(
                "mrz.composite",
                "icao9303.check_digit",
                f"mrz.composite: check digit is {joined[pos]}, expected {expected} (ICAO 9303)",
            )
        )
    return _result(errors)


# --- ISO 3779 VIN --------------------------------------------------------------------------

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# World manufacturer identifiers whose makers always compute the check digit:
# North America (1-5) and China (L), as ISO 3779 practice and FMVSS 565 require.
_VIN_CHECKED_REGIONS = frozenset("12345L")


def vin_check_digit(vin: str) -> str:
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def normalise_vin(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def validate_vin(value: str) -> Result:
    vin = normalise_vin(value)
    if len(vin) != 17:
        return _result([Issue("vin", "iso3779.length", "vin: must have 17 characters (ISO 3779)")])
    bad = sorted({c for c in vin if c not in _VIN_VALUES})
    if bad:
        return _result(
            [
                Issue(
                    "vin",
                    "iso3779.charset",
                    f"vin: {', '.join(bad)} not allowed (letters I, O, Q never appear; ISO 3779)",
                )
            ]
        )
    expected = vin_check_digit(vin)
    if vin[8] == expected:
        return _result([])
    issue = Issue(
        "vin",
        "iso3779.check_digit",
        f"vin: check digit is {vin[8]}, expected {expected} (ISO 3779)",
    )
    if vin[0] in _VIN_CHECKED_REGIONS:
        return _result([issue])
    return _result([], [issue])


# --- IMO ship numbers ----------------------------------------------------------------------


def validate_imo(value: str) -> Result:
    compact = re.sub(r"^IMO", "", re.sub(r"\s", "", value.upper()))
    if not re.fullmatch(r"\d{7}", compact):
        return _result([Issue("imo", "imo.format", "imo: must be 7 digits, e.g. IMO 9074729")])
    if not stdnum.imo.is_valid(compact):
        expected = sum(int(d) * w for d, w in zip(compact[:6], range(7, 1, -1), strict=True)) % 10
        return _result(
            [
                Issue(
                    "imo",
                    "imo.check_digit",
                    f"imo: check digit is {compact[6]}, expected {expected} (IMO number scheme)",
                )
            ]
        )
    return _result([])


# --- ISO 3166 and dates --------------------------------------------------------------------


@cache
def _iso_countries() -> frozenset[str]:
    return frozenset(icu.Locale.getISOCountries())


def validate_country(value: str) -> Result:
    if value.strip().upper() in _iso_countries():
        return _result([])
    return _result(
        [
            Issue(
                "country",
                "iso3166",
                f"country: {value!r} is not an ISO 3166-1 alpha-2 code (e.g. DE, FR)",
            )
        ]
    )


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def validate_date(value: str) -> Result:
    m = _PARTIAL_DATE.match(value.strip())
    problem = Issue(
        "date", "iso8601", f"date: {value!r} is not a date as YYYY, YYYY-MM or YYYY-MM-DD"
    )
    if not m:
        return _result([problem])
    year, month, day = (int(g) if g else None for g in m.groups())
    try:
        date(year or 1, month or 1, day or 1)
    except ValueError:
        return _result([problem])
    return _result([])


# --- identifiers normalised for matching ---------------------------------------------------


def normalise_serial(value: str) -> str:
    """Firearm serials are compared as letters and digits only, upper case."""
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def normalise_document_number(value: str) -> str:
    return re.sub(r"[\s\-<./]", "", value.upper())


# --- entities ------------------------------------------------------------------------------

_PROPERTY_CHECKS: dict[str, Callable[[str], Result]] = {
    "Vehicle:vin": validate_vin,
    "Vessel:imoNumber": validate_imo,
    "Organization:imoNumber": validate_imo,
}
# What a record of these schemata cannot be matched without. (FtM's own `required` also asks
# for a document's holder, which a stolen blank passport does not have.)
REQUIRED: dict[str, tuple[str, ...]] = {
    "Firearm": ("serialNumber",),
    "Passport": ("number",),
    "Identification": ("number",),
    "Vessel": ("name",),
}
_TYPE_CHECKS: dict[str, Callable[[str], Result]] = {
    "country": validate_country,
    "date": validate_date,
}


def _type_check(type_name: str, value: str) -> Result:
    prop_type = registry.get(type_name)
    if prop_type is not None and not prop_type.validate(value):
        return _result([Issue(type_name, f"{type_name}.format", f"{type_name}: {value!r} invalid")])
    return _result([])


@cache
def _property_check(schema: str, name: str) -> tuple[str, Callable[[str], Result] | None] | None:
    """(type name, value check) of a schema's property; None when the property does not exist."""
    schema_obj = model.get(schema)
    prop = schema_obj.get(name) if schema_obj else None
    if prop is None:
        return None
    check = _PROPERTY_CHECKS.get(prop.qname) or _TYPE_CHECKS.get(prop.type.name)
    if check is None and prop.type.name in {"email", "phone"}:
        check = partial(_type_check, prop.type.name)
    return prop.type.name, check


def validate_entity(schema: str, properties: dict[str, list[str]]) -> Result:
    """An FtM entity payload: known schema and properties, each value valid for its type."""
    schema_obj = model.get(schema)
    if schema_obj is None or schema_obj.abstract:
        return _result(
            [Issue("schema", "ftm.schema", f"schema: {schema!r} is not a concrete FtM schema")]
        )
    found: list[Result] = []
    today = date.today().isoformat()
    for name, values in properties.items():
        where = f"properties.{name}"
        spec = _property_check(schema_obj.name, name)
        if spec is None:
            found.append(
                _result([Issue(where, "ftm.property", f"{where}: {schema} has no such property")])
            )
            continue
        type_name, check = spec
        for value in values:
            if check is not None:
                result = check(value)
                if result.errors or result.warnings:
                    found.append(_at(result, where))
            if type_name == "date" and name == "birthDate" and value > today:
                found.append(
                    _result([Issue(where, "date.future", f"{where}: a birth date in the future")])
                )
    for name in REQUIRED.get(schema_obj.name, ()):
        if not any(v.strip() for v in properties.get(name, [])):
            where = f"properties.{name}"
            found.append(_result([Issue(where, "record.required", f"{where}: is required")]))
    return _merge(*found)


# --- the envelope's data-protection and database rules -------------------------------------

DATABASE_SCHEMATA: dict[Database, tuple[str, ...]] = {
    Database.wanted_persons: ("Person",),
    Database.missing_persons: ("Person",),
    Database.terrorist_fighters: ("Person",),
    Database.travel_documents: ("Identification",),
    Database.vehicles: ("Vehicle",),
    Database.vessels: ("Vessel",),
    Database.firearms: ("Firearm",),
    Database.crime_groups: (
        "Organization",
        "Person",
        "Membership",
        "Associate",
        "Family",
        "Ownership",
        "UnknownLink",
        "Directorship",
        "Employment",
    ),
    Database.intelligence: ("Thing", "Interval"),
}
NOTICE_DATABASES = frozenset(
    {Database.wanted_persons, Database.missing_persons, Database.terrorist_fighters}
)
NOTICE_REQUIRED = frozenset({Database.wanted_persons, Database.missing_persons})
MISSING_CATEGORIES = frozenset({SubjectCategory.missing_person, SubjectCategory.victim})


def validate_envelope_rules(schema: str, envelope: Envelope) -> Result:
    schema_obj = model.get(schema)
    if schema_obj is None:
        return _result([])
    errors = []
    allowed = DATABASE_SCHEMATA[envelope.database]
    if not any(schema_obj.is_a(name) for name in allowed):
        errors.append(
            Issue(
                "polex.database",
                "database.schema",
                f"polex.database: {envelope.database.value} holds {', '.join(allowed)}, "
                f"not {schema}",
            )
        )
    if schema_obj.is_a("Person") and envelope.subject_category is None:
        errors.append(
            Issue(
                "polex.subject_category",
                "gdpr.subject_category",
                "polex.subject_category: personal data needs a data-subject category "
                f"({', '.join(c.value for c in SubjectCategory)})",
            )
        )
    if envelope.database in NOTICE_REQUIRED and envelope.notice_type is None:
        errors.append(
            Issue(
                "polex.notice_type",
                "notice.required",
                f"polex.notice_type: {envelope.database.value} needs a notice type "
                f"({', '.join(n.value for n in NoticeType)})",
            )
        )
    if envelope.notice_type is not None and envelope.database not in NOTICE_DATABASES:
        errors.append(
            Issue(
                "polex.notice_type",
                "notice.database",
                "polex.notice_type: notices belong to wanted_persons, missing_persons or "
                "terrorist_fighters",
            )
        )
    if (
        envelope.database == Database.missing_persons
        and envelope.subject_category is not None
        and envelope.subject_category not in MISSING_CATEGORIES
    ):
        errors.append(
            Issue(
                "polex.subject_category",
                "missing.subject_category",
                "polex.subject_category: a missing person is a missing_person or a victim",
            )
        )
    return _result(errors)


def validate_record(schema: str, properties: dict[str, list[str]], envelope: Envelope) -> Result:
    return _merge(validate_entity(schema, properties), validate_envelope_rules(schema, envelope))
