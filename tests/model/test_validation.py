"""Every validation rule with a value that passes it and one that breaks it.

MRZ cases are the ICAO 9303 specimens (UTO is ICAO's fictional state); VIN and IMO cases are
real numbers."""

from __future__ import annotations

from datetime import date

import pytest

from polex.model.envelope import Database, Envelope, NoticeType, SubjectCategory
from polex.model.ftm import model
from polex.model.validation import (
    DATABASE_SCHEMATA,
    Issue,
    Result,
    mrz_check_digit,
    normalise_document_number,
    normalise_serial,
    validate_country,
    validate_date,
    validate_entity,
    validate_envelope_rules,
    validate_imo,
    validate_mrz,
    validate_record,
    validate_vin,
)

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
TD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"
# ICAO 9303 Part 5: a 12-character document number runs on into the optional data.
TD1_LONG_NUMBER = (
    "I<UTOD23145890<7349<<<<<<<<<<<\n3407127M9507122UTO<<<<<<<<<<<2\nSTEVENSON<<PETER<JOHN<<<<<<<<<"
)
NEXT_YEAR = str(date.today().year + 1)
THIS_YEAR = str(date.today().year)


def _swap(mrz: str, index: int, char: str) -> str:
    """The MRZ with one character (index over the text, newlines included) replaced."""
    return mrz[:index] + char + mrz[index + 1 :]


def _rules(result: Result) -> list[tuple[str, str]]:
    return [(i.field, i.rule) for i in result.errors]


def _warning_rules(result: Result) -> list[tuple[str, str]]:
    return [(i.field, i.rule) for i in result.warnings]


def test_result_to_json_lists_every_issue() -> None:
    issue = Issue("properties.vin", "vin.check_digit", "properties.vin: check digit")
    result = Result(valid=False, errors=[issue], warnings=[issue])
    row = {"field": "properties.vin", "rule": "vin.check_digit", "message": issue.message}
    assert result.to_json() == {"valid": False, "errors": [row], "warnings": [row]}


# --- ICAO 9303 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mrz",
    [
        pytest.param(TD3, id="TD3 specimen"),
        pytest.param(TD1, id="TD1 specimen"),
        pytest.param(TD2, id="TD2 specimen"),
        pytest.param(TD1_LONG_NUMBER, id="TD1 long document number"),
        pytest.param(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
            "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<8",
            id="TD3 empty personal number, filler check digit",
        ),
        pytest.param(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
            "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<08",
            id="TD3 empty personal number, zero check digit",
        ),
        pytest.param(f"  {TD3.replace(chr(10), chr(13) + chr(10))}\n", id="CRLF and blank edges"),
    ],
)
def test_valid_mrz(mrz: str) -> None:
    assert validate_mrz(mrz) == Result(valid=True, errors=[], warnings=[])


@pytest.mark.parametrize(
    ("mrz", "fields"),
    [
        # TD3 line 2 starts at index 45 (44 characters and a newline).
        (_swap(TD3, 45 + 9, "7"), ["mrz.document_number", "mrz.composite"]),
        (_swap(TD3, 45 + 19, "3"), ["mrz.birth_date", "mrz.composite"]),
        (_swap(TD3, 45 + 27, "8"), ["mrz.expiry_date", "mrz.composite"]),
        (_swap(TD3, 45 + 42, "2"), ["mrz.personal_number", "mrz.composite"]),
        (_swap(TD3, 45 + 43, "1"), ["mrz.composite"]),
        (_swap(TD3, 45 + 2, "7"), ["mrz.document_number", "mrz.composite"]),
        (_swap(TD1, 14, "8"), ["mrz.document_number", "mrz.composite"]),
        (_swap(TD1, 31 + 6, "3"), ["mrz.birth_date", "mrz.composite"]),
        (_swap(TD1, 31 + 29, "7"), ["mrz.composite"]),
        (_swap(TD1_LONG_NUMBER, 18, "8"), ["mrz.document_number", "mrz.composite"]),
        (_swap(TD2, 37 + 27, "8"), ["mrz.expiry_date", "mrz.composite"]),
        (_swap(TD2, 37 + 35, "5"), ["mrz.composite"]),
    ],
)
def test_mrz_names_the_failed_check_digit(mrz: str, fields: list[str]) -> None:
    result = validate_mrz(mrz)
    assert not result.valid
    assert [i.field for i in result.errors] == fields
    assert {i.rule for i in result.errors} == {"icao9303.check_digit"}


def test_mrz_message_gives_found_and_expected_digit() -> None:
    (issue,) = validate_mrz(_swap(TD3, 45 + 43, "1")).errors
    assert issue.message == "mrz.composite: check digit is 1, expected 0 (ICAO 9303 TD3)"


@pytest.mark.parametrize(
    ("mrz", "rule"),
    [
        ("", "icao9303.format"),
        (TD3.splitlines()[1], "icao9303.format"),
        (TD3 + "\n" + TD3.splitlines()[1], "icao9303.format"),
        (TD3[:-1], "icao9303.format"),
        (TD1.replace("\n", ""), "icao9303.format"),
        (TD3.lower(), "icao9303.charset"),
        (TD3.replace("ANNA<MARIA", "ANNA MARIA"), "icao9303.charset"),
    ],
)
def test_malformed_mrz(mrz: str, rule: str) -> None:
    assert _rules(validate_mrz(mrz)) == [("mrz", rule)]


@pytest.mark.parametrize(
    ("data", "digit"),
    [
        ("L898902C3", "6"),  # the digits the TD3 specimen carries
        ("740812", "2"),
        ("120415", "9"),
        ("ZE184226B<<<<<", "1"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "7"),
        ("<<<<", "0"),
    ],
)
def test_mrz_check_digit(data: str, digit: str) -> None:
    assert mrz_check_digit(data) == digit


# --- ISO 3779 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP042788",  # North American, check digit X
        "1m8gdm9axkp042788",
        "1M8-GDM9AX-KP042788",
        "1HGCM82633A004352",
        "LVSHCAMB1CE054249",  # Chinese, check digit 1
        "JHMCM56557C404453",  # Japanese with a correct check digit
    ],
)
def test_valid_vin(vin: str) -> None:
    assert validate_vin(vin) == Result(valid=True, errors=[], warnings=[])


@pytest.mark.parametrize(
    ("vin", "rule"),
    [
        ("1M8GDM9AYKP042788", "vin.check_digit"),  # North America: mandatory
        ("1HGCM82643A004352", "vin.check_digit"),
        ("LVSHCAMB2CE054249", "vin.check_digit"),  # China: mandatory
        ("1M8GDM9AXKP04278", "vin.length"),
        ("1M8GDM9AXKP0427888", "vin.length"),
        ("", "vin.length"),
        ("1M8GDM9AXKP04278O", "vin.charset"),
        ("IM8GDM9AXKP042788", "vin.charset"),
        ("1M8GDM9AXKQ042788", "vin.charset"),
    ],
)
def test_invalid_vin(vin: str, rule: str) -> None:
    assert _rules(validate_vin(vin)) == [("vin", rule)]


def test_vin_message_names_field_rule_and_digits() -> None:
    (issue,) = validate_vin("1M8GDM9AYKP042788").errors
    assert issue.message == "vin: check digit is Y, expected X (ISO 3779)"


@pytest.mark.parametrize(
    "vin",
    [
        "WVWZZZ1JZ3W386752",  # Volkswagen: Z in the check digit's place
        "WBA3A5C51CF256651",  # BMW: 1, where the computation gives 7
        "JHMCM56567C404453",  # Japanese, digit changed
        "VF1AB000000000001",
    ],
)
def test_wrong_check_digit_elsewhere_is_only_a_warning(vin: str) -> None:
    result = validate_vin(vin)
    assert result.valid and not result.errors
    assert _warning_rules(result) == [("vin", "vin.check_digit")]


# --- IMO --------------------------------------------------------------------------------------


@pytest.mark.parametrize("imo", ["9074729", "IMO 9074729", "imo9074729", " 9176187 "])
def test_valid_imo(imo: str) -> None:
    assert validate_imo(imo) == Result(valid=True, errors=[], warnings=[])


@pytest.mark.parametrize(
    ("imo", "rule"),
    [
        ("9074728", "imo.check_digit"),
        ("IMO 9176188", "imo.check_digit"),
        ("907472", "imo.format"),
        ("90747290", "imo.format"),
        ("IMO 90747A9", "imo.format"),
        ("", "imo.format"),
    ],
)
def test_invalid_imo(imo: str, rule: str) -> None:
    assert _rules(validate_imo(imo)) == [("imo", rule)]


# --- ISO 3166, ISO 8601 -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["DE", "fr", " nl ", "XK", "US", "HK"])
def test_valid_country(code: str) -> None:
    assert validate_country(code).valid


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("ZZ", False),
        ("EU", False),
        ("DEU", True),  # alpha-3 is refused, with the alpha-2 it means
        ("Germany", True),
        ("D", False),
        ("", False),
    ],
)
def test_invalid_country(code: str, hint: bool) -> None:
    result = validate_country(code)
    assert _rules(result) == [("country", "iso3166")]
    assert ("did you mean DE?" in result.errors[0].message) is hint


@pytest.mark.parametrize(
    "value", ["1974", "1974-08", "1974-08-12", "2000-02-29", " 1974-08-12 ", NEXT_YEAR]
)
def test_valid_date(value: str) -> None:
    assert validate_date(value).valid


@pytest.mark.parametrize(
    "value",
    [
        "1974-13",
        "1974-00",
        "1974-02-30",
        "1900-02-29",
        "0000",
        "12.08.1974",
        "74-08-12",
        "1974-8-12",
        "1974-08-12T10:00",
        "19740812",
        "",
    ],
)
def test_invalid_date(value: str) -> None:
    assert _rules(validate_date(value)) == [("date", "iso8601")]


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ab 123-45.6/7", "AB1234567"),
        ("BND-1234", "BND1234"),
        (" 123 456 ", "123456"),
        ("№ 12#34", "1234"),
        ("аб-12", "АБ12"),  # Cyrillic letters stay letters
    ],
)
def test_normalise_serial(raw: str, normal: str) -> None:
    assert normalise_serial(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("l898902c3", "L898902C3"),
        ("L898 902-C3", "L898902C3"),
        ("D23145890<<", "D23145890"),
    ],
)
def test_normalise_document_number(raw: str, normal: str) -> None:
    assert normalise_document_number(raw) == normal


# --- entities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "properties"),
    [
        (
            "Person",
            {
                "name": ["Anna Maria Eriksson"],
                "birthDate": ["1974-08-12"],
                "nationality": ["se", "xk"],
                "citizenship": ["Germany"],  # FtM reads it as de
                "email": ["anna@example.org"],
                "phone": ["+46 8 123 456 78"],
            },
        ),
        ("Person", {"name": ["Unknown"], "birthDate": ["1974"], "deathDate": [THIS_YEAR]}),
        ("Vehicle", {"vin": ["1M8GDM9AXKP042788"], "registrationNumber": ["B-XY 123"]}),
        ("Vehicle", {"vin": ["WVWZZZ1JZ3W386752"]}),
        ("Vessel", {"name": ["Sea Star"], "imoNumber": ["IMO 9074729"], "flag": ["pa"]}),
        ("Organization", {"name": ["Shipping Ltd"], "imoNumber": ["5123456"]}),
        ("Firearm", {"serialNumber": ["BND-1234"], "country": ["at"]}),
        ("Passport", {"number": ["L898902C3"], "country": ["de"], "endDate": [NEXT_YEAR]}),
        ("Identification", {"number": ["D23145890734"]}),
        ("Company", {"name": ["ACME"], "jurisdiction": ["gb"], "incorporationDate": ["2001-05"]}),
        ("Person", {}),
    ],
)
def test_valid_entity(schema: str, properties: dict[str, list[str]]) -> None:
    result = validate_entity(schema, properties)
    assert result.valid, result.errors


def test_european_vin_warns_on_the_property() -> None:
    result = validate_entity("Vehicle", {"vin": ["WVWZZZ1JZ3W386752"]})
    assert _warning_rules(result) == [("properties.vin", "vin.check_digit")]


@pytest.mark.parametrize(
    ("schema", "properties", "field", "rule"),
    [
        ("Nobody", {}, "schema", "ftm.schema"),
        ("Thing", {}, "schema", "ftm.schema"),  # abstract
        ("Person", {"vin": ["1M8GDM9AXKP042788"]}, "properties.vin", "ftm.property"),
        ("Person", {"associates": ["other-id"]}, "properties.associates", "ftm.property"),
        ("Person", {"nationality": ["Atlantis"]}, "properties.nationality", "iso3166"),
        ("Person", {"citizenship": ["xx"]}, "properties.citizenship", "iso3166"),
        ("Company", {"jurisdiction": ["nowhere"]}, "properties.jurisdiction", "iso3166"),
        ("Firearm", {"serialNumber": ["1"], "country": ["?"]}, "properties.country", "iso3166"),
        ("Person", {"birthDate": ["12.08.1974"]}, "properties.birthDate", "iso8601"),
        ("Person", {"birthDate": [NEXT_YEAR]}, "properties.birthDate", "date.future"),
        ("Person", {"deathDate": [f"{NEXT_YEAR}-01"]}, "properties.deathDate", "date.future"),
        (
            "Company",
            {"incorporationDate": ["2001-02-30"]},
            "properties.incorporationDate",
            "iso8601",
        ),
        ("Vehicle", {"vin": ["1M8GDM9AYKP042788"]}, "properties.vin", "vin.check_digit"),
        ("Vehicle", {"vin": ["SHORT"]}, "properties.vin", "vin.length"),
        (
            "Vessel",
            {"name": ["X"], "imoNumber": ["9074728"]},
            "properties.imoNumber",
            "imo.check_digit",
        ),
        ("Person", {"email": ["anna.example.org"]}, "properties.email", "email.format"),
        ("Person", {"phone": ["08 123 456 78"]}, "properties.phone", "phone.format"),
        ("Firearm", {"make": ["Glock"]}, "properties.serialNumber", "record.required"),
        ("Firearm", {"serialNumber": ["  "]}, "properties.serialNumber", "record.required"),
        ("Passport", {"country": ["de"]}, "properties.number", "record.required"),
        ("Identification", {"number": []}, "properties.number", "record.required"),
        ("Vessel", {"imoNumber": ["9074729"]}, "properties.name", "record.required"),
    ],
)
def test_invalid_entity(
    schema: str, properties: dict[str, list[str]], field: str, rule: str
) -> None:
    assert _rules(validate_entity(schema, properties)) == [(field, rule)]


def test_entity_message_names_the_property() -> None:
    (issue,) = validate_entity("Vehicle", {"vin": ["1M8GDM9AYKP042788"]}).errors
    assert issue.message == "properties.vin: check digit is Y, expected X (ISO 3779)"


def test_every_bad_value_is_reported() -> None:
    result = validate_entity("Person", {"nationality": ["de", "Atlantis", "Narnia"], "x": ["1"]})
    assert [i.message for i in result.errors] == [
        "properties.nationality: 'Atlantis' is not a country code (ISO 3166-1, e.g. DE)",
        "properties.nationality: 'Narnia' is not a country code (ISO 3166-1, e.g. DE)",
        "properties.x: Person has no property 'x' (FtM model)",
    ]


def test_birth_date_this_year_is_not_in_the_future() -> None:
    assert validate_entity("Person", {"birthDate": [THIS_YEAR]}).valid


# --- envelope rules ---------------------------------------------------------------------------


def _envelope(database: Database, **fields: object) -> Envelope:
    return Envelope.model_validate({"database": database, "owner": "BKA", **fields})


PERSON = {"subject_category": SubjectCategory.suspect}
NO_CATEGORY = ("polex.subject_category", "gdpr.subject_category")
NO_NOTICE = ("polex.notice_type", "notice.required")
WRONG_DATABASE = ("polex.database", "database.schema")


@pytest.mark.parametrize(
    ("database", "schema", "fields"),
    [
        (Database.wanted_persons, "Person", {**PERSON, "notice_type": NoticeType.red}),
        (
            Database.missing_persons,
            "Person",
            {"subject_category": SubjectCategory.missing_person, "notice_type": NoticeType.yellow},
        ),
        (
            Database.missing_persons,
            "Person",
            {"subject_category": SubjectCategory.victim, "notice_type": NoticeType.yellow},
        ),
        (Database.terrorist_fighters, "Person", PERSON),
        (Database.terrorist_fighters, "Person", {**PERSON, "notice_type": NoticeType.blue}),
        (Database.travel_documents, "Passport", {}),
        (Database.travel_documents, "Identification", {}),
        (Database.vehicles, "Vehicle", {}),
        (Database.vessels, "Vessel", {}),
        (Database.firearms, "Firearm", {}),
        (Database.crime_groups, "Organization", {}),
        (Database.crime_groups, "Company", {}),
        (Database.crime_groups, "Membership", {}),
        (Database.crime_groups, "Person", PERSON),
        (Database.intelligence, "Person", {"subject_category": SubjectCategory.contact}),
        (Database.intelligence, "Vehicle", {}),
        (Database.intelligence, "Event", {}),
    ],
)
def test_envelope_fits(database: Database, schema: str, fields: dict[str, object]) -> None:
    result = validate_envelope_rules(schema, _envelope(database, **fields))
    assert result.valid, result.errors


@pytest.mark.parametrize(
    ("database", "schema", "fields", "issues"),
    [
        (Database.intelligence, "Person", {}, [NO_CATEGORY]),
        (Database.crime_groups, "Person", {}, [NO_CATEGORY]),
        (Database.wanted_persons, "Person", PERSON, [NO_NOTICE]),
        (
            Database.missing_persons,
            "Person",
            {"subject_category": SubjectCategory.missing_person},
            [NO_NOTICE],
        ),
        (
            Database.vehicles,
            "Vehicle",
            {"notice_type": NoticeType.red},
            [("polex.notice_type", "notice.database")],
        ),
        (
            Database.intelligence,
            "Person",
            {**PERSON, "notice_type": NoticeType.purple},
            [("polex.notice_type", "notice.database")],
        ),
        (
            Database.missing_persons,
            "Person",
            {**PERSON, "notice_type": NoticeType.yellow},
            [("polex.subject_category", "database.subject_category")],
        ),
        (Database.travel_documents, "Vehicle", {}, [WRONG_DATABASE]),
        (Database.vehicles, "Firearm", {}, [WRONG_DATABASE]),
        (Database.vessels, "Vehicle", {}, [WRONG_DATABASE]),
        (Database.firearms, "Vehicle", {}, [WRONG_DATABASE]),
        (Database.crime_groups, "Vehicle", {}, [WRONG_DATABASE]),
        (Database.intelligence, "Nobody", {}, [WRONG_DATABASE]),
        (
            Database.wanted_persons,
            "Company",
            {"notice_type": NoticeType.red},
            [WRONG_DATABASE],
        ),
        (
            Database.wanted_persons,
            "Vehicle",
            {},
            [WRONG_DATABASE, NO_NOTICE],
        ),
    ],
)
def test_envelope_rule_broken(
    database: Database, schema: str, fields: dict[str, object], issues: list[tuple[str, str]]
) -> None:
    assert _rules(validate_envelope_rules(schema, _envelope(database, **fields))) == issues


def test_subject_category_message_says_personal_data_is_refused() -> None:
    (issue,) = validate_envelope_rules("Person", _envelope(Database.intelligence)).errors
    assert issue.message.startswith(
        "polex.subject_category: personal data without a data-subject category is refused"
    )


def test_intelligence_holds_every_entity_and_relationship() -> None:
    records = [
        s.name
        for s in model.schemata.values()
        if not s.abstract and (s.is_a("Thing") or s.is_a("Interval"))
    ]
    envelope = _envelope(Database.intelligence, **PERSON)
    assert len(records) > 50
    assert all(validate_envelope_rules(name, envelope).valid for name in records)


@pytest.mark.parametrize("database", list(Database))
def test_every_database_names_real_schemata(database: Database) -> None:
    assert all(model.get(name) is not None for name in DATABASE_SCHEMATA[database])


# --- records ----------------------------------------------------------------------------------


def test_record_merges_entity_and_envelope_issues() -> None:
    result = validate_record(
        "Person",
        {"name": ["Anna"], "birthDate": [NEXT_YEAR]},
        _envelope(Database.wanted_persons),
    )
    assert _rules(result) == [
        ("properties.birthDate", "date.future"),
        ("polex.subject_category", "gdpr.subject_category"),
        ("polex.notice_type", "notice.required"),
    ]
    assert all(i.message.startswith(f"{i.field}: ") for i in result.errors)


def test_valid_record_keeps_entity_warnings() -> None:
    result = validate_record(
        "Vehicle", {"vin": ["WVWZZZ1JZ3W386752"]}, _envelope(Database.vehicles)
    )
    assert result.valid
    assert result.to_json()["warnings"][0]["field"] == "properties.vin"
