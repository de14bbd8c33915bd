"""Scoring a candidate against a query entity, with the reasons.

One scorer serves search and cross-matching, so it is symmetric and works on plain FtM property
dicts. Evidence, strongest first:

* a shared identifier (same passport number, VIN, IMO, make and serial...) is enough on its
  own: the score is at least that identifier's strength, whatever the names say;
* names are compared as sets of latinised tokens (so "Сергей Иванов", "Ivanov, Serguei" and
  "Sergei Ivanov" agree), each token weighted by how rare it is: a shared "Mohammed" or "Wei"
  says less than a shared "Alhassan", and a missing common token costs less;
* birth date, nationality and gender then move the name score up a little when they agree and
  down a lot when they contradict: two "Zhang Wei" born years apart are two people.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler
from rigour._core import text_scripts

from polex.model.ftm import model
from polex.search.identifiers import Key, fold, identifier_keys
from polex.search.keys import entity_names
from polex.search.names import article_forms, h_for_g, name_tokens, token_keys
from polex.search.wadegiles import is_syllabic, pinyin_readings

# At and above this a hit is a match (`match: true`); below it, a possible match to look at.
# Chosen on the labelled evaluation set (tests/search/eval_names.py): true matches with
# variant spellings, typos and an agreeing birth date score 0.85-1.0; an identical name with a
# contradicting birth date scores about 0.7 and should be looked at, not asserted.
MATCH_THRESHOLD = 0.75

TOKEN_FLOOR = 0.82  # token similarities below this are no evidence at all
RUN_FLOOR = 0.9  # the same for a token against a run of tokens written together
SAME_SOUND = 0.85  # floor for tokens with one phonetic key ("mhmd" / "mohammed")
SOUND_SPELLING = 0.7  # ...when their spellings are at least this alike (or one transliterated)
# Scripts with one Latin spelling: names written in them are compared by spelling alone.
SETTLED_SCRIPTS = frozenset({"Latin", "Han", "Common", "Inherited"})
INITIAL = 0.8  # "J" for "John"
RUN_LENGTH_RATIO = 2 * RUN_FLOOR - 1  # shorter / longer below this: no run similarity
MAX_SPAN = 3  # "van der berg" ~ "vanderberg", "xiu ying" ~ "xiuying"
EXTRA_PARTS = 0.2  # share of the score given to the side with more name parts
WEAK_ALIAS = 0.9  # a match on a weak alias ("Abu Ali") is worth less than on a name

# Strength of a shared identifier, by key kind.
IDENTIFIER_STRENGTH = {
    "doc": 1.0,
    "vin": 1.0,
    "imo": 1.0,
    "serial": 1.0,
    "mmsi": 0.95,
    "docn": 0.95,
    "email": 0.95,
    "phone": 0.9,
    "plate": 0.9,
    "docf": 0.85,
    "serialn": 0.85,
}

BIRTH_EXACT = 0.1
BIRTH_SWAPPED = 0.06
BIRTH_YEAR = 0.03
BIRTH_NEAR = -0.05
BIRTH_SAME_YEAR = -0.1
BIRTH_DIFFERS = -0.3
NATIONALITY_AGREES = 0.02
NATIONALITY_DIFFERS = -0.1
GENDER_DIFFERS = -0.2
# Search asks as "LegalEntity" when it does not know what a name belongs to.
GENERIC_SCHEMATA = frozenset({"Thing", "LegalEntity"})


@dataclass(frozen=True)
class Feature:
    """One piece of evidence: its name, its contribution to the score, and why."""

    name: str
    score: float
    detail: str


@dataclass(frozen=True)
class Score:
    """A score in 0..1 and the features that explain it."""

    score: float
    features: list[Feature]


TokenWeight = Callable[[str], float]


def _spelling(a: str, b: str) -> float:
    """Spelling similarity: Jaro-Winkler (kind to typos late in a name) averaged with
    optimal-string-alignment edits (which keep "halabi" from matching "hala" on a prefix).
    A final y reads as i (Samy/Sami, Arabic علي "aly"/Ali)."""
    a, b = _final_y(a), _final_y(b)
    edits = OSA.normalized_similarity(a, b)
    if min(len(a), len(b)) <= 3:  # Jaro-Winkler flatters short strings ("wei"/"wen" 0.82)
        return edits
    return (JaroWinkler.similarity(a, b) + edits) / 2


def _final_y(token: str) -> str:
    return token[:-1] + "i" if len(token) > 2 and token.endswith("y") else token


def _same_sound(a: str, b: str, spelling: float, translit: bool) -> bool:
    """Whether a shared phonetic key is evidence: when the spellings are already close, or when
    one side was transliterated from a script whose Latin spellings vary (محمد: "mhmd", Цветкова:
    Tsvetkova, Zwetkowa; Тригуб: Trigub, Tryhub). Two Latin spellings that only share
    consonants ("Marie"/"Mora", "Qin"/"Quan") are different names."""
    if token_keys(a) & token_keys(b):
        return translit or spelling >= SOUND_SPELLING
    # one side may be Cyrillic with г, which Russian spellings write g and Ukrainian ones h
    return translit and bool(
        token_keys(h_for_g(a)) & token_keys(b) or token_keys(a) & token_keys(h_for_g(b))
    )


def _forms(token: str, chinese: bool) -> tuple[str, ...]:
    """The spellings a token is compared in: as written, without a glued Arabic article, and,
    between Chinese names, in the pinyin its Wade-Giles stands for."""
    forms = article_forms(token)
    return forms + pinyin_readings(token) if chinese else forms


@lru_cache(maxsize=200_000)
def token_similarity(a: str, b: str, translit: bool = False, chinese: bool = False) -> float:
    """How alike two name tokens are, 0 when not alike enough to be evidence. ``translit``: one
    of them was transliterated from a script whose Latin spellings vary, the other not;
    ``chinese``: both are of Chinese names (see ``_chinese``)."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return INITIAL if a[0] == b[0] else 0.0
    sim = max(_spelling(x, y) for x in _forms(a, chinese) for y in _forms(b, chinese))
    if sim < 1 and _same_sound(a, b, sim, translit):
        sim = SAME_SOUND + (1 - SAME_SOUND) * sim
    return sim if sim >= TOKEN_FLOOR else 0.0


def _run_similarity(a: str, b: str, chinese: bool = False) -> float:
    """Similarity of a token with the tokens of a run written together: spelling only, and
    close ("xiuying" and "xiu ying"), or joining tokens would find accidental matches.

    Most runs are far longer than the token they are held against, and _spelling cannot reach
    RUN_FLOOR then (its edit similarity is at most the ratio of the lengths, and must be at
    least 0.8 for the average with Jaro-Winkler to reach 0.9): those are not computed."""
    if a == b:
        return 1.0
    if min(len(a), len(b)) < RUN_LENGTH_RATIO * max(len(a), len(b)):
        return 0.0
    forms_a = (a, *pinyin_readings(a)) if chinese else (a,)
    forms_b = (b, *pinyin_readings(b)) if chinese else (b,)
    sim = max(_spelling(x, y) for x in forms_a for y in forms_b)
    return sim if sim >= RUN_FLOOR else 0.0


Span = tuple[int, int]  # [start, end) of a run of tokens


@lru_cache(maxsize=100_000)
def _spans(tokens: tuple[str, ...]) -> tuple[tuple[Span, str], ...]:
    """Single tokens and runs of adjacent tokens, joined: written apart on one side, together
    on the other ("abdul rahman", "xiu ying"). Cached: the query's are needed per candidate."""
    return tuple(
        ((start, start + size), "".join(tokens[start : start + size]))
        for size in range(1, MAX_SPAN + 1)
        for start in range(len(tokens) - size + 1)
    )


def align(
    left: Sequence[str], right: Sequence[str], translit: bool = False, chinese: bool = False
) -> list[tuple[Span, Span, float]]:
    """Pairs of token runs that match, best first, each token used once (greedy: names have a
    handful of tokens, and the best pair is almost always right)."""
    options = []
    for ls, a in _spans(tuple(left)):
        for rs, b in _spans(tuple(right)):
            sizes = (ls[1] - ls[0], rs[1] - rs[0])
            if sizes == (1, 1):
                options.append((token_similarity(a, b, translit, chinese), ls, rs))
            elif 1 in sizes:  # a run against a single token, never a run against a run
                options.append((_run_similarity(a, b, chinese), ls, rs))
    options.sort(key=lambda o: (o[0], o[1][1] - o[1][0] + o[2][1] - o[2][0]), reverse=True)
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for sim, ls, rs in options:
        if sim <= 0:
            break
        lidx, ridx = set(range(*ls)), set(range(*rs))
        if lidx & used_left or ridx & used_right:
            continue
        used_left |= lidx
        used_right |= ridx
        pairs.append((ls, rs, sim))
    return pairs


def _coverage(tokens: Sequence[str], matched: dict[int, float], weight: TokenWeight) -> float:
    """Weighted share of the tokens matched, each counting by its similarity."""
    total = sum(weight(t) for t in tokens)
    if not total:
        return 0.0
    return sum(weight(t) * matched.get(i, 0.0) for i, t in enumerate(tokens)) / total


def token_set_similarity(
    left: Sequence[str],
    right: Sequence[str],
    weight: TokenWeight,
    translit: bool = False,
    chinese: bool = False,
) -> tuple[float, str]:
    """Order-independent similarity of two token lists, and which tokens matched. All of the
    shorter name should be in the longer one; parts only one side has (a middle name, a
    patronymic) cost a little, rare ones more than common ones."""
    pairs = align(left, right, translit, chinese)
    matched_left = {i: sim for ls, _, sim in pairs for i in range(*ls)}
    matched_right = {i: sim for _, rs, sim in pairs for i in range(*rs)}
    forward = _coverage(left, matched_left, weight)
    backward = _coverage(right, matched_right, weight)
    if len(matched_left) < len(left) and len(matched_right) < len(right):
        # Both have a part the other lacks: Zhu Qin and Zhu Bin disagree, they do not add to
        # each other.
        score = min(forward, backward)
    else:
        score = (1 - EXTRA_PARTS) * max(forward, backward) + EXTRA_PARTS * min(forward, backward)
    how = ", ".join(
        " ".join(left[slice(*ls)])
        + ("=" if sim == 1 else "~")
        + " ".join(right[slice(*rs)])
        + ("" if sim == 1 else f" {int(sim * 100) / 100:.2f}")
        for ls, rs, sim in pairs
    )
    return score, how


def name_similarity(a: str, b: str, weight: TokenWeight) -> tuple[float, str]:
    """Similarity of two names in any scripts, and the token alignment that explains it."""
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return 0.0, ""
    chinese = _chinese(a, ta) and _chinese(b, tb)
    return token_set_similarity(ta, tb, weight, _across_scripts(a, b), chinese)


def _chinese(name: str, tokens: Sequence[str]) -> bool:
    """Whether a name may be Chinese: written in Han characters, or in Latin syllables of
    pinyin or Wade-Giles only. Only between two such names is a token also compared in the
    pinyin its Wade-Giles stands for ("Tina" is no Wade-Giles "Dina")."""
    if not name.isascii() and "Han" in text_scripts(name):
        return True
    return all(is_syllabic(token) for token in tokens)


def _across_scripts(a: str, b: str) -> bool:
    """Whether the two names were written in different scripts, one of them a script whose
    Latin spellings vary: then a vowel the other script does not write is no typo. Two
    non-Latin scripts count too (Мухаммед аль-Хасан ~ محمد الحسن); one script does not."""
    if not (_transliterated(a) or _transliterated(b)):
        return False
    return text_scripts(a) - SETTLED_SCRIPTS != text_scripts(b) - SETTLED_SCRIPTS


@lru_cache(maxsize=100_000)
def _transliterated(name: str) -> bool:
    """Written in a script whose Latin spellings vary (Arabic, Cyrillic, Greek...): not Latin,
    and not Chinese, whose pinyin is one standard."""
    return not name.isascii() and bool(text_scripts(name) - SETTLED_SCRIPTS)


def _name_feature(
    query_schema: str,
    query: dict[str, list[str]],
    cand_schema: str,
    candidate: dict[str, list[str]],
    weight: TokenWeight,
) -> Feature | None:
    weak = set(query.get("weakAlias", ())) | set(candidate.get("weakAlias", ()))
    best: tuple[float, str, str, str] = (0.0, "", "", "")
    for q in entity_names(query_schema, query):
        for c in entity_names(cand_schema, candidate):
            sim, how = name_similarity(q, c, weight)
            if q in weak or c in weak:
                sim *= WEAK_ALIAS
            if sim > best[0]:
                best = (sim, q, c, how)
    sim, q, c, how = best
    if not sim:
        return None
    return Feature("name", round(sim, 4), f"{q!r} ~ {c!r} ({how})")


def _date_parts(value: str) -> tuple[str, ...]:
    return tuple(value[:10].split("-"))


def date_agreement(a: str, b: str) -> tuple[float, str]:
    """Score adjustment for two birth dates, and why. Dates may be a year, a year and month,
    or a full date; a typed date may have day and month swapped or the year off by one."""
    pa, pb = _date_parts(a), _date_parts(b)
    if pa == pb:
        if len(pa) == 3:
            return BIRTH_EXACT, f"birth date {a} identical"
        return BIRTH_YEAR, f"birth date {a} agrees"
    short, full = sorted((pa, pb), key=len)
    if full[: len(short)] == short:
        return BIRTH_YEAR, f"birth date {a} ~ {b} (agrees where both are known)"
    if len(pa) == len(pb) == 3 and pa[0] == pb[0] and (pa[1], pa[2]) == (pb[2], pb[1]):
        return BIRTH_SWAPPED, f"birth date {a} ~ {b} (day and month swapped)"
    near = pa[0].isdigit() and pb[0].isdigit() and abs(int(pa[0]) - int(pb[0])) == 1
    if near and short[1:] == full[1 : len(short)]:  # a year one off, the parts both know alike
        return BIRTH_NEAR, f"birth date {a} ~ {b} (year one apart)"
    if pa[0] == pb[0]:
        return BIRTH_SAME_YEAR, f"birth dates {a} / {b} differ (same year)"
    return BIRTH_DIFFERS, f"birth dates {a} / {b} differ"


def _values(props: dict[str, list[str]], *names: str) -> set[str]:
    return {v.strip().lower() for n in names for v in props.get(n, ()) if v.strip()}


def _attribute_features(
    query: dict[str, list[str]], candidate: dict[str, list[str]]
) -> list[Feature]:
    features = []
    qd, cd = _values(query, "birthDate"), _values(candidate, "birthDate")
    if qd and cd:
        delta, why = max(date_agreement(a, b) for a in sorted(qd) for b in sorted(cd))
        features.append(Feature("birth_date", delta, why))
    qn = _values(query, "nationality", "citizenship")
    cn = _values(candidate, "nationality", "citizenship")
    if qn and cn:
        both = "/".join(sorted(qn | cn))
        if qn & cn:
            features.append(Feature("nationality", NATIONALITY_AGREES, f"nationality {both}"))
        else:
            features.append(
                Feature("nationality", NATIONALITY_DIFFERS, f"nationality differs ({both})")
            )
    qg, cg = _values(query, "gender"), _values(candidate, "gender")
    if qg and cg and not qg & cg:
        features.append(
            Feature("gender", GENDER_DIFFERS, f"gender differs ({'/'.join(sorted(qg | cg))})")
        )
    return features


def _qualified(keys: set[Key], kind: str) -> dict[str, set[str]]:
    """Numbers of "country:number" or "make:number" keys, with their qualifiers."""
    out: dict[str, set[str]] = {}
    for knd, key in keys:
        if knd == kind:
            qualifier, number = key.split(":", 1)
            out.setdefault(number, set()).add(qualifier)
    return out


def _contradicted(query: set[Key], candidate: set[Key]) -> set[str]:
    """Numbers both sides hold but from different issuing countries (different documents), and
    serials both hold but on guns of different makes: shared digits, not a shared identity."""
    out: set[str] = set()
    for kind in ("doc", "serial"):
        ours, theirs = _qualified(query, kind), _qualified(candidate, kind)
        out.update(n for n, q in ours.items() if n in theirs and not q & theirs[n])
    return out | {fold(n) for n in out}


def _identifier_feature(
    query_schema: str,
    query: dict[str, list[str]],
    cand_schema: str,
    candidate: dict[str, list[str]],
) -> Feature | None:
    qk = identifier_keys(query_schema, query)
    if not qk:  # a name search: the candidates' identifiers cannot match anything
        return None
    ck = identifier_keys(cand_schema, candidate)
    shared = qk & ck
    if not shared:
        return None
    contradicted = _contradicted(qk, ck)
    usable = [(k, v) for k, v in shared if v not in contradicted and k in IDENTIFIER_STRENGTH]
    if not usable:
        numbers = ", ".join(sorted(contradicted))
        return Feature("identifier", 0.0, f"same number {numbers} but different issuer/make")
    kind, key = max(usable, key=lambda kv: (IDENTIFIER_STRENGTH[kv[0]], kv))
    return Feature("identifier", IDENTIFIER_STRENGTH[kind], f"same {kind} {key}")


def compatible(a: str, b: str) -> bool:
    """Whether two schemata can describe the same thing (a person is no company, a vessel no
    person); a generic search schema or an unknown one is compatible with anything."""
    sa, sb = model.get(a), model.get(b)
    if sa is None or sb is None or a in GENERIC_SCHEMATA or b in GENERIC_SCHEMATA:
        return True
    return sa.can_match(sb) or sb.can_match(sa)


def score_pair(
    query_schema: str,
    query: dict[str, list[str]],
    cand_schema: str,
    candidate: dict[str, list[str]],
    token_weight: TokenWeight | None = None,
) -> Score:
    """Score a candidate entity against a query entity (both FtM schema + properties).

    ``token_weight`` weighs name tokens, typically by inverse name-part frequency in the index;
    without it every token counts the same."""
    weight = token_weight or (lambda _token: 1.0)
    features: list[Feature] = []
    identifier = _identifier_feature(query_schema, query, cand_schema, candidate)
    if identifier:
        features.append(identifier)
    name = None
    if compatible(query_schema, cand_schema):
        name = _name_feature(query_schema, query, cand_schema, candidate, weight)
    else:
        features.append(Feature("schema", 0.0, f"a {query_schema} is no {cand_schema}"))
    combined = 0.0
    if name:
        attributes = _attribute_features(query, candidate)
        features += [name, *attributes]
        combined = name.score + sum(f.score for f in attributes)
    score = max(identifier.score if identifier else 0.0, combined)
    return Score(round(min(1.0, max(0.0, score)), 4), features)
