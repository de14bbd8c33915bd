"""Deterministic synthetic police data with its ground truth, streamed with flat memory.

The demo and every benchmark run on this data, and judge search and matching against the
truth written beside it, so three properties matter more than realism of any one field:

* the same seed gives the same records, byte for byte, on every machine;
* memory does not grow with the size: records are made episode by episode (a person and the
  other agency's record of them, a crime group and its members), and all that is kept between
  episodes is fixed-size (name pools, counters, a few recent ids per agency);
* every link between records is in the truth, and no link happens by chance: identifiers are
  issued uniquely (``identifiers.Unique``), so two records share a passport number, VIN,
  serial or phone only where a truth entry says why.

Records are what `polex import` reads, one JSON object a line: ``{"id", "schema",
"properties", "polex": {envelope}}``. The owning agency is not in the envelope (an import names
the agency it loads for, and refuses an ``owner`` field); it is the agency code that starts
the record's source id, see ``owner_of``. Relationship records (Membership, Associate, Family)
reference other records by their source ids."""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, product
from pathlib import Path
from typing import Any, TextIO

from polex.demo import identifiers as ids
from polex.demo.generator import names
from polex.demo.generator.names import Person
from polex.model.envelope import Database

Record = dict[str, Any]
Truth = dict[str, Any]
Item = tuple[str, dict[str, Any]]  # ("record", record) or ("truth", truth)


@dataclass(frozen=True)
class Agency:
    """An agency records are generated for: its code starts their source ids, its country
    decides whose names it sees most and which script it writes them in."""

    code: str
    name: str
    country: str  # ISO 3166-1 alpha-2


# One national agency per country whose names the generator writes (Latin, Cyrillic, Arabic
# and Chinese script), so each script is recorded natively by someone and transliterated by
# the others.
DEFAULT_AGENCIES: list[Agency] = [
    Agency("DE-BKA", "Bundeskriminalamt", "DE"),
    Agency("FR-DCPJ", "Direction centrale de la police judiciaire", "FR"),
    Agency("IT-SCIP", "Servizio per la Cooperazione Internazionale di Polizia", "IT"),
    Agency("ES-CNP", "Policía Nacional", "ES"),
    Agency("TR-EGM", "Emniyet Genel Müdürlüğü", "TR"),
    Agency("EG-NCB", "INTERPOL NCB Cairo, Ministry of Interior", "EG"),
    Agency("CN-MPS", "Ministry of Public Security", "CN"),
    Agency("UA-NPU", "Національна поліція України", "UA"),
    Agency("US-FBI", "Federal Bureau of Investigation", "US"),
    Agency("NG-NPF", "Nigeria Police Force", "NG"),
]

# Episodes per database, relative: a crime group episode makes about fifteen records, the
# others one (and now and then a second agency's record of the same thing).
MIX: dict[Database, float] = {
    Database.intelligence: 30,
    Database.wanted_persons: 10,
    Database.missing_persons: 4,
    Database.terrorist_fighters: 2,
    Database.travel_documents: 30,
    Database.vehicles: 12,
    Database.vessels: 2,
    Database.firearms: 8,
    Database.crime_groups: 0.3,
}

# How often something is planted, per episode of its kind.
TWIN_RATE = 0.06  # a person recorded by a second (and third) agency too
DUPLICATE_SHARE = 0.25  # of those, recorded under the very same name and birth date
STOLEN_PASSPORT_USE_RATE = 0.004  # a wanted person travels on this stolen passport
SHARED_PHONE_RATE = 0.02
SEIZED_TWICE_RATE = 0.03
CROSS_BORDER_RATE = 0.02
STOLEN_VESSEL_SEEN_RATE = 0.05
ASSOCIATE_RATE = 0.15

ISSUE_DATES = names.dates_in(2014, 2024)


def _urn(weights: dict[str, int]) -> tuple[str, ...]:
    """Each value as often as its weight: one uniform draw then picks by weight, ten times
    faster than ``random.choices`` (which matters at ten million records)."""
    return tuple(value for value, weight in weights.items() for _ in range(weight))


HANDLING = _urn({"H0": 11, "H1": 5, "H2": 3, "H3": 1})
RELIABILITY = _urn({"A": 2, "B": 9, "C": 6, "X": 3})
ACCURACY = _urn({"1": 3, "2": 8, "3": 6, "4": 3})
# (handling, reliability, accuracy) drawn independently, by one draw from all combinations
GRADINGS = tuple(product(HANDLING, RELIABILITY, ACCURACY))
DOCUMENT_STATUS = _urn({"stolen": 9, "lost": 8, "stolen blank": 2, "revoked": 1})
PASSPORT_TYPES = _urn({"passport": 9, "service passport": 1})
WANTED_NOTICES = _urn({"red": 15, "diffusion": 4, "blue": 1})
INTELLIGENCE_CATEGORIES = _urn(
    {"suspect": 25, "contact": 14, "victim": 6, "witness": 4, "informant": 1}
)
GROUP_CATEGORIES = _urn({"suspect": 7, "convicted": 2, "contact": 1})
VEHICLE_TYPES = _urn({"car": 20, "van": 2, "motorcycle": 2, "truck": 1})
CONDITIONS = (
    "Do not act on this information without contacting the owner first.",
    "Not to be disclosed to the subject.",
    "Confirm with the owner before any arrest.",
)
COLOURS = ("black", "white", "silver", "grey", "blue", "red", "green")
MODELS = {
    "BMW": ("320d", "X5", "530i"),
    "Mercedes-Benz": ("C 220", "E 300", "GLE 350"),
    "Volkswagen": ("Golf", "Passat", "Tiguan"),
    "Audi": ("A4", "A6", "Q7"),
    "Renault": ("Clio", "Mégane"),
    "Peugeot": ("208", "3008"),
    "Fiat": ("Panda", "500"),
    "SEAT": ("Ibiza", "León"),
    "Toyota": ("Corolla", "RAV4", "Land Cruiser"),
    "Honda": ("Civic", "CR-V"),
    "Hyundai": ("Tucson", "i30"),
    "Ford": ("Focus", "F-150"),
    "Tesla": ("Model 3", "Model Y"),
    "SAIC Volkswagen": ("Lavida", "Passat"),
    "FAW-Volkswagen": ("Jetta", "Sagitar"),
    "Lada": ("Vesta", "Niva"),
}
VESSEL_WORDS = (
    ("Sea", "Blue", "Nordic", "Stella", "Ocean", "Golden", "Al", "Mare", "Black"),
    ("Star", "Wind", "Queen", "Spirit", "Runner", "Horizon", "Amal", "Nostrum", "Pearl"),
)
SHIP_TYPES = ("General cargo", "Bulk carrier", "Fishing vessel", "Tanker", "Tug")
BOAT_TYPES = ("Motor yacht", "Sailing yacht", "Speedboat", "RIB")
GROUP_WORDS = (
    ("Black", "Red", "Golden", "Iron", "Night", "Southern", "Eastern", "Silver"),
    ("Wolves", "Eagles", "Crescent", "Brotherhood", "Cartel", "Clan", "Syndicate", "Family"),
)
GROUP_TOPICS = (
    "crime.traffick.drug",
    "crime.traffick.human",
    "crime.theft",
    "crime.fin",
    "crime.cyber",
)
ROLES = ("leader", "lieutenant", "courier", "member", "financier", "enforcer")
RELATIONSHIPS = ("associate", "co-offender", "business partner", "acquaintance")
RELATIVES = ("brother", "sister", "cousin", "spouse", "father", "son")
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "yahoo.com")
LOCAL_DOMAINS = {
    "DE": "web.de",
    "FR": "orange.fr",
    "IT": "libero.it",
    "ES": "hotmail.es",
    "TR": "yandex.com.tr",
    "RU": "mail.ru",
    "UA": "ukr.net",
    "CN": "qq.com",
    "EG": "yahoo.com",
}


class _Generator:
    """One seeded stream of episodes: lists of records and the truths about them."""

    def __init__(
        self,
        seed: int,
        agencies: Sequence[Agency],
        databases: Collection[Database | str] | None,
        only: str | None = None,
    ) -> None:
        if not agencies:
            raise ValueError("agencies: at least one is needed")
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.unique = ids.Unique(seed)
        self.agencies = tuple(agencies)
        self.databases = frozenset(Database(d) for d in databases) if databases else None
        if self.databases is not None and not self.databases:
            raise ValueError("databases: empty; give None for all")
        self.only = only
        self.count = 0
        self.origins = {a.code: names.origins_seen_by(a.country) for a in self.agencies}
        # per agency, what a travel document needs: the hot path looks up nothing else
        self.issuers = tuple(
            (
                a,
                a.country.lower(),
                self.origins[a.code],
                *self.numbering(ids.passport_format(a.country)),
            )
            for a in self.agencies
        )
        self.travellers = self.allows(Database.wanted_persons, "Person")
        # the last persons each agency recorded in intelligence, to link new ones to
        self.recent: dict[str, deque[str]] = {a.code: deque(maxlen=16) for a in self.agencies}

    # --- building blocks -------------------------------------------------------------------

    def pick(self, urn: tuple[str, ...]) -> str:
        return urn[int(self.random() * len(urn))]

    def allows(self, database: Database, schema: str) -> bool:
        in_scope = self.databases is None or database in self.databases
        return in_scope and (self.only is None or schema == self.only)

    def sid(self, agency: Agency, kind: str) -> str:
        self.count += 1
        return f"{agency.code}-{kind}{self.count:08d}"

    def agency(self, other_than: Collection[Agency] = ()) -> Agency:
        if not other_than:
            return self.agencies[int(self.random() * len(self.agencies))]
        others = [a for a in self.agencies if a not in other_than]
        return self.rng.choice(others) if others else self.rng.choice(self.agencies)

    def foreign_agency(self, than: Agency) -> Agency | None:
        """An agency of another country: the other side of a cross-border case."""
        others = [a for a in self.agencies if a.country != than.country]
        return self.rng.choice(others) if others else None

    def envelope(
        self,
        database: Database,
        agency: Agency,
        category: str | None = None,
        notice: str | None = None,
        case_ref: str | None = None,
    ) -> dict[str, Any]:
        handling, reliability, accuracy = GRADINGS[int(self.random() * len(GRADINGS))]
        env: dict[str, Any] = {
            "database": database.value,
            "handling": handling,
            "reliability": reliability,
            "accuracy": accuracy,
        }
        if category:
            env["subject_category"] = category
        if notice:
            env["notice_type"] = notice
        if case_ref:
            env["case_ref"] = case_ref
        roll = self.random()
        if handling == "H3":
            env["restrictions"] = {"conditions": self.pick(CONDITIONS)}
        elif roll < 0.03:
            env["restrictions"] = {"allow_countries": [agency.country]}
        elif roll < 0.05 and len(self.agencies) > 1:
            env["restrictions"] = {"deny_agencies": [self.agency(other_than=(agency,)).code]}
        return env

    def case_ref(self, agency: Agency) -> str:
        return f"{agency.code}/{self.rng.randint(2016, 2025)}/{self.rng.randrange(100_000):05d}"

    def passport_for(self, country: str) -> str:
        return self.unique.number(ids.passport_format(country))

    def numbering(self, fmt: ids.NumberFormat) -> tuple[Callable[[int], str], Callable[[], int]]:
        """(format an index, next index) of a format's unique numbers."""
        return fmt.at, self.unique.sequence(fmt.shape, fmt.capacity)

    def phone(self, country: str) -> str:
        code = country if country in ids.PHONES else "US"
        return ids.phone(self.rng, code, self.unique(f"phone:{code}", ids.PHONE_CAPACITY))

    def email(self, person: Person) -> str:
        given, family = names.parts(person, names.SCHEMES[person.script][0])
        local = names.ascii_fold(f"{given}.{family}").lower().replace(" ", "")
        number = self.unique("email", 10_000_000)
        domain = LOCAL_DOMAINS.get(person.country, "") if self.rng.random() < 0.5 else ""
        return f"{local}{number}@{domain or self.rng.choice(EMAIL_DOMAINS)}"

    # --- persons ---------------------------------------------------------------------------

    def category(self, database: Database) -> str:
        rng = self.rng
        if database == Database.missing_persons:
            return "missing_person" if rng.random() < 0.92 else "victim"
        if database in (Database.wanted_persons, Database.terrorist_fighters):
            return "suspect" if rng.random() < 0.85 else "convicted"
        if database == Database.crime_groups:
            return self.pick(GROUP_CATEGORIES)
        return self.pick(INTELLIGENCE_CATEGORIES)

    def notice(self, database: Database) -> str | None:
        rng = self.rng
        if database == Database.wanted_persons:
            return self.pick(WANTED_NOTICES)
        if database == Database.missing_persons:
            return "yellow"
        if database == Database.terrorist_fighters and rng.random() < 0.3:
            return rng.choice(("blue", "diffusion", "un_special"))
        return None

    def person_record(
        self,
        agency: Agency,
        database: Database,
        person: Person,
        name: str,
        birth: str | None = None,
        category: str | None = None,
        case_ref: str | None = None,
        extra: dict[str, list[str]] | None = None,
    ) -> Record:
        rng = self.rng
        props: dict[str, list[str]] = {
            "name": [name],
            "birthDate": [birth or person.birth],
            "gender": [person.gender],
            "nationality": [person.country.lower()],
        }
        if rng.random() < 0.5:
            props["birthPlace"] = [names.birth_place(rng, person)]
        if database in (Database.wanted_persons, Database.missing_persons) and rng.random() < 0.5:
            tall = (165, 195) if person.gender == "male" else (152, 182)
            props["height"] = [str(rng.randint(*tall))]
            props["eyeColor"] = [rng.choice(("brown", "blue", "green", "grey"))]
            props["hairColor"] = [rng.choice(("black", "brown", "blond", "grey", "red"))]
        if database == Database.missing_persons:
            city = names.birth_place(rng, person)
            props["notes"] = [f"Last seen in {city} on {self.recent_date()}."]
        if extra:
            props.update(extra)
        return {
            "id": self.sid(agency, "P"),
            "schema": "Person",
            "properties": props,
            "polex": self.envelope(
                database,
                agency,
                category or self.category(database),
                self.notice(database),
                case_ref,
            ),
        }

    def recent_date(self) -> str:
        day = self.rng.randint(date(2016, 1, 1).toordinal(), date(2025, 12, 31).toordinal())
        return date.fromordinal(day).isoformat()

    def draw(self, agency: Agency, born: tuple[int, int] = (1955, 2006)) -> Person:
        return names.draw_person(self.rng, self.origins[agency.code], born)

    def person(self, database: Database) -> list[Item]:
        """A person in one database, sometimes recorded by other agencies too."""
        rng, agency = self.rng, self.agency()
        born = (1990, 2015) if database == Database.missing_persons else (1955, 2006)
        person = self.draw(agency, born)
        scheme = names.scheme_for(rng, person, agency.country)
        extra: dict[str, list[str]] = {}
        if database != Database.missing_persons and rng.random() < 0.15:
            extra["passportNumber"] = [self.passport_for(person.country)]
        if database == Database.wanted_persons and scheme and rng.random() < 0.3:
            extra["alias"] = [names.full_name(person, None)]  # the name in original script
        if database == Database.intelligence and rng.random() < 0.3:
            extra["phone"] = [self.phone(person.country)]
        if database == Database.intelligence and rng.random() < 0.15:
            extra["email"] = [self.email(person)]
        case_ref = self.case_ref(agency) if rng.random() < 0.5 else None
        name = names.full_name(person, scheme)
        record = self.person_record(agency, database, person, name, None, None, case_ref, extra)
        items: list[Item] = [("record", record)]
        if database == Database.intelligence:
            items += self.links(agency, record["id"])
            if "phone" in extra and rng.random() < SHARED_PHONE_RATE:
                items += self.shared_phone(agency, record["id"], extra["phone"][0])
        if rng.random() < TWIN_RATE:
            items += self.twins(agency, database, person, scheme, record)
        return items

    def twin_database(self, database: Database) -> Database | None:
        """Where another agency records the same person: a missing person turns up as a
        victim in intelligence, a wanted one in another country's wanted list or intelligence."""
        if database == Database.missing_persons:
            choices: tuple[Database, ...] = (Database.missing_persons, Database.intelligence)
        else:
            choices = (Database.intelligence, Database.wanted_persons, Database.terrorist_fighters)
            if database == Database.terrorist_fighters:
                choices = (Database.intelligence, Database.terrorist_fighters)
        allowed = [d for d in choices if self.allows(d, "Person")]
        return self.rng.choice(allowed) if allowed else None

    def twins(
        self, agency: Agency, database: Database, person: Person, scheme: str | None, first: Record
    ) -> list[Item]:
        """One or two more agencies' records of the same person: the same name and birth date
        (a duplicate), or each another spelling (a variant)."""
        rng = self.rng
        duplicate = rng.random() < DUPLICATE_SHARE
        items: list[Item] = []
        owners = [agency]
        spellings = [first["properties"]["name"][0]]
        changes: list[list[str]] = [[]]
        for _ in range(1 if rng.random() < 0.8 else 2):
            db = self.twin_database(database)
            other = self.agency(other_than=owners)
            if db is None or other in owners:
                break
            owners.append(other)
            category = "victim" if database == Database.missing_persons else None
            if category and db == Database.missing_persons:
                category = "missing_person"
            extra: dict[str, list[str]] = {}
            if duplicate:
                how: list[str] = []
                name, birth = spellings[0], first["properties"]["birthDate"][0]
                if "passportNumber" in first["properties"]:  # copied from the same source
                    extra["passportNumber"] = first["properties"]["passportNumber"]
            else:
                name, how = names.variant(rng, person, scheme)
                birth, birth_how = names.birth_variant(rng, person.birth)
                how += [birth_how] if birth_how else []
            record = self.person_record(other, db, person, name, birth, category, extra=extra)
            items.append(("record", record))
            spellings.append(name)
            changes.append(how)
        if not items:
            return []
        records = [first["id"], *(r["id"] for _, r in items)]
        detail: dict[str, Any] = {"names": spellings}
        if not duplicate:
            detail["how"] = changes
        truth = {"kind": "duplicate" if duplicate else "variant", "records": records}
        return [*items, ("truth", truth | {"detail": detail})]

    def links(self, agency: Agency, person_id: str) -> list[Item]:
        """Now and then an Associate or Family link to a person the agency recorded before."""
        rng, recent = self.rng, self.recent[agency.code]
        items: list[Item] = []
        if recent and rng.random() < ASSOCIATE_RATE:
            family = rng.random() < 0.25
            schema = "Family" if family else "Associate"
            if self.allows(Database.intelligence, schema):
                other = rng.choice(recent)
                props = (
                    {
                        "person": [person_id],
                        "relative": [other],
                        "relationship": [rng.choice(RELATIVES)],
                    }
                    if family
                    else {
                        "person": [person_id],
                        "associate": [other],
                        "relationship": [rng.choice(RELATIONSHIPS)],
                    }
                )
                record: Record = {
                    "id": self.sid(agency, "L"),
                    "schema": schema,
                    "properties": props,
                    "polex": self.envelope(Database.intelligence, agency),
                }
                items.append(("record", record))
        recent.append(person_id)
        return items

    def shared_phone(self, agency: Agency, person_id: str, phone: str) -> list[Item]:
        """Another country's intelligence on someone else using the same telephone."""
        other = self.foreign_agency(agency)
        if other is None:
            return []
        person = self.draw(other)
        written = phone.replace(" ", "", 1) if self.rng.random() < 0.5 else phone.replace(" ", "")
        record = self.person_record(
            other,
            Database.intelligence,
            person,
            names.full_name(person, names.scheme_for(self.rng, person, other.country)),
            extra={"phone": [written]},
        )
        truth: Truth = {
            "kind": "shared_phone",
            "records": [person_id, record["id"]],
            "detail": {"phone": [phone, written]},
        }
        return [("record", record), ("truth", truth)]

    # --- objects ---------------------------------------------------------------------------

    def document(self) -> list[Item]:
        """A stolen or lost passport or identity card, reported by the issuing country.

        The benchmarks make ten million of these, so this is the one hot path: weighted picks
        from urns, dates from a table, nothing per record that could be done once."""
        random, pick = self.random, self.pick
        agency, country, origins, number_at, next_index = self.issuers[
            int(random() * len(self.issuers))
        ]
        passport = self.only == "Passport" or random() < 0.75
        number = number_at(next_index())
        status = pick(DOCUMENT_STATUS)
        props: dict[str, list[str]] = {
            "number": [number],
            "country": [country],
            "type": [pick(PASSPORT_TYPES) if passport else "identity card"],
            "description": [status],
        }
        if passport and status != "stolen blank" and random() < 0.4:
            holder = names.draw_person(self.rng, origins)
            given, family = names.parts(holder, names.SCHEMES[holder.script][0])
            issued = ISSUE_DATES[int(random() * len(ISSUE_DATES))]
            props["surname"] = [family]
            props["givenName"] = [given]
            props["birthDate"] = [holder.birth]
            props["gender"] = [holder.gender]
            props["startDate"] = [issued]
            props["endDate"] = [str(int(issued[:4]) + 10)]
        record: Record = {
            "id": self.sid(agency, "D"),
            "schema": "Passport" if passport else "Identification",
            "properties": props,
            "polex": self.envelope(Database.travel_documents, agency),
        }
        if passport and random() < STOLEN_PASSPORT_USE_RATE and self.travellers:
            return [("record", record), *self.traveller(agency, number, record["id"])]
        return [("record", record)]

    def traveller(self, issuer: Agency, number: str, document_id: str) -> list[Item]:
        """A person another country wants, who travels on this stolen passport."""
        other = self.foreign_agency(issuer)
        if other is None:
            return []
        person = self.draw(other)
        scheme = names.scheme_for(self.rng, person, other.country)
        record = self.person_record(
            other,
            Database.wanted_persons,
            person,
            names.full_name(person, scheme),
            extra={"passportNumber": [number]},
        )
        truth: Truth = {
            "kind": "stolen_passport_use",
            "records": [record["id"], document_id],
            "detail": {"number": number, "issuer": issuer.country, "wanted_by": other.country},
        }
        return [("record", record), ("truth", truth)]

    def vehicle(self) -> list[Item]:
        """A stolen vehicle; now and then found in another country."""
        rng, agency = self.rng, self.agency()
        wmi = rng.choice(tuple(ids.WMIS))
        make = ids.WMIS[wmi]
        year = rng.randint(2008, 2024)
        vin = ids.vin(rng, wmi, year)
        plate_format = ids.PLATE_FORMATS.get(agency.country, ids.DEFAULT_PLATE_FORMAT)
        record: Record = {
            "id": self.sid(agency, "V"),
            "schema": "Vehicle",
            "properties": {
                "vin": [vin],
                "make": [make],
                "model": [rng.choice(MODELS[make])],
                "type": [self.pick(VEHICLE_TYPES)],
                "buildDate": [str(year)],
                "registrationNumber": [self.unique.number(plate_format)],
                "colour": [rng.choice(COLOURS)],
                "country": [agency.country.lower()],
                "description": ["stolen"],
            },
            "polex": self.envelope(Database.vehicles, agency),
        }
        items: list[Item] = [("record", record)]
        other = self.foreign_agency(agency) if rng.random() < CROSS_BORDER_RATE else None
        if other is not None:
            written = vin.lower() if rng.random() < 0.5 else f"{vin[:3]} {vin[3:9]} {vin[9:]}"
            found: Record = {
                "id": self.sid(other, "V"),
                "schema": "Vehicle",
                "properties": {
                    "vin": [written],
                    "make": [make],
                    "colour": [rng.choice(COLOURS)],
                    "country": [other.country.lower()],
                    "description": [rng.choice(("found abandoned", "seized at border crossing"))],
                },
                "polex": self.envelope(Database.vehicles, other),
            }
            truth: Truth = {
                "kind": "cross_border_hit",
                "records": [record["id"], found["id"]],
                "detail": {"vin": [vin, written], "countries": [agency.country, other.country]},
            }
            items += [("record", found), ("truth", truth)]
        return items

    def vessel_name(self) -> str:
        first, second = VESSEL_WORDS
        return f"{self.rng.choice(first)} {self.rng.choice(second)}"

    def vessel(self) -> list[Item]:
        """A stolen or sought vessel: ships carry IMO numbers, yachts and boats do not."""
        rng, agency = self.rng, self.agency()
        ship = rng.random() < 0.5
        flag = agency.country if rng.random() < 0.6 else rng.choice(("MT", "PA", "LR"))
        props: dict[str, list[str]] = {
            "name": [self.vessel_name()],
            "type": [rng.choice(SHIP_TYPES if ship else BOAT_TYPES)],
            "flag": [flag.lower()],
            "mmsi": [ids.mmsi(rng, flag, self.unique(f"mmsi:{flag}", ids.MMSI_CAPACITY))],
            "buildDate": [str(rng.randint(1975 if ship else 1995, 2023))],
            "description": [rng.choice(("stolen", "stolen", "sought: smuggling", "missing"))],
        }
        if ship:
            props["imoNumber"] = [ids.imo(rng, self.unique("imo", ids.IMO_CAPACITY))]
        record: Record = {
            "id": self.sid(agency, "S"),
            "schema": "Vessel",
            "properties": props,
            "polex": self.envelope(Database.vessels, agency),
        }
        items: list[Item] = [("record", record)]
        other = self.foreign_agency(agency) if rng.random() < STOLEN_VESSEL_SEEN_RATE else None
        if other is not None and props["description"][0] == "stolen":
            items += self.vessel_seen(record, other)
        return items

    def vessel_seen(self, stolen: Record, other: Agency) -> list[Item]:
        """The stolen vessel in another country, renamed and reflagged: its IMO number (or,
        for a boat, its MMSI) gives it away."""
        props = stolen["properties"]
        seen_props: dict[str, list[str]] = {
            "name": [self.vessel_name()],
            "previousName": props["name"],
            "type": props["type"],
            "flag": [other.country.lower()],
            "description": ["sighted: suspected stolen"],
        }
        key = "imoNumber" if "imoNumber" in props else "mmsi"
        value = props[key][0]
        seen_props[key] = [f"IMO {value}" if key == "imoNumber" else value]
        if key == "imoNumber":
            code = other.country
            seen_props["mmsi"] = [
                ids.mmsi(self.rng, code, self.unique(f"mmsi:{code}", ids.MMSI_CAPACITY))
            ]
        seen: Record = {
            "id": self.sid(other, "S"),
            "schema": "Vessel",
            "properties": seen_props,
            "polex": self.envelope(Database.vessels, other),
        }
        truth: Truth = {
            "kind": "stolen_vessel",
            "records": [stolen["id"], seen["id"]],
            "detail": {key: value, "names": [props["name"][0], seen_props["name"][0]]},
        }
        return [("record", seen), ("truth", truth)]

    def firearm(self) -> list[Item]:
        """A lost, stolen or trafficked firearm; now and then seized again elsewhere, its
        serial written another way."""
        rng, agency = self.rng, self.agency()
        make, model, calibre, kind, country, serial_format = rng.choice(ids.FIREARMS)
        serial = self.unique.number(serial_format)
        record: Record = {
            "id": self.sid(agency, "F"),
            "schema": "Firearm",
            "properties": {
                "serialNumber": [serial],
                "make": [make],
                "model": [model],
                "calibre": [calibre],
                "firearmType": [kind],
                "country": [country.lower()],
                "description": [rng.choice(("stolen", "lost", "trafficked", "seized"))],
            },
            "polex": self.envelope(Database.firearms, agency),
        }
        items: list[Item] = [("record", record)]
        if rng.random() < SEIZED_TWICE_RATE and len(self.agencies) > 1:
            items += self.seized_again(agency, record)
        return items

    def seized_again(self, agency: Agency, first: Record) -> list[Item]:
        """The same firearm seized by another agency, which writes serial and make its way."""
        other = self.agency(other_than=(agency,))
        props = first["properties"]
        serial = props["serialNumber"][0]
        written = _spaced(serial).lower() if self.rng.random() < 0.5 else _spaced(serial, "-")
        record: Record = {
            "id": self.sid(other, "F"),
            "schema": "Firearm",
            "properties": {
                "serialNumber": [written],
                "make": [props["make"][0].upper()],
                "model": props["model"],
                "description": ["seized"],
            },
            "polex": self.envelope(Database.firearms, other),
        }
        truth: Truth = {
            "kind": "firearm_seized_twice",
            "records": [first["id"], record["id"]],
            "detail": {"serials": [serial, written]},
        }
        return [("record", record), ("truth", truth)]

    def group(self) -> list[Item]:
        """A crime group: the organisation, its members and their memberships in one agency's
        records, and members another country's intelligence knows under their own spelling."""
        rng, agency = self.rng, self.agency()
        case_ref = self.case_ref(agency)
        first, second = GROUP_WORDS
        name = f"{rng.choice(first)} {rng.choice(second)}"
        group: Record = {
            "id": self.sid(agency, "G"),
            "schema": "Organization",
            "properties": {
                "name": [name],
                "country": [agency.country.lower()],
                "topics": [rng.choice(GROUP_TOPICS)],
            },
            "polex": self.envelope(Database.crime_groups, agency, case_ref=case_ref),
        }
        items: list[Item] = [("record", group)]
        other = self.agency(other_than=(agency,)) if len(self.agencies) > 1 else None
        twin_db = (
            Database.intelligence
            if self.allows(Database.intelligence, "Person")
            else Database.crime_groups
        )
        known_abroad: list[str] = []
        for i in range(rng.randint(3, 7)):
            person = self.draw(agency)
            scheme = names.scheme_for(rng, person, agency.country)
            member = self.person_record(
                agency,
                Database.crime_groups,
                person,
                names.full_name(person, scheme),
                case_ref=case_ref,
            )
            membership: Record = {
                "id": self.sid(agency, "M"),
                "schema": "Membership",
                "properties": {
                    "member": [member["id"]],
                    "organization": [group["id"]],
                    "role": [ROLES[0] if i == 0 else rng.choice(ROLES[1:])],
                },
                "polex": self.envelope(Database.crime_groups, agency, case_ref=case_ref),
            }
            items += [("record", member), ("record", membership)]
            if other is not None and (i == 0 or rng.random() < 0.35):
                twin_name, how = names.variant(rng, person, scheme)
                twin = self.person_record(other, twin_db, person, twin_name)
                known_abroad.append(twin["id"])
                pair: Truth = {
                    "kind": "variant",
                    "records": [member["id"], twin["id"]],
                    "detail": {
                        "names": [member["properties"]["name"][0], twin_name],
                        "how": [[], how],
                    },
                }
                items += [("record", twin), ("truth", pair)]
        if other is not None and len(known_abroad) > 1 and self.allows(twin_db, "Associate"):
            link: Record = {
                "id": self.sid(other, "L"),
                "schema": "Associate",
                "properties": {
                    "person": [known_abroad[0]],
                    "associate": [known_abroad[1]],
                    "relationship": ["co-offender"],
                },
                "polex": self.envelope(twin_db, other),
            }
            items.append(("record", link))
        records = [r["id"] for kind, r in items if kind == "record"]
        owners = sorted({agency.code, *([other.code] if other and known_abroad else [])})
        truth: Truth = {
            "kind": "network",
            "records": records,
            "detail": {"name": name, "agencies": owners},
        }
        return [*items, ("truth", truth)]

    # --- the stream ------------------------------------------------------------------------

    def episodes(self) -> Iterator[list[Item]]:
        """The stories first, then episodes drawn by the database mix, forever."""
        yield from _stories(self)
        makers: dict[Database, Callable[[], list[Item]]] = {
            Database.intelligence: lambda: self.person(Database.intelligence),
            Database.wanted_persons: lambda: self.person(Database.wanted_persons),
            Database.missing_persons: lambda: self.person(Database.missing_persons),
            Database.terrorist_fighters: lambda: self.person(Database.terrorist_fighters),
            Database.travel_documents: self.document,
            Database.vehicles: self.vehicle,
            Database.vessels: self.vessel,
            Database.firearms: self.firearm,
            Database.crime_groups: self.group,
        }
        # the schema an episode is about, for streams of one schema only
        schema = {Database.travel_documents: "Passport", Database.vehicles: "Vehicle"}
        schema |= {Database.vessels: "Vessel", Database.firearms: "Firearm"}
        schema |= {Database.crime_groups: "Organization"}
        chosen = [
            db
            for db in MIX
            if (self.databases is None or db in self.databases)
            and (self.only is None or schema.get(db, "Person") == self.only)
        ]
        if not chosen:
            raise ValueError("nothing to generate: no database holds what was asked for")
        running = list(accumulate(MIX[db] for db in chosen))
        bounds, total, random = running[:-1], running[-1], self.random
        chosen_makers = [makers[db] for db in chosen]
        while True:
            yield chosen_makers[bisect(bounds, random() * total)]()


def _spaced(serial: str, separator: str = " ") -> str:
    """A serial with a separator where its letters and digits meet: AB12345 -> AB 12345."""
    for i in range(1, len(serial)):
        if serial[i - 1].isalpha() != serial[i].isalpha():
            return serial[:i] + separator + serial[i:]
    return serial[:2] + separator + serial[2:]


# --- the stories: the same cases in every data set -----------------------------------------


class _Story:
    """Records of one story, fixed whatever the seed, so a demo script can tell it; records
    of databases or schemata the stream leaves out are left out of the story too."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.items: list[Item] = []
        self.names: dict[str, str] = {}

    def agency(self, country: str, index: int) -> Agency:
        """The story's agency of that country, else one of the others (by position)."""
        found = [a for a in self.gen.agencies if a.country == country]
        return found[0] if found else self.gen.agencies[index % len(self.gen.agencies)]

    def record(
        self,
        key: str,
        agency: Agency,
        database: Database,
        schema: str,
        properties: dict[str, list[str]],
        **envelope: str,
    ) -> str | None:
        if not self.gen.allows(database, schema):
            return None
        sid = f"{agency.code}-STORY-{key}"
        env: dict[str, Any] = {
            "database": database.value,
            "handling": "H0",
            "reliability": "B",
            "accuracy": "2",
        }
        record = {"id": sid, "schema": schema, "properties": properties}
        self.items.append(("record", record | {"polex": env | envelope}))
        if "name" in properties:
            self.names[sid] = properties["name"][0]
        return sid

    def truth(self, kind: str, records: list[str | None], **detail: Any) -> None:
        present = [r for r in records if r is not None]
        if len(present) < 2:
            return
        if kind == "variant":
            detail = {"names": [self.names[r] for r in present]} | detail
        self.items.append(("truth", {"kind": kind, "records": present, "detail": detail}))


def _person(name: str, birth: str, nationality: str, gender: str = "male") -> dict[str, list[str]]:
    return {"name": [name], "birthDate": [birth], "nationality": [nationality], "gender": [gender]}


def _stories(gen: _Generator) -> Iterator[list[Item]]:
    """One of each planted case with names a demo can search for (docs/demo.md tells them):
    Sergei Ivanov, wanted in Cyrillic, known in Latin to two more agencies, travelling on a
    passport Italy reported stolen; Mohammed al-Hassan in Arabic, Latin and Cyrillic script; a
    missing Chinese girl found abroad; a Glock stolen in Spain and seized in France; a BMW
    stolen in Germany and seized in Ukraine; a stolen yacht renamed; a Turkish gang known to
    German intelligence; a shared phone."""
    ivanov = _Story(gen)
    wanted = ivanov.record(
        "IVANOV-1",
        ivanov.agency("UA", 7),
        Database.wanted_persons,
        "Person",
        _person("Сергей Иванов", "1978-03-14", "ru") | {"passportNumber": ["YA4471305"]},
        subject_category="suspect",
        notice_type="red",
        case_ref="UA-NPU/2024/00417",
    )
    known = [
        ivanov.record(
            f"IVANOV-{i}",
            ivanov.agency(country, index),
            Database.intelligence,
            "Person",
            _person(name, birth, "ru"),
            subject_category="suspect",
        )
        for i, (name, birth, country, index) in enumerate(
            (("Sergei Ivanov", "1978-03-14", "DE", 0), ("Serguei Ivanoff", "1978", "FR", 1)),
            start=2,
        )
    ]
    ivanov.truth(
        "variant",
        [wanted, *known],
        how=[[], ["written icao"], ["written fr", "year only"]],
        story="the same man in Cyrillic and two Latin spellings, at three agencies",
    )
    passport = ivanov.record(
        "PASSPORT-1",
        ivanov.agency("IT", 2),
        Database.travel_documents,
        "Passport",
        {"number": ["YA4471305"], "country": ["it"], "type": ["passport"]}
        | {"description": ["stolen blank"]},
    )
    ivanov.truth("stolen_passport_use", [wanted, passport], number="YA4471305")
    yield ivanov.items

    hassan = _Story(gen)
    spellings = (
        ("محمد الحسن", "1991-07-02", "EG", 5, Database.terrorist_fighters, "blue"),
        ("Mohamed El-Hassan", "1991-07-02", "DE", 0, Database.intelligence, None),
        ("Мухаммед аль-Хасан", "1991", "UA", 7, Database.wanted_persons, "red"),
    )
    hassan.truth(
        "variant",
        [
            hassan.record(
                f"HASSAN-{i}",
                hassan.agency(country, index),
                database,
                "Person",
                _person(name, birth, "eg"),
                subject_category="suspect",
                **({"notice_type": notice} if notice else {}),
            )
            for i, (name, birth, country, index, database, notice) in enumerate(spellings, 1)
        ],
        how=[[], ["written fr", "hyphenated"], ["written cyrillic", "year only"]],
        story="one man in Arabic, Latin and Cyrillic script, at three agencies",
    )
    yield hassan.items

    zhang = _Story(gen)
    girl = "female"
    zhang.truth(
        "variant",
        [
            zhang.record(
                "ZHANG-1",
                zhang.agency("CN", 6),
                Database.missing_persons,
                "Person",
                _person("张伟", "2006-11-23", "cn", girl),
                subject_category="missing_person",
                notice_type="yellow",
            ),
            zhang.record(
                "ZHANG-2",
                zhang.agency("IT", 2),
                Database.intelligence,
                "Person",
                _person("Zhang Wei", "2006-11-23", "cn", girl),
                subject_category="victim",
            ),
            zhang.record(
                "ZHANG-3",
                zhang.agency("FR", 1),
                Database.intelligence,
                "Person",
                _person("Wei Chang", "2006-11-23", "cn", girl),
                subject_category="victim",
            ),
        ],
        how=[[], ["written pinyin"], ["written wade", "order swapped"]],
        story="a missing girl found abroad as a trafficking victim",
    )
    yield zhang.items

    glock = _Story(gen)
    firearm = {"make": ["Glock"], "model": ["17"], "calibre": ["9x19mm"], "firearmType": ["pistol"]}
    glock.truth(
        "firearm_seized_twice",
        [
            glock.record(
                "GLOCK-1",
                glock.agency("ES", 3),
                Database.firearms,
                "Firearm",
                firearm | {"serialNumber": ["AB-12345"], "description": ["stolen"]},
            ),
            glock.record(
                "GLOCK-2",
                glock.agency("FR", 1),
                Database.firearms,
                "Firearm",
                {"serialNumber": ["ab 12345"], "make": ["GLOCK"], "description": ["seized"]},
            ),
        ],
        serials=["AB-12345", "ab 12345"],
    )
    yield glock.items

    bmw = _Story(gen)
    vin = "WBAKS410300J71234"
    bmw.truth(
        "cross_border_hit",
        [
            bmw.record(
                "BMW-1",
                bmw.agency("DE", 0),
                Database.vehicles,
                "Vehicle",
                {"vin": [vin], "make": ["BMW"], "model": ["X5"], "colour": ["black"]}
                | {"registrationNumber": ["B-PX 4711"], "country": ["de"]}
                | {"description": ["stolen"]},
            ),
            bmw.record(
                "BMW-2",
                bmw.agency("UA", 7),
                Database.vehicles,
                "Vehicle",
                {"vin": ["wbaks4103 00j71234"], "make": ["BMW"], "colour": ["black"]}
                | {"country": ["ua"], "description": ["seized at border crossing"]},
            ),
        ],
        vin=[vin, "wbaks4103 00j71234"],
    )
    yield bmw.items

    yacht = _Story(gen)
    yacht.truth(
        "stolen_vessel",
        [
            yacht.record(
                "YACHT-1",
                yacht.agency("FR", 1),
                Database.vessels,
                "Vessel",
                {"name": ["Belle Étoile"], "type": ["Motor yacht"], "flag": ["mt"]}
                | {"imoNumber": ["4782319"], "mmsi": ["229815000"], "description": ["stolen"]},
            ),
            yacht.record(
                "YACHT-2",
                yacht.agency("TR", 4),
                Database.vessels,
                "Vessel",
                {"name": ["Deniz Yıldızı"], "previousName": ["Belle Etoile"]}
                | {"type": ["Motor yacht"], "flag": ["pa"], "imoNumber": ["IMO 4782319"]}
                | {"mmsi": ["370412000"], "description": ["sighted: suspected stolen"]},
            ),
        ],
        imoNumber="4782319",
        names=["Belle Étoile", "Deniz Yıldızı"],
    )
    yield yacht.items

    gang = _Story(gen)
    turkey, germany = gang.agency("TR", 4), gang.agency("DE", 0)
    crime = {"case_ref": "TR-EGM/2023/01907"}
    group = gang.record(
        "GANG-1",
        turkey,
        Database.crime_groups,
        "Organization",
        {"name": ["Boğaz Kardeşliği"], "country": ["tr"], "topics": ["crime.traffick.drug"]},
        **crime,
    )
    members, links, pairs = [], [], []
    for i, (name, birth, role, seen_as) in enumerate(
        (
            ("Kemal Aydın", "1969-02-08", "leader", "Kemal Aydin"),
            ("Hakan Yılmaz", "1984-09-30", "courier", "YILMAZ Hakan"),
            ("Ayşe Demir", "1990-05-17", "financier", None),
        ),
        start=1,
    ):
        gender = "female" if name.startswith("Ayşe") else "male"
        member = gang.record(
            f"GANG-P{i}",
            turkey,
            Database.crime_groups,
            "Person",
            _person(name, birth, "tr", gender),
            subject_category="suspect",
            **crime,
        )
        members.append(member)
        if member and group:
            links.append(
                gang.record(
                    f"GANG-M{i}",
                    turkey,
                    Database.crime_groups,
                    "Membership",
                    {"member": [member], "organization": [group], "role": [role]},
                    **crime,
                )
            )
        if seen_as:
            seen = gang.record(
                f"GANG-DE{i}",
                germany,
                Database.intelligence,
                "Person",
                _person(seen_as, birth, "tr", gender),
                subject_category="suspect",
            )
            pairs.append((member, seen))
    seen_in_germany = [seen for _, seen in pairs if seen]
    if len(seen_in_germany) == 2:
        links.append(
            gang.record(
                "GANG-A1",
                germany,
                Database.intelligence,
                "Associate",
                {"person": seen_in_germany[:1], "associate": seen_in_germany[1:]}
                | {"relationship": ["co-offender"]},
            )
        )
    for member, seen in pairs:
        gang.truth("variant", [member, seen], how=[[], []])
    gang.truth(
        "network",
        [group, *members, *links, *seen_in_germany],
        name="Boğaz Kardeşliği",
        agencies=sorted({turkey.code, germany.code}),
    )
    yield gang.items

    phone = _Story(gen)
    phone.truth(
        "shared_phone",
        [
            phone.record(
                "PHONE-1",
                phone.agency("NG", 9),
                Database.intelligence,
                "Person",
                _person("Chinedu Okafor", "1987-12-01", "ng") | {"phone": ["+234 803 5550142"]},
                subject_category="suspect",
            ),
            phone.record(
                "PHONE-2",
                phone.agency("US", 8),
                Database.intelligence,
                "Person",
                _person("Emeka Obi", "1992-04-19", "ng") | {"phone": ["+2348035550142"]},
                subject_category="contact",
            ),
        ],
        phone=["+234 803 5550142", "+2348035550142"],
    )
    yield phone.items


# --- the public API ------------------------------------------------------------------------


def _take(episodes: Iterator[list[Item]], size: int) -> Iterator[Item]:
    """Exactly ``size`` records; an episode cut short at the end loses its truths, which
    might name records never made."""
    made = 0
    for episode in episodes:
        if made >= size:
            return
        if len(episode) == 1:  # one record, most episodes
            made += 1
            yield episode[0]
            continue
        records = sum(1 for kind, _ in episode if kind == "record")
        if made + records <= size:
            made += records
            yield from episode
            continue
        for kind, item in episode:
            if kind == "record" and made < size:
                made += 1
                yield kind, item
        return


def _records(episodes: Iterator[list[Item]], size: int) -> Iterator[Record]:
    """The first ``size`` records of the episodes (``_take`` without the truths: faster)."""
    if size <= 0:
        return
    made = 0
    for episode in episodes:
        for kind, item in episode:
            if kind == "record":
                yield item
                made += 1
                if made >= size:
                    return


def generate_with_truth(
    size: int,
    seed: int = 0,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database | str] | None = None,
) -> Iterator[Item]:
    """``("record", record)`` and ``("truth", truth)`` items, interleaved so that one pass
    writes both files: a truth follows the records it names. Exactly ``size`` records, every
    database (or those given), the stories first."""
    return _take(_Generator(seed, agencies, databases).episodes(), size)


def generate(
    size: int,
    seed: int = 0,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database | str] | None = None,
) -> Iterator[Record]:
    """The records of ``generate_with_truth``, without the truth."""
    return _records(_Generator(seed, agencies, databases).episodes(), size)


def persons_with_truth(
    n: int,
    seed: int = 0,
    database: Database | str = Database.intelligence,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
) -> Iterator[Item]:
    """Only Person records, all in one database (a file `polex import` loads as it is), with
    the truth about the duplicates and variants planted among them."""
    return _take(_Generator(seed, agencies, [database], only="Person").episodes(), n)


def persons(
    n: int,
    seed: int = 0,
    database: Database | str = Database.intelligence,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
) -> Iterator[Record]:
    """Only Person records in one database: import and search benchmarks."""
    return _records(_Generator(seed, agencies, [database], only="Person").episodes(), n)


def travel_documents(
    n: int, seed: int = 0, agencies: Sequence[Agency] = DEFAULT_AGENCIES
) -> Iterator[Record]:
    """Only Passport records (travel_documents), for identifier lookups over ten million."""
    only = _Generator(seed, agencies, [Database.travel_documents], only="Passport")
    return _records(only.episodes(), n)


def owner_of(record: Record, agencies: Sequence[Agency] = DEFAULT_AGENCIES) -> str:
    """The agency a generated record belongs to: the code its source id starts with."""
    found = [a.code for a in agencies if record["id"].startswith(a.code + "-")]
    if not found:
        raise ValueError(f"id: {record['id']} names none of the agencies")
    return max(found, key=len)


def write(
    path_records: Path,
    path_truth: Path | None,
    size: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database | str] | None = None,
) -> int:
    """Write the records (and the truth, unless ``path_truth`` is None) as JSON Lines; call
    ``progress`` with the records written so far every 10,000 records and at the end.
    Returns the number of records written."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    written = 0
    with ExitStack() as stack:
        records = stack.enter_context(path_records.open("w", encoding="utf-8"))
        truth = stack.enter_context(path_truth.open("w", encoding="utf-8")) if path_truth else None
        for kind, item in generate_with_truth(size, seed, agencies, databases):
            if kind == "record":
                records.write(encode(item) + "\n")
                written += 1
                if progress and written % 10_000 == 0:
                    progress(written)
            elif truth:
                truth.write(encode(item) + "\n")
    if progress:
        progress(written)
    return written


def write_split(
    directory: Path,
    size: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    agencies: Sequence[Agency] = DEFAULT_AGENCIES,
    databases: Collection[Database | str] | None = None,
) -> dict[str, int]:
    """Write ``DIR/<AGENCY>.<database>.jsonl``, each a file `polex import --agency AGENCY
    --database DATABASE` loads as it is, and ``DIR/truth.jsonl``. Returns the records per file
    name. (At most one open file per agency and database: memory stays flat.)"""
    directory.mkdir(parents=True, exist_ok=True)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    counts: dict[str, int] = {}
    written = 0
    with ExitStack() as stack:
        files: dict[str, TextIO] = {}
        truth = stack.enter_context((directory / "truth.jsonl").open("w", encoding="utf-8"))
        for kind, item in generate_with_truth(size, seed, agencies, databases):
            if kind == "truth":
                truth.write(encode(item) + "\n")
                continue
            name = f"{owner_of(item, agencies)}.{item['polex']['database']}.jsonl"
            out = files.get(name)
            if out is None:
                out = files[name] = stack.enter_context(
                    (directory / name).open("w", encoding="utf-8")
                )
            out.write(encode(item) + "\n")
            counts[name] = counts.get(name, 0) + 1
            written += 1
            if progress and written % 10_000 == 0:
                progress(written)
    if progress:
        progress(written)
    return counts
