"""Names in any script reduced to comparable Latin tokens and phonetic keys.

Watch lists miss people because "Mohammed" has dozens of Latin spellings, Arabic script writes
no short vowels and every country transliterates Cyrillic its own way. So every name is
transliterated to Latin (rigour for the scripts it spells the way passports do, ICU for the
rest), cut into tokens whose order carries no meaning, and each token gets a consonant
skeleton in which the letters spellings disagree on (vowels, doubled letters, v/w/f, c/k/q/g,
d/t, b/p, z/s, kh/h, sh/ch/zh/s) collapse: Mohammed, Muhamad and the Arabic محمد (ICU: "mhmd")
share one key; Ivanov and Ivanoff; Sergei, Serguei and Sergej. (rigour's metaphone does not
fit here: it keys "mhmd" as MMT and "mohammed" as MHMT, the very pair that must meet.)

Everything here runs per record on bulk import, so the expensive work (transliteration,
skeletons) is cached per word: names differ, the words they are made of repeat."""

from __future__ import annotations

import re
from functools import cache, lru_cache

import icu
from rigour._core import maybe_ascii, person_name_prefixes_list, text_scripts
from rigour.names import tokenize_name

from polex.search.wadegiles import pinyin_readings

_CACHE = 200_000

# Arabic articles and connectors ("son of", "daughter of"): no part of the identity, and
# present or absent at the writer's whim ("Mohammed bin Salman", "Mohammed Salman"). Connectors
# only count as such between two names: "Bin" is also a Chinese given name (Zhu Bin, Bin Li);
# "bn", "abn" and "bnt" are how ICU spells بن, ابن, بنت. ("Ben" stays: a given name too.)
ARTICLES = ("al", "el", "ul")
CONNECTORS = frozenset({"bin", "ibn", "bint", "binti", "bn", "abn", "bnt", "ould"})
# European particles are kept as tokens (they are weighed by frequency when scoring) but do not
# make keys: "Maria de Souza" is looked up under "maria" and "souza" like "Maria Souza".
KEYLESS_PARTICLES = frozenset(
    {"van", "von", "der", "den", "ter", "ten", "de", "da", "di", "du", "del", "della", "dos"}
    | {"das", "do", "la", "le", "mc", "mac", "o", "d", "l", "y", "e"}
)
# "Abd" (servant of) and the name after it are one name in Arabic, written as one or two Latin
# words: Abdullah, Abd Allah, Abdel Rahman, Abdulrahman and عبد الرحمن all become "abd"+rest.
ABD_PREFIXES = ("abdoul", "abdul", "abdel", "abdal", "abdol", "abdur", "abd")
# Honorifics that lead a name ("Dr", "Prof", "Herr"): rigour's list, single words only.
TITLES = frozenset(
    p.lower().rstrip(".") for p in person_name_prefixes_list() if p.replace(".", "").isalpha()
) - {"the"}

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Transliterations mark ayn, hamza and the soft sign with apostrophes: drop, do not split.
_MARKS = re.compile(r"[\u02b0-\u02ff'`\u2018\u2019\"]")

# Compound Chinese surnames: the only ones where the family name is two characters.
HAN_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "夏侯", "令狐", "慕容", "尉迟"}
    | {"公孙", "长孙", "宇文", "轩辕", "端木", "歐陽", "諸葛", "東方", "長孫", "軒轅"}
)
_CLUSTER = re.compile(r"(?<=[zskgtdcp])(?=[hḥ])")
_ARABIC_FIXES = str.maketrans(
    {
        "ة": "ا",  # ta marbuta: Latin spellings end in -a (Fatima), ICU writes "t"
        "ى": "ا",  # alif maqsura: Mustafa, Layla
    }
)


@cache
def _transliterator(rules: str) -> icu.Transliterator:
    """ICU transliterators are expensive to build and thread-safe to reuse."""
    return icu.Transliterator.createInstance(rules)


def _icu_latin(text: str) -> str:
    return _transliterator("Any-Latin; Latin-ASCII; Lower").transliterate(text)


def _han(word: str) -> str:
    """Pinyin the way Chinese names are written in Latin: family name, then the given name's
    syllables as one word (王秀英 -> "wang xiuying", not "wang xiu ying")."""
    syllables = _transliterator("Han-Latin/Names; Latin-ASCII; Lower").transliterate(word).split()
    if len(syllables) != len(word) or len(word) < 2:
        return " ".join(syllables)
    family = 2 if word[:2] in HAN_COMPOUND_SURNAMES and len(word) > 2 else 1
    return " ".join(("".join(syllables[:family]), "".join(syllables[family:])))


def _hangul(word: str) -> str:
    """Korean names are written without spaces; the first syllable is the family name."""
    if len(word) < 2:
        return _icu_latin(word)
    return f"{_icu_latin(word[0])} {_icu_latin(word[1:])}"


def _arabic(word: str) -> str:
    """ICU's Arabic transliteration, nudged towards how the names are spelled in Latin: the
    article split off ("al hsn", as in "al-Hassan"), a word-initial ayn read as the vowel that
    Latin spellings start with (عمر: "amr", like "Omar"), ta marbuta and alif maqsura as "a"."""
    prefix = ""
    if word.startswith("ال") and len(word) > 3:
        prefix, word = "al ", word[2:]
    if word.startswith("ع"):
        word = "ا" + word[1:]
    latin = _transliterator("Any-Latin").transliterate(word.translate(_ARABIC_FIXES))
    # ز+ح is "zḥ", not the digraph "zh": an "a" keeps such clusters apart (vowels are free).
    latin = _CLUSTER.sub("a", latin)
    return prefix + _transliterator("Latin-ASCII; Lower").transliterate(latin)


@lru_cache(maxsize=_CACHE)
def _latin_word(word: str) -> str:
    """One word of a non-ASCII name in Latin, by the transliteration that suits its script."""
    scripts = text_scripts(word)
    if "Han" in scripts:
        latin = _han(word)
    elif "Hangul" in scripts:
        latin = _hangul(word)
    elif "Arabic" in scripts:
        latin = _arabic(word)
    else:
        latin = maybe_ascii(word)
        if not latin.isascii():
            latin = _icu_latin(latin)
    return " ".join(_NON_ALNUM.sub(" ", _MARKS.sub("", latin.lower())).split())


@lru_cache(maxsize=_CACHE)
def latinise(text: str) -> str:
    """Any script to lower-case ASCII Latin words separated by single spaces; punctuation
    separates words. Cyrillic, Greek and friends are spelled as in passports (rigour: Сергей ->
    "sergei"), Chinese as pinyin, Arabic by ICU (consonants and long vowels only)."""
    if text.isascii():  # apostrophes join, as rigour's tokenizer does: O'Brien -> "obrien"
        return " ".join(_NON_ALNUM.sub(" ", _MARKS.sub("", text.lower())).split())
    return " ".join(w for w in map(_latin_word, tokenize_name(text)) if w)


def _reorder(name: str) -> str:
    """Registers write "Family, Given"; that becomes "Given Family"."""
    for comma in (",", "،"):
        if name.count(comma) == 1:
            family, given = name.split(comma)
            return f"{given} {family}"
    return name


def _strip_article(token: str) -> str:
    """A token without a glued Arabic article ("alhasan" -> "hasan")."""
    for article in ARTICLES:
        if token.startswith(article) and len(token) - len(article) >= 3:
            return token[len(article) :]
    return token


def article_forms(token: str) -> tuple[str, ...]:
    """A token and, if it may start with a glued Arabic article ("alhasan"), the name without
    it; both forms are keyed and compared, since "Albert" starts the same way."""
    bare = _strip_article(token)
    return (token,) if bare == token else (token, bare)


def _abd_compound(tokens: list[str]) -> list[str]:
    """Abd-names as one token "abd"+name, however they were split or joined."""
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        prefix = next((p for p in ABD_PREFIXES if token.startswith(p)), None)
        if prefix is None:
            out.append(token)
        elif token != prefix:
            out.append("abd" + token[len(prefix) :])
        elif index + 1 < len(tokens):
            index += 1
            out.append("abd" + _strip_article(tokens[index]))
        else:
            out.append(token)
        index += 1
    return out


@lru_cache(maxsize=_CACHE)
def _tokens(name: str) -> tuple[str, ...]:
    """Cached tokens of a name (see ``name_tokens``)."""
    latin = latinise(_reorder(name))
    words = latin.split()
    while len(words) > 1 and words[0] in TITLES:
        words = words[1:]
    last = len(words) - 1
    kept = [
        w
        for i, w in enumerate(words)
        if w not in ARTICLES and not (w in CONNECTORS and 0 < i < last)
    ] or words
    return tuple(_abd_compound(kept) if "abd" in latin else kept)


def name_tokens(name: str) -> list[str]:
    """Normalised Latin tokens of a name: "Hassan, Mohamed" -> ["mohamed", "hassan"]. Arabic
    articles and bin/ibn dropped ("al-hassan", "الحسن" -> "hassan", "hsn"); other particles
    kept. Compare them as a set: the order of given and family names carries no meaning."""
    return list(_tokens(name))


@lru_cache(maxsize=_CACHE)
def key_tokens(name: str) -> tuple[str, ...]:
    """The tokens a name is indexed and looked up by: its tokens without keyless particles,
    unless that would leave fewer than two ("Liu De" keeps "de")."""
    tokens = _tokens(name)
    kept = tuple(t for t in tokens if t not in KEYLESS_PARTICLES)
    return kept if len(kept) >= 2 else tokens


# Letter groups that stand for one sound and that spelling traditions write differently, longest
# first: German sch, Russian щ as shch (BGN) or sc (ISO), ч as ch/tch/tsch/c, ц as ts/tz/c, х as
# kh/h, ж as zh/z; Christina/Kristina; Alexander/Aleksandr.
_GROUPS = {
    "shch": "s",
    "tsch": "s",
    "dsch": "j",  # German for dzh: Dschamal, Radschab
    "dzh": "j",
    "sch": "s",
    "tch": "s",
    "chr": "kr",
    "ch": "s",
    "sh": "s",
    "zh": "s",
    "ts": "s",
    "tz": "s",
    "cz": "s",
    "dz": "s",
    "dj": "j",
    "kh": "h",
    "gh": "k",
    "ph": "f",
    "th": "t",
    "dh": "t",
    "ck": "k",
    "ce": "s",
    "ci": "s",
    "cy": "s",
    "x": "ks",
}
_GROUP_RE = re.compile("|".join(sorted(_GROUPS, key=len, reverse=True)))
_LETTERS = str.maketrans(
    {
        "v": "f",
        "w": "f",
        "q": "k",
        "c": "k",
        "g": "k",
        "z": "s",
        "d": "t",
        "b": "p",
        "j": None,
        "y": None,
        "a": None,
        "e": None,
        "i": None,
        "o": None,
        "u": None,
    }
)
_DOUBLES = re.compile(r"(.)\1+")
_CH = re.compile(r"(?<![st])ch")
VOWEL_MARK = "a"


def skeleton(token: str, initial_vowel: bool = False) -> str:
    """The consonant skeleton of a token: what spellings and transliterations of a name share.

    A token that starts with a vowel (or y) gets a marker for it, so "Ali" and "Li" stay apart
    while "Omar", "Umar" and عمر ("amr") meet; ``initial_vowel`` reads a leading j that way too
    (Jakov, Yakov, Iakov)."""
    head = token[:1]
    marked = initial_vowel or head in "aeiouy"
    body = _GROUP_RE.sub(lambda m: _GROUPS[m.group()], token[1:] if marked else token)
    body = _DOUBLES.sub(r"\1", body.translate(_LETTERS))
    if body.endswith("h"):  # Fatimah/Fatima, Abdullah/عبد الله ("abd allh")
        body = body[:-1]
    return (VOWEL_MARK if marked else "") + body


@lru_cache(maxsize=_CACHE)
def token_keys(token: str) -> frozenset[str]:
    """Cached phonetic keys of one token (see ``phonetic_keys``)."""
    forms = article_forms(token)
    keys = {skeleton(form) for form in forms}
    if "w" in token[1:]:  # و is a vowel (Mahmoud, "mhmwd") or w (Marwan, "mrwan")
        keys |= {skeleton(form[:1] + form[1:].replace("w", "")) for form in forms}
    if _CH.search(token):  # ch is ч in English (Chekhov), х in German and Greek (Charlamow)
        keys |= {skeleton(_CH.sub("h", form)) for form in forms}
    if "zh" in token[1:]:  # ж, or ز then ح: Azhiman, which ICU spells "azahyman"
        keys |= {skeleton(form[:1] + form[1:].replace("zh", "zah")) for form in forms}
    if token.startswith("j"):
        keys.add(skeleton(token, initial_vowel=True))
    for reading in pinyin_readings(token):  # Wade-Giles as pinyin: Hsiung, Xiong
        keys.add(skeleton(reading))
        if reading.startswith("j"):
            keys.add(skeleton(reading, initial_vowel=True))
    return frozenset(k for k in keys if k) or frozenset({token})


_G = re.compile(r"g(?!h)")


def h_for_g(token: str) -> str:
    """A token transliterated from Cyrillic with г read as h: Russian spellings write it g,
    Ukrainian ones h (Тригуб: Trigub, Tryhub; Георгій: Georgii, Heorhii). Not gh, which is
    Arabic غ (Ghassan is not Hassan)."""
    return _G.sub("h", token)


def phonetic_keys(token: str) -> set[str]:
    """Keys under which a token is indexed and looked up: its consonant skeleton, plus variants
    where a spelling is ambiguous (a glued Arabic article, w as vowel, ch as ч or х, zh as ж
    or z-h, initial j as y, Wade-Giles as pinyin)."""
    return set(token_keys(token))
