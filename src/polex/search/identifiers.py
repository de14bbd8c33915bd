"""Identifier keys: document numbers, VINs, IMO/MMSI, firearm serials, phones, e-mails.

Keys are exact after normalisation: spaces, dashes, dots and case never matter, and where the
standard makes a letter/digit confusion harmless the two are folded (VINs never contain O, I or
Q, so O->0, I->1, Q->0; document numbers and serials are folded O->0 because both are printed
and read by people)."""

from __future__ import annotations

import re

import phonenumbers

Key = tuple[str, str]

DOCUMENT_PROPS = ("passportNumber", "idNumber", "number", "personalNumber", "registrationNumber")
_SEPARATORS = re.compile(r"[\s\-./<_]+")
_VIN_FOLD = str.maketrans({"O": "0", "I": "1", "Q": "0"})
_DOC_FOLD = str.maketrans({"O": "0"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def compact(value: str) -> str:
    return _SEPARATORS.sub("", value.upper())


def document_key(value: str) -> str:
    return compact(value).translate(_DOC_FOLD)


def vin_key(value: str) -> str:
    return compact(value).translate(_VIN_FOLD)


def phone_key(value: str, country: str | None = None) -> str | None:
    try:
        number = phonenumbers.parse(value, country.upper() if country else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifier_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    keys: set[Key] = set()
    get = properties.get
    countries = get("country", []) + get("nationality", [])
    for prop in DOCUMENT_PROPS:
        for value in get(prop, []):
            if schema == "Vehicle" and prop == "registrationNumber":
                keys.add(("plate", compact(value)))
            elif len(compact(value)) >= 4:
                keys.add(("doc", document_key(value)))
    for value in get("vin", []):
        keys.add(("vin", vin_key(value)))
    for value in get("imoNumber", []):
        digits = re.sub(r"\D", "", value)
        if digits:
            keys.add(("imo", digits))
    for value in get("mmsi", []):
        keys.add(("mmsi", re.sub(r"\D", "", value)))
    for value in get("serialNumber", []):
        serial = document_key(value)
        keys.add(("serial", serial))
        for make in get("make", []):
            keys.add(("serialmake", f"{compact(make)}:{serial}"))
    for value in get("phone", []) + (get("number", []) if schema == "Phone" else []):
        key = phone_key(value, countries[0] if countries else None)
        if key:
            keys.add(("phone", key))
    for value in get("email", []) + (get("address", []) if schema == "Email" else []):
        if _EMAIL.match(value.strip()):
            keys.add(("email", value.strip().lower()))
    return keys


def query_identifier_keys(text: str) -> set[Key]:
    """Keys to look up for one query token that looks like an identifier (else empty)."""
    text = text.strip()
    if _EMAIL.match(text):
        return {("email", text.lower())}
    if text.startswith("+"):
        key = phone_key(text)
        return {("phone", key)} if key else set()
    value = compact(text)
    if len(value) < 5 or not any(c.isdigit() for c in value) or not value.isalnum():
        return set()
    keys: set[Key] = {
        ("doc", document_key(value)),
        ("serial", document_key(value)),
        ("plate", value),
    }
    if len(value) == 17:
        keys.add(("vin", vin_key(value)))
    imo = value.removeprefix("IMO")
    if re.fullmatch(r"\d{7}", imo):
        keys.add(("imo", imo))
    if re.fullmatch(r"\d{9}", value):
        keys.add(("mmsi", value))
    return keys
