"""The record form: which fields a schema shows, how a submitted form becomes a RecordInput,
and where each validation issue goes.

Every input is named by the path the validation rules report (``properties.birthDate``,
``polex.subject_category``), so an issue lands next to the field that caused it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from followthemoney.property import Property
from followthemoney.types import registry
from pydantic import ValidationError
from starlette.datastructures import FormData

from polex.model.envelope import (
    Accuracy,
    Database,
    Handling,
    NoticeType,
    Reliability,
    SubjectCategory,
)
from polex.model.ftm import model
from polex.model.record import Record
from polex.model.validation import DATABASE_SCHEMATA, REQUIRED, Issue, validate_entity
from polex.node.records import RecordInput

# What an officer fills in most, per schema; other properties go in "more properties".
FIELDS: dict[str, tuple[str, ...]] = {
    "Person": (
        "name", "firstName", "lastName", "alias", "birthDate", "birthPlace", "nationality",
        "gender", "idNumber", "passportNumber", "phone", "email", "address", "notes",
    ),
    "Identification": ("number", "type", "country", "authority", "startDate", "endDate", "summary"),
    "Passport": (
        "number", "type", "country", "surname", "givenName", "birthDate", "gender",
        "personalNumber", "authority", "startDate", "endDate", "summary",
    ),
    "Vehicle": (
        "registrationNumber", "vin", "make", "model", "type", "colour", "buildDate", "country",
        "notes",
    ),
    "Vessel": (
        "name", "imoNumber", "mmsi", "callSign", "flag", "type", "registrationPort", "notes",
    ),
    "Firearm": ("serialNumber", "make", "model", "calibre", "firearmType", "country", "notes"),
    "Organization": (
        "name", "alias", "country", "legalForm", "registrationNumber", "address", "notes",
    ),
}  # fmt: skip
# Relationship schemata an analyst records between entities (offered under abstract parents).
LINKS = frozenset({"Membership", "Associate", "Family", "Ownership", "UnknownLink", "Event"})
MULTILINE_TYPES = frozenset({"text", "address"})
SEPARATOR = ";"
GENDERS = [("", "—"), ("male", "male"), ("female", "female"), ("other", "other")]
COUNTRIES = sorted(registry.country.names.items())
ENVELOPE_FIELDS = (
    "polex.database",
    "schema",
    "polex.handling",
    "polex.reliability",
    "polex.accuracy",
    "polex.subject_category",
    "polex.notice_type",
    "polex.review_at",
    "polex.case_ref",
    "polex.provenance",
    "polex.restrictions.allow_agencies",
    "polex.restrictions.deny_agencies",
    "polex.restrictions.allow_countries",
    "polex.restrictions.deny_countries",
    "polex.restrictions.passing_permitted",
    "polex.restrictions.conditions",
)
LIST_FIELDS = frozenset(
    f for f in ENVELOPE_FIELDS if f.startswith("polex.restrictions.") and "conditions" not in f
)
OTHER = "other_properties"


@dataclass(frozen=True)
class Field:
    name: str  # the form input's name, also the issue path: properties.<prop>
    prop: str
    label: str
    type: str
    multiline: bool
    required: bool
    hint: str


def _hint(prop: Property) -> str:
    kind = prop.type.name
    if kind == "date":
        return "YYYY, YYYY-MM or YYYY-MM-DD"
    if kind == "country":
        return "ISO code, e.g. DE"
    if prop.name == "vin":
        return "17 characters (ISO 3779)"
    if prop.name == "imoNumber":
        return "e.g. IMO 9074729"
    if kind == "address":
        return "one address per line"
    if kind in ("name", "phone", "email", "identifier"):
        return "several: separate with ;"
    return ""


def schema_options(database: Database) -> list[str]:
    """Concrete schemata a database holds (a parent like Thing stands for its descendants)."""
    names: list[str] = []
    for parent in DATABASE_SCHEMATA[database]:
        broad = model.schemata[parent].abstract
        for schema in model.schemata.values():
            if schema.abstract or not schema.is_a(parent) or schema.name in names:
                continue
            if broad and schema.name not in FIELDS.keys() | LINKS:
                continue
            names.append(schema.name)
    preferred = [n for n in DATABASE_SCHEMATA[database] if n in names]
    return preferred + sorted(n for n in names if n not in preferred)


def fields_for(schema_name: str) -> list[Field]:
    schema = model.get(schema_name)
    if schema is None:
        return []
    wanted = FIELDS.get(schema.name) or tuple(dict.fromkeys([*schema.featured, *schema.required]))
    out = []
    for name in wanted:
        prop = schema.get(name)
        if prop is None or prop.hidden or prop.stub or prop.type.name == "entity":
            continue
        out.append(
            Field(
                name=f"properties.{name}",
                prop=name,
                label=str(prop.label),
                type=prop.type.name,
                multiline=prop.type.name in MULTILINE_TYPES,
                required=name in schema.required or name in REQUIRED.get(schema.name, ()),
                hint=_hint(prop),
            )
        )
    return out


def _split(values: str, multiline: bool, kind: str) -> list[str]:
    if kind == "text":
        return [values.strip()] if values.strip() else []
    parts = values.splitlines() if multiline else values.split(SEPARATOR)
    return [p.strip() for p in parts if p.strip()]


def _list(value: str) -> list[str]:
    return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]


@dataclass
class RecordForm:
    """What the form shows: values as typed, and the issues per input name."""

    database: Database
    schema: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fields(self) -> list[Field]:
        return fields_for(self.schema)

    @property
    def schemata(self) -> list[str]:
        return schema_options(self.database)

    @property
    def database_choices(self) -> list[tuple[str, str]]:
        return [(d.value, d.value.replace("_", " ").capitalize()) for d in Database]

    @property
    def schema_choices(self) -> list[tuple[str, str]]:
        return [(name, str(model.schemata[name].label)) for name in self.schemata]

    @property
    def restrictions_open(self) -> bool:
        """Show the folded restrictions when they hold something or something is wrong there."""
        prefix = "polex.restrictions."
        return any(k.startswith(prefix) for k in self.errors) or any(
            k.startswith(prefix) and v.strip() for k, v in self.values.items()
        )

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def add_issues(self, issues: list[Issue]) -> None:
        shown = {f.name for f in self.fields} | set(ENVELOPE_FIELDS)
        for issue in issues:
            where = issue.field if issue.field in shown else _nearest(issue.field, shown)
            self.errors.setdefault(where, []).append(issue.message)

    def add_pydantic(self, exc: ValidationError) -> None:
        issues = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
            issues.append(Issue(path, str(err["type"]), f"{path}: {err['msg']}"))
        self.add_issues(issues)

    def summary(self) -> list[tuple[str, str]]:
        """(input name, message) for the error summary at the top of the form."""
        return [(name, m) for name, messages in self.errors.items() for m in messages]

    def properties(self) -> dict[str, list[str]]:
        properties: dict[str, list[str]] = {}
        for f in self.fields:
            values = _split(self.value(f.name), f.multiline, f.type)
            if values:
                properties[f.prop] = values
        for line in self.value(OTHER).splitlines():
            prop, sep, value = line.partition("=")
            if sep and prop.strip() and value.strip():
                properties.setdefault(prop.strip(), []).append(value.strip())
        return properties

    def check(self) -> RecordInput | None:
        """The submitted values as the use case takes them, or None with the issues noted.

        When the envelope's values do not even parse, the entity is still checked, so the
        officer sees every problem of the form at once, not one round trip at a time."""
        try:
            return self.to_input()
        except ValidationError as exc:
            self.add_pydantic(exc)
            self.add_issues(validate_entity(self.schema, self.properties()).errors)
            return None

    def to_input(self) -> RecordInput:
        """The submitted values as the use case takes them (raises pydantic's errors)."""
        schema = model.get(self.schema)
        properties = self.properties()
        envelope: dict[str, Any] = {"database": self.database.value}
        restrictions: dict[str, Any] = {}
        for name in ENVELOPE_FIELDS:
            if not name.startswith("polex.") or name == "polex.database":
                continue
            raw = self.value(name).strip()
            if not raw:
                continue
            key = name.removeprefix("polex.")
            if key.startswith("restrictions."):
                sub = key.removeprefix("restrictions.")
                restrictions[sub] = _list(raw) if name in LIST_FIELDS else raw
            else:
                envelope[key] = raw
        if restrictions:
            envelope["restrictions"] = restrictions
        return RecordInput.model_validate(
            {
                "schema": schema.name if schema else self.schema,
                "properties": properties,
                "polex": envelope,
            }
        )


def _nearest(path: str, shown: set[str]) -> str:
    """An issue about a property without its own input goes to the "more properties" box;
    one about a nested envelope value to its envelope input."""
    if path.startswith("properties."):
        return OTHER
    for name in shown:
        if path.startswith(name + "."):
            return name
    return "form"


def from_form(form: FormData | Mapping[str, Any], database: Database | None = None) -> RecordForm:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    db = database or _database(values.get("polex.database"))
    schema = values.get("schema") or schema_options(db)[0]
    return RecordForm(database=db, schema=schema, values=values)


def refreshed(form: RecordForm) -> RecordForm:
    """The form after the database changed: a type that database holds, typed values kept."""
    if form.schema not in form.schemata:
        form.schema = form.schemata[0]
        form.values["schema"] = form.schema
    return form


def _database(value: str | None) -> Database:
    try:
        return Database(value or Database.wanted_persons.value)
    except ValueError:
        return Database.wanted_persons


def from_record(record: Record) -> RecordForm:
    """The form pre-filled with a record, every property kept (shown or in "more")."""
    form = RecordForm(database=record.envelope.database, schema=record.schema)
    shown = {f.prop: f for f in form.fields}
    other: list[str] = []
    for prop, values in record.properties.items():
        f = shown.get(prop)
        if f is None:
            other.extend(f"{prop}={v}" for v in values)
        elif f.multiline and f.type != "text":
            form.values[f.name] = "\n".join(values)
        else:
            form.values[f.name] = f" {SEPARATOR} ".join(values)
    form.values[OTHER] = "\n".join(other)
    env = record.envelope
    form.values.update(
        {
            "schema": record.schema,
            "polex.database": env.database.value,
            "polex.handling": env.handling.value,
            "polex.reliability": env.reliability.value,
            "polex.accuracy": env.accuracy.value,
            "polex.subject_category": env.subject_category.value if env.subject_category else "",
            "polex.notice_type": env.notice_type.value if env.notice_type else "",
            "polex.review_at": env.review_at.isoformat() if env.review_at else "",
            "polex.case_ref": env.case_ref or "",
            "polex.provenance": env.provenance or "",
            "polex.restrictions.conditions": env.restrictions.conditions or "",
        }
    )
    r = env.restrictions
    for key, values in (
        ("allow_agencies", r.allow_agencies),
        ("deny_agencies", r.deny_agencies),
        ("allow_countries", r.allow_countries),
        ("deny_countries", r.deny_countries),
        ("passing_permitted", r.passing_permitted),
    ):
        form.values[f"polex.restrictions.{key}"] = ", ".join(values)
    return form


CHOICES: dict[str, list[tuple[str, str]]] = {
    "polex.handling": [
        (Handling.H0.value, "H0 — use only to prevent and combat crime"),
        (Handling.H1.value, "H1 — not for judicial proceedings without permission"),
        (Handling.H2.value, "H2 — not to be passed on without permission"),
        (Handling.H3.value, "H3 — other restrictions (state them below)"),
    ],
    "polex.reliability": [
        (Reliability.A.value, "A — no doubt"),
        (Reliability.B.value, "B — mostly reliable"),
        (Reliability.C.value, "C — not reliable"),
        (Reliability.X.value, "X — cannot be assessed"),
    ],
    "polex.accuracy": [
        (Accuracy.known_true.value, "1 — known to be true"),
        (Accuracy.known_to_source.value, "2 — known personally to the source"),
        (Accuracy.corroborated.value, "3 — corroborated"),
        (Accuracy.cannot_be_assessed.value, "4 — cannot be assessed"),
    ],
    "polex.subject_category": [("", "—")]
    + [(c.value, c.value.replace("_", " ")) for c in SubjectCategory],
    "polex.notice_type": [("", "—")] + [(n.value, n.value.replace("_", " ")) for n in NoticeType],
}
