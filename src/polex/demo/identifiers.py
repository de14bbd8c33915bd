"""Synthetic identifiers that pass the real check-digit rules (ICAO 9303, ISO 3779, IMO), so
generated data exercises validation and matching as real exports would."""

from __future__ import annotations

import random
import string

from polex.model.validation import mrz_check_digit, vin_check_digit

_DOC_CHARS = string.ascii_uppercase + string.digits
# World manufacturer identifiers, with the country each stands for.
WMIS = ("1HG", "1FA", "2T1", "3VW", "5YJ", "LSV", "LFV", "WVW", "WBA", "VF1", "ZFA", "SAL", "JHM")
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
MAKES = {
    "1HG": "Honda",
    "1FA": "Ford",
    "2T1": "Toyota",
    "3VW": "Volkswagen",
    "5YJ": "Tesla",
    "LSV": "SAIC Volkswagen",
    "LFV": "FAW-Volkswagen",
    "WVW": "Volkswagen",
    "WBA": "BMW",
    "VF1": "Renault",
    "ZFA": "Fiat",
    "SAL": "Land Rover",
    "JHM": "Honda",
}


def passport_number(rng: random.Random) -> str:
    return rng.choice(string.ascii_uppercase) + "".join(rng.choices(_DOC_CHARS, k=8))


def _mrz_name(surname: str, given: str, width: int) -> str:
    def clean(text: str) -> str:
        return "".join(c if c.isalpha() and c.isascii() else "<" for c in text.upper())

    return (clean(surname) + "<<" + clean(given)).ljust(width, "<")[:width]


def mrz_td3(
    number: str, country: str, surname: str, given: str, birth: str, sex: str, expiry: str
) -> str:
    """A TD3 (passport) machine-readable zone; dates as YYMMDD, country as ICAO 3-letter."""
    line1 = ("P<" + country + _mrz_name(surname, given, 39))[:44]
    doc = number.ljust(9, "<")[:9]
    personal = "<" * 14
    parts = [
        doc + mrz_check_digit(doc),
        country,
        birth + mrz_check_digit(birth),
        sex,
        expiry + mrz_check_digit(expiry),
        personal + "<",
    ]
    body = "".join(parts)
    composite = mrz_check_digit(body[0:10] + body[13:20] + body[21:43])
    return line1 + "\n" + body + composite


def vin(rng: random.Random, wmi: str | None = None) -> str:
    wmi = wmi or rng.choice(WMIS)
    body = wmi + "".join(rng.choices(VIN_CHARS, k=5)) + "0" + "".join(rng.choices(VIN_CHARS, k=8))
    return body[:8] + vin_check_digit(body) + body[9:]


def imo(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return "".join(map(str, digits)) + str(check)


def mmsi(rng: random.Random, mid: int | None = None) -> str:
    mid = mid or rng.choice((211, 218, 227, 247, 273, 412, 636, 538))
    return f"{mid}{rng.randint(0, 999999):06d}"


def serial(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=2)) + f"{rng.randint(0, 99999):05d}"
