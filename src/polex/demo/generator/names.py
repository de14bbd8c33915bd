"""People's names as police records hold them: native script or one of several Latin
transliterations, and the other spellings under which the same person turns up elsewhere.

Name pools come from Faker's locale lists and are built once per process, every Latin
rendering precomputed, so drawing a name per record costs a few list lookups however many
records are made. The transliterations are written here (not taken from ICU, which polex's
own name matching uses) so that the variants test the matcher rather than mirror it: a Russian
name is written as in a passport (ICAO), by BGN/PCGN, German (Duden) or French convention,
an Arabic one in English, French or German popular spelling, a Chinese one in pinyin or
Wade-Giles."""

from __future__ import annotations

import importlib
import random
import re
import unicodedata
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import accumulate
from typing import NamedTuple

import icu

LATIN, CYRILLIC, ARABIC, HAN = "latin", "cyrillic", "arabic", "han"
# Latin renderings of each script: the first is what the person's own passport says.
SCHEMES: dict[str, tuple[str, ...]] = {
    LATIN: ("latin",),
    CYRILLIC: ("icao", "bgn", "de", "fr"),
    ARABIC: ("en", "fr", "de"),
    HAN: ("pinyin", "wade"),
}
# The transliteration convention an agency writing in this language tends to use.
LANGUAGE_SCHEMES = {"DE": "de", "FR": "fr"}


@dataclass(frozen=True)
class Origin:
    """A country people come from: nationality, Faker locale, script, share of records."""

    country: str
    locale: str
    script: str
    weight: float


ORIGINS: dict[str, Origin] = {
    o.country: o
    for o in (
        Origin("DE", "de_DE", LATIN, 10),
        Origin("FR", "fr_FR", LATIN, 9),
        Origin("IT", "it_IT", LATIN, 8),
        Origin("ES", "es_ES", LATIN, 7),
        Origin("TR", "tr_TR", LATIN, 8),
        Origin("US", "en_US", LATIN, 6),
        Origin("NG", "yo_NG", LATIN, 6),
        Origin("RU", "ru_RU", CYRILLIC, 9),
        Origin("UA", "uk_UA", CYRILLIC, 7),
        Origin("EG", "ar_AA", ARABIC, 7),
        Origin("SY", "ar_AA", ARABIC, 6),
        Origin("SA", "ar_SA", ARABIC, 3),
        Origin("CN", "zh_CN", HAN, 8),
    )
}
# Where an agency's country writes a script natively, it records such names natively.
NATIVE_SCRIPT = {
    "RU": CYRILLIC,
    "UA": CYRILLIC,
    "EG": ARABIC,
    "SY": ARABIC,
    "SA": ARABIC,
    "CN": HAN,
}
BIRTH_PLACES: dict[str, tuple[str, ...]] = {
    "DE": ("Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Leipzig", "Duisburg"),
    "FR": ("Paris", "Marseille", "Lyon", "Toulouse", "Lille", "Nice", "Saint-Denis"),
    "IT": ("Roma", "Milano", "Napoli", "Torino", "Palermo", "Bari", "Reggio Calabria"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Sevilla", "Málaga", "Algeciras"),
    "TR": ("İstanbul", "Ankara", "İzmir", "Bursa", "Gaziantep", "Diyarbakır"),
    "US": ("New York", "Los Angeles", "Chicago", "Houston", "Miami", "Phoenix"),
    "NG": ("Lagos", "Abuja", "Kano", "Ibadan", "Port Harcourt", "Benin City"),
    "RU": ("Moscow", "Saint Petersburg", "Kazan", "Yekaterinburg", "Rostov-on-Don"),
    "UA": ("Kyiv", "Kharkiv", "Odesa", "Lviv", "Dnipro", "Zaporizhzhia"),
    "EG": ("Cairo", "Alexandria", "Giza", "Port Said", "Asyut"),
    "SY": ("Damascus", "Aleppo", "Homs", "Latakia", "Deir ez-Zor"),
    "SA": ("Riyadh", "Jeddah", "Mecca", "Dammam"),
    "CN": ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Wenzhou", "Fuzhou"),
}
POOL = 2000  # names per origin, gender and part: a 4-million-name space per origin


def title(text: str) -> str:
    """Capitalise each word and each part of a hyphenated word; leave the rest as written."""
    return re.sub(r"(^|[\s\-'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


# --- Cyrillic ------------------------------------------------------------------------------

_CYR_COMMON = dict(
    zip(
        "абвгдезиклмнопрстуфхцчшщъыьэ",
        # fmt: off
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "z",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "ie",
            "y",
            "_",
            "e",
        ],
        # fmt: on
        strict=True,
    )
)
_CYR: dict[str, dict[str, str]] = {
    "icao": _CYR_COMMON | {"ё": "e", "ж": "zh", "й": "i", "ю": "iu", "я": "ia"},
    "bgn": _CYR_COMMON | {"ё": "e", "ж": "zh", "й": "y", "ъ": "_", "ю": "yu", "я": "ya"},
    "de": _CYR_COMMON
    | {"в": "w", "ё": "jo", "ж": "sch", "з": "s", "й": "i", "х": "ch", "ц": "z"}
    | {"ч": "tsch", "ш": "sch", "щ": "schtsch", "ъ": "_", "ю": "ju", "я": "ja"},
    "fr": _CYR_COMMON
    | {"ё": "io", "ж": "j", "й": "ï", "у": "ou", "ч": "tch", "ш": "ch", "щ": "chtch"}
    | {"ъ": "_", "ю": "iou", "я": "ia"},
}
# Ukrainian letters, and the Ukrainian reading of г and и.
_UKR: dict[str, dict[str, str]] = {
    "icao": {"г": "h", "ґ": "g", "є": "ie", "и": "y", "і": "i", "ї": "i"},
    "bgn": {"г": "h", "ґ": "g", "є": "ye", "и": "y", "і": "i", "ї": "yi"},
    "de": {"г": "h", "ґ": "g", "є": "je", "и": "y", "і": "i", "ї": "ji"},
    "fr": {"г": "h", "ґ": "g", "є": "ie", "и": "y", "і": "i", "ї": "ï"},
}
_VOWELS_CYR = set("аеёиоуыэюяєіїaeiouy")
# The letters at the start of a word (or after a vowel) that BGN and German write with y/j.
_IOTATED: dict[str, dict[str, str]] = {
    "fr": {},
    "bgn": {"е": "ye", "ё": "yo", "є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"},
    "de": {"е": "je", "ё": "jo", "є": "je", "ї": "ji", "й": "j", "ю": "ju", "я": "ja"},
    "icao": {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"},
}


@cache
def _cyrillic_tables(scheme: str, ukrainian: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(letters, letters at a word's or syllable's start) for a scheme; ICAO writes Russian
    е, ю, я the same everywhere, Ukrainian ones with y at the start."""
    table = _CYR[scheme] | (_UKR[scheme] if ukrainian else {})
    iotated = _IOTATED[scheme] if ukrainian or scheme != "icao" else {}
    return table, iotated


def _cyrillic_word(word: str, scheme: str, ukrainian: bool) -> str:
    table, iotated = _cyrillic_tables(scheme, ukrainian)
    out: list[str] = []
    lower = word.lower()
    for i, char in enumerate(lower):
        before = lower[i - 1] if i else ""
        after = lower[i + 1] if i + 1 < len(lower) else ""
        if scheme in ("bgn", "de") and char == "й" and before and before in "иы" and not after:
            text = "" if scheme == "de" else "y"  # Дмитрий: Dmitri (Duden), Dmitriy (BGN)
        elif char in iotated and (not before or before in _VOWELS_CYR or before in "ъь"):
            text = iotated[char]
        elif scheme == "fr" and char == "г" and after and after in "еиэ":
            text = "gu"  # Сергей: Sergueï, as French reads "ge" otherwise
        elif (
            scheme in ("fr", "de")
            and char == "с"
            and before in _VOWELS_CYR
            and after in (_VOWELS_CYR)
        ):
            text = "ss"  # an s between vowels reads z in French and German
        elif scheme == "fr" and char == "й" and before not in _VOWELS_CYR:
            text = "i"
        else:
            text = table.get(char, char)
        out.append(text.replace("_", ""))
    latin = "".join(out)
    if scheme == "fr":
        latin = re.sub(r"([oe])v$", r"\1ff", latin)  # Иванов: Ivanoff, the émigré spelling
    return latin


def cyrillic_to_latin(text: str, scheme: str, ukrainian: bool = False) -> str:
    words = (_cyrillic_word(w, scheme, ukrainian) for w in re.split(r"(\s|-)", text))
    return title("".join(words))


# --- Arabic --------------------------------------------------------------------------------

# Consonants per scheme: English, French and German popular spelling.
_AR_CONSONANTS: dict[str, tuple[str, str, str]] = {
    "ب": ("b", "b", "b"),
    "ت": ("t", "t", "t"),
    "ث": ("th", "t", "s"),
    "ج": ("j", "dj", "dsch"),
    "ح": ("h", "h", "h"),
    "خ": ("kh", "kh", "ch"),
    "د": ("d", "d", "d"),
    "ذ": ("dh", "d", "d"),
    "ر": ("r", "r", "r"),
    "ز": ("z", "z", "s"),
    "س": ("s", "s", "s"),
    "ش": ("sh", "ch", "sch"),
    "ص": ("s", "s", "s"),
    "ض": ("d", "d", "d"),
    "ط": ("t", "t", "t"),
    "ظ": ("z", "z", "s"),
    "ع": ("", "", ""),
    "غ": ("gh", "gh", "gh"),
    "ف": ("f", "f", "f"),
    "ق": ("q", "k", "k"),
    "ك": ("k", "k", "k"),
    "ل": ("l", "l", "l"),
    "م": ("m", "m", "m"),
    "ن": ("n", "n", "n"),
    "ه": ("h", "h", "h"),
    "ء": ("", "", ""),
}
_AR_LONG_A = set("اآأى")
_AR_VOWEL_LETTERS = _AR_LONG_A | set("إةويئؤ")
_AR_SCHEME_INDEX = {"en": 0, "fr": 1, "de": 2}
_AR_ARTICLE = {"en": "al-", "fr": "El ", "de": "al-"}
_AR_U = {"en": "u", "fr": "ou", "de": "u"}
_AR_Y = {"en": "y", "fr": "y", "de": "j"}
# The commonest names have settled spellings no letter-by-letter rule produces.
_AR_SPELLINGS: dict[str, tuple[str, str, str]] = {
    "محمد": ("Mohammed", "Mohamed", "Mohammed"),
    "أحمد": ("Ahmed", "Ahmed", "Ahmad"),
    "علي": ("Ali", "Ali", "Ali"),
    "حسن": ("Hassan", "Hassan", "Hasan"),
    "حسين": ("Hussein", "Hussein", "Hussein"),
    "عمر": ("Omar", "Omar", "Umar"),
    "يوسف": ("Youssef", "Youssef", "Jussuf"),
    "إبراهيم": ("Ibrahim", "Ibrahim", "Ibrahim"),
    "خالد": ("Khaled", "Khaled", "Chalid"),
    "محمود": ("Mahmoud", "Mahmoud", "Mahmud"),
    "مصطفى": ("Mustafa", "Moustafa", "Mustafa"),
    "سعيد": ("Said", "Saïd", "Said"),
    "جمال": ("Jamal", "Djamel", "Dschamal"),
    "طارق": ("Tariq", "Tarek", "Tarik"),
    "عبد الله": ("Abdullah", "Abdallah", "Abdullah"),
    "فاطمة": ("Fatima", "Fatma", "Fatima"),
    "عائشة": ("Aisha", "Aïcha", "Aischa"),
    "مريم": ("Maryam", "Meriem", "Marjam"),
    "ليلى": ("Layla", "Leila", "Laila"),
    "زينب": ("Zainab", "Zeineb", "Sainab"),
    "هدى": ("Huda", "Houda", "Huda"),
    "نور": ("Nour", "Nour", "Nur"),
    "ياسمين": ("Yasmin", "Yasmine", "Jasmin"),
    "الحسن": ("al-Hassan", "El Hassan", "al-Hasan"),
    "المصري": ("al-Masri", "El Masry", "al-Masri"),
    "منصور": ("Mansour", "Mansour", "Mansur"),
    "خليل": ("Khalil", "Khalil", "Chalil"),
    "صالح": ("Saleh", "Salah", "Salih"),
    "زيد": ("Zaid", "Zeid", "Seid"),
}
_AR_MARKS = re.compile("[\u064b-\u0650\u0652]")  # vowel marks other than shadda


def _arabic_word(word: str, scheme: str) -> str:
    """Letter by letter; the short vowels Arabic does not write are guessed: i after a long a
    (Khalid, Hamid), a elsewhere between two consonants (Jamal, Karim)."""
    column = _AR_SCHEME_INDEX[scheme]
    article = ""
    if word.startswith("ال") and len(word) > 3:
        article, word = _AR_ARTICLE[scheme], word[2:]
    letters: list[str] = []
    doubles: set[int] = set()  # letters a shadda doubles
    for char in word:
        if char == "\u0651":
            doubles.add(len(letters) - 1)
        else:
            letters.append(char)
    out: list[str] = []
    last_vowel = ""  # "" after a consonant, "aa" after a long a, else the short vowel
    for i, char in enumerate(letters):
        nxt = letters[i + 1] if i + 1 < len(letters) else ""
        if char in _AR_LONG_A:
            out.append("a")
            last_vowel = "a" if i == 0 else "aa"
        elif char in "إة":
            out.append("i" if char == "إ" else "a")
            last_vowel = out[-1]
        elif char in "وؤ" and not (i == 0 or last_vowel):
            out.append(_AR_U[scheme])  # waw after a consonant is a long u
            last_vowel = "u"
        elif char in "يئ" and not (i == 0 or last_vowel):
            out.append("i")  # yeh after a consonant is a long i
            last_vowel = "i"
        else:
            if char in "وؤ":
                text = "w"
            elif char in "يئ":
                text = _AR_Y[scheme]
            elif i == 0 and char == "ع":
                text = "a"  # an initial ain carries its vowel: Abbas, Adel
            else:
                text = _AR_CONSONANTS.get(char, ("", "", ""))[column]
            # a doubled first letter is the article's assimilated l: ad-Din, not al-Ddin
            out.append(text * 2 if i in doubles and i and len(text) == 1 else text)
            last_vowel = ""
            # an initial vowel and this consonant close a syllable: Ibtisam, Ansari
            opens = i == 1 and letters[0] in "اأإآ"
            if nxt and nxt not in _AR_VOWEL_LETTERS and not opens:
                out.append("i" if i and letters[i - 1] in _AR_LONG_A else "a")
                last_vowel = out[-1]
    latin = re.sub(r"([aiu])\1+", r"\1", "".join(out))
    return article + latin.capitalize()


def arabic_to_latin(text: str, scheme: str) -> str:
    text = _AR_MARKS.sub("", text)
    known = _AR_SPELLINGS.get(text.replace("\u0651", ""))
    if known:
        return known[_AR_SCHEME_INDEX[scheme]]
    words = [w for w in text.split() if w]
    parts = []
    for word in words:
        known = _AR_SPELLINGS.get(word.replace("\u0651", ""))
        parts.append(known[_AR_SCHEME_INDEX[scheme]] if known else _arabic_word(word, scheme))
    return " ".join(parts)


# --- Chinese -------------------------------------------------------------------------------


@cache
def _pinyin() -> icu.Transliterator:
    # Han-Latin/Names reads characters as names (单 is Shan, not Dan)
    return icu.Transliterator.createInstance("Han-Latin/Names; Latin-ASCII; Lower")


def pinyin_syllables(text: str) -> list[str]:
    return _pinyin().transliterate(text).split()


# Pinyin initials (two-letter ones first) and how Wade-Giles writes them.
_WADE_INITIALS = {
    "zh": "ch",
    "ch": "ch",
    "sh": "sh",
    "b": "p",
    "p": "p",
    "m": "m",
    "f": "f",
    "d": "t",
    "t": "t",
    "n": "n",
    "l": "l",
    "g": "k",
    "k": "k",
    "h": "h",
    "j": "ch",
    "q": "ch",
    "x": "hs",
    "r": "j",
    "z": "ts",
    "c": "ts",
    "s": "s",
    "y": "y",
    "w": "w",
}
_WADE_FINALS = (("ong", "ung"), ("ian", "ien"), ("yan", "yen"), ("ie", "ieh"), ("ye", "yeh"))


def wade_giles(syllable: str) -> str:
    """A pinyin syllable in Wade-Giles without its apostrophes, as Taiwan and older Western
    records write names: Zhang Chang, Xu Hsu, Guo Kuo, Zhi Chih, Zi Tzu."""
    if syllable in ("zi", "ci", "si", "er"):
        return {"zi": "tzu", "ci": "tzu", "si": "ssu", "er": "erh"}[syllable]
    pinyin = syllable[:2] if syllable[:2] in _WADE_INITIALS else syllable[:1]
    if pinyin not in _WADE_INITIALS:
        pinyin = ""
    initial, final = _WADE_INITIALS.get(pinyin, ""), syllable[len(pinyin) :]
    if pinyin in ("zh", "ch", "sh", "r") and final == "i":
        final = "ih"
    if pinyin in ("g", "k", "h") and final == "e":
        final = "o"
    for ending, wade in _WADE_FINALS:
        if final.endswith(ending):
            final = final[: -len(ending)] + wade
            break
    return initial + final


# --- Latin spellings -----------------------------------------------------------------------

_GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe"})
_TURKISH_FOLD = str.maketrans({"ı": "i", "İ": "I", "Ü": "Ue"})


def ascii_fold(text: str, german: bool = False) -> str:
    """A name as a keyboard without its letters writes it: Müller as Mueller (German
    convention) or Muller, Şahin as Sahin."""
    text = text.translate(_GERMAN_FOLD if german else _TURKISH_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def typo(rng: random.Random, text: str) -> str:
    """One slip of the keyboard: a letter doubled, dropped, swapped or mistyped."""
    positions = [i for i, c in enumerate(text) if c.isalpha()]
    if len(positions) < 4:
        return text
    i = rng.choice(positions[1:-1])
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i] + text[i:]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2 and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    vowels = "aeiou"
    swap = vowels[(vowels.find(text[i].lower()) + 1) % 5] if text[i].lower() in vowels else "e"
    return text[:i] + swap + text[i + 1 :]


# --- name pools ----------------------------------------------------------------------------

_CLEAN_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,2}$")


@dataclass(frozen=True)
class Names:
    """One part (given or family name) for one origin and gender: the names in their own
    script, and each Latin rendering, index for index."""

    native: tuple[str, ...]
    latin: dict[str, tuple[str, ...]]
    # running weights but the last, and their total; empty when all are equally common
    bounds: tuple[float, ...]
    total: float

    def draw(self, random: Callable[[], float]) -> int:
        """An index, by weight: bisecting one uniform draw beats ``random.choices`` tenfold."""
        if self.bounds:
            return bisect(self.bounds, random() * self.total)
        return int(random() * len(self.native))


def _faker_names(provider: object, *attributes: str) -> tuple[list[str], list[float]]:
    for attribute in attributes:
        found = getattr(provider, attribute, None)
        if found:
            items = list(found.items()) if isinstance(found, dict) else [(n, 1.0) for n in found]
            kept = [(n, float(w)) for n, w in items if _CLEAN_NAME.match(n)]
            return [n for n, _ in kept], [w for _, w in kept]
    raise LookupError(f"faker person provider has none of {attributes}")


def _render(origin: Origin, scheme: str, native: str, given: bool) -> str:
    if origin.script == CYRILLIC:
        return cyrillic_to_latin(native, scheme, ukrainian=origin.country == "UA")
    if origin.script == ARABIC:
        return arabic_to_latin(native, scheme)
    if origin.script == HAN:
        syllables = pinyin_syllables(native)
        if scheme == "wade":
            syllables = [wade_giles(s) for s in syllables]
            # Wade-Giles hyphenates a given name's syllables: Hsiu-ying
            return "-".join(syllables).capitalize() if given else "".join(syllables).title()
        return "".join(syllables).capitalize()
    return native


@cache
def pool(country: str, gender: str, given: bool) -> Names:
    """Given or family names of one origin and gender, built once per process (Faker seeded
    with a constant: the same pools for every seed, so data sets differ only by draws)."""
    origin = ORIGINS[country]
    # the locale's person provider class holds the lists; no Faker instance is needed
    provider = importlib.import_module(f"faker.providers.person.{origin.locale}").Provider
    if given:
        names, weights = _faker_names(provider, f"first_names_{gender}", "first_names")
    else:
        names, weights = _faker_names(provider, f"last_names_{gender}", "last_names")
    rng = random.Random(f"{country}:{gender}:{given}")
    if origin.country == "ES" and not given:
        # Spaniards carry two family names: García López
        drawn = [
            f"{a} {b}" for a, b in zip(*(rng.choices(names, k=POOL) for _ in "ab"), strict=True)
        ]
        names, weights = list(dict.fromkeys(drawn)), []
    elif len(names) > POOL:
        names = sorted(set(rng.choices(names, weights or None, k=POOL)))
        weights = []
    latin = {
        scheme: tuple(_render(origin, scheme, name, given) for name in names)
        for scheme in SCHEMES[origin.script]
    }
    running = tuple(accumulate(weights))
    return Names(tuple(names), latin, bounds=running[:-1], total=running[-1] if running else 0)


@cache
def pair(country: str, gender: str) -> tuple[Names, Names]:
    """(given names, family names) of one origin and gender."""
    return pool(country, gender, True), pool(country, gender, False)


# --- persons -------------------------------------------------------------------------------


class Person(NamedTuple):
    """Who someone is, as indexes into the name pools: rendering happens per record. (A
    tuple: made millions of times, a frozen dataclass costs four times as much.)"""

    country: str
    gender: str
    first: int
    last: int
    birth: str

    @property
    def script(self) -> str:
        return ORIGINS[self.country].script


class Origins(NamedTuple):
    """Where the people in one agency's records come from: countries, running weights but
    the last, and the total weight."""

    countries: tuple[str, ...]
    bounds: tuple[float, ...]
    total: float


def origins_seen_by(home: str | None) -> Origins:
    """Half an agency's people are its own nationals, half come from everywhere."""
    countries = tuple(ORIGINS)
    weights = [ORIGINS[c].weight for c in countries]
    total = sum(weights)
    if home in ORIGINS:
        weights = [w + (total if c == home else 0) for c, w in zip(countries, weights, strict=True)]
    running = tuple(accumulate(weights))
    return Origins(countries, running[:-1], running[-1])


@cache
def dates_in(first_year: int, last_year: int) -> tuple[str, ...]:
    """Every day of those years as ISO dates: drawing one is an index, not a date
    computation."""
    start, end = date(first_year, 1, 1).toordinal(), date(last_year + 1, 1, 1).toordinal()
    return tuple(date.fromordinal(day).isoformat() for day in range(start, end))


def draw_person(
    rng: random.Random, origins: Origins, born: tuple[int, int] = (1955, 2006)
) -> Person:
    random = rng.random
    country = origins.countries[bisect(origins.bounds, random() * origins.total)]
    gender = "male" if random() < 0.72 else "female"  # as in police records
    firsts, lasts = pair(country, gender)
    days = dates_in(*born)
    birth = days[int(random() * len(days))]
    return Person(country, gender, firsts.draw(random), lasts.draw(random), birth)


def parts(person: Person, scheme: str | None) -> tuple[str, str]:
    """(given name, family name) natively (``scheme`` None) or in a Latin scheme."""
    firsts, lasts = pair(person.country, person.gender)
    if scheme is None or person.script == LATIN:
        return firsts.native[person.first], lasts.native[person.last]
    return firsts.latin[scheme][person.first], lasts.latin[scheme][person.last]


def full_name(person: Person, scheme: str | None) -> str:
    """The name as its own culture writes it: Chinese family name first (natively with no
    space), everyone else given name first."""
    given, family = parts(person, scheme)
    if person.script == HAN:
        return family + given if scheme is None else f"{family} {given}"
    return f"{given} {family}"


def scheme_for(rng: random.Random, person: Person, agency_country: str) -> str | None:
    """How an agency writes this person's name: natively where its country uses the script,
    else mostly as the passport has it, sometimes in its own language's convention, now and
    then copied in the original script."""
    if person.script == LATIN:
        return None
    native_here = NATIVE_SCRIPT.get(agency_country) == person.script
    if rng.random() < (0.85 if native_here else 0.15):
        return None
    schemes = SCHEMES[person.script]
    own = LANGUAGE_SCHEMES.get(agency_country)
    if own in schemes and rng.random() < 0.4:
        return own
    return schemes[0] if rng.random() < 0.7 else rng.choice(schemes)


def variant(rng: random.Random, person: Person, scheme: str | None) -> tuple[str, list[str]]:
    """Another agency's spelling of a person first recorded under ``scheme``: another script
    or transliteration, the family name first or in capitals, a typo, letters without their
    accents. Returns the name and what was changed."""
    how: list[str] = []
    original = full_name(person, scheme)
    if person.script != LATIN:
        choices = [s for s in (None, *SCHEMES[person.script]) if s != scheme]
        scheme = rng.choice(choices)
        how.append(f"written {scheme or 'in ' + person.script + ' script'}")
        written = full_name(person, scheme)
        # two schemes often agree (Oleksandr in ICAO and BGN): then a spelling change too
        if written != original and (scheme is None or rng.random() < 0.6):
            return written, how
    given, family = parts(person, scheme)
    style = rng.randrange(7)
    if style == 0:
        name, how = f"{family.upper()} {given}", [*how, "family name first, in capitals"]
    elif style == 1:
        name, how = f"{family}, {given}", [*how, "family name first"]
    elif style == 2 and not (family + given).isascii():
        german = person.country == "DE"
        name, how = ascii_fold(f"{given} {family}", german), [*how, "accents dropped"]
    elif style == 3 and " " in family:
        name, how = f"{given} {family.split()[0]}", [*how, "second family name dropped"]
    elif style == 4:
        name, how = f"{given[0]}. {family}", [*how, "given name as initial"]
    elif style == 5:
        # a Chinese name in Western order, anyone else's in Chinese (or Hungarian) order
        swapped = f"{given} {family}" if person.script == HAN else f"{family} {given}"
        name, how = swapped, [*how, "order swapped"]
    else:
        name, how = typo(rng, f"{given} {family}"), [*how, "typo"]
    if name == original:  # a typo that swapped two equal letters, say
        name, how = f"{family.upper()}, {given}", [*how[:-1], "family name first, in capitals"]
    return name, how


def birth_variant(rng: random.Random, birth: str) -> tuple[str, str | None]:
    """The birth date as another record may have it, and what differs (None: the same)."""
    year, month, day = birth.split("-")
    roll = rng.random()
    if roll < 0.1 and int(day) <= 12 and day != month:
        return f"{year}-{day}-{month}", "day and month swapped"
    if roll < 0.2:
        return year, "year only"
    if roll < 0.25:
        shifted = int(year) + rng.choice((-1, 1))
        if (month, day) != ("02", "29"):  # a leap day has no date a year off
            return f"{shifted}-{month}-{day}", "year off by one"
    return birth, None


def birth_place(rng: random.Random, person: Person) -> str:
    return rng.choice(BIRTH_PLACES[person.country])
