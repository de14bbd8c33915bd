"""Index keys: names in any script to comparable tokens and phonetic keys, identifiers to exact
keys that ignore spacing, case and the letter/digit confusions their standards allow, and the
scorer's use of both."""

from __future__ import annotations

import pytest

from polex.search.identifiers import identifier_keys, query_identifier_keys
from polex.search.keys import birth_keys, entity_keys, name_keys, query_keys, year_keys
from polex.search.names import latinise, name_tokens, phonetic_keys
from polex.search.score import MATCH_THRESHOLD, date_agreement, score_pair


@pytest.mark.parametrize(
    ("text", "latin"),
    [
        ("Сергей Иванов", "sergei ivanov"),
        ("张伟", "zhang wei"),
        ("王秀英", "wang xiuying"),  # the given name's syllables are one word in Latin
        ("محمد الحسن", "mhmd al hsn"),  # the article split off, as in al-Hassan
        ("Jürgen Müller-Lüdenscheidt", "jurgen muller ludenscheidt"),
        ("O'Brien,  Seán", "obrien sean"),
        ("O'Brien, Sean", "obrien sean"),
        ("Ελένη Παπαδοπούλου", "eleni papadopoulou"),
    ],
)
def test_latinise(text: str, latin: str) -> None:
    assert latinise(text) == latin


def test_family_comma_given_is_reordered() -> None:
    assert name_tokens("Hassan, Mohamed") == ["mohamed", "hassan"]


def test_arabic_article_and_connectors() -> None:
    assert name_tokens("Mohammed Al-Hassan") == ["mohammed", "hassan"]
    assert name_tokens("Mohammed bin Salman") == ["mohammed", "salman"]
    # "Bin" is a Chinese given name too: only a connector between two names
    assert name_tokens("Zhu Bin") == ["zhu", "bin"]


@pytest.mark.parametrize("name", ["al-hassan", "alhasan", "الحسن", "El Hassan"])
def test_article_forms_are_comparable(name: str) -> None:
    keys = set().union(*(phonetic_keys(t) for t in name_tokens(name)))
    assert "hsn" in keys


def test_abd_names_are_one_token_however_written() -> None:
    forms = ["Abdul Rahman", "Abdulrahman", "Abdelrahman", "Abd al-Rahman"]
    assert {name_tokens(f)[0] for f in forms} == {"abdrahman"}
    assert phonetic_keys(name_tokens("عبد الرحمن")[0]) & phonetic_keys("abdrahman")


def test_titles_are_dropped() -> None:
    assert name_tokens("Dr. Prof. Jan van der Berg") == ["jan", "van", "der", "berg"]


@pytest.mark.parametrize(
    "group",
    [
        ["mohammed", "muhamad", "mhmd", "muhammad", "mohamed"],
        ["ivanov", "ivanoff", "iwanow"],
        ["sergei", "serguei", "sergej", "sergey"],
        ["mahmoud", "mhmwd"],
        ["omar", "umar", "amr"],  # عمر: a leading ayn reads as the vowel
        ["kuznetsova", "kusnezowa"],
        ["yakov", "jakov", "iakov"],
    ],
)
def test_spellings_share_a_phonetic_key(group: list[str]) -> None:
    shared = set.intersection(*(phonetic_keys(t) for t in group))
    assert shared, {t: phonetic_keys(t) for t in group}


def test_distinct_names_keep_distinct_keys() -> None:
    assert not phonetic_keys("ali") & phonetic_keys("li")
    assert not phonetic_keys("ivanov") & phonetic_keys("petrov")


def test_name_keys_include_pairs_and_are_what_queries_look_up() -> None:
    keys = name_keys("Person", {"name": ["Sergei Ivanov"]})
    assert ("name", "srk") in keys and ("pair", "afnf|srk") in keys
    assert keys == query_keys("Ivanoff, Serguei")


def test_name_parts_are_assembled() -> None:
    parts = name_keys("Person", {"firstName": ["Sergei"], "lastName": ["Ivanov"]})
    assert parts == name_keys("Person", {"name": ["Sergei Ivanov"]})
    assert name_keys("Person", {"firstName": ["秀英"], "lastName": ["王"]}) == name_keys(
        "Person", {"name": ["Wang Xiuying"]}
    )


def test_only_matchable_schemata_have_name_keys() -> None:
    assert name_keys("Vessel", {"name": ["Sea Star"]})
    assert name_keys("Company", {"name": ["Acme Trading"]})
    assert not name_keys("Passport", {"number": ["L898902C3"]})


def test_birth_keys() -> None:
    props = {"birthDate": ["1980-05-07"]}
    assert birth_keys(props) == {("birth", "1980-05-07")}
    assert birth_keys(props, swapped=True) == {("birth", "1980-05-07"), ("birth", "1980-07-05")}
    assert birth_keys({"birthDate": ["1980"]}) == set()
    assert ("birth", "1980-05-07") in entity_keys("Person", props)


def test_year_keys_join_each_name_part_with_the_birth_year() -> None:
    props = {"name": ["Edoardo Vasari"], "birthDate": ["1960-08-19"]}
    keys = entity_keys("Person", props)
    names = {key for kind, key in keys if kind == "name"}
    assert {key for kind, key in keys if kind == "year"} == {f"{n}|1960" for n in names}
    # a year alone, or a month, is enough; no year, no year keys
    assert year_keys(keys, {"birthDate": ["1960"]}) == year_keys(keys, props)
    assert year_keys(keys, {"birthDate": ["1960-08"]}) == year_keys(keys, props)
    assert year_keys(keys, {}) == set()
    # pairs are not joined: a pair is rare already
    assert not any(key.count("|") > 1 for _, key in year_keys(keys, props))


def test_a_query_looks_up_the_years_either_side() -> None:
    keys = name_keys("Person", {"name": ["T. Durdu"]})
    looked_up = year_keys(keys, {"birthDate": ["1973-11-11"]}, spread=1)
    recorded = entity_keys("Person", {"name": ["Tekbay Durdu"], "birthDate": ["1974-11-11"]})
    assert looked_up & recorded  # the surname in 1974, one year off the query's 1973
    assert {key.rsplit("|", 1)[1] for _, key in looked_up} == {"1972", "1973", "1974"}


def test_document_number_with_country_and_without() -> None:
    keys = identifier_keys("Passport", {"number": ["L898902C3"], "country": ["UTO"]})
    assert keys == {("doc", "UTO:L898902C3"), ("docn", "L898902C3"), ("docf", "L898902C3")}


@pytest.mark.parametrize("country", ["de", "DEU", "D", "Germany"])
def test_issuing_country_is_normalised(country: str) -> None:
    keys = identifier_keys("Passport", {"number": ["C01X00T47"], "country": [country]})
    assert ("doc", "DE:C01X00T47") in keys


@pytest.mark.parametrize("typed", ["l898 902-c3", "L898.902.C3", " L898902C3 ", "l898902c3"])
def test_document_number_ignores_spacing_and_case(typed: str) -> None:
    assert ("docn", "L898902C3") in identifier_keys("Person", {"passportNumber": [typed]})
    assert ("docn", "L898902C3") in query_identifier_keys(typed.replace(" ", ""))


def test_document_number_letter_o_digit_0_folded_key() -> None:
    recorded = identifier_keys("Person", {"idNumber": ["AB1O2I45"]})
    assert ("docn", "AB1O2I45") in recorded
    assert ("docf", "AB102145") in recorded
    assert ("docf", "AB102145") in query_identifier_keys("AB102145")
    assert ("docn", "AB102145") not in recorded


def test_cyrillic_capitals_in_a_number_read_as_latin() -> None:
    keys = identifier_keys("Person", {"passportNumber": ["АВ 123456"]})  # Cyrillic А, В
    assert ("docn", "AB123456") in keys


def test_vin_folds_letters_vins_never_contain() -> None:
    typed = identifier_keys("Vehicle", {"vin": ["1m8gdm9axkpo42788"]})  # O for 0
    assert typed == identifier_keys("Vehicle", {"vin": ["1M8GDM9AXKP042788"]})
    assert typed == {("vin", "1M8GDM9AXKP042788")}
    assert ("vin", "1M8GDM9AXKP042788") in query_identifier_keys("1M8GDM9AXKPO42788")


def test_plate_imo_and_mmsi() -> None:
    assert identifier_keys("Vehicle", {"registrationNumber": ["B-XY 123"]}) == {("plate", "BXY123")}
    vessel = identifier_keys("Vessel", {"imoNumber": ["IMO 9074729"], "mmsi": ["211 234 567"]})
    assert vessel == {("imo", "9074729"), ("mmsi", "211234567")}
    assert ("imo", "9074729") in query_identifier_keys("IMO9074729")
    assert ("mmsi", "211234567") in query_identifier_keys("211234567")


def test_firearm_serial_with_make_and_without() -> None:
    keys = identifier_keys("Firearm", {"serialNumber": ["ab-12o3"], "make": ["Glock GmbH"]})
    assert keys == {("serial", "GLOCK:AB1203"), ("serialn", "AB1203")}
    assert ("serialn", "AB1203") in query_identifier_keys("AB 12O3".replace(" ", ""))


def test_phone_to_e164_with_the_country_for_national_numbers() -> None:
    assert identifier_keys("Person", {"phone": ["+49 30 123456"]}) == {("phone", "+4930123456")}
    national = identifier_keys("Person", {"phone": ["030 123456"], "nationality": ["de"]})
    assert national == {("phone", "+4930123456")}
    assert query_identifier_keys("+49-30-123456") == {("phone", "+4930123456")}


def test_email_is_lower_cased() -> None:
    assert identifier_keys("Person", {"email": [" Mailto:X.Y@Example.ORG"]}) == {
        ("email", "x.y@example.org")
    }
    assert query_identifier_keys("X.Y@example.org") == {("email", "x.y@example.org")}


@pytest.mark.parametrize("token", ["Ivanov", "1980", "Sergei", "O'Brien", "12"])
def test_names_and_short_numbers_are_no_identifiers(token: str) -> None:
    assert query_identifier_keys(token) == set()


def test_a_stated_identifier_needs_no_digit() -> None:
    assert query_identifier_keys("CZEJLLFGG") == set()
    stated = query_identifier_keys("czej llfgg".replace(" ", ""), stated=True)
    assert ("docn", "CZEJLLFGG") in stated
    assert query_identifier_keys("ABC", stated=True) == set()  # still five characters at least


def test_shared_identifier_alone_is_a_match() -> None:
    result = score_pair(
        "Person",
        {"passportNumber": ["L898902C3"]},
        "Passport",
        {"number": ["L898 902 C3"], "country": ["UTO"]},
    )
    assert result.score >= 0.95
    assert result.features[0].name == "identifier"


def test_same_number_from_different_countries_is_no_match() -> None:
    result = score_pair(
        "Passport",
        {"number": ["12345678"], "country": ["de"]},
        "Passport",
        {"number": ["12345678"], "country": ["fr"]},
    )
    assert result.score == 0


def test_same_serial_on_guns_of_different_makes_is_no_match() -> None:
    result = score_pair(
        "Firearm",
        {"serialNumber": ["AB123"], "make": ["Glock"]},
        "Firearm",
        {"serialNumber": ["AB123"], "make": ["Beretta"]},
    )
    assert result.score == 0


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        ("1980-05-07", "1980-05-07", 1),
        ("1980-05-07", "1980-07-05", 1),  # day and month swapped
        ("1980", "1980-05-07", 1),  # only the year known
        ("1980-05-07", "1981-05-07", -1),  # year one off: likely a typo, still a doubt
        ("1980", "1981-05-07", -1),  # a year given one off, as from an age: a doubt too
        ("1980-05-07", "1980-09-21", -1),
        ("1980-05-07", "1975-05-07", -1),
    ],
)
def test_birth_date_agreement(a: str, b: str, sign: int) -> None:
    delta, why = date_agreement(a, b)
    assert delta * sign > 0, why


def test_a_year_one_off_is_a_doubt_not_a_contradiction() -> None:
    assert date_agreement("1980", "1981-05-07")[0] == date_agreement("1981", "1980-05")[0]
    assert date_agreement("1980", "1981-05-07")[0] == date_agreement("1980-05-07", "1981-05-07")[0]
    assert date_agreement("1980", "1981-05-07")[0] > date_agreement("1980", "1982-05-07")[0]


def test_birth_date_disagreement_outweighs_a_namesake() -> None:
    same = score_pair(
        "Person",
        {"name": ["Zhang Wei"], "birthDate": ["1990-11-30"]},
        "Person",
        {"name": ["张伟"], "birthDate": ["1990-11-30"]},
    )
    namesake = score_pair(
        "Person",
        {"name": ["Zhang Wei"], "birthDate": ["1990-11-30"]},
        "Person",
        {"name": ["张伟"], "birthDate": ["1971-02-03"]},
    )
    assert same.score >= MATCH_THRESHOLD > namesake.score


def test_gender_and_nationality_disagreement_lower_the_score() -> None:
    query = {"name": ["Andrea Rossi"], "gender": ["female"], "nationality": ["it"]}
    agree = score_pair("Person", query, "Person", {**query})
    other = score_pair(
        "Person", query, "Person", {**query, "gender": ["male"], "nationality": ["ch"]}
    )
    assert agree.score > other.score
    assert {f.name for f in other.features} >= {"gender", "nationality"}


def test_a_person_is_no_company() -> None:
    result = score_pair("Person", {"name": ["Acme Holding"]}, "Company", {"name": ["Acme Holding"]})
    assert result.score == 0
