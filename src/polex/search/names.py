"""Names in any script reduced to comparable Latin tokens and phonetic keys.

Watch lists miss people because "Mohammed" has hundreds of Latin spellings and Arabic script
writes no short vowels. So every name is transliterated to Latin (ICU), and each token gets a
consonant skeleton in which the letters transliterations disagree on (vowels, doubled
letters, v/w/f, c/k/q/g, d/t, b/p, z/s) collapse: Mohammed, Muhamad, Mehmet and the Arabic
محمد (ICU: "mhmd") share one key; Ivanov and Ivanoff; Sergei, Serguei and Sergej."""

from __future__ import annotations

import re
from functools import cache, lru_cache

import icu

# Standalone particles that carry no identity; "al-Hassan" and "Hassan" are the same family.
PARTICLES = frozenset(
    {
        "al",
        "el",
        "ul",
        "bin",
        "ibn",
        "ben",
        "bint",
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "di",
        "du",
        "del",
        "della",
        "la",
        "le",
        "mc",
        "mac",
        "o",
    }
)
# Glued article prefixes: "alhasan", Arabic "الحسن" (ICU: "alhsn").
GLUED_PREFIXES = ("al", "el", "ul")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SKELETON_MAP = str.maketrans(
    {
        "v": "f",
        "w": "f",
        "q": "k",
        "c": "k",
        "g": "k",
        "z": "s",
        "x": "s",
        "d": "t",
        "b": "p",
        "j": "",
        "y": "",
        "a": "",
        "e": "",
        "i": "",
        "o": "",
        "u": "",
    }
)


# Digraphs first, so that the h left over is a real one (Mohammed, Hassan, Arabic "mhmd").
_DIGRAPHS = (
    ("ph", "f"),
    ("kh", "k"),
    ("gh", "k"),
    ("sh", "s"),
    ("ch", "s"),
    ("zh", "s"),
    ("th", "t"),
)


@cache
def _transliterator() -> icu.Transliterator:
    return icu.Transliterator.createInstance("Any-Latin; Latin-ASCII; Lower")


@lru_cache(maxsize=200_000)
def latinise(text: str) -> str:
    """Any script to lower-case ASCII Latin words separated by single spaces."""
    latin = text if text.isascii() else _transliterator().transliterate(text)
    return " ".join(_NON_WORD.sub(" ", latin.lower()).split())


@lru_cache(maxsize=200_000)
def _tokens(name: str) -> tuple[str, ...]:
    words = latinise(name).split()
    kept = tuple(w for w in words if w not in PARTICLES and not w.isdigit())
    return kept or tuple(words)


def name_tokens(name: str) -> list[str]:
    """Normalised Latin tokens of a name, particles dropped; order carries no meaning."""
    return list(_tokens(name))


def _collapse(text: str) -> str:
    out = []
    for char in text:
        if not out or out[-1] != char:
            out.append(char)
    return "".join(out)


def skeleton(token: str) -> str:
    """The consonant skeleton: what spellings and transliterations of a name part share."""
    first = token[:1]
    for digraph, sound in _DIGRAPHS:
        token = token.replace(digraph, sound)
    body = _collapse(token.translate(_SKELETON_MAP))
    # A name starting with a vowel keeps it as a marker, so "Ali" and "Li" stay apart.
    return (first if first in "aeiouy" else "") + body if body else token


@lru_cache(maxsize=200_000)
def _phonetic_keys(token: str) -> frozenset[str]:
    keys = {skeleton(token)}
    for prefix in GLUED_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            keys.add(skeleton(token[len(prefix) :]))
    return frozenset(k for k in keys if k)


def phonetic_keys(token: str) -> set[str]:
    """Keys under which a token is indexed and looked up."""
    return set(_phonetic_keys(token))
