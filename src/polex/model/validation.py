"""The validation rules police data needs, each named so an error says which rule failed.

Check digits follow the standards (ICAO 9303 for travel documents, ISO 3779 for VINs, the IMO
scheme for ship numbers); countries are ISO 3166-1 alpha-2; dates are ISO 8601, partial dates
allowed as FtM allows them. Data-protection rules (a person needs a data-subject category) live
here too, because a record that breaks them must be refused like any other invalid record.

Every issue carries the path of the input it is about (``properties.vin``, ``polex.notice_type``:
the API's and the web form's names) so a client can show it next to that input."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any, NamedTuple

import icu
import stdnum.imo
from followthemoney.schema import Schema
from followthemoney.types import registry
from mrz.base.functions import hash_string

from polex.model import phones
from polex.model.envelope import Database, Envelope, NoticeType, SubjectCategory
from polex.model.ftm import model


@dataclass(frozen=True)
class Issue:
    """One problem: where it is, which rule it breaks, and a sentence saying both."""

    field: str
    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Result:
    """Errors refuse the value; warnings are shown but accepted (e.g. a European VIN)."""

    valid: bool
    errors: list[Issue] = dataclasses.field(default_factory=list)
    warnings: list[Issue] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [e.to_json() for e in self.errors],
            "warnings": [w.to_json() for w in self.warnings],
        }


def _issue(where: str, rule: str, text: str) -> Issue:
    """Messages always start with the field, so one can be moved to another field (``_at``)."""
    return Issue(where, rule, f"{where}: {text}")


def _result(errors: list[Issue], warnings: list[Issue] | None = None) -> Result:
    return Result(valid=not errors, errors=errors, warnings=warnings or [])


def _fail(where: str, rule: str, text: str) -> Result:
    return _result([_issue(where, rule, text)])


def _ok() -> Result:
    return _result([])


def _merge(*results: Result) -> Result:
    return _result([e for r in results for e in r.errors], [w for r in results for w in r.warnings])


def _at(result: Result, where: str) -> Result:
    """The same issues reported at ``where``: a value check run on one property of a record."""

    def move(issue: Issue) -> Issue:
        return Issue(where, issue.rule, where + issue.message.removeprefix(issue.field))

    return Result(
        result.valid, [move(e) for e in result.errors], [move(w) for w in result.warnings]
    )


# --- ICAO 9303 machine-readable zones ---------------------------------------------------------


def mrz_check_digit(data: str) -> str:
    """ICAO 9303 check digit (weights 7-3-1, letters A=10..Z=35, filler 0, modulo 10)."""
    return str(hash_string(data))


@dataclass(frozen=True)
class _MrzFormat:
    """Where each check digit of one document format sits, over the lines joined together."""

    name: str
    # (field, slice of the data, index of its check digit)
    fields: tuple[tuple[str, slice, int], ...]
    composite: tuple[slice, ...]
    composite_digit: int
    # TD1 and TD2 carry a document number longer than 9 characters on in the optional data,
    # with '<' at the check digit's place and the check digit after the overflow (Part 5, 6).
    overflow: slice | None = None


_MRZ_FORMATS: dict[tuple[int, int], _MrzFormat] = {
    (3, 30): _MrzFormat(
        "TD1",
        fields=(
            ("document_number", slice(5, 14), 14),
            ("birth_date", slice(30, 36), 36),
            ("expiry_date", slice(38, 44), 44),
        ),
        composite=(slice(5, 30), slice(30, 37), slice(38, 45), slice(48, 59)),
        composite_digit=59,
        overflow=slice(15, 30),
    ),
    (2, 36): _MrzFormat(
        "TD2",
        fields=(
            ("document_number", slice(36, 45), 45),
            ("birth_date", slice(49, 55), 55),
            ("expiry_date", slice(57, 63), 63),
        ),
        composite=(slice(36, 46), slice(49, 56), slice(57, 71)),
        composite_digit=71,
        overflow=slice(64, 71),
    ),
    (2, 44): _MrzFormat(
        "TD3",
        fields=(
            ("document_number", slice(44, 53), 53),
            ("birth_date", slice(57, 63), 63),
            ("expiry_date", slice(65, 71), 71),
            ("personal_number", slice(72, 86), 86),
        ),
        composite=(slice(44, 54), slice(57, 64), slice(65, 87)),
        composite_digit=87,
    ),
}
_MRZ_CHARSET = re.compile(r"[A-Z0-9<]+")


def _mrz_field(fmt: _MrzFormat, joined: str, name: str, data: slice, digit: int) -> tuple[str, str]:
    """The data a check digit covers and the digit found, following a long document number."""
    value, found = joined[data], joined[digit]
    if found == "<" and name == "document_number" and fmt.overflow is not None:
        rest = joined[fmt.overflow].split("<", 1)[0]
        if rest:
            return value + rest[:-1], rest[-1]
    return value, found


def validate_mrz(value: str) -> Result:
    """A machine-readable zone (TD1, TD2 or TD3), lines separated by newlines.

    Each failed check digit is its own issue (``mrz.birth_date`` ...), because which one fails
    tells an officer whether the document or the transcription is wrong."""
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    fmt = _MRZ_FORMATS.get((len(lines), len(lines[0]) if lines else 0))
    if fmt is None or len({len(line) for line in lines}) != 1:
        return _fail(
            "mrz",
            "icao9303.format",
            "expected 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3) characters (ICAO 9303)",
        )
    joined = "".join(lines)
    if not _MRZ_CHARSET.fullmatch(joined):
        return _fail(
            "mrz", "icao9303.charset", "only A-Z, 0-9 and the filler '<' may appear (ICAO 9303)"
        )
    errors = []
    for name, data, digit in fmt.fields:
        covered, found = _mrz_field(fmt, joined, name, data, digit)
        # An unused personal number field may leave its check digit as filler (ICAO 9303 Part 4).
        if found == "<" and name == "personal_number" and set(covered) == {"<"}:
            continue
        expected = mrz_check_digit(covered)
        if found != expected:
            errors.append(
                _issue(
                    f"mrz.{name}",
                    "icao9303.check_digit",
                    f"check digit is {found}, expected {expected} (ICAO 9303 {fmt.name})",
                )
            )
    found = joined[fmt.composite_digit]
    expected = mrz_check_digit("".join(joined[part] for part in fmt.composite))
    if found != expected:
        errors.append(
            _issue(
                "mrz.composite",
                "icao9303.check_digit",
                f"check digit is {found}, expected {expected} (ICAO 9303 {fmt.name})",
            )
        )
    return _result(errors)


def normalise_document_number(value: str) -> str:
    """Document numbers as an MRZ carries them: upper case, without spaces, dashes or fillers,
    so a number typed from the data page matches the one read from the MRZ."""
    return re.sub(r"[\s\-<]", "", value.upper())


# --- ISO 3779 vehicle identification numbers --------------------------------------------------

_VIN_VALUES: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# First characters of the world manufacturer identifier where the check digit is mandatory:
# North America (1-5, 49 CFR 565) and China (L, GB 16735). Elsewhere makers need not compute it.
_VIN_CHECK_DIGIT_MANDATORY = frozenset("12345L")


def vin_check_digit(vin: str) -> str:
    """The position-9 check digit of a 17-character VIN (0-9 or X for 10)."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def validate_vin(value: str) -> Result:
    """A VIN: 17 characters, never I, O or Q, and the check digit where it is mandatory.

    A wrong check digit on a European or Japanese VIN is only a warning: those makers often do
    not compute it, and refusing a stolen car's real VIN would hide the car from every search."""
    vin = re.sub(r"[\s-]", "", value).upper()
    if len(vin) != 17:
        return _fail("vin", "vin.length", f"has {len(vin)} characters, not 17 (ISO 3779)")
    bad = sorted({c for c in vin if c not in _VIN_VALUES})
    if bad:
        return _fail(
            "vin",
            "vin.charset",
            f"{', '.join(bad)} cannot appear: only 0-9 and A-Z except I, O, Q (ISO 3779)",
        )
    expected = vin_check_digit(vin)
    if vin[8] == expected:
        return _ok()
    if vin[0] in _VIN_CHECK_DIGIT_MANDATORY:
        text = f"check digit is {vin[8]}, expected {expected} (ISO 3779)"
        return _fail("vin", "vin.check_digit", text)
    text = (
        f"check digit is {vin[8]}, expected {expected} (ISO 3779; not mandatory outside "
        "North America and China, so accepted)"
    )
    return _result([], [_issue("vin", "vin.check_digit", text)])


# --- IMO ship identification numbers ----------------------------------------------------------


def validate_imo(value: str) -> Result:
    """An IMO ship number, ``IMO 9074729`` or ``9074729``: 7 digits, the last a check digit.

    Only for ships: IMO company numbers (FtM's ``Organization:imoNumber``) use another scheme."""
    number = stdnum.imo.compact(value)
    if not re.fullmatch(r"\d{7}", number):
        return _fail("imo", "imo.format", f"{value!r} is not 7 digits, e.g. IMO 9074729")
    expected = stdnum.imo.calc_check_digit(number)
    if number[6] != expected:
        return _fail(
            "imo",
            "imo.check_digit",
            f"check digit is {number[6]}, expected {expected} (IMO ship number)",
        )
    return _ok()


# --- countries, dates, contact details -------------------------------------------------------


@cache
def _iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 as ICU ships it: the assigned codes plus XK (Kosovo), which
    INTERPOL and the EU use, and the three exceptionally reserved ones (DG, EA, IC)."""
    return frozenset(icu.Locale.getISOCountries())


def validate_country(value: str) -> Result:
    """An ISO 3166-1 alpha-2 code, any case. Strict: agencies and restrictions are keyed by it,
    so ``DEU`` or ``Germany`` is refused (with the code it most likely means)."""
    if value.strip().upper() in _iso_countries():
        return _ok()
    guess = registry.country.clean(value)
    hint = f", did you mean {guess.upper()}?" if guess and guess.upper() in _iso_countries() else ""
    return _fail("country", "iso3166", f"{value!r} is not an ISO 3166-1 alpha-2 code{hint}")


def _check_ftm_country(value: str) -> Result:
    """A country on an entity: whatever FtM reads as one of its territory codes (``de``,
    ``Germany``, ``xk``, historic ``su``), since FtM stores the code; nothing else."""
    if registry.country.clean(value) is not None:
        return _ok()
    return _fail("country", "iso3166", f"{value!r} is not a country code (ISO 3166-1, e.g. DE)")


_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def validate_date(value: str) -> Result:
    """An ISO 8601 date, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, that exists on the calendar.

    Partial dates are allowed because police often know only a year of birth. Whether a date
    may lie in the future depends on the property (an expiry date may), so that is not checked
    here."""
    match = _PARTIAL_DATE.fullmatch(value.strip())
    if match is not None:
        year, month, day = (int(g) if g else 1 for g in match.groups())
        try:
            date(year, month, day)
            return _ok()
        except ValueError:
            pass
    return _fail("date", "iso8601", f"{value!r} is not a date as YYYY, YYYY-MM or YYYY-MM-DD")


def _in_future(value: str) -> bool:
    """Whether a valid partial date lies wholly after today (``2031`` yes, this year no)."""
    value = value.strip()
    return value > date.today().isoformat()[: len(value)]


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The IDNA check of a domain (most of an address's check): domains repeat, addresses not."""
    return registry.email.clean_domain_part(domain)


def _is_email(value: str) -> bool:
    """FtM's check of an e-mail property (``registry.email.validate``), its domain part cached."""
    local, at, domain = value.strip().removeprefix("mailto:").rpartition("@")
    if not at or registry.email.LOCAL_RE.match(local) is None:
        return False
    cleaned = _email_domain(domain)
    return cleaned is not None and len(f"{local}@{cleaned}") <= registry.email.max_length


def _check_email(value: str) -> Result:
    if _is_email(value):
        return _ok()
    return _fail("email", "email.format", f"{value!r} is not an e-mail address")


def _check_phone(value: str) -> Result:
    """FtM keeps only numbers in international format; anything else it would drop silently."""
    if phones.is_international(value):
        return _ok()
    return _fail(
        "phone",
        "phone.format",
        f"{value!r} is not a phone number in international format, e.g. +49 30 1234567",
    )


# --- identifiers normalised for matching ------------------------------------------------------


def normalise_serial(value: str) -> str:
    """Firearm serials compared as letters and digits only, upper case: registries write the
    same serial with spaces, dashes, dots or slashes. Letters of any script are kept, since
    serials stamped in Cyrillic would otherwise vanish."""
    return "".join(c for c in value.upper() if c.isalnum())


# --- entities ----------------------------------------------------------------------------------

Check = Callable[[str], Result]

# Checks on one property, by FtM qname (the schema that defines it; sub-schemata inherit it).
_PROPERTY_CHECKS: dict[str, Check] = {
    "Vehicle:vin": validate_vin,
    "Vessel:imoNumber": validate_imo,
}
# Checks on every property of a type, unless the property has its own check above.
_TYPE_CHECKS: dict[str, Check] = {
    registry.country.name: _check_ftm_country,
    registry.date.name: validate_date,
    registry.email.name: _check_email,
    registry.phone.name: _check_phone,
}
# Dates that cannot lie in the future, by qname.
_PAST_DATES = frozenset({"Person:birthDate", "Person:deathDate"})

# What a record of these schemata (and their sub-schemata) cannot be matched without. Not FtM's
# own `required`: that also asks for a document's holder, which a stolen blank passport lacks.
REQUIRED: dict[str, tuple[str, ...]] = {
    "Firearm": ("serialNumber",),
    "Passport": ("number",),
    "Identification": ("number",),
    "Vessel": ("name",),
}


@dataclass(frozen=True)
class _PropertyRule:
    """How one property of one schema is checked, worked out once per (schema, property)."""

    where: str
    refusal: Result | None  # the property cannot be set at all
    check: Check | None
    past: bool  # a date that cannot lie in the future
    label: str


@cache
def _property_rule(schema: Schema, name: str) -> _PropertyRule:
    where = f"properties.{name}"
    prop = schema.get(name)
    if prop is None:
        refusal = _fail(
            where, "ftm.property", f"{schema.name} has no property {name!r} (FtM model)"
        )
        return _PropertyRule(where, refusal, None, False, "")
    if prop.stub:
        # FtM drops these silently: the link entity on the other side carries the value.
        reverse = prop.reverse.qname if prop.reverse is not None else "the other entity"
        refusal = _fail(
            where, "ftm.property", f"is set on the other side of the link, {reverse} (FtM model)"
        )
        return _PropertyRule(where, refusal, None, False, "")
    check = _PROPERTY_CHECKS.get(prop.qname) or _TYPE_CHECKS.get(prop.type.name)
    return _PropertyRule(where, None, check, prop.qname in _PAST_DATES, prop.label.lower())


@lru_cache(maxsize=65_536)
def _checked(check: Check, value: str) -> Result:
    """Value checks are pure and values repeat (countries, dates): each is checked once."""
    return check(value)


def _check_property(schema: Schema, name: str, values: list[str]) -> list[Result]:
    """The issues of one property's values; nothing at all when every value is fine, which
    is nearly always (a bulk import checks millions)."""
    rule = _property_rule(schema, name)
    if rule.refusal is not None:
        return [rule.refusal]
    found = []
    for value in values:
        if rule.check is not None:
            result = _checked(rule.check, value)
            if result.errors or result.warnings:
                found.append(_at(result, rule.where))
                if not result.valid:
                    continue
        if rule.past and _in_future(value):
            found.append(
                _fail(
                    rule.where,
                    "date.future",
                    f"{value!r} is in the future, impossible for a {rule.label}",
                )
            )
    return found


@cache
def _required(schema: Schema) -> tuple[str, ...]:
    return tuple(
        sorted(
            {name for parent, names in REQUIRED.items() if schema.is_a(parent) for name in names}
        )
    )


def _check_required(schema: Schema, properties: dict[str, list[str]]) -> list[Issue]:
    return [
        _issue(f"properties.{n}", "record.required", f"is required for a {schema.name} record")
        for n in _required(schema)
        if not any(v.strip() for v in properties.get(n, []))
    ]


def validate_entity(schema: str, properties: dict[str, list[str]]) -> Result:
    """An FtM entity payload: a concrete schema, its own properties, each value valid for its
    type and property. FtM itself drops unknown properties and unparseable values silently,
    so a record would lose data without saying so; here they are refused instead."""
    schema_obj = model.get(schema)
    if schema_obj is None or schema_obj.abstract:
        return _fail("schema", "ftm.schema", f"{schema!r} is not a concrete FtM schema")
    found = [
        r for name, values in properties.items() for r in _check_property(schema_obj, name, values)
    ]
    missing = _check_required(schema_obj, properties)
    if missing:
        found.append(_result(missing))
    return _merge(*found) if found else _ok()


# --- the envelope's data-protection and database rules ----------------------------------------

# Schemata each database holds: a schema qualifies if it is_a one of these. Crime groups hold
# their members (Person) and the links between them; intelligence holds any entity or
# relationship (FtM's bookkeeping schemata Mention, Page and Similar are not records).
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
# Databases where an INTERPOL-style notice may be attached, and where one must be.
NOTICE_DATABASES = frozenset(
    {Database.wanted_persons, Database.missing_persons, Database.terrorist_fighters}
)
NOTICE_REQUIRED = frozenset({Database.wanted_persons, Database.missing_persons})
# Data-subject categories a database is limited to (others accept any).
DATABASE_CATEGORIES: dict[Database, frozenset[SubjectCategory]] = {
    Database.missing_persons: frozenset({SubjectCategory.missing_person, SubjectCategory.victim}),
}


class Placement(NamedTuple):
    """What the envelope rules read of an envelope: where the record is filed and whom it is
    about. Few combinations occur, so the rules' verdict is cached per schema and placement."""

    database: Database
    subject_category: SubjectCategory | None
    notice_type: NoticeType | None


EnvelopeRule = Callable[[Schema | None, Placement], Issue | None]


def _database_holds_schema(schema: Schema | None, envelope: Placement) -> Issue | None:
    allowed = DATABASE_SCHEMATA[envelope.database]
    if schema is not None and any(schema.is_a(name) for name in allowed):
        return None
    name = schema.name if schema is not None else "an unknown schema"
    return _issue(
        "polex.database",
        "database.schema",
        f"{envelope.database.value} holds {', '.join(allowed)}, not {name}",
    )


def _person_has_subject_category(schema: Schema | None, envelope: Placement) -> Issue | None:
    """Personal data is processed only for a stated category of data subject (Europol Annex II
    style); without one the record has no lawful basis and is refused."""
    if schema is None or not schema.is_a("Person") or envelope.subject_category is not None:
        return None
    return _issue(
        "polex.subject_category",
        "gdpr.subject_category",
        "personal data without a data-subject category is refused; one of "
        + ", ".join(c.value for c in SubjectCategory),
    )


def _notice_present(schema: Schema | None, envelope: Placement) -> Issue | None:
    if envelope.database not in NOTICE_REQUIRED or envelope.notice_type is not None:
        return None
    return _issue(
        "polex.notice_type",
        "notice.required",
        f"{envelope.database.value} needs a notice type; one of "
        + ", ".join(n.value for n in NoticeType),
    )


def _notice_allowed(schema: Schema | None, envelope: Placement) -> Issue | None:
    if envelope.notice_type is None or envelope.database in NOTICE_DATABASES:
        return None
    return _issue(
        "polex.notice_type",
        "notice.database",
        f"notices belong in {', '.join(sorted(NOTICE_DATABASES))}, not {envelope.database.value}",
    )


def _category_allowed(schema: Schema | None, envelope: Placement) -> Issue | None:
    allowed = DATABASE_CATEGORIES.get(envelope.database)
    category = envelope.subject_category
    if allowed is None or category is None or category in allowed:
        return None
    return _issue(
        "polex.subject_category",
        "database.subject_category",
        f"{envelope.database.value} holds only {', '.join(sorted(allowed))}, not {category.value}",
    )


_ENVELOPE_RULES: tuple[EnvelopeRule, ...] = (
    _database_holds_schema,
    _person_has_subject_category,
    _notice_present,
    _notice_allowed,
    _category_allowed,
)


def validate_envelope_rules(schema: str, envelope: Envelope) -> Result:
    """The owner's envelope against the entity: the database holds this schema, personal data
    has a data-subject category, notices sit where notices belong."""
    placement = Placement(envelope.database, envelope.subject_category, envelope.notice_type)
    return _placement_rules(schema, placement)


@lru_cache(maxsize=4096)
def _placement_rules(schema: str, placement: Placement) -> Result:
    """The envelope rules' verdict; shared between callers: read it, never change it."""
    schema_obj = model.get(schema)
    return _result([i for rule in _ENVELOPE_RULES if (i := rule(schema_obj, placement))])


def validate_record(schema: str, properties: dict[str, list[str]], envelope: Envelope) -> Result:
    """Everything a record must pass before it is stored or shared."""
    return _merge(validate_entity(schema, properties), validate_envelope_rules(schema, envelope))
