"""A deterministic, labelled evaluation set for person-name matching.

Persons come from Faker locales (and, for Arab names, from a table of Arabic names with their
usual Latin spellings, since no transliteration turns محمد into "Mohammed"). Each target person
gets one query the way officers and foreign registers actually write names: in another script
or transliteration scheme (Сергей as Sergey, Serguei, Sergej; 张伟 as Zhang Wei; Mohammed
Al-Hassan as محمد الحسن), with a typo, given and family name swapped, "Family, Given", the
middle name or patronymic left out, and the birth date with day and month swapped or only the
year known. Distractors (including namesakes born in other years and relatives sharing the
family name) fill the index around them.

Nothing here uses polex's own transliteration to make queries, so the set measures matching,
not agreement with itself. Same seed, same set (for a given Faker version)."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import icu
from faker import Faker

SEED = 7_342
TARGETS = 300
DISTRACTORS = 2_000

# Arabic names and their usual Latin spellings (first: the commonest).
ARABIC_MALE = {
    "محمد": ["Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed"],
    "أحمد": ["Ahmed", "Ahmad"],
    "علي": ["Ali"],
    "حسن": ["Hassan", "Hasan"],
    "حسين": ["Hussein", "Hussain", "Husain", "Hossein"],
    "عمر": ["Omar", "Umar"],
    "خالد": ["Khaled", "Khalid"],
    "يوسف": ["Youssef", "Yusuf", "Yousef", "Yousif"],
    "إبراهيم": ["Ibrahim", "Ebrahim"],
    "مصطفى": ["Mustafa", "Moustafa", "Mostafa"],
    "محمود": ["Mahmoud", "Mahmud"],
    "عبد الله": ["Abdullah", "Abdallah", "Abd Allah"],
    "عبد الرحمن": ["Abdulrahman", "Abdul Rahman", "Abdelrahman", "Abd al-Rahman"],
    "سعيد": ["Saeed", "Said", "Saed"],
    "كريم": ["Karim", "Kareem"],
    "طارق": ["Tariq", "Tarek", "Tareq"],
    "ياسر": ["Yasser", "Yasir"],
    "فيصل": ["Faisal", "Faysal", "Feisal"],
    "حمزة": ["Hamza", "Hamzah"],
    "بلال": ["Bilal", "Belal"],
    "جمال": ["Jamal", "Djamal"],
    "سمير": ["Samir", "Sameer"],
    "ناصر": ["Nasser", "Nasir", "Naser"],
    "وليد": ["Walid", "Waleed"],
    "زياد": ["Ziad", "Ziyad"],
    "عادل": ["Adel", "Adil"],
    "هشام": ["Hisham", "Hesham"],
    "ماجد": ["Majed", "Majid"],
    "رامي": ["Rami", "Ramy"],
    "سامي": ["Sami", "Samy"],
    "أنس": ["Anas"],
    "عماد": ["Imad", "Emad"],
    "نبيل": ["Nabil", "Nabeel"],
    "إسماعيل": ["Ismail", "Ismael", "Esmail"],
    "مروان": ["Marwan"],
    "رشيد": ["Rashid", "Rachid", "Rasheed"],
}
ARABIC_FEMALE = {
    "فاطمة": ["Fatima", "Fatma", "Fatimah"],
    "عائشة": ["Aisha", "Aicha", "Ayesha", "Aysha"],
    "مريم": ["Maryam", "Mariam"],
    "زينب": ["Zainab", "Zeinab", "Zaynab"],
    "خديجة": ["Khadija", "Khadijah", "Khadidja"],
    "نور": ["Nour", "Noor", "Nur"],
    "ليلى": ["Layla", "Leila", "Laila"],
    "سارة": ["Sara", "Sarah"],
    "هدى": ["Huda", "Hoda"],
    "أمينة": ["Amina", "Aminah"],
    "رنا": ["Rana"],
    "سلمى": ["Salma", "Selma"],
    "دينا": ["Dina"],
    "ياسمين": ["Yasmin", "Yasmine", "Jasmin"],
    "هالة": ["Hala"],
    "منى": ["Mona", "Muna"],
    "سعاد": ["Souad", "Suad"],
    "نادية": ["Nadia", "Nadiya"],
    "لبنى": ["Lubna", "Loubna"],
}
ARABIC_FAMILY = {
    "الحسن": ["Al-Hassan", "Alhasan", "El Hassan", "Al Hasan"],
    "المصري": ["Al-Masri", "El Masry", "Almasri"],
    "الشامي": ["Al-Shami", "Alshami", "El Shami"],
    "العلي": ["Al-Ali", "Alali"],
    "الخطيب": ["Al-Khatib", "El Khatib", "Alkhateeb"],
    "حداد": ["Haddad"],
    "النجار": ["Al-Najjar", "Alnajjar", "El Najjar"],
    "العمري": ["Al-Omari", "Alomari", "Al Omari"],
    "الزهراني": ["Al-Zahrani", "Alzahrani"],
    "القحطاني": ["Al-Qahtani", "Alqahtani", "Al Kahtani"],
    "الحربي": ["Al-Harbi", "Alharbi"],
    "الدوسري": ["Al-Dosari", "Aldosari", "Al-Dossary"],
    "التميمي": ["Al-Tamimi", "Altamimi"],
    "الشمري": ["Al-Shammari", "Alshammari", "Al Shamari"],
    "منصور": ["Mansour", "Mansur"],
    "سليمان": ["Suleiman", "Sulaiman", "Soliman"],
    "عثمان": ["Othman", "Uthman"],
    "صالح": ["Saleh", "Salih"],
    "درويش": ["Darwish", "Darwich"],
    "قاسم": ["Qasim", "Kassem", "Kasim"],
    "يونس": ["Younes", "Yunus", "Younis"],
    "عبيد": ["Obeid", "Ubaid"],
    "حمدان": ["Hamdan"],
    "الأحمد": ["Al-Ahmad", "Alahmad", "Al Ahmed"],
    "البغدادي": ["Al-Baghdadi", "Albaghdadi", "El Baghdadi"],
    "الحلبي": ["Al-Halabi", "Halabi"],
    "السيد": ["Al-Sayed", "El Sayed", "Elsayed"],
    "عيسى": ["Issa", "Eissa", "Isa"],
    "خليل": ["Khalil", "Khaleel"],
    "سالم": ["Salem", "Salim"],
    "جابر": ["Jaber", "Jabir"],
}
ARAB_NATIONALITIES = ("sy", "iq", "eg", "sa", "jo", "lb", "ye", "ly")

# Russian transliterations other than the one polex reads Cyrillic with: ICAO 9303 (Russian
# passports since 2013), French and German usage. BGN comes from ICU.
_ICAO = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "-",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}
_FRENCH = _ICAO | {
    "ё": "io",
    "ж": "j",
    "й": "i",
    "у": "ou",
    "ч": "tch",
    "ш": "ch",
    "щ": "chtch",
    "ъ": "-",
    "ю": "iou",
}
_GERMAN = _ICAO | {
    "в": "w",
    "ё": "jo",
    "ж": "sch",
    "з": "s",
    "й": "j",
    "х": "ch",
    "ц": "z",
    "ч": "tsch",
    "ш": "sch",
    "щ": "schtsch",
    "ъ": "-",
    "ю": "ju",
    "я": "ja",
}
_UKRAINIAN = {"г": "h", "ґ": "g", "є": "ie", "и": "y", "і": "i", "ї": "i", "'": "-"}
# Latin letters as passports spell them in the machine-readable zone (ICAO 9303).
_MRZ_LATIN = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "æ": "ae",
    "ø": "oe",
    "å": "aa",
    "ł": "l",
    "ı": "i",
    "đ": "d",
}

LATIN_LOCALES = ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "tr_TR")
NATIONALITY = {
    "en_US": "us",
    "de_DE": "de",
    "fr_FR": "fr",
    "es_ES": "es",
    "it_IT": "it",
    "pl_PL": "pl",
    "tr_TR": "tr",
    "ru_RU": "ru",
    "uk_UA": "ua",
    "el_GR": "gr",
    "zh_CN": "cn",
}
# Locale mix: about half the persons have names from a non-Latin script.
LOCALE_WEIGHTS = {
    "en_US": 3,
    "de_DE": 2,
    "fr_FR": 2,
    "es_ES": 2,
    "it_IT": 1,
    "pl_PL": 1,
    "tr_TR": 2,
    "ru_RU": 4,
    "uk_UA": 1,
    "el_GR": 1,
    "zh_CN": 3,
    "ar": 4,
}


@dataclass(frozen=True)
class Person:
    """A person in the index, with names as they are on record."""

    id: str
    locale: str
    given: str
    middle: str
    family: str
    gender: str
    birth_date: str
    nationality: str
    as_parts: bool  # on record as firstName/middleName/lastName rather than one name

    @property
    def parts(self) -> tuple[str, str, str]:
        return self.given, self.middle, self.family

    @property
    def name(self) -> str:
        if _is_han(self.family):  # 沈凤英: family name first, no spaces
            return self.family + self.given
        return " ".join(p for p in self.parts if p)

    def spelled(self, parts: tuple[str, str, str]) -> Person:
        given, middle, family = parts
        return replace(self, given=given, middle=middle, family=family)

    def properties(self) -> dict[str, list[str]]:
        props: dict[str, list[str]] = {
            "birthDate": [self.birth_date],
            "nationality": [self.nationality],
            "gender": [self.gender],
        }
        if self.as_parts:
            props["firstName"] = [self.given]
            props["lastName"] = [self.family]
            if self.middle:
                props["middleName"] = [self.middle]
        else:
            props["name"] = [self.name]
        return props


@dataclass(frozen=True)
class Query:
    """A query for one target person, and how it was varied."""

    target: str
    variant: str
    properties: dict[str, list[str]]


def _icu(rules: str) -> icu.Transliterator:
    return icu.Transliterator.createInstance(rules)


def _table(table: dict[str, str], french: bool = False) -> Callable[[str], str]:
    def transliterate(text: str) -> str:
        out = []
        for char in text:
            mapped = table.get(char.lower(), char)
            mapped = "" if mapped == "-" else mapped
            out.append(mapped.capitalize() if char.isupper() else mapped)
        latin = "".join(out)
        if french and latin.endswith(("ov", "ev")):  # Ivanov -> Ivanoff
            latin = latin[:-1] + "ff"
        return latin

    return transliterate


def _icu_scheme(rules: str) -> Callable[[str], str]:
    return lambda text: _icu(rules).transliterate(text).replace("'", "")


SCHEMES: dict[str, list[Callable[[str], str]]] = {
    "ru_RU": [
        _icu_scheme("Russian-Latin/BGN; Latin-ASCII"),
        _table(_ICAO),
        _table(_FRENCH, french=True),
        _table(_GERMAN),
    ],
    "uk_UA": [_icu_scheme("Ukrainian-Latin/BGN; Latin-ASCII"), _table(_ICAO | _UKRAINIAN)],
    "el_GR": [
        _icu_scheme("Greek-Latin/BGN; Latin-ASCII"),
        _icu_scheme("Greek-Latin/UNGEGN; Latin-ASCII"),  # ELOT 743, as on Greek passports
    ],
}


@dataclass
class _Maker:
    """Persons from seeded Faker instances and one seeded random source."""

    rng: random.Random
    fakers: dict[str, Faker] = field(default_factory=dict)

    def faker(self, locale: str) -> Faker:
        if locale not in self.fakers:
            fake = Faker(locale)
            fake.seed_instance(self.rng.randrange(1 << 30))
            self.fakers[locale] = fake
        return self.fakers[locale]

    def birth_date(self) -> str:
        return (date(1950, 1, 1) + timedelta(days=self.rng.randrange(55 * 365))).isoformat()

    def person(self, pid: str, locale: str, family: str | None = None) -> Person:
        """A person with the name written in its own script."""
        gender = self.rng.choice(("male", "female"))
        given, middle, surname = (
            self._arab(gender) if locale == "ar" else self._faker_name(locale, gender)
        )
        nationality = self.rng.choice(ARAB_NATIONALITIES) if locale == "ar" else NATIONALITY[locale]
        return Person(
            id=pid,
            locale=locale,
            given=given,
            middle=middle,
            family=family or surname,
            gender=gender,
            birth_date=self.birth_date(),
            nationality=nationality,
            as_parts=self.rng.random() < 0.2,
        )

    def _faker_name(self, locale: str, gender: str) -> tuple[str, str, str]:
        fake = self.faker(locale)
        male = gender == "male"
        given = fake.first_name_male() if male else fake.first_name_female()
        middle = ""
        if locale in ("ru_RU", "uk_UA"):
            middle = fake.middle_name_male() if male else fake.middle_name_female()
        elif locale == "en_US" and self.rng.random() < 0.3:
            middle = fake.first_name_male() if male else fake.first_name_female()
        if locale == "es_ES":
            family = f"{fake.last_name()} {fake.last_name()}"
        elif locale in ("ru_RU", "uk_UA", "el_GR"):
            family = fake.last_name_male() if male else fake.last_name_female()
        else:
            family = fake.last_name().split()[0]  # de_DE has "Koch II"
        return str(given), str(middle), str(family)

    def _arab(self, gender: str) -> tuple[str, str, str]:
        names = ARABIC_MALE if gender == "male" else ARABIC_FEMALE
        given = self.rng.choice(sorted(names))
        father = self.rng.choice(sorted(ARABIC_MALE)) if self.rng.random() < 0.5 else ""
        return given, father, self.rng.choice(sorted(ARABIC_FAMILY))

    def latin(self, person: Person) -> tuple[str, str, str]:
        """A native-script person's name parts in a Latin spelling picked at random among those
        in use for that script."""
        given, middle, family = person.parts
        if person.locale == "ar":
            return (
                self.rng.choice((ARABIC_MALE | ARABIC_FEMALE)[given]),
                self.rng.choice(ARABIC_MALE[middle]) if middle else "",
                self.rng.choice(ARABIC_FAMILY[family]),
            )
        if person.locale == "zh_CN":
            return self._pinyin(given, family)
        scheme = self.rng.choice(SCHEMES[person.locale])
        return scheme(given), scheme(middle) if middle else "", scheme(family)

    def _pinyin(self, given: str, family: str) -> tuple[str, str, str]:
        """Pinyin as Chinese names appear in Latin: the given name's syllables joined (the
        standard), hyphenated or split; family names often in capitals."""
        syllables = _icu("Han-Latin/Names; Latin-ASCII").transliterate(given).split()
        surname = "".join(_icu("Han-Latin/Names; Latin-ASCII").transliterate(family).split())
        style = self.rng.choice(("joined", "joined", "hyphen", "split", "upper"))
        if style == "hyphen":
            given_latin = "-".join(syllables).capitalize()
        elif style == "split":
            given_latin = " ".join(s.capitalize() for s in syllables)
        else:
            given_latin = "".join(syllables).capitalize()
        family_latin = surname.upper() if style == "upper" else surname.capitalize()
        return given_latin, "", family_latin

    def on_record(self, person: Person) -> Person:
        """How a register holds the person: half of those with a non-Latin name hold it in a
        Latin spelling."""
        if person.locale in LATIN_LOCALES or self.rng.random() < 0.5:
            return person
        return person.spelled(self.latin(person))


def mrz_latin(text: str) -> str:
    """A Latin name as a passport's machine-readable zone spells it: Müller -> Mueller."""
    out = "".join(_MRZ_LATIN.get(c.lower(), c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", out) if c.isascii())


def typo(text: str, rng: random.Random) -> str:
    """One edit (substitution, deletion, insertion or transposition) in one word of four
    letters or more, not on its first letter: where people mistype."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    if not long:
        return text
    index = rng.choice(long)
    word = words[index]
    pos = rng.randrange(1, len(word) - 1)
    letter = rng.choice("abcdefghiklmnoprstuvy")
    edits = (
        word[:pos] + letter + word[pos + 1 :],
        word[:pos] + word[pos + 1 :],
        word[:pos] + letter + word[pos:],
        word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :],
    )
    words[index] = rng.choice([e for e in edits if e.lower() != word.lower()])
    return " ".join(words)


def _birth_variant(person: Person, rng: random.Random) -> tuple[str, str | None]:
    """The birth date as the query gives it, and how it was varied."""
    year, month, day = person.birth_date.split("-")
    roll = rng.random()
    if roll < 0.2 and int(day) <= 12 and day != month:
        return "dob-swapped", f"{year}-{day}-{month}"
    if roll < 0.4:
        return "dob-year", year
    if roll < 0.45:
        return "dob-year+1", f"{int(year) + 1}-{month}-{day}"
    if roll < 0.5:
        return "dob-none", None
    return "dob-exact", person.birth_date


def _is_latin(text: str) -> bool:
    return all(c.isascii() or unicodedata.name(c, "").startswith("LATIN") for c in text)


def _is_han(text: str) -> bool:
    return bool(text) and all(unicodedata.name(c, "").startswith("CJK") for c in text)


def _name_variant(native: Person, stored: Person, maker: _Maker) -> tuple[str, str]:
    """The name as the query gives it, and how it was varied: a foreign name in the other
    script than on record, maybe further varied; a Latin one varied once."""
    rng = maker.rng
    variants = []
    given, middle, family = stored.parts
    foreign = native.locale not in LATIN_LOCALES
    if foreign:
        variants.append("script")
        given, middle, family = native.parts if stored != native else maker.latin(native)
    elif mrz_latin(native.name) != native.name and rng.random() < 0.5:
        variants.append("mrz")
        given, middle, family = (mrz_latin(p) for p in native.parts)
    if _is_han(family):  # written as one word: nothing to swap or leave out
        return "+".join(variants), family + given
    if not foreign or rng.random() < 0.5:
        options = ["swap", "comma", "typo"] + (["middle"] if middle else [])
        if not _is_latin(given + middle + family):
            options.remove("typo")
        variants.append(rng.choice(options))
    how = variants[-1]
    if how == "middle":
        middle = ""
    name = " ".join(p for p in (given, middle, family) if p)
    if how == "swap":
        name = " ".join(p for p in (family, given, middle) if p)
    elif how == "comma":
        name = f"{family}, " + " ".join(p for p in (given, middle) if p)
    elif how == "typo":
        name = typo(name, rng)
    return "+".join(variants), name


def _hard_distractors(native: Person, stored: Person, maker: _Maker, dated: bool) -> list[Person]:
    """Now and then a namesake born in another year (only when the query gives a birth date:
    without one nobody could tell them apart), or a relative with the same family name."""
    rng = maker.rng
    roll = rng.random()
    if dated and roll < 0.08:
        year = int(stored.birth_date[:4]) + rng.choice((-7, -4, 3, 6, 11))
        return [replace(stored, id=f"n{stored.id}", birth_date=f"{year}{stored.birth_date[4:]}")]
    if roll < 0.2:
        relative = maker.person(f"r{native.id}", native.locale, family=native.family)
        return [maker.on_record(relative)]
    return []


def build(
    seed: int = SEED, targets: int = TARGETS, distractors: int = DISTRACTORS
) -> tuple[list[Person], list[Query]]:
    """The indexed persons (targets, namesakes, relatives, distractors) and one query per
    target."""
    maker = _Maker(random.Random(seed))
    rng = maker.rng
    locales = sorted(LOCALE_WEIGHTS)
    weights = [LOCALE_WEIGHTS[loc] for loc in locales]
    persons: list[Person] = []
    queries: list[Query] = []
    for index in range(targets + distractors):
        is_target = index < targets
        native = maker.person(
            f"{'t' if is_target else 'd'}{index:05d}", rng.choices(locales, weights)[0]
        )
        stored = maker.on_record(native)
        persons.append(stored)
        if not is_target:
            continue
        variant, name = _name_variant(native, stored, maker)
        dob_variant, dob = _birth_variant(stored, rng)
        props: dict[str, list[str]] = {"name": [name]}
        if dob:
            props["birthDate"] = [dob]
        if rng.random() < 0.5:
            props["nationality"] = [stored.nationality]
        if rng.random() < 0.3:
            props["gender"] = [stored.gender]
        queries.append(Query(stored.id, f"{variant}/{dob_variant}", props))
        persons.extend(_hard_distractors(native, stored, maker, dob is not None))
    return persons, queries
