"""Deterministic synthetic police data with its ground truth, streamed with flat memory.

Names come from Faker locales across Latin, Cyrillic, Arabic and Chinese scripts, drawn from
pools built once, so ten million records cost no more memory than ten thousand. Planted
through the data: the same person under several spellings and scripts in several agencies'
databases (with the truth written beside them), crime networks spanning agencies, wanted
persons carrying passports another country reported stolen, firearms recorded twice with the
serial written differently. The output is what `polex import` reads (JSON Lines)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from faker import Faker

from polex.demo import identifiers as ids
from polex.model.envelope import Database
from polex.search.names import latinise

Record = dict[str, Any]
Truth = dict[str, Any]


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    country: str


DEFAULT_AGENCIES: list[Agency] = [
    Agency("DE-BKA", "Bundeskriminalamt", "DE"),
    Agency("FR-OCRGDF", "Office central de lutte contre le crime organisé", "FR"),
    Agency("IT-DCSA", "Direzione Centrale per i Servizi Antidroga", "IT"),
    Agency("ES-CNP", "Cuerpo Nacional de Policía", "ES"),
    Agency("TR-EGM", "Emniyet Genel Müdürlüğü", "TR"),
    Agency("EG-NCB", "NCB Cairo", "EG"),
    Agency("CN-MPS", "Ministry of Public Security", "CN"),
    Agency("UA-NPU", "National Police of Ukraine", "UA"),
    Agency("US-FBI", "Federal Bureau of Investigation", "US"),
    Agency("NG-NPF", "Nigeria Police Force", "NG"),
]

# Faker locale and ICAO nationality code per country of origin.
LOCALES: dict[str, tuple[str, str]] = {
    "de": ("de_DE", "D<<"),
    "fr": ("fr_FR", "FRA"),
    "it": ("it_IT", "ITA"),
    "es": ("es_ES", "ESP"),
    "tr": ("tr_TR", "TUR"),
    "eg": ("ar_AA", "EGY"),
    "sy": ("ar_SA", "SYR"),
    "cn": ("zh_CN", "CHN"),
    "ru": ("ru_RU", "RUS"),
    "ua": ("uk_UA", "UKR"),
    "us": ("en_US", "USA"),
    "ng": ("en_US", "NGA"),
}
NON_LATIN = frozenset({"eg", "sy", "cn", "ru", "ua"})
CYRILLIC = frozenset({"ru", "ua"})
POOL = 1500

# Shares of each database in a mixed data set.
MIX: list[tuple[Database, float]] = [
    (Database.intelligence, 0.34),
    (Database.wanted_persons, 0.10),
    (Database.missing_persons, 0.05),
    (Database.terrorist_fighters, 0.03),
    (Database.travel_documents, 0.25),
    (Database.vehicles, 0.10),
    (Database.vessels, 0.04),
    (Database.firearms, 0.08),
    (Database.crime_groups, 0.01),
]
FIREARMS = [
    ("Glock", "17", "9x19mm", "pistol"),
    ("Beretta", "92FS", "9x19mm", "pistol"),
    ("Kalashnikov", "AKM", "7.62x39mm", "rifle"),
    ("CZ", "75", "9x19mm", "pistol"),
    ("Zastava", "M70", "7.62x39mm", "rifle"),
    ("Smith & Wesson", "686", ".357 Magnum", "revolver"),
]
VESSEL_TYPES = ("Fishing vessel", "Yacht", "Cargo ship", "Tug", "Speedboat")


@dataclass(frozen=True)
class Names:
    male: tuple[str, ...]
    female: tuple[str, ...]
    last_male: tuple[str, ...]
    last_female: tuple[str, ...]


@cache
def name_pool(country: str) -> Names:
    """Name pools for one country of origin, built once per process (seeded: deterministic)."""
    fake = Faker(LOCALES[country][0])
    fake.seed_instance(sum(map(ord, country)))

    def draw(method: str, fallback: str) -> tuple[str, ...]:
        make = getattr(fake, method, None) or getattr(fake, fallback)
        return tuple(make() for _ in range(POOL))

    return Names(
        male=draw("first_name_male", "first_name"),
        female=draw("first_name_female", "first_name"),
        last_male=draw("last_name_male", "last_name"),
        last_female=draw("last_name_female", "last_name"),
    )


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    gender: str
    birth: str
    country: str

    @property
    def name(self) -> str:
        # Chinese names are written family name first
        return self.last + self.first if self.country == "cn" else f"{self.first} {self.last}"


def make_person(rng: random.Random, country: str | None = None) -> Person:
    country = country or rng.choice(tuple(LOCALES))
    pool = name_pool(country)
    gender = rng.choice(("male", "female"))
    first = rng.choice(pool.male if gender == "male" else pool.female)
    last = rng.choice(pool.last_male if gender == "male" else pool.last_female)
    birth = f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return Person(first=first, last=last, gender=gender, birth=birth, country=country)


def _latin(person: Person) -> str:
    if person.country == "cn":
        return f"{latinise(person.last).title()} {latinise(person.first).title()}"
    return latinise(person.name).title()


_SPELLING = (
    ("ov", "off"),
    ("ei", "ey"),
    ("ph", "f"),
    ("mm", "m"),
    ("ss", "s"),
    ("ou", "u"),
    ("j", "y"),
    ("e", "a"),
)


def variant(rng: random.Random, person: Person) -> tuple[str, str, str]:
    """Another agency's rendering of the same person: (name, birth date, how it differs)."""
    birth, how = person.birth, []
    style = rng.random()
    if person.country in NON_LATIN and style < 0.6:
        name = _latin(person)
        how.append("transliterated")
        # Latin spellings vary for Russian and Ukrainian names (-ov/-off, -ei/-ey); pinyin and
        # the consonant skeleton ICU gives Arabic are left as they come.
        for old, new in _SPELLING if person.country in CYRILLIC else ():
            if old in name.lower() and rng.random() < 0.5:
                name = name.replace(old, new).replace(old.title(), new.title())
                how.append(f"{old}->{new}")
                break
    elif style < 0.3:
        name, how = f"{person.last}, {person.first}", ["family name first"]
    elif style < 0.6:
        parts = list(person.name)
        letters = [i for i, c in enumerate(parts) if c.isalpha() and i > 0]
        i = rng.choice(letters) if letters else 0
        parts[i] = rng.choice("aeiourn")
        name, how = "".join(parts), ["typo"]
    else:
        name, how = f"{person.last} {person.first}", ["swapped order"]
    y, m, d = birth.split("-")
    if rng.random() < 0.2 and int(d) <= 12:
        birth, how = f"{y}-{d}-{m}", [*how, "day/month swapped"]
    elif rng.random() < 0.15:
        birth, how = y, [*how, "year only"]
    return name, birth, "; ".join(how)


def envelope(
    rng: random.Random, database: Database, owner: Agency, category: str | None = None
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "database": database.value,
        "handling": rng.choices(("H0", "H1", "H2", "H3"), (60, 25, 10, 5))[0],
        "reliability": rng.choice("ABCX"),
        "accuracy": rng.choice("1234"),
    }
    if category:
        env["subject_category"] = category
    if database == Database.wanted_persons:
        env["notice_type"] = rng.choices(("red", "diffusion", "blue"), (70, 20, 10))[0]
    elif database == Database.missing_persons:
        env["notice_type"] = "yellow"
    if rng.random() < 0.05:
        env["restrictions"] = {"allow_countries": [owner.country]}
    return env


def person_record(
    sid: str,
    person: Person,
    database: Database,
    owner: Agency,
    rng: random.Random,
    name: str | None = None,
    birth: str | None = None,
    extra: dict[str, list[str]] | None = None,
) -> Record:
    category = {
        Database.missing_persons: "missing_person",
        Database.wanted_persons: "suspect",
        Database.terrorist_fighters: "suspect",
    }.get(database) or rng.choices(("suspect", "contact", "victim", "witness"), (60, 25, 10, 5))[0]
    props: dict[str, list[str]] = {
        "name": [name or person.name],
        "birthDate": [birth or person.birth],
        "nationality": [person.country],
        "gender": [person.gender],
    }
    props.update(extra or {})
    return {
        "id": sid,
        "schema": "Person",
        "properties": props,
        "polex": envelope(rng, database, owner, category),
    }


class Generator:
    """One seeded stream of records and truths; each planted story uses fixed-size state only."""

    def __init__(
        self, seed: int, agencies: Sequence[Agency], databases: Collection[Database] | None
    ) -> None:
        self.rng = random.Random(seed)
        self.agencies = list(agencies)
        self.databases = set(databases or Database)
        self.counter = 0

    def sid(self, agency: Agency, prefix: str) -> str:
        self.counter += 1
        return f"{agency.code}-{prefix}{self.counter:08d}"

    def agency(self, *, other_than: Agency | None = None) -> Agency:
        choices = [a for a in self.agencies if a != other_than] or self.agencies
        return self.rng.choice(choices)

    def person(self, database: Database) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, owner = self.rng, self.agency()
        person = make_person(rng)
        extra = {}
        if rng.random() < 0.2:
            extra["passportNumber"] = [ids.passport_number(rng)]
        record = person_record(self.sid(owner, "P"), person, database, owner, rng, extra=extra)
        yield "record", record
        if rng.random() < 0.08 and len(self.agencies) > 1:
            other = self.agency(other_than=owner)
            name, birth, how = variant(rng, person)
            db = rng.choice(
                [d for d in (Database.intelligence, Database.wanted_persons) if d in self.databases]
                or [database]
            )
            twin = person_record(self.sid(other, "P"), person, db, other, rng, name, birth)
            yield "record", twin
            yield (
                "truth",
                {
                    "kind": "variant",
                    "records": [record["id"], twin["id"]],
                    "detail": {"names": [record["properties"]["name"][0], name], "how": how},
                },
            )

    def document(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, owner = self.rng, self.agency()
        number = ids.passport_number(rng)
        record = {
            "id": self.sid(owner, "D"),
            "schema": "Passport",
            "properties": {
                "number": [number],
                "country": [owner.country.lower()],
                "type": [rng.choice(("passport", "identity card"))],
                "description": [rng.choice(("stolen", "lost", "stolen blank"))],
            },
            "polex": envelope(rng, Database.travel_documents, owner),
        }
        yield "record", record
        if (
            rng.random() < 0.01
            and len(self.agencies) > 1
            and Database.wanted_persons in self.databases
        ):
            yield from self._traveller(number, record["id"], owner)

    def _traveller(self, number: str, doc_id: str, issuer: Agency) -> Iterator[tuple[str, Any]]:
        """A wanted person of another country travelling on this stolen passport."""
        rng = self.rng
        other = self.agency(other_than=issuer)
        person = make_person(rng)
        sid = self.sid(other, "P")
        yield (
            "record",
            person_record(
                sid, person, Database.wanted_persons, other, rng, extra={"passportNumber": [number]}
            ),
        )
        yield (
            "truth",
            {"kind": "stolen_passport_use", "records": [sid, doc_id], "detail": {"number": number}},
        )

    def vehicle(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, owner = self.rng, self.agency()
        wmi = rng.choice(ids.WMIS)
        yield (
            "record",
            {
                "id": self.sid(owner, "V"),
                "schema": "Vehicle",
                "properties": {
                    "vin": [ids.vin(rng, wmi)],
                    "make": [ids.MAKES[wmi]],
                    "registrationNumber": [f"{owner.country}-{rng.randint(1000, 99999)}"],
                    "colour": [rng.choice(("black", "white", "silver", "blue", "red"))],
                    "country": [owner.country.lower()],
                },
                "polex": envelope(rng, Database.vehicles, owner),
            },
        )

    def vessel(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, owner = self.rng, self.agency()
        yield (
            "record",
            {
                "id": self.sid(owner, "S"),
                "schema": "Vessel",
                "properties": {
                    "name": [
                        f"{rng.choice(('Sea', 'Blue', 'Nord', 'Stella', 'Ocean'))} "
                        f"{rng.choice(('Star', 'Wind', 'Queen', 'Spirit', 'Runner'))}"
                    ],
                    "imoNumber": [ids.imo(rng)],
                    "mmsi": [ids.mmsi(rng)],
                    "type": [rng.choice(VESSEL_TYPES)],
                    "flag": [owner.country.lower()],
                },
                "polex": envelope(rng, Database.vessels, owner),
            },
        )

    def firearm(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, owner = self.rng, self.agency()
        make, model_, calibre, kind = rng.choice(FIREARMS)
        serial = ids.serial(rng)
        record = {
            "id": self.sid(owner, "F"),
            "schema": "Firearm",
            "properties": {
                "make": [make],
                "model": [model_],
                "calibre": [calibre],
                "firearmType": [kind],
                "serialNumber": [serial],
            },
            "polex": envelope(rng, Database.firearms, owner),
        }
        yield "record", record
        if rng.random() < 0.05 and len(self.agencies) > 1:
            other = self.agency(other_than=owner)
            written = f"{serial[:2].lower()} {serial[2:]}"
            twin = json.loads(json.dumps(record))
            twin["id"] = self.sid(other, "F")
            twin["properties"]["serialNumber"] = [written]
            twin["polex"] = envelope(rng, Database.firearms, other)
            yield "record", twin
            yield (
                "truth",
                {
                    "kind": "firearm_seized_twice",
                    "records": [record["id"], twin["id"]],
                    "detail": {"serials": [serial, written]},
                },
            )

    def group(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """A crime group, its members, and members known to a second agency too."""
        rng, owner = self.rng, self.agency()
        group_id = self.sid(owner, "G")
        yield (
            "record",
            {
                "id": group_id,
                "schema": "Organization",
                "properties": {
                    "name": [
                        f"{rng.choice(('Black', 'Red', 'Golden', 'Iron'))} "
                        f"{rng.choice(('Wolves', 'Eagles', 'Crescent', 'Brotherhood'))}"
                    ],
                    "country": [owner.country.lower()],
                },
                "polex": envelope(rng, Database.crime_groups, owner),
            },
        )
        members, shared = [], []
        for _ in range(rng.randint(3, 6)):
            person = make_person(rng)
            pid = self.sid(owner, "P")
            members.append(pid)
            yield "record", person_record(pid, person, Database.crime_groups, owner, rng)
            yield (
                "record",
                {
                    "id": self.sid(owner, "M"),
                    "schema": "Membership",
                    "properties": {
                        "member": [pid],
                        "organization": [group_id],
                        "role": [rng.choice(("leader", "courier", "member", "financier"))],
                    },
                    "polex": envelope(rng, Database.crime_groups, owner),
                },
            )
            if (
                rng.random() < 0.4
                and len(self.agencies) > 1
                and Database.intelligence in self.databases
            ):
                other = self.agency(other_than=owner)
                twin = self.sid(other, "P")
                shared.append([pid, twin])
                yield "record", person_record(twin, person, Database.intelligence, other, rng)
        yield (
            "truth",
            {
                "kind": "network",
                "records": [group_id, *members],
                "detail": {"shared_with_other_agencies": shared},
            },
        )

    def stories(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The cases every data set contains, whatever its size."""
        agencies = self.agencies
        first, second, third = (agencies * 3)[:3] if len(agencies) < 3 else agencies[:3]
        rng = self.rng
        ivanov = Person("Сергей", "Иванов", "male", "1978-03-14", "ru")
        spellings = [
            ("Сергей Иванов", first, "1978-03-14"),
            ("Sergei Ivanov", second, "1978-03-14"),
            ("Serguei Ivanoff", third, "1978"),
        ]
        story_ids = []
        for name, agency, birth in spellings:
            sid = f"{agency.code}-STORY-IVANOV"
            story_ids.append(sid)
            yield (
                "record",
                person_record(
                    sid, ivanov, Database.wanted_persons, agency, rng, name=name, birth=birth
                ),
            )
        yield (
            "truth",
            {
                "kind": "variant",
                "records": story_ids,
                "detail": {"story": "same man, three spellings, two scripts"},
            },
        )


def _mixer(gen: Generator, databases: Collection[Database] | None) -> Callable[[], Iterator[Any]]:
    mix = [(db, share) for db, share in MIX if not databases or db in databases]
    makers = {
        Database.intelligence: lambda: gen.person(Database.intelligence),
        Database.wanted_persons: lambda: gen.person(Database.wanted_persons),
        Database.missing_persons: lambda: gen.person(Database.missing_persons),
        Database.terrorist_fighters: lambda: gen.person(Database.terrorist_fighters),
        Database.travel_documents: gen.document,
        Database.vehicles: gen.vehicle,
        Database.vessels: gen.vessel,
        Database.firearms: gen.firearm,
        Database.crime_groups: gen.group,
    }
    dbs = [db for db, _ in mix]
    weights = [share for _, share in mix]
    return lambda: makers[gen.rng.choices(dbs, weights)[0]]()


def generate_with_truth(
    size: int,
    seed: int = 0,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """("record", rec) and ("truth", truth) items; exactly ``size`` records.

    A record's owner is not part of the record (an import names the agency it loads for);
    it is the agency code its source id starts with, see ``owner_of``."""
    gen = Generator(seed, agencies, databases)
    made = 0
    stories = gen.stories() if Database.wanted_persons in gen.databases else iter(())
    next_item = _mixer(gen, databases)
    source: Iterator[tuple[str, dict[str, Any]]] = stories
    while made < size:
        for kind, item in source:
            if kind == "record":
                if made >= size:
                    return
                made += 1
            yield kind, item
        source = next_item()


def generate(
    size: int,
    seed: int = 0,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database] | None = None,
) -> Iterator[Record]:
    for kind, item in generate_with_truth(size, seed, agencies, databases):
        if kind == "record":
            yield item


def persons(
    n: int, seed: int = 0, agencies: Sequence[Agency] = DEFAULT_AGENCIES
) -> Iterator[Record]:
    """Person records only (intelligence), with planted variants: import and search benchmarks."""
    return generate(n, seed, agencies, databases={Database.intelligence})


def travel_documents(
    n: int, seed: int = 0, agencies: Sequence[Agency] = DEFAULT_AGENCIES
) -> Iterator[Record]:
    return generate(n, seed, agencies, databases={Database.travel_documents})


def owner_of(record: Record, agencies: Sequence[Agency] = DEFAULT_AGENCIES) -> str:
    """The agency a generated record belongs to: source ids are ``<AGENCY>-<kind><n>``."""
    for agency in agencies:
        if record["id"].startswith(agency.code + "-"):
            return agency.code
    raise ValueError(f"id: {record['id']} names none of the agencies")


def write(
    directory: Path,
    size: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database] | None = None,
) -> dict[str, int]:
    """Write ``DIR/<AGENCY>.jsonl`` per agency (what `polex import --agency` loads) and
    ``DIR/truth.jsonl``; returns the record count per agency."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {a.code: 0 for a in agencies}
    with ExitStack() as stack:
        files = {
            a.code: stack.enter_context((directory / f"{a.code}.jsonl").open("w", encoding="utf-8"))
            for a in agencies
        }
        truth = stack.enter_context((directory / "truth.jsonl").open("w", encoding="utf-8"))
        for kind, item in generate_with_truth(size, seed, agencies, databases):
            line = json.dumps(item, ensure_ascii=False) + "\n"
            if kind == "truth":
                truth.write(line)
                continue
            owner = owner_of(item, agencies)
            files[owner].write(line)
            counts[owner] += 1
            total = sum(counts.values())
            if progress and total % 10_000 == 0:
                progress(total)
    return counts
