"""Synthetic identifiers in real national formats that pass the real check-digit rules (ICAO
9303, ISO 3779, the IMO scheme), so generated data exercises validation and matching as real
exports would.

Every generator either draws a random number (``rng``) or takes ``n``, the n-th number of its
format. The data generator passes ``n`` from a ``Unique`` issuer, so that no two unrelated
records share an identifier by chance: the ground truth says which records share one, and a
chance collision would be a match that the truth cannot explain."""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from itertools import groupby, product

from polex.model.validation import mrz_check_digit, vin_check_digit

DIGITS = string.digits
LETTERS = string.ascii_uppercase
_CLASSES = {"#": DIGITS, "@": LETTERS, "*": LETTERS + DIGITS}


class Permutation:
    """A bijection of ``range(size)`` that looks random and needs no table: unique numbers for
    ten million records without remembering any of them.

    Two rounds of multiply-add and xorshift (each invertible) scramble a power-of-two domain;
    cycle-walking maps the result back into ``range(size)``."""

    def __init__(self, size: int, key: str) -> None:
        if size < 1:
            raise ValueError("a permutation needs at least one element")
        rng = random.Random(key)
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self._mask = (1 << bits) - 1
        self._shift = bits // 2
        self._keys = tuple(rng.randrange(1 << bits) | 1 for _ in range(4))

    def __call__(self, index: int) -> int:
        x, size = index % self.size, self.size
        mask, shift = self._mask, self._shift
        mul1, add1, mul2, add2 = self._keys
        while True:
            x = (x * mul1 + add1) & mask
            x ^= x >> shift
            x = (x * mul2 + add2) & mask
            x ^= x >> shift
            if x < size:
                return x


@cache
def _table(alphabet: str, width: int) -> tuple[str, ...]:
    """Every string of ``width`` characters from ``alphabet``, in order."""
    return tuple("".join(chars) for chars in product(alphabet, repeat=width))


@dataclass(frozen=True)
class NumberFormat:
    """A number format as a pattern: ``#`` a digit, ``@`` a letter, ``*`` either; any other
    character is written as it is (``"@@-###-@@"`` is a French number plate)."""

    pattern: str
    # right to left, each a table of the strings its characters can be: a literal has one,
    # two letters 676, four digits 10,000; so formatting is one lookup per segment
    _segments: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    capacity: int = field(init=False, repr=False, compare=False)
    # what the number reads as once separators are dropped, as identifier matching reads it:
    # formats of one shape draw from one sequence (``Unique``), so their numbers never coincide
    shape: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments: list[tuple[str, ...]] = []
        for char, group in groupby(reversed(self.pattern)):
            count = len(list(group))
            if char not in _CLASSES:
                segments.append((char * count,))
                continue
            chunk = 4 if char == "#" else 2
            while count:
                width = min(chunk, count)
                segments.append(_table(_CLASSES[char], width))
                count -= width
        capacity = 1
        for table in segments:
            capacity *= len(table)
        object.__setattr__(self, "_segments", tuple(segments))
        object.__setattr__(self, "capacity", capacity)
        shape = "".join(c for c in self.pattern if c.isalnum() or c in _CLASSES)
        object.__setattr__(self, "shape", shape)

    def at(self, n: int) -> str:
        """The n-th number of the format (``0 <= n < capacity``)."""
        chars = []
        for table in self._segments:
            n, i = divmod(n, len(table))
            chars.append(table[i])
        return "".join(reversed(chars))

    def random(self, rng: random.Random) -> str:
        return self.at(rng.randrange(self.capacity))


class _Sequence:
    """The indexes of one sequence, each issued once."""

    def __init__(self, permutation: Permutation) -> None:
        self.permutation = permutation
        self.issued = 0

    def next(self) -> int:
        self.issued += 1
        return self.permutation(self.issued - 1)


class Unique:
    """Issues the indexes of each sequence once, in an order that looks random and depends on
    the seed; a sequence restarts only after ``capacity`` numbers."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._sequences: dict[str, _Sequence] = {}

    def sequence(self, key: str, capacity: int) -> Callable[[], int]:
        """The next index of the sequence, each time it is called: for hot loops, which then
        skip looking the sequence up."""
        found = self._sequences.get(key)
        if found is None:
            permutation = Permutation(capacity, f"{self.seed}:{key}")
            found = self._sequences[key] = _Sequence(permutation)
        return found.next

    def __call__(self, key: str, capacity: int) -> int:
        return self.sequence(key, capacity)()

    def number(self, fmt: NumberFormat) -> str:
        return fmt.at(self(fmt.shape, fmt.capacity))


# --- travel documents (ICAO 9303) ----------------------------------------------------------

# Passport numbers per issuing country, as printed (at most 9 characters: the MRZ field).
PASSPORT_FORMATS: dict[str, NumberFormat] = {
    country: NumberFormat(pattern)
    for country, pattern in {
        "DE": "C********",
        "FR": "##@@#####",
        "IT": "@@#######",
        "ES": "@@@######",
        "TR": "U########",
        "EG": "A########",
        "NG": "A########",
        "SA": "@########",
        "SY": "N########",
        "CN": "E########",
        "UA": "@@######",
        "RU": "#########",
        "US": "#########",
    }.items()
}
DEFAULT_PASSPORT_FORMAT = NumberFormat("@@*******")


def passport_format(country: str) -> NumberFormat:
    return PASSPORT_FORMATS.get(country.upper(), DEFAULT_PASSPORT_FORMAT)


def passport_number(rng: random.Random, country: str = "DE", n: int | None = None) -> str:
    """A passport number in the issuing country's format; valid in a machine-readable zone."""
    fmt = passport_format(country)
    return fmt.random(rng) if n is None else fmt.at(n)


_MRZ_FOLD = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Æ": "AE", "Ø": "OE"})


def mrz_name(text: str) -> str:
    """A Latin name as the MRZ writes it (ICAO 9303: umlauts expanded, other marks dropped)."""
    folded = unicodedata.normalize("NFKD", text.upper().translate(_MRZ_FOLD))
    return "".join(c if c in LETTERS else "<" for c in folded if not unicodedata.combining(c))


def mrz_td3(
    number: str,
    country: str,
    surname: str,
    given: str,
    birth: str,
    sex: str,
    expiry: str,
    personal: str = "",
) -> str:
    """A passport's (TD3) machine-readable zone, two lines of 44: ``country`` as ICAO 3-letter
    code (``D`` for Germany), ``birth`` and ``expiry`` as YYMMDD, ``sex`` M, F or <."""
    code = country.ljust(3, "<")
    name = (mrz_name(surname) + "<<" + mrz_name(given)).ljust(39, "<")[:39]
    line1 = "P<" + code + name
    doc = number.upper().ljust(9, "<")[:9]
    optional = personal.upper().ljust(14, "<")[:14]
    optional_check = mrz_check_digit(optional) if personal else "<"
    body = (
        doc
        + mrz_check_digit(doc)
        + code
        + birth
        + mrz_check_digit(birth)
        + sex
        + expiry
        + mrz_check_digit(expiry)
        + optional
        + optional_check
    )
    composite = mrz_check_digit(body[0:10] + body[13:20] + body[21:43])
    return line1 + "\n" + body + composite


# --- vehicles (ISO 3779) -------------------------------------------------------------------

# World manufacturer identifiers (the first three VIN characters) and their makes.
WMIS: dict[str, str] = {
    "WBA": "BMW",
    "WDD": "Mercedes-Benz",
    "WVW": "Volkswagen",
    "WAU": "Audi",
    "VF1": "Renault",
    "VF3": "Peugeot",
    "ZFA": "Fiat",
    "VSS": "SEAT",
    "NMT": "Toyota",
    "JTD": "Toyota",
    "JHM": "Honda",
    "KMH": "Hyundai",
    "1FA": "Ford",
    "1HG": "Honda",
    "5YJ": "Tesla",
    "LSV": "SAIC Volkswagen",
    "LFV": "FAW-Volkswagen",
    "XTA": "Lada",
}
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # never I, O or Q
# Model-year codes (position 10) from 2001 on, in order.
VIN_YEARS = "123456789ABCDEFGHJKLMNPRSTVWXY"


def vin(rng: random.Random, wmi: str | None = None, year: int | None = None) -> str:
    """A 17-character VIN with the ISO 3779 check digit at position 9 (which North American
    and Chinese makers must compute, and which polex therefore checks)."""
    wmi = wmi or rng.choice(tuple(WMIS))
    year = year or rng.randint(2001, 2024)
    body = (
        wmi
        + "".join(rng.choices(VIN_CHARS, k=5))
        + "0"
        + VIN_YEARS[(year - 2001) % len(VIN_YEARS)]
        + rng.choice(VIN_CHARS)
        + f"{rng.randrange(1_000_000):06d}"
    )
    return body[:8] + vin_check_digit(body) + body[9:]


# Number plates per country of registration, as printed.
PLATE_FORMATS: dict[str, NumberFormat] = {
    country: NumberFormat(pattern)
    for country, pattern in {
        "DE": "@@-@@ ####",
        "FR": "@@-###-@@",
        "IT": "@@ ###@@",
        "ES": "#### @@@",
        "TR": "## @@@ ###",
        "EG": "@@@ ####",
        "NG": "@@@-###@@",
        "SA": "#### @@@",
        "SY": "@@ ######",
        "CN": "京@·*****",
        "UA": "@@ #### @@",
        "RU": "@###@@ ###",
        "US": "#@@@###",
    }.items()
}
DEFAULT_PLATE_FORMAT = NumberFormat("@@@ ####")


# --- ships (IMO, ITU) ----------------------------------------------------------------------

# IMO numbers are seven digits, the last a check digit; issued ones start 5 to 9 today.
IMO_CAPACITY = 500_000


def imo(rng: random.Random, n: int | None = None) -> str:
    """An IMO ship number: six digits weighted 7..2, the sum's last digit appended."""
    n = rng.randrange(IMO_CAPACITY) if n is None else n % IMO_CAPACITY
    digits = f"{500_000 + n:06d}"
    check = sum(int(d) * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return digits + str(check)


# Maritime identification digits (the first three of an MMSI) per flag state.
MIDS = {
    "DE": 211,
    "FR": 227,
    "IT": 247,
    "ES": 224,
    "TR": 271,
    "EG": 622,
    "NG": 657,
    "SA": 403,
    "SY": 468,
    "CN": 412,
    "UA": 272,
    "RU": 273,
    "US": 366,
    "MT": 248,
    "PA": 352,
    "LR": 636,
}
MMSI_CAPACITY = 1_000_000


def mmsi(rng: random.Random, country: str | None = None, n: int | None = None) -> str:
    """A ship station's MMSI: the flag state's MID and six digits (ITU-R M.585)."""
    mid = MIDS.get((country or rng.choice(tuple(MIDS))).upper(), MIDS["PA"])
    n = rng.randrange(MMSI_CAPACITY) if n is None else n % MMSI_CAPACITY
    return f"{mid}{n:06d}"


# --- firearms ------------------------------------------------------------------------------

# (make, model, calibre, firearm type, country of manufacture, serial format)
FIREARMS: tuple[tuple[str, str, str, str, str, NumberFormat], ...] = (
    ("Glock", "17", "9x19mm", "pistol", "AT", NumberFormat("@@@###")),
    ("Glock", "19", "9x19mm", "pistol", "AT", NumberFormat("@@@###")),
    ("Beretta", "92FS", "9x19mm", "pistol", "IT", NumberFormat("BER#####@")),
    ("CZ", "75 B", "9x19mm", "pistol", "CZ", NumberFormat("@######")),
    ("Walther", "P99", "9x19mm", "pistol", "DE", NumberFormat("FA#####")),
    ("SIG Sauer", "P226", "9x19mm", "pistol", "DE", NumberFormat("U######")),
    ("Smith & Wesson", "686", ".357 Magnum", "revolver", "US", NumberFormat("@@@####")),
    ("Kalashnikov", "AKM", "7.62x39mm", "rifle", "RU", NumberFormat("@@####")),
    ("Zastava", "M70", "7.62x39mm", "rifle", "RS", NumberFormat("######")),
    ("Heckler & Koch", "MP5", "9x19mm", "submachine gun", "DE", NumberFormat("##-######")),
    ("Baikal", "MP-153", "12/76", "shotgun", "RU", NumberFormat("##########")),
)


# --- telephones ----------------------------------------------------------------------------

# Country calling code and a mobile prefix whose numbers of this length are valid.
PHONES: dict[str, tuple[str, str, int]] = {
    "DE": ("49", "151", 8),
    "FR": ("33", "6", 8),
    "IT": ("39", "347", 7),
    "ES": ("34", "6", 8),
    "TR": ("90", "532", 7),
    "EG": ("20", "10", 8),
    "NG": ("234", "803", 7),
    "SA": ("966", "55", 7),
    "SY": ("963", "944", 6),
    "CN": ("86", "139", 8),
    "UA": ("380", "67", 7),
    "RU": ("7", "916", 7),
    "US": ("1", "212", 7),
}
PHONE_CAPACITY = 1_000_000


def phone(rng: random.Random, country: str, n: int | None = None) -> str:
    """A mobile number in international format, ``+CC PREFIX SUBSCRIBER``."""
    code, prefix, digits = PHONES.get(country.upper(), PHONES["US"])
    n = rng.randrange(PHONE_CAPACITY) if n is None else n % PHONE_CAPACITY
    # the leading subscriber digits are fixed (2..) and the last six unique
    subscriber = f"{'2345678'[: digits - 6]}{n:06d}"
    return f"+{code} {prefix} {subscriber}"
