"""Chinese names in Wade-Giles read as pinyin.

Taiwan, Hong Kong-era and older Western records write Chinese names in Wade-Giles, without its
apostrophes (Chang Hsiu-fang, Huang Chieh), where the mainland and ICU's transliteration of
the characters write pinyin (Zhang Xiufang, 黄洁: "huang jie"). The two share too little
spelling for a fuzzy comparison and too few consonants for a phonetic key (hs is x, ch is zh,
j or q), so a Latin token that reads as one to three Wade-Giles syllables is also read as the
pinyin it stands for. Without apostrophes ch stands for ch' (q, ch) as well as ch (j, zh), and
p, t, k for b, d, g as well as for p, t, k: every reading that is a pinyin syllable is kept."""

from __future__ import annotations

from functools import lru_cache

# The syllables ICU spells the CJK Unified Ideographs with (Han-Latin/Names, in ASCII), but
# for the interjections without a vowel (hm, m, n), which are no part of a name.
_SYLLABLES = """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang
cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan
chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de den deng di dian
diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fiao fo
fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai
han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao
jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai
kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu
lo long lou lu luan lue lun luo ma mai man mang mao me mei men meng mi mian miao mie min ming
miu mo mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou
nu nuan nue nun nuo o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu
qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong
rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei
shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo
ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang
wei wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang
yao ye yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai
zhan zhang zhao zhe zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi
zong zou zu zuan zui zun zuo
"""
PINYIN = frozenset(_SYLLABLES.split())

# Wade-Giles initials, longest first, and the pinyin initials each may stand for.
_INITIALS = (
    ("hs", ("x",)),
    ("ch", ("zh", "ch", "j", "q")),
    ("ts", ("z", "c")),
    ("tz", ("z", "c")),
    ("ss", ("s",)),
    ("sz", ("s",)),
    ("sh", ("sh",)),
    ("p", ("b", "p")),
    ("t", ("d", "t")),
    ("k", ("g", "k")),
    ("j", ("r",)),
    *((letter, (letter,)) for letter in "fhlmnswy"),
    ("", ("",)),
)
# Wade-Giles finals that pinyin spells otherwise.
_FINALS = (
    ("ung", "ong"),
    ("ien", "ian"),
    ("yen", "yan"),
    ("ieh", "ie"),
    ("yeh", "ye"),
    ("ueh", "ue"),
    ("erh", "er"),
    ("ih", "i"),
)
# The letters Wade-Giles writes (g only in -ng, r only in erh): a token with b, d, q, v or x
# (or an accent) is none.
_WADE_LETTERS = frozenset("acefghijklmnoprstuwyz")
MAX_SYLLABLES = 3
LONGEST_SYLLABLE = 6  # "chuang", "hsiung"
MAX_READINGS = 8
_CACHE = 100_000


@lru_cache(maxsize=4096)
def _finals(initial: str, final: str) -> frozenset[str]:
    finals = {final}
    for wade, pinyin in _FINALS:
        if final.endswith(wade):
            finals.add(final[: -len(wade)] + pinyin)
    if final == "o":  # ko, ho: ge, he; to, lo: duo, luo
        finals |= {"e", "uo"}
    if final == "u" and initial in ("tz", "ts", "ss", "sz"):  # tzu, ssu: zi, si
        finals.add("i")
    return frozenset(finals)


def _syllable_readings(text: str) -> frozenset[str]:
    """The pinyin syllables ``text`` may be, as one syllable in Wade-Giles or in pinyin."""
    readings = {text} if text in PINYIN else set()
    for wade, initials in _INITIALS:
        if not text.startswith(wade):
            continue
        final = text[len(wade) :]
        for pinyin in initials:
            readings |= {pinyin + f for f in _finals(wade, final) if pinyin + f in PINYIN}
    return frozenset(readings)


def _spellings(pinyin_final: str, wade: str) -> set[str]:
    """The finals that ``_finals`` reads as this pinyin final (after this Wade-Giles initial)."""
    spelt = {pinyin_final}
    for wade_final, pinyin in _FINALS:
        if pinyin_final.endswith(pinyin):
            spelt.add(pinyin_final[: -len(pinyin)] + wade_final)
    if pinyin_final in ("e", "uo"):
        spelt.add("o")
    if pinyin_final == "i" and wade in ("tz", "ts", "ss", "sz"):
        spelt.add("u")
    return spelt


def _syllable_table() -> dict[str, frozenset[str]]:
    """Every spelling of one syllable with its pinyin readings, built once from the pinyin
    syllables backwards: a token's every prefix is looked up while it is read, and a dict
    lookup costs a fraction of reading the prefix."""
    spellings = set(PINYIN)
    for syllable in PINYIN:
        for wade, initials in _INITIALS:
            for pinyin in initials:
                if syllable.startswith(pinyin):
                    final = syllable[len(pinyin) :]
                    spellings |= {wade + f for f in _spellings(final, wade)}
    table = {text: _syllable_readings(text) for text in spellings}
    return {text: readings for text, readings in table.items() if readings}


_SYLLABLE = _syllable_table()
_NONE: frozenset[str] = frozenset()


@lru_cache(maxsize=_CACHE)
def _readings(text: str, syllables: int) -> frozenset[str]:
    if not text:
        return frozenset({""})
    if syllables == 0:
        return frozenset()
    found: set[str] = set()
    for end in range(1, min(len(text), LONGEST_SYLLABLE) + 1):
        heads = _SYLLABLE.get(text[:end], _NONE)
        if heads:
            rest = _readings(text[end:], syllables - 1)
            found |= {head + tail for head in heads for tail in rest}
    return frozenset(found)


def is_syllabic(token: str) -> bool:
    """Whether a Latin token is one to three Chinese syllables, in pinyin or Wade-Giles."""
    return bool(_readings(token, MAX_SYLLABLES))


@lru_cache(maxsize=_CACHE)
def pinyin_readings(token: str) -> tuple[str, ...]:
    """The pinyin a Latin token may stand for if it is Wade-Giles ("hsiuchen": "xiuzhen"),
    other than itself; none for a token that is no Chinese syllables."""
    if not _WADE_LETTERS.issuperset(token):
        return ()
    readings = sorted(_readings(token, MAX_SYLLABLES) - {token})
    return tuple(readings[:MAX_READINGS])
