"""People in Japanese and Chinese text, told by the part-of-speech tags of a
morphological analyser whose dictionary ships inside its wheel (nothing is
downloaded, no statistical model is trained or fetched at run time).

people.py reads a name from its capitals or from a role right before it.
Japanese and Chinese have no capitals and no spaces between words, so here a
tokenizer's dictionary says which words are names, and the text must confirm it
where the dictionary alone is not enough.

Japanese: SudachiPy and its SudachiDict-core (Apache-2.0), whose dictionary tags
family names (名詞,固有名詞,人名,姓), given names (…,名) and other persons' names
(…,一般: mostly foreign names in katakana).
- A family name followed by a given name is a person (宮沢和史, 関 信浩).
- A person's name in katakana followed by a middle dot and more katakana is a
  foreign name written the Japanese way (ミナ・トロット).
- Any other name word (a family or a given name alone) is a person only with a
  cue: an honorific or a role right after it (田中さん, 鈴木監督), a role right
  before it (社長の山本), or another name word beside it in a list, as on a score
  card (斎藤−白川, 山田、佐藤).
- Capitalised Latin words right before an honorific are a name (Zeev Suraski氏).

Chinese: rjieba (jieba-rs, MIT: jieba's dictionary and HMM, in Rust). jieba tags
person names `nr`, but its dictionary so tags many other words (阿富汗, 华为,
纪念堂), and its HMM reads new brands as names too (安卓, 谷歌), so a name
opening on a Chinese family name (faker's lists) is a person without a cue when:
- it is a word the dictionary does not have, read as a name by the HMM (梁孟松,
  邱瑞), or a family name jieba cut off the given name after it (蒋 | 尚义), or
  a full name of the dictionary with a character of given names (刘德华);
- a given name of one character is a character of given names (婷, not 卓);
- it does not end on a character of organisations or places (卫健委, 康银阁);
- what follows it is what follows a person in a sentence: a verb, an adverb, a
  preposition, a conjunction, a particle (莫婷说, 张鹏和潘乱, 王宁在), a colon or
  the list's comma (and after three characters a comma or the sentence's end),
  not a noun (高亮效果, 车厘子自由).
The HMM often glues the next word on (莫婷称, 蒋文博为) or a preposition before
(向龙翔): that character is cut off first. Any other word tagged as a name (a
transliteration such as 加尼, a dictionary word) is a person only with a cue: a
role right before it (总统加尼) or an honorific right after it (李华先生; not a
role: 华为总裁 is Huawei's president). A name of two or three characters on a
family name beside a person in a list is one (主演 A、马东锡等).
A transliterated name with a middle dot (基特·哈灵顿, as in people.py) ends where
the tokenizer's word ends (沙布南·道兰 in 沙布南·道兰拍摄视频), and a place the
gazetteer read inside one (查德, Chad, in 理查德·麦登) gives way to it.

Everywhere: a name over a watch-listed person's is not taken (the watchlist keeps
its id), nor one that crosses a place or an organisation the gazetteer found, nor
one followed by an organisation's head word (大学, 银行: names.yaml). A name alone
on its line (【2】彭某) signs what follows: an author, not who the text is about.
A "Japanese" text without kana is Chinese misread, or a headline in kanji: there
only cues tell a name.

Each tokenizer is loaded once per process, on the first text of its language, and
runs only on the lines that have Han or kana characters.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple, Protocol, overload

from pipeline.enrichment.lexicons import han_given_characters, han_surnames
from pipeline.enrichment.memo import TextCounts
from pipeline.enrichment.spans import KnownSpan, overlapping
from pipeline.enrichment.textfold import fold

# Han ideographs (with extension A) and kana: a line without any is not tokenized.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff\u31f0-\u31ff"
_CJK_LINE = re.compile(f"[{_HAN}{_KANA}]")
_KANA_CHAR = re.compile(f"[{_KANA}]")
_HAN_ONLY = re.compile(f"[{_HAN}]+")
_KATAKANA_ONLY = re.compile("[\u30a0-\u30ff\u31f0-\u31ff]+")
# Sudachi refuses inputs over about 49k bytes; lines are cut well below that.
_CHUNK = 4000
_SENTENCE_END = re.compile("[。！？!?]")

# Middle dots between the parts of a foreign name (Chinese ·, Japanese ・).
_DOTS = "·‧•・･"
# A katakana name's further parts after a middle dot (ミナ|・トロット).
_KATAKANA_PARTS = re.compile("(?:[・･=＝][\u30a1-\u30fa\u30fc]+)+")
# Capitalised Latin words (Zeev Suraski) right before a Japanese honorific.
_LATIN_NAME = re.compile(
    r"(?<![A-Za-z\u00c0-\u024f])[A-Z\u00c0-\u00de][a-z\u00df-\u00ff'’-]+"
    r"(?:[ \u00a0][A-Z\u00c0-\u00de][a-z\u00df-\u00ff'’-]+){0,3}"
)

# Honorifics written right after a Japanese name: a family name alone before one
# is a person. (Roles after a name, 首相 or 監督, come from names.yaml.)
_JA_HONORIFICS = (
    "氏",
    "さん",
    "様",
    "さま",
    "君",
    "くん",
    "ちゃん",
    "殿",
    "先生",
    "容疑者",
    "被告",
    "両氏",
)
# What looks like an honorific and is not one: 様々 (various).
_JA_NOT_HONORIFICS = ("様々", "様子", "様式", "氏名")
# Separators between the names of a list (下茂、榎下−鮫島, 田中と鈴木).
_JA_LIST = "、,，・−－‐-/／と"
# What may stand between a role and the name after it (代表取締役：関, 社長の田中).
_JA_ROLE_GLUE = "の：: \u3000"

# Honorifics right after a Chinese name. Roles are not cues after a name in
# Chinese: 华为总裁 is Huawei's president, not a person called 华为.
_ZH_HONORIFICS = ("先生", "女士", "小姐", "夫人", "同志", "老师", "博士", "院士")
_ZH_LIST = "、"
# A list's item: two to four characters after its comma, up to the next item or
# the list's end (等); and what may stand before a list's first item.
_LISTED_MAX = 4
_LISTED_AFTER = re.compile(f"{_ZH_LIST}([{_HAN}]{{2,4}})(?=[{_ZH_LIST}等和及与]|$)", re.MULTILINE)
_LIST_OPENERS = f"{_ZH_LIST}：:，, \u3000\n（(「“《"
# Chinese compound family names (欧阳锋, 诸葛亮): faker's lists have single characters.
_ZH_COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "令狐",
        "慕容",
        "宇文",
        "长孙",
        "司徒",
        "夏侯",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "歐陽",
        "諸葛",
        "東方",
        "長孫",
        "軒轅",
        "獨孤",
        "南宮",
        "西門",
    ]
)
# Prepositions that are family names too: jieba reads 向龙翔 in 向龙翔强调 as one
# name. Rare family names, read as prepositions before another family name; and
# common ones (向华强, 于洪涛), read so only where the text has the rest alone too.
_ZH_PREPOSITIONS = frozenset("和与对把被给让跟将从由在以为")
_ZH_PREPOSITION_SURNAMES = frozenset("向于")
# Last characters of the names of organisations, places and things, not of persons'
# given names (卫健委, 康银阁, 封海令).
_ZH_NOT_NAME_ENDS = frozenset("委局厅院所处司办社队团组校馆店厂省市县区镇村州港湾站场园阁令")
# jieba's tags of person names: nr, and nrfg (a full name in its dictionary).
_ZH_PERSON_TAGS = frozenset({"nr", "nrfg"})
_ZH_SCAN_TAGS = _ZH_PERSON_TAGS | {"nrt"}
# Tags of a transliterated name (nrt) and of the parts jieba reads as other proper
# nouns inside one (沙布南 ns, 道兰 nz).
_ZH_NAME_PART_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nz", "nt", "j", "n", "eng"})
# Characters that are words of their own, never part of a name (的, 和...).
_ZH_FUNCTION = frozenset("的是在和与了说称为对将被由及从向等也都就而但把给让")
# A name's longest part on either side of a middle dot (亚历山德里娅).
_DOT_PART_CHARS = 6
# A role is looked for this many characters before (or after) a name.
_ROLE_WINDOW = 12


class FoundSpan(Protocol):
    """A person people.py's rules found (people.Person)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Name:
    """A person found here: where, and the name as its id is made of (the words
    without the space a text may put between family and given name)."""

    start: int
    end: int
    name: str  # "" when it is the text as written
    author: bool  # alone on its line: a signature or a byline, not who the text is about


@dataclass
class Found:
    names: list[Name] = field(default_factory=list)
    # Indexes of people.py's persons that a name here stands for instead (a
    # dotted name cut where the tokenizer's word ends).
    dropped: set[int] = field(default_factory=set)
    # Indexes of the gazetteer's spans that give way to a name (a place inside it).
    replaced: set[int] = field(default_factory=set)


class _Token(NamedTuple):
    start: int
    end: int
    surface: str
    tag: str  # ja: "sei", "mei", "person", "space" or "other"; zh: jieba's tag
    known: bool = True  # zh: whether jieba's dictionary has the word


@cache
def _sudachi_dictionary() -> Any:
    """SudachiDict-core (memory-mapped: its pages are shared between processes)."""
    from sudachipy import Dictionary

    return Dictionary(dict="core")


@cache
def _sudachi() -> Any:
    """SudachiPy's tokenizer on SudachiDict-core, in long units (mode C: トヨタ自動車
    is one word, not a family name and a noun), with the part of speech only."""
    from sudachipy import SplitMode

    return _sudachi_dictionary().tokenizer(mode=SplitMode.C, fields={"pos"})


def _is_given_name(surface: str) -> bool:
    """Whether Sudachi's dictionary has `surface` as a given name (晋三)."""
    return any(
        m.part_of_speech()[2:4] == ("人名", "名") for m in _sudachi_dictionary().lookup(surface)
    )


@cache
def _jieba() -> Any:
    """rjieba's tokenizer: the module's own instance, which its import loads (a
    second one, rjieba.Jieba(), would cost as much time and memory again)."""
    import rjieba

    return rjieba


_JA_KINDS = {"姓": "sei", "名": "mei", "一般": "person"}


def _chunks(line: str) -> Iterator[tuple[int, str]]:
    """The line in pieces the tokenizers take, cut after sentence ends: (offset, piece)."""
    start = 0
    while len(line) - start > _CHUNK:
        cut = start + _CHUNK
        ends = [m.end() for m in _SENTENCE_END.finditer(line, start, cut)]
        cut = ends[-1] if ends else cut
        yield start, line[start:cut]
        start = cut
    yield start, line[start:]


def _cjk_pieces(text: str) -> Iterator[tuple[int, str]]:
    """The lines of `text` that have Han or kana characters, in chunks: (offset, piece)."""
    offset = 0
    for line in text.split("\n"):
        if _CJK_LINE.search(line):
            for at, piece in _chunks(line):
                yield offset + at, piece
        offset += len(line) + 1


@cache
def _ja_tag(pos_id: int) -> str:
    """Our tag of a Sudachi part of speech, by its id (a tuple per word is a third
    of the time of the tokenizing itself)."""
    pos = _sudachi_dictionary().pos_of(pos_id)
    if pos[1] == "固有名詞" and pos[2] == "人名":
        return _JA_KINDS.get(pos[3], "person")
    return "space" if pos[0] == "空白" else "other"


def _ja_tokens(text: str) -> list[_Token]:
    tokenizer = _sudachi()
    tokens: list[_Token] = []
    for offset, piece in _cjk_pieces(text):
        for m in tokenizer.tokenize(piece):
            begin, end = m.begin(), m.end()
            tag = _ja_tag(m.part_of_speech_id())
            tokens.append(_Token(offset + begin, offset + end, piece[begin:end], tag))
    return tokens


class _ZhTokens(Sequence[_Token]):
    """jieba's words of a Chinese text, each made a token only when a rule reads
    it: an article has thousands of words, the rules read the few around a name
    (a tuple per word was half the time of a Chinese article's names)."""

    def __init__(self, text: str) -> None:
        jieba = _jieba()
        self.words: list[str] = []
        self.tags: list[str] = []
        self._starts: list[int] = []
        for offset, piece in _cjk_pieces(text):
            pairs = jieba.tag(piece)
            if not pairs:
                continue
            words, tags = zip(*pairs, strict=True)
            self.words.extend(words)
            self.tags.extend(tags)
            self._starts.extend(itertools.accumulate(map(len, words[:-1]), initial=offset))

    def __len__(self) -> int:
        return len(self.words)

    @overload
    def __getitem__(self, i: int) -> _Token: ...
    @overload
    def __getitem__(self, i: slice) -> list[_Token]: ...
    def __getitem__(self, i: int | slice) -> _Token | list[_Token]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        word, tag, start = self.words[i], self.tags[i], self._starts[i]
        # Whether the dictionary has it: only asked of names, the rest do not need it.
        known = tag not in _ZH_PERSON_TAGS or _jieba().has_word(word)
        return _Token(start, start + len(word), word, tag, known)


def _joined(tokens: Sequence[_Token]) -> bool:
    """Whether the tokens follow each other in the text (a line's end is between
    the last token of a line and the first of the next)."""
    return all(a.end == b.start for a, b in itertools.pairwise(tokens))


class CjkPeople:
    """Persons in Japanese and Chinese text (see the module's docstring)."""

    def __init__(
        self,
        roles: Mapping[str, frozenset[str]],
        org_heads: Mapping[str, frozenset[str]],
    ) -> None:
        # names.yaml's words, folded as people.py reads them; longest first.
        self._roles = {
            lang: tuple(sorted(roles.get(lang, ()), key=len, reverse=True)) for lang in ("ja", "zh")
        }
        heads = frozenset().union(org_heads.get("ja", ()), org_heads.get("zh", ()))
        self._org_heads = tuple(sorted(heads, key=len, reverse=True))
        # faker's Chinese name lists (lexicons.py).
        self._surnames = han_surnames()
        self._given_characters = han_given_characters()
        self._char_tags: dict[str, str] = {}
        # How often the text being read says a word.
        self._count = TextCounts("")

    def find(
        self,
        text: str,
        language: str | None,
        known: Sequence[KnownSpan],
        found: Sequence[FoundSpan],
    ) -> Found:
        """The persons of a Japanese or Chinese `text` that people.py's rules did not
        find (`found`), given what the gazetteer found (`known`)."""
        result = Found()
        if language not in ("ja", "zh") or not _CJK_LINE.search(text):
            return result
        self._count = TextCounts(text)
        if language == "ja":
            candidates = self._japanese(text, _ja_tokens(text))
        else:
            candidates = self._chinese(text, _ZhTokens(text), found)
        starts = [s.start for s in known]
        # Who has each character already: people.py's persons (their index), the
        # names here (-2); -1 for none. (A list, not a scan of the persons per
        # name: a long text of names would be quadratic.)
        owner = [-1] * len(text)
        for k, p in enumerate(found):
            owner[p.start : p.end] = [k] * (p.end - p.start)
        for start, end, name, strong in candidates:
            hits = overlapping(known, starts, start, end)
            if any(known[k].type == "PER" for k in hits):
                continue  # a watch-listed person's name: the gazetteer's id stands
            inside = [k for k in hits if start <= known[k].start and known[k].end <= end]
            if len(inside) < len(hits) or (inside and not strong):
                continue  # across a place or an organisation's name
            if self._org_head_after(text, end):
                continue  # 早稲田大学, 华为银行: an organisation's name
            overlaps = sorted(set(owner[start:end]) - {-1})
            dotted = [k for k in overlaps if k >= 0 and _has_dot(found[k].text)]
            if overlaps and (not dotted or len(dotted) < len(overlaps) or not _has_dot(name)):
                continue  # found already (a dotted name here stands for people.py's)
            if dotted and all((found[k].start, found[k].end) == (start, end) for k in dotted):
                continue  # the same dotted name
            result.dropped.update(dotted)
            result.replaced.update(inside)
            canonical = "" if name == text[start:end] else name
            result.names.append(Name(start, end, canonical, _alone_on_line(text, start, end)))
            owner[start:end] = [-2] * (end - start)
        return result

    def _org_head_after(self, text: str, end: int) -> bool:
        return text.startswith(self._org_heads, end) if self._org_heads else False

    def _role_before(self, text: str, start: int, language: str, glue: str) -> bool:
        """Whether a role of names.yaml ends right before `start` (what `glue` has
        may stand between them), on the same line."""
        roles = self._roles[language]
        if not roles:
            return False
        before = text[max(0, start - _ROLE_WINDOW) : start].rsplit("\n", 1)[-1]
        before = fold(before).rstrip(glue)
        return before.endswith(roles)

    # Japanese

    def _japanese(self, text: str, tokens: list[_Token]) -> list[tuple[int, int, str, bool]]:
        """(start, end, name, strong) of each name: strong when the name is sure
        without a cue (a family and a given name, a dotted katakana name)."""
        names: list[tuple[int, int, str, bool]] = []
        # Without kana, a text is Chinese read as Japanese (开源大浪潮: 大浪 | 潮, a
        # family and a given name), or a headline in kanji: only cues tell a name.
        kana = _KANA_CHAR.search(text) is not None
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t.tag not in ("sei", "mei", "person"):
                i += 1
                continue
            j = i + 1
            strong = False
            if t.tag == "sei":
                k = j + 1 if j < len(tokens) and tokens[j].tag == "space" else j
                if (
                    k < len(tokens)
                    and tokens[k].tag == "mei"
                    and _joined(tokens[i : k + 1])
                    and 3 <= tokens[k].end - t.start <= 8
                ):
                    j, strong = k + 1, True  # 宮沢和史, 関 信浩 (not 包快: Chinese read so)
                    given = tokens[k]
                    if (
                        len(given.surface) == 1
                        and j < len(tokens)
                        and tokens[j].start == given.end
                        and _HAN_ONLY.fullmatch(tokens[j].surface)
                        and len(tokens[j].surface) == 1
                        and _is_given_name(given.surface + tokens[j].surface)
                    ):
                        j += 1  # 安倍 | 晋 | 三元首相: the given name 晋三, cut in two
            end = tokens[j - 1].end
            if not strong and _KATAKANA_ONLY.fullmatch(t.surface):
                parts = _KATAKANA_PARTS.match(text, t.end)
                if parts is not None:  # ミナ・トロット
                    end, strong = parts.end(), True
                    while j < len(tokens) and tokens[j].start < end:
                        j += 1
            if (strong and kana) or self._ja_cued(text, tokens, i, j):
                words = [w.surface for w in tokens[i:j] if w.tag != "space"]
                name = "".join(words) if end == tokens[j - 1].end else text[t.start : end]
                names.append((t.start, end, name, strong))
            i = j
        names.extend(self._latin_before_honorific(text, _JA_HONORIFICS, _JA_NOT_HONORIFICS))
        return names

    def _ja_cued(self, text: str, tokens: list[_Token], i: int, j: int) -> bool:
        start, end = tokens[i].start, tokens[j - 1].end
        after = text[end : end + _ROLE_WINDOW].lstrip(" \u3000")
        if after.startswith(_JA_HONORIFICS) and not after.startswith(_JA_NOT_HONORIFICS):
            return True  # 田中さん, 関氏
        if self._roles["ja"] and fold(after).startswith(self._roles["ja"]):
            return True  # 岸田首相, 鈴木監督
        if self._role_before(text, start, "ja", _JA_ROLE_GLUE):
            return True  # 社長の田中, 代表取締役：関
        if end - start < 2:
            return False  # one character (関, 林) is too often something else
        # Beside another name in a list: 斎藤−白川, 下茂、榎下.
        before = tokens[i - 1] if i > 0 else None
        if (
            before is not None
            and before.end == start
            and before.surface in _JA_LIST
            and i > 1
            and tokens[i - 2].tag in ("sei", "mei", "person")
            and tokens[i - 2].end == before.start
        ):
            return True
        after_token = tokens[j] if j < len(tokens) else None
        return (
            after_token is not None
            and after_token.start == end
            and after_token.surface in _JA_LIST
            and j + 1 < len(tokens)
            and tokens[j + 1].tag in ("sei", "mei", "person")
            and tokens[j + 1].start == after_token.end
        )

    def _latin_before_honorific(
        self, text: str, honorifics: tuple[str, ...], not_honorifics: tuple[str, ...]
    ) -> Iterator[tuple[int, int, str, bool]]:
        """Capitalised Latin words right before an honorific: Zeev Suraski氏."""
        for m in _LATIN_NAME.finditer(text):
            after = text[m.end() : m.end() + 4].lstrip(" \u3000")
            if after.startswith(honorifics) and not after.startswith(not_honorifics):
                yield m.start(), m.end(), m.group(), True

    # Chinese

    def _surname_length(self, word: str) -> int:
        """The length of the Chinese family name `word` opens on (0: none)."""
        if word[:2] in _ZH_COMPOUND_SURNAMES:
            return 2
        return 1 if word[:1] in self._surnames else 0

    def _chinese(
        self, text: str, tokens: _ZhTokens, found: Sequence[FoundSpan]
    ) -> list[tuple[int, int, str, bool]]:
        names: list[tuple[int, int, str, bool]] = []
        # The words a rule starts from: a name's tag, a middle dot or a word before
        # one; the others are passed over without being made tokens.
        words = tokens.words
        dots = [k for k, word in enumerate(words) if word in _DOTS]
        starts = sorted(
            {
                *(k for k, tag in enumerate(tokens.tags) if tag in _ZH_SCAN_TAGS),
                *dots,
                *(k - 1 for k in dots if k),
            }
        )
        i = 0
        for k in starts:
            if k < i:
                continue
            i = k
            t = tokens[i]
            if t.surface in _DOTS or (
                i + 1 < len(tokens)
                and tokens[i + 1].surface in _DOTS
                and _HAN_ONLY.fullmatch(t.surface)
            ):
                dotted = self._dotted(text, tokens, i)
                if dotted is not None:
                    names.append(dotted)
                    while i < len(tokens) and tokens[i].end <= dotted[1]:
                        i += 1
                    continue
            if t.tag not in _ZH_PERSON_TAGS and t.tag != "nrt":
                i += 1
                continue
            j, name = self._zh_name(text, tokens, i)
            if name is not None and (name[3] or self._zh_cued(text, name[0], name[1])):
                names.append(name)
            i = j
        persons = [*((s, e) for s, e, _, _ in names), *((p.start, p.end) for p in found)]
        names.extend(self._listed(text, persons))
        return names

    def _zh_name(
        self, text: str, tokens: Sequence[_Token], i: int
    ) -> tuple[int, tuple[int, int, str, bool] | None]:
        """The name at token `i`, tagged as a person's: the index of the token after
        it, and (start, end, name, whether it needs no cue) or None."""
        t = tokens[i]
        if not _HAN_ONLY.fullmatch(t.surface) or t.surface.endswith(_ZH_HONORIFICS):
            return i + 1, None  # 王先生: a family name alone
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        start = t.start
        if (
            len(t.surface) == 1
            and t.surface in self._surnames
            and nxt is not None
            and nxt.start == t.end
            and nxt.tag in _ZH_PERSON_TAGS
            and len(nxt.surface) <= 2
            and _HAN_ONLY.fullmatch(nxt.surface)
            and not set(nxt.surface) & _ZH_FUNCTION
        ):
            word, j, unknown = t.surface + nxt.surface, i + 2, True  # 蒋 | 尚义
        elif self._surname_length(t.surface) and t.tag in _ZH_PERSON_TAGS:
            word, j, unknown = t.surface, i + 1, not t.known
            if (
                t.known
                and len(word) == 3
                and set(word[1:]) & self._given_characters
                and not any(self._char_tag(c)[:1] in "upc" for c in word[1:])
            ):
                # A full name in the dictionary (刘德华, 王小明): the dictionary tags
                # words that are no names so too (纪念堂, 申请书, 屠龙之), so it takes
                # a character of given names, no particle, and the sentence around
                # it (_zh_sure).
                unknown = True
        else:
            # A transliteration, in as many words as jieba cut it into (穆贾 | 希德):
            # a name only with a cue.
            j = i + 1
            while (
                j < len(tokens)
                and tokens[j].start == tokens[j - 1].end
                and tokens[j].tag in (*_ZH_PERSON_TAGS, "nrt")
                and _HAN_ONLY.fullmatch(tokens[j].surface)
            ):
                j += 1
            word = "".join(w.surface for w in tokens[i:j])
            return j, ((start, tokens[j - 1].end, word, False) if len(word) >= 2 else None)
        if (
            len(word) == 3
            and self._surname_length(word[1:]) == 1
            and (
                word[0] in _ZH_PREPOSITIONS
                or (
                    word[0] in _ZH_PREPOSITION_SURNAMES
                    and self._count(word[1:]) > self._count(word)
                )
            )
        ):
            word, start = word[1:], start + 1  # 向 | 龙翔: a preposition before a name
        family = self._surname_length(word)
        if not t.known and len(word) - family == 3 and self._glued(text, word):
            word = word[:-1]  # 蒋文博为: the HMM glued a preposition on
        if not 1 <= len(word) - family <= 2:
            return j, None
        if word[-1] in _ZH_NOT_NAME_ENDS:
            unknown = False  # 卫健委, 封海令: only a cue makes it a name
        if unknown and not t.known and len(word) - family == 2 and self._glued(text, word):
            word = word[:-1]  # 莫婷称, 艾泽说: the HMM glued the next word on
        end = start + len(word)
        return j, (start, end, word, unknown and self._zh_sure(text, word, family, end))

    def _char_tag(self, char: str) -> str:
        """jieba's tag of one character as a word of its own (说: v)."""
        tag = self._char_tags.get(char)
        if tag is None:
            tag = self._char_tags[char] = _jieba().tag(char)[0][1]
        return tag

    def _glued(self, text: str, word: str) -> bool:
        """Whether the last character of a three-character name is the word after
        it: the text says the name without it more often (莫婷 ... 莫婷称), or it is
        no given name's character and a verb, adverb or particle of its own (说)."""
        if self._count(word[:-1]) > self._count(word):
            return True
        return word[-1] not in self._given_characters and self._char_tag(word[-1])[:1] in "vpdcur"

    def _zh_sure(self, text: str, word: str, family: int, end: int) -> bool:
        """Whether a name the HMM read (a word the dictionary does not have) is a
        person without a cue: a given name of two characters, or of one that
        given names have; not ending on an organisation's or a place's character
        (卫健委, 康银阁); followed by what follows a person in a sentence: a verb,
        an adverb, a preposition, a conjunction, a particle, a time (莫婷说, 张鹏和潘乱,
        王宁在), a colon or the list's comma; after a name of three characters, a
        comma or a sentence's end too. Not before a noun (高亮效果, 车厘子自由)."""
        given = len(word) - family
        if given == 1 and word[-1] not in self._given_characters:
            return False  # 安卓, 谷歌: brands the dictionary is too old to know
        after = text[end : end + 12].split("\n", 1)[0].lstrip(" \u3000")
        if not after:
            return given == 2
        if after[0] in "、：:" or (given == 2 and after[0] in "，,。（("):
            return True
        if not _HAN_ONLY.match(after):
            return False
        follower = _jieba().tag(after[:8])[0]
        return follower[1][:1] in "vpdcut"  # t: a time (今天), as in 卓荣泰今天表示

    def _zh_cued(self, text: str, start: int, end: int) -> bool:
        if text.startswith(_ZH_HONORIFICS, end):
            return True  # 李华先生
        return self._role_before(text, start, "zh", " \u3000")  # 总统加尼

    def _dotted(
        self, text: str, tokens: Sequence[_Token], i: int
    ) -> tuple[int, int, str, bool] | None:
        """The dotted name whose first middle dot is token `i` or the next one:
        its first part back to a role or a word that is not a name's, its last
        part to the end of the tokenizer's word (沙布南·道兰 | 拍摄)."""
        dot = i if tokens[i].surface in _DOTS else i + 1
        first = dot
        while (
            first > 0
            and tokens[first - 1].end == tokens[first].start
            and _HAN_ONLY.fullmatch(tokens[first - 1].surface)
            # The word right before the dot is the name's whatever jieba tags it
            # (佳蓝 as an adjective); the ones before it only if proper nouns.
            and (first == dot or tokens[first - 1].tag in _ZH_NAME_PART_TAGS)
            and tokens[dot].start - tokens[first - 1].start <= _DOT_PART_CHARS
            and not set(tokens[first - 1].surface) & _ZH_FUNCTION
            and not fold(tokens[first - 1].surface).endswith(self._roles["zh"] or ("\0",))
        ):
            first -= 1
        if first == dot:
            return None
        last = dot
        while last + 1 < len(tokens) and tokens[last].surface in _DOTS:
            k = last + 1
            if tokens[k].start != tokens[last].end or not _HAN_ONLY.fullmatch(tokens[k].surface):
                break
            # The part after the dot: its first word, and the next ones while
            # they are proper nouns of the part (艾哈 | 迈迪) within the part's length.
            end = k + 1
            while (
                end < len(tokens)
                and tokens[end].start == tokens[end - 1].end
                and tokens[end].tag in _ZH_NAME_PART_TAGS - {"n", "eng"}
                and _HAN_ONLY.fullmatch(tokens[end].surface)
                and tokens[end].end - tokens[k].start <= _DOT_PART_CHARS
            ):
                end += 1
            last = end
            if last >= len(tokens) or tokens[last].surface not in _DOTS:
                break
        if last == dot:
            return None
        start, stop = tokens[first].start, tokens[last - 1].end
        return start, stop, text[start:stop], True

    def _listed(
        self, text: str, persons: list[tuple[int, int]]
    ) -> Iterator[tuple[int, int, str, bool]]:
        """Names of two or three characters on a family name, next to a person in a
        list: 基特·哈灵顿、马东锡等."""
        spans = sorted(set(persons))
        ends = [e for _, e in spans]
        for start, end in spans:
            items = []
            after = _LISTED_AFTER.match(text, end)
            if after is not None:
                items.append(after.span(1))
            if start > 1 and text[start - 1] == _ZH_LIST:
                s = start - 1  # the item before the list's comma, back to the one before
                while s > 0 and start - 1 - s < _LISTED_MAX and _HAN_ONLY.match(text[s - 1]):
                    s -= 1
                if s == 0 or text[s - 1] in _LIST_OPENERS:
                    items.append((s, start - 1))
            for s, e in items:
                word = text[s:e]
                family = self._surname_length(word)
                if not family or not 1 <= len(word) - family <= 2 or set(word) & _ZH_FUNCTION:
                    continue
                k = bisect.bisect_right(ends, s)  # the first person ending after s
                if k < len(spans) and spans[k][0] < e:
                    continue  # a person already
                yield s, e, word, False


def _has_dot(name: str) -> bool:
    return any(d in name for d in _DOTS)


# What may stand around a name alone on its line: numbering and brackets (【2】熊小默).
_LINE_DECORATION = re.compile(r"[\W\d_]*")
_DECORATION = 8


def _alone_on_line(text: str, start: int, end: int) -> bool:
    # A few characters on either side: a longer line is no signature.
    before = text[max(0, start - _DECORATION) : start]
    after = text[end : end + _DECORATION]
    if "\n" not in before and start > _DECORATION:
        return False
    if "\n" not in after and end + _DECORATION < len(text):
        return False
    return bool(
        _LINE_DECORATION.fullmatch(before.rsplit("\n", 1)[-1])
        and _LINE_DECORATION.fullmatch(after.split("\n", 1)[0])
    )
