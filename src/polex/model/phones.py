"""Phone numbers parsed once per value: a record's phone is checked (validation) and keyed
(search index) from the same parse, and parsing is among the costliest steps of importing a row."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from followthemoney.types import registry
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

# The parses of the last values seen: the checks and the keys of a row follow each other closely.
_RECENT = 4096


@lru_cache(maxsize=_RECENT)
def parse(value: str, region: str | None = None) -> PhoneNumber | None:
    """The number as libphonenumber reads it, dialled in ``region``; None if it cannot.

    The result is shared between callers: read it, never change it."""
    try:
        return phonenumbers.parse(value, region)
    except NumberParseException:
        return None


def is_international(value: str) -> bool:
    """FtM's check of a phone property (``registry.phone.validate``), on the shared parse: a
    valid number in international format, whose E.164 form fits FtM's length limit."""
    number = parse(value)
    if number is None or not phonenumbers.is_valid_number(number):
        return False
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return 0 < len(e164) <= registry.phone.max_length
