"""The generator: deterministic, valid under polex's own rules, truthful, and streaming.

Check digits are verified independently of polex's validation module (the ``mrz`` package,
python-stdnum, and a VIN check written out here), so a wrong rule in polex cannot hide a wrong
generator."""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from collections import Counter, defaultdict, deque
from datetime import date
from pathlib import Path
from typing import Any

import phonenumbers
import stdnum.imo
from mrz.checker.td3 import TD3CodeChecker

from polex.demo import identifiers
from polex.demo.generate import (
    DEFAULT_AGENCIES,
    Agency,
    generate,
    generate_with_truth,
    owner_of,
    persons,
    persons_with_truth,
    travel_documents,
    write,
    write_split,
)
from polex.demo.generator.names import birth_variant
from polex.model.envelope import Database, Envelope
from polex.model.validation import validate_record

# ISO 3779 transliteration and weights, written out independently of polex.model.validation.
_VIN_VALUES = dict(zip("0123456789", range(10), strict=True)) | {
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}  # fmt: skip
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_is_valid(vin: str) -> bool:
    vin = re.sub(r"[\s-]", "", vin).upper()
    if len(vin) != 17 or any(c not in _VIN_VALUES for c in vin):
        return False
    remainder = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


def split(items: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[Any]]:
    return [i for k, i in items if k == "record"], [i for k, i in items if k == "truth"]


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = list(generate_with_truth(1500, seed=7))
    assert first == list(generate_with_truth(1500, seed=7))
    assert first != list(generate_with_truth(1500, seed=8))
    assert list(persons(300, seed=3)) == list(persons(300, seed=3))
    assert list(travel_documents(300, seed=3)) == list(travel_documents(300, seed=3))
    assert [r for k, r in first if k == "record"] == list(generate(1500, seed=7))


def test_every_database_present_and_every_record_valid() -> None:
    records = list(generate(2000, seed=3))
    assert len(records) == 2000
    assert len({r["id"] for r in records}) == 2000
    assert {r["polex"]["database"] for r in records} == {db.value for db in Database}
    for record in records:
        assert "owner" not in record["polex"]  # `polex import` refuses it
        envelope = Envelope.model_validate(record["polex"] | {"owner": owner_of(record)})
        result = validate_record(record["schema"], record["properties"], envelope)
        assert result.errors == result.warnings == [], (record, result)
        if record["schema"] == "Person":
            assert envelope.subject_category is not None
        if envelope.database in (Database.wanted_persons, Database.missing_persons):
            assert envelope.notice_type is not None


def test_scripts_and_agencies_mix() -> None:
    names = [r["properties"]["name"][0] for r in generate(3000, seed=4) if r["schema"] == "Person"]
    scripts = Counter(
        "cyrillic"
        if re.search("[а-яА-ЯіїєІЇЄ]", n)
        else "arabic"
        if re.search("[\u0600-\u06ff]", n)
        else "han"
        if re.search("[\u4e00-\u9fff]", n)
        else "latin"
        for n in names
    )
    assert set(scripts) == {"latin", "cyrillic", "arabic", "han"}
    owners = Counter(owner_of(r) for r in generate(2000, seed=4))
    assert set(owners) == {a.code for a in DEFAULT_AGENCIES}


def test_identifiers_pass_their_check_digits() -> None:
    rng = random.Random(1)
    for _ in range(300):
        assert vin_is_valid(identifiers.vin(rng))
        assert stdnum.imo.is_valid(identifiers.imo(rng))
        mmsi = identifiers.mmsi(rng)
        assert re.fullmatch(r"[2-7]\d{8}", mmsi)
        number = identifiers.passport_number(rng, rng.choice(list(identifiers.PASSPORT_FORMATS)))
        assert re.fullmatch(r"[A-Z0-9]{8,9}", number)
    for country in identifiers.PHONES:
        for n in (0, 123_456, identifiers.PHONE_CAPACITY - 1):
            parsed = phonenumbers.parse(identifiers.phone(rng, country, n))
            assert phonenumbers.is_valid_number(parsed), (country, n)
            assert phonenumbers.region_code_for_number(parsed) == country
    # ICAO 9303 part 4's own specimen, then a German one with umlauts expanded
    specimen = identifiers.mrz_td3(
        "L898902C3", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415", "ZE184226B"
    )
    assert specimen.splitlines() == [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ]
    german = identifiers.mrz_td3("C01X00T47", "D", "Müller", "Hans-Jürgen", "800101", "M", "300101")
    assert "MUELLER<<HANS<JUERGEN" in german
    for mrz in (specimen, german):
        assert bool(TD3CodeChecker(mrz))
    # and in the data
    for record in generate(3000, seed=9):
        props = record["properties"]
        for value in props.get("vin", []):
            assert vin_is_valid(value), value
        for value in props.get("imoNumber", []):
            assert stdnum.imo.is_valid(value.removeprefix("IMO ")), value


def test_permutation_is_a_bijection() -> None:
    for size in (1, 7, 1000, 4097):
        permutation = identifiers.Permutation(size, "key")
        assert sorted(permutation(i) for i in range(size)) == list(range(size))
    fmt = identifiers.NumberFormat("@@-##")
    assert fmt.capacity == 26 * 26 * 100
    assert [fmt.at(0), fmt.at(fmt.capacity - 1)] == ["AA-00", "ZZ-99"]


def _keys(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The identifiers polex matches on, normalised the way matching reads them."""
    props = record["properties"]

    def compact(value: str) -> str:
        return re.sub(r"[^0-9A-Z]", "", value.upper())

    keys = [("doc", compact(v)) for p in ("number", "passportNumber") for v in props.get(p, [])]
    keys += [("vin", compact(v)) for v in props.get("vin", [])]
    keys += [("imo", re.sub(r"\D", "", v)) for v in props.get("imoNumber", [])]
    keys += [("mmsi", v) for v in props.get("mmsi", [])]
    keys += [("serial", compact(v)) for v in props.get("serialNumber", [])]
    keys += [("phone", re.sub(r"\D", "", v)) for v in props.get("phone", [])]
    keys += [("email", v) for v in props.get("email", [])]
    keys += [("plate", compact(v)) for v in props.get("registrationNumber", [])]
    return keys


def test_truth_names_records_that_exist_and_explains_every_shared_identifier() -> None:
    records, truths = split(list(generate_with_truth(6000, seed=5)))
    by_id = {r["id"]: r for r in records}
    kinds = Counter(t["kind"] for t in truths)
    assert set(kinds) >= {
        "variant",
        "duplicate",
        "network",
        "stolen_passport_use",
        "firearm_seized_twice",
        "cross_border_hit",
        "stolen_vessel",
        "shared_phone",
    }
    for truth in truths:
        assert len(truth["records"]) >= 2
        assert set(truth["records"]) <= set(by_id), truth
        linked = [by_id[i] for i in truth["records"]]
        if truth["kind"] in ("variant", "duplicate"):
            assert {r["schema"] for r in linked} == {"Person"}
            assert len({owner_of(r) for r in linked}) == len(linked)  # each agency once
            first, *others = (r["properties"]["name"][0] for r in linked)
            if truth["kind"] == "duplicate":
                assert set(others) == {first}
            else:  # each other agency spells it differently (two may agree among themselves)
                assert first not in others
        elif truth["kind"] == "network":
            assert {"Organization", "Membership", "Person"} <= {r["schema"] for r in linked}
            assert len({owner_of(r) for r in linked}) == 2
        else:
            keys = [set(_keys(r)) for r in linked]
            assert keys[0] & keys[1], truth  # the identifier they share
            assert owner_of(linked[0]) != owner_of(linked[1])
    # no two records share an identifier unless the truth says why
    holders: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        for key in _keys(record):
            holders[key].add(record["id"])
    explained = [set(t["records"]) for t in truths]
    for key, ids in holders.items():
        if len(ids) > 1:
            assert any(ids <= group for group in explained), (key, ids)


def test_the_stories_are_in_every_data_set() -> None:
    stories = sum("-STORY-" in r["id"] for r in generate(100, seed=1))
    assert 20 < stories < 40
    small = list(generate_with_truth(stories, seed=1))
    assert small == list(generate_with_truth(stories, seed=2))  # fixed whatever the seed
    records, truths = split(small)
    assert all("-STORY-" in r["id"] for r in records)
    assert [r["properties"]["name"][0] for r in records[:3]] == [
        "Сергей Иванов",
        "Sergei Ivanov",
        "Serguei Ivanoff",
    ]
    wanted = records[0]
    passport = next(r for r in records if r["schema"] == "Passport")
    assert wanted["properties"]["passportNumber"] == passport["properties"]["number"]
    assert owner_of(wanted) != owner_of(passport)
    assert {"variant", "stolen_passport_use", "firearm_seized_twice"} <= {t["kind"] for t in truths}


def test_size_is_exact_and_cut_episodes_lose_their_truths() -> None:
    for size in (0, 1, 2, 5, 333):
        records, truths = split(list(generate_with_truth(size, seed=6)))
        assert len(records) == size
        ids = {r["id"] for r in records}
        assert all(set(t["records"]) <= ids for t in truths)


def test_persons_and_travel_documents_are_one_schema_in_one_database() -> None:
    people, truths = split(list(persons_with_truth(3000, seed=2)))
    assert len(people) == 3000
    assert {(r["schema"], r["polex"]["database"]) for r in people} == {("Person", "intelligence")}
    assert {t["kind"] for t in truths} >= {"variant", "duplicate"}
    ids = {r["id"] for r in people}
    assert all(set(t["records"]) <= ids for t in truths)
    wanted = list(persons(200, seed=2, database="wanted_persons"))
    assert {r["polex"]["database"] for r in wanted} == {"wanted_persons"}
    assert all(r["polex"]["notice_type"] for r in wanted)
    documents = list(travel_documents(20_000, seed=2))
    assert {(r["schema"], r["polex"]["database"]) for r in documents} == {
        ("Passport", "travel_documents")
    }
    numbers = [r["properties"]["number"][0] for r in documents]
    assert len(set(numbers)) == len(numbers)  # issued once each, not drawn at random


def test_custom_agencies_and_databases() -> None:
    two = [Agency("XA-ONE", "One", "DE"), Agency("XB-TWO", "Two", "RU")]
    records, truths = split(
        list(generate_with_truth(1500, seed=1, agencies=two, databases=["vehicles", "firearms"]))
    )
    assert {r["polex"]["database"] for r in records} == {"vehicles", "firearms"}
    assert {owner_of(r, two) for r in records} == {"XA-ONE", "XB-TWO"}
    ids = {r["id"] for r in records}
    assert all(set(t["records"]) <= ids for t in truths)


def test_write_and_write_split(tmp_path: Path) -> None:
    seen: list[int] = []
    assert write(tmp_path / "r.jsonl", tmp_path / "t.jsonl", 1200, seed=2, progress=seen.append)
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(generate(1200, seed=2))
    assert seen == [1200]
    truths = (tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()
    assert truths and all(json.loads(t)["records"] for t in truths)

    counts = write_split(tmp_path / "split", 1200, seed=2)
    assert sum(counts.values()) == 1200
    for name, count in counts.items():
        agency, database, _ = name.split(".")
        rows = [
            json.loads(line)
            for line in (tmp_path / "split" / name).read_text(encoding="utf-8").splitlines()
        ]
        assert len(rows) == count
        assert {owner_of(r) for r in rows} == {agency}
        assert {r["polex"]["database"] for r in rows} == {database}
    assert (tmp_path / "split" / "truth.jsonl").read_text(encoding="utf-8") == "\n".join(
        truths
    ) + "\n"


def test_memory_stays_flat_as_size_grows() -> None:
    # name pools, Faker locales and caches are built once per process: build them all first
    deque(generate(20_000, seed=2), maxlen=0)

    def peak(size: int) -> int:
        tracemalloc.start()
        try:
            deque(generate(size, seed=2), maxlen=0)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(20_000)
    assert large < small + 100_000  # under 5 bytes for each record more


def test_birth_variants_are_real_dates_even_for_a_leap_day() -> None:
    variants = {birth_variant(random.Random(seed), "1964-02-29") for seed in range(400)}
    assert {how for _, how in variants} == {None, "year only"}  # no 1963-02-29 or 1965-02-29
    for value, _ in variants:
        if len(value) == 10:
            date.fromisoformat(value)
    shifted = {birth_variant(random.Random(seed), "1964-03-01") for seed in range(400)}
    assert ("year off by one" in {how for _, how in shifted}) is True
