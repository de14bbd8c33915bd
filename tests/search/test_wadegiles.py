"""Wade-Giles read as pinyin: each rule of the reading, and tokens that are no Wade-Giles."""

from __future__ import annotations

import pytest

from polex.search.wadegiles import PINYIN, is_syllabic, pinyin_readings


@pytest.mark.parametrize(
    ("wade", "pinyin"),
    [
        ("hsu", "xu"),  # hs is x
        ("chang", "zhang"),  # ch is zh (or ch)...
        ("chieh", "jie"),  # ...or j before i, and -ieh is -ie
        ("chin", "qin"),  # ch' (apostrophe dropped) is q
        ("tsung", "zong"),  # ts is z, -ung is -ong
        ("tzu", "zi"),  # tzu, ssu: zi, si
        ("ssu", "si"),
        ("shih", "shi"),  # -ih is -i
        ("jen", "ren"),  # j is r
        ("kuei", "guei"),  # k is g
        ("ho", "he"),  # -o after h and k is -e
        ("lo", "luo"),  # ...and -uo elsewhere
        ("chien", "jian"),  # -ien is -ian
        ("erh", "er"),
        ("hsiuchen", "xiuzhen"),  # several syllables, written together
        ("chienping", "jianping"),
    ],
)
def test_a_wade_giles_token_reads_as_its_pinyin(wade: str, pinyin: str) -> None:
    assert pinyin in pinyin_readings(wade)
    assert is_syllabic(wade)


@pytest.mark.parametrize("token", ["xiuzhen", "zhang", "wang", "li"])
def test_pinyin_is_read_as_itself_only(token: str) -> None:
    assert pinyin_readings(token) == ()
    assert is_syllabic(token)


@pytest.mark.parametrize("token", ["hans", "schmidt", "mohammed", "ivanov", "chunn"])
def test_a_token_that_is_no_chinese_syllables_has_no_reading(token: str) -> None:
    assert pinyin_readings(token) == ()
    assert not is_syllabic(token)


def test_readings_are_pinyin_syllables_and_few() -> None:
    readings = pinyin_readings("chienping")
    assert 0 < len(readings) <= 8
    assert {"jian", "ping"} <= PINYIN
    assert all(r.isascii() and r.isalpha() for r in readings)


def test_interjections_without_a_vowel_are_no_syllables_of_a_name() -> None:
    assert not {"m", "n", "hm"} & PINYIN
    assert pinyin_readings("chin") == ("jin", "qin")  # not chi+n
