"""Identifier keys: document numbers, VINs, IMO/MMSI, firearm serials, phones, e-mails.

Keys are exact after normalisation: spaces, dashes, dots and case never matter, Cyrillic and
Greek capitals that look like Latin ones are read as Latin (a Russian passport number typed on
a Russian keyboard), and where the standard makes a letter/digit confusion harmless it is
folded away:

* VINs never contain I, O or Q (ISO 3779), so I->1, O->0, Q->0 is always safe;
* firearm serials are stamped in metal and read by people: O->0, I->1 is folded too, and the
  make keeps two guns with the same serial apart;
* document numbers may hold both O and 0, so the exact number is kept and a folded copy is an
  extra key ("docf") that only finds, and only scores as, a likely misreading.

Kinds: "doc" (issuing country and number, when the country is known), "docn" (number),
"docf" (number, O/0 and I/1 folded), "vin", "imo", "mmsi", "serial" (make and serial),
"serialn" (serial), "plate", "phone" (E.164), "email"."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from rigour.territories import lookup_territory

from polex.model import phones
from polex.model.ftm import model

Key = tuple[str, str]

DOCUMENT_PROPS = (
    "passportNumber",
    "idNumber",
    "personalNumber",
    "socialSecurityNumber",
    "taxNumber",
    "licenseNumber",
    "registrationNumber",
)
MIN_DOCUMENT_LENGTH = 4
# Capital letters of other scripts that are drawn like Latin ones, and non-Latin digits.
_HOMOGLYPHS = str.maketrans(
    "АВЕКМНОРСТУХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹",
    "ABEKMHOPCTYXIJSABEZHIKMNOPTYX01234567890123456789",
)
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_NOT_DIGIT = re.compile(r"\D+")
_IO_FOLD = str.maketrans({"O": "0", "I": "1"})
_VIN_FOLD = str.maketrans({"O": "0", "I": "1", "Q": "0"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IMO = re.compile(r"(?:IMO)?(\d{7})")
_MMSI = re.compile(r"\d{9}")
_LETTER = re.compile(r"[^\W\d_]")
# ICAO 9303 writes Germany as "D"; everything else is an ISO 3166 code or a name.
_ICAO_SPECIAL = {"D": "DE"}


def compact(value: str) -> str:
    """Upper case, homoglyphs read as Latin, everything but letters and digits removed."""
    value = value.upper()
    if not value.isascii():
        value = value.translate(_HOMOGLYPHS)
    return _NOT_ALNUM.sub("", value)


def fold(value: str) -> str:
    """A compacted value with O/0 and I/1 confusions folded to the digits."""
    return value.translate(_IO_FOLD)


@lru_cache(maxsize=1024)
def country_code(value: str) -> str:
    """An issuing country as an upper-case ISO code ("deu", "D", "Germany" -> "DE"); codes
    that are no country ("UTO", ICAO's specimen Utopia) are kept as written."""
    code = value.strip().upper()
    if code in _ICAO_SPECIAL:
        return _ICAO_SPECIAL[code]
    territory = lookup_territory(code)
    return territory.code.upper() if territory is not None else compact(code)


@lru_cache(maxsize=100_000)
def phone_key(value: str, region: str | None = None) -> str | None:
    """E.164 form of a phone number; ``region`` reads numbers written without the +.

    A number that parses without a region starts with its country code, which the region
    cannot change: that parse is the one validation made already."""
    number = phones.parse(value) or (phones.parse(value, region.upper()) if region else None)
    if number is None or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_key(value: str) -> str | None:
    email = value.strip().lower().removeprefix("mailto:")
    return email if _EMAIL.match(email) else None


def make_key(value: str) -> str:
    """A firearm make by its first word: "Glock GmbH" and "GLOCK" are one make, as are
    "Smith & Wesson" and "Smith and Wesson"."""
    words = value.split()
    return compact(words[0]) if words else ""


@lru_cache(maxsize=1024)
def _is_a(schema: str, parent: str) -> bool:
    found = model.get(schema)
    return found is not None and found.is_a(parent)


def _document_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    get = properties.get
    is_document = _is_a(schema, "Identification")
    props = DOCUMENT_PROPS + ("number",) if is_document else DOCUMENT_PROPS
    # Only a document says who issued it; a person's nationality is no proof of that.
    countries = {country_code(c) for c in get("country", ())} if is_document else set()
    keys: set[Key] = set()
    for prop in props:
        if prop == "registrationNumber" and _is_a(schema, "Vehicle"):
            continue
        for value in get(prop, ()):
            number = compact(value)
            if len(number) < MIN_DOCUMENT_LENGTH:
                continue
            keys.add(("docn", number))
            keys.add(("docf", fold(number)))
            keys.update(("doc", f"{country}:{number}") for country in countries)
    return keys


def _vehicle_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    get = properties.get
    keys: set[Key] = {("vin", compact(v).translate(_VIN_FOLD)) for v in get("vin", ())}
    if _is_a(schema, "Vehicle"):
        keys.update(("plate", compact(v)) for v in get("registrationNumber", ()))
    for value in get("imoNumber", ()):
        imo = _IMO.fullmatch(compact(value))
        if imo:
            keys.add(("imo", imo.group(1)))
    for value in get("mmsi", ()):
        mmsi = _NOT_DIGIT.sub("", value)
        if _MMSI.fullmatch(mmsi):
            keys.add(("mmsi", mmsi))
    return {key for key in keys if key[1]}


def _serial_keys(properties: dict[str, list[str]]) -> set[Key]:
    keys: set[Key] = set()
    makes = {make_key(m) for m in properties.get("make", ())} - {""}
    for value in properties.get("serialNumber", ()):
        serial = fold(compact(value))
        if serial:
            keys.add(("serialn", serial))
            keys.update(("serial", f"{make}:{serial}") for make in makes)
    return keys


def _contact_keys(properties: dict[str, list[str]]) -> set[Key]:
    get = properties.get
    keys: set[Key] = set()
    phones = get("phone", ())
    if phones:
        regions = [c for c in (*get("country", ()), *get("nationality", ())) if len(c) == 2]
        region = regions[0] if regions else None
        keys.update(("phone", key) for p in phones if (key := phone_key(p, region)))
    keys.update(("email", key) for e in get("email", ()) if (key := email_key(e)))
    return keys


_DOCUMENT_PROPS = frozenset(DOCUMENT_PROPS) | {"number"}
_VEHICLE_PROPS = frozenset({"vin", "registrationNumber", "imoNumber", "mmsi"})
_CONTACT_PROPS = frozenset({"phone", "email"})
_IDENTIFIER_PROPS = _DOCUMENT_PROPS | _VEHICLE_PROPS | _CONTACT_PROPS | {"serialNumber"}


def identifier_keys(schema: str, properties: dict[str, list[str]]) -> set[Key]:
    """Every identifier key of an entity, as (kind, key). Runs per record on bulk import, so
    only the kinds of identifier the record has are looked at."""
    present = properties.keys() & _IDENTIFIER_PROPS
    keys: set[Key] = set()
    if not present:
        return keys
    if present & _DOCUMENT_PROPS:
        keys |= _document_keys(schema, properties)
    if present & _VEHICLE_PROPS:
        keys |= _vehicle_keys(schema, properties)
    if "serialNumber" in present:
        keys |= _serial_keys(properties)
    if present & _CONTACT_PROPS:
        keys |= _contact_keys(properties)
    return keys


def _looks_like_number(value: str, stated: bool) -> bool:
    digits = stated or any(c.isdigit() for c in value)
    return len(value) >= 5 and digits and value.isascii()


def query_identifier_keys(text: str, stated: bool = False) -> set[Key]:
    """Keys to look up for one query token that looks like an identifier (else nothing): an
    e-mail, a phone number in international form, or a number, looked up as every kind of
    number it could be. A token of free text needs a digit to be taken for a number, or every
    name would be looked up as one; an identifier the searcher ``stated`` as one need not have
    any (ICAO 9303 allows a document number of letters only: 1 in 200 of the benchmark's
    generated passports has one, and was not found)."""
    text = text.strip()
    email = email_key(text)
    if email:
        return {("email", email)}
    keys: set[Key] = set()
    if text.startswith(("+", "00")) and not _LETTER.search(text):
        phone = phone_key("+" + text.removeprefix("+").removeprefix("00"))
        keys.update({("phone", phone)} if phone else ())
        if text.startswith("+"):
            return keys
    value = compact(text)
    if not _looks_like_number(value, stated):
        return keys
    keys |= {("docn", value), ("docf", fold(value)), ("serialn", fold(value)), ("plate", value)}
    if len(value) == 17:
        keys.add(("vin", value.translate(_VIN_FOLD)))
    imo = _IMO.fullmatch(value)
    if imo:
        keys.add(("imo", imo.group(1)))
    if _MMSI.fullmatch(value):
        keys.add(("mmsi", value))
    return keys
