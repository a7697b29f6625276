"""People the watchlist does not know, without a statistical model.

- A run of capitalised words (Latin, Greek, Cyrillic) is a person when it starts
  with a first name of the lexicon (`faker`'s name lists, lexicons.py) and has at
  least one more word, or when a title or role comes right before it
  (`names.yaml`: President Moon Jae-in, le ministre Darmanin, Innenminister
  Seehofer). A capitalised word at a sentence's start is neither, so it is not a
  person.
- Which given names are first names depends on the text's language: one that is
  a common word of that language or of English (faker's word lists, stopwords-iso:
  José and Luis in Spanish, Bill and Will in English) is one only before another
  given name or a family name (José Manuel, Bill White; not Can Trump), and joins
  a first name right after it unless it opens the sentence (Luis Enrique Martínez;
  Can | Sam Paparo). A common word of another language is no reason to doubt a
  name (Tom, Pierre in English). Two given names joined by a hyphen make one
  (Pierre-Alain). After a first name, a common word ends the name unless it is a
  family name too (Peter Wolf, Tom Hardy).
- Roles are also the last part of a hyphenated word (US-Rapper, ex-président),
  the end of a German compound (Künstleragent, Tennisprofi), a role and a
  country's adjective after it (el senador estadounidense Dan Coats), or a role
  after the name and a comma (Getachew Reda, a spokesperson for).
- Words the gazetteer found as a place or an organisation end the name (Angela
  Merkel Berlin); a place that is the first name of the run gives way to the
  person (Jordan Bardella, Paris Hilton); a watch-listed surname inside a longer
  name with another first name is that other person (Eric Trump).
- A pair of unknown words ending on a family name is a person, except on a
  title-case headline and in German: a family name of the lexicon (Delcy
  Rodriguez; Kilmar Abrego Garcia), or one told by its ending (Adeliia Petrosian,
  Vaslav Nijinski; `surname_endings`). With no first name known, the name is the
  words after the run's last particle (Journal de | Vaslav Nijinski).
- A family name and a hyphenated given name are an East Asian name (Moon Jae-in,
  Tsai Ing-wen), even where the family name is a place (Cheng).
- Lists: "and" (y, et, und, и) cuts a run in two names (Chelsea Jones y Eva
  Sealove); two or three unknown words joined to a person by "and", or between
  two persons in a list, are a person (Vincent Peillon, Mazarine Pingeot et
  Didier Barbelivien). Not in German, where every noun is capitalised.
- Not persons: a name after an article in English (the Winter Games), or unknown
  words after one in any language (the Capitol Hill insurrection); a name after
  a ship's prefix (USS Abraham Lincoln); words the text shows to be a thing's
  name elsewhere (Dow Jones, as Dow Jones Industrial has a thing's word).
- A surname alone where the text names the person in full (Merkel, with Angela
  Merkel; Jeri's, with President Jose Jeri; Cho, with Cho Hyun-dong) is that
  person, with the same id; a surname two persons of the text share is neither's.
- In Urdu and Persian (no capitals), the words after a role up to a postposition
  or particle are a name; in Chinese, a family name of faker's lists and one or
  two characters right after a role (董事长周子学), or a Latin name against it.
- In Chinese, transliterated foreign names are written with a middle dot
  (基特·哈灵顿): such a run is a person.
- A person right after a byline cue at the start of a line (By, Par, Von) is an
  author of the article, not someone it is about; so is one after a cue that
  opens a sentence inside the line when the name ends the line (Ein Test von
  Tobias Költzsch (iPhone)), and one joined by "and" to an author (By Matt
  Spetalnick and Jason Szep).
- A person found here gets a stable id from the normalised name: `person:~` and
  the folded words joined by `-` (Éric Trump, ERIC TRUMP: person:~eric-trump). A
  Russian name gets its nominative's id (Вячеслава Александрова), in Cyrillic
  letters only (a Latin ó for the stress in Александрóва is read as о).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import stopwordsiso
import yaml

from pipeline.enrichment.cjk_people import CjkPeople
from pipeline.enrichment.lexicons import (
    common_words,
    given_names,
    han_surnames,
    language_words,
    surnames,
)
from pipeline.enrichment.memo import TextCounts
from pipeline.enrichment.spans import overlapping
from pipeline.enrichment.textfold import fold

# Upper-case letters of the scripts with case that Vigie reads: Latin, Greek, Cyrillic.
_UPPER = "".join(
    chr(c)
    for c in (*range(0x41, 0x250), *range(0x370, 0x530), *range(0x1E00, 0x1F00))
    if chr(c).isupper()
)
# Kana, Han and Hangul: a Latin name written against them (主持人Clarissa Ward正)
# is a word of its own.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_LETTERS = rf"[^\W\d_{_CJK}]"
# A capitalised word (or an initial), after its capital.
_AFTER_CAPITAL = rf"(?:{_LETTERS}*(?:[-'’][{_UPPER}]?{_LETTERS}+)*|\.)"
_WORD = rf"[{_UPPER}]{_AFTER_CAPITAL}"
_SPACE = r"[ \t\u00a0]+"
# "and" between two names is not part of one (Ortega y Gasset is the exception):
# a run of capitals is cut there (Chelsea Jones y Eva Sealove: two names).
_CONJUNCTIONS = frozenset({"y", "e"})
_NON_SPACE = re.compile(r"\S+")
# Characters of a line before a name that are read for a byline cue (By, Ein Test von).
_BYLINE_WINDOW = 160
_NOUNS_CAPITALISED = frozenset({"de", "lb"})
# A family name told by its ending has at least this many letters (Petrov).
_SURNAME_BY_ENDING_MIN = 6
# Languages whose press writes no article before a person's name, whatever its
# first name (in Italian or Portuguese, la Meloni, o Lula are usual).
_NO_ARTICLE_BEFORE_NAMES = frozenset({"en"})
# Languages that write a role and what it is about as one word: a word ending
# on a role is one (Innenminister, Künstleragent, Tennisprofi).
_COMPOUNDING = frozenset({"de"})
_COMPOUND_ROLE_MIN = 4
# East Asian names in the Latin script: a family name, then a given name of two
# syllables joined by a hyphen (Moon Jae-in, Tsai Ing-wen; as faker's zh_TW
# romanised names are written).
_FAMILY_NAME = re.compile(r"[A-Z][a-z]{1,4}")
_HYPHENATED_GIVEN_NAME = re.compile(r"[A-Z][a-z]{1,5}-[a-z]{1,5}")
# What ends a sentence, so that the next word opens one (and is capitalised
# whatever it is).
_SENTENCE_ENDS = ".!?:;\n"
_OPENING_MARKS = " \t\u00a0\"'“”‘’«»(["
# A possessive after a surname (Miller's deposition) is not part of it.
_POSSESSIVE = re.compile(r"(?:['’]s?)$")
# Russian written with a Latin letter for a stressed vowel (Александрóва) or a
# Latin lookalike: read as the Cyrillic letter, the stress mark dropped.
_CYRILLIC_LOOKALIKES = str.maketrans("aeopcxyáéóýAEOPCXY", "аеорсхуаеоуАЕОРСХУ", "\u0301")
_PUNCTUATION = ".,;:!?()[]{}«»\"“”‘’'—–-…"
# Names of at most this many words after the first name or the role.
_MAX_WORDS = 4
# A line of at least this many words of four letters or more, this share of them
# capitalised, is a headline in title case. (Short words, in, on, the, stay lower
# case in one; a sentence that lists names has long words in lower case too.)
_TITLE_CASE_WORDS = 5
_TITLE_CASE_SHARE = 0.85
_TITLE_CASE_MIN_LETTERS = 4
# Characters that are words of their own around a transliterated name (的, 和...).
_HAN_WORD = "的是在和与了说称为对将被由及从向等"
_HAN_NAME_PART = rf"(?:(?![{_HAN_WORD}])[\u4e00-\u9fff])"
_HAN_NAME = re.compile(
    rf"{_HAN_NAME_PART}{{1,4}}(?:[·‧•・]{_HAN_NAME_PART}{{1,5}})+"
)  # 基特·哈灵顿
_HAN_BEFORE = re.compile(r".*[位名]")
_HAN_NAME_PART_RE = re.compile(_HAN_NAME_PART)


# Languages written without capitals and with spaces: a name is what follows a
# role, up to a postposition or particle (`name_ends`).
_UNCASED_SPACED = frozenset({"ur", "fa"})
# Languages written without spaces: a role's name follows it directly.
_JOINED_LANGUAGES = frozenset({"zh", "ja"})
# Arabic-script marks that do not change a word (short vowels, ezafe's zer).
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670]")
_ARABIC_PUNCTUATION = "،؛؟۔:\"'“”‘’()[]«».,!?—–-"
# After a role, at most this many words are a name (Urdu, Persian).
_UNCASED_MAX_WORDS = 4


def _stopwords(language: str) -> frozenset[str]:
    return (
        frozenset(fold(w) for w in stopwordsiso.stopwords(language))
        if stopwordsiso.has_lang(language)
        else frozenset()
    )


def _plain(word: str) -> str:
    """A folded Arabic-script word without its short vowels and punctuation."""
    return _ARABIC_MARKS.sub("", fold(word)).strip(_ARABIC_PUNCTUATION)


# Languages whose texts have no transliterated Chinese names to look for.
_SPACED_LANGUAGES = frozenset({"en", "fr", "de", "es", "pt", "it", "ru", "ar", "ur", "fa"})


def _opens_sentence(text: str, at: int) -> bool:
    """Whether the word at `at` opens a sentence or a line (so its capital says
    nothing)."""
    before = text[max(0, at - 8) : at].rstrip(_OPENING_MARKS)
    if not before and at > 8:  # a long run of spaces or quotes: look further
        before = text[:at].rstrip(_OPENING_MARKS)
    return not before or before[-1] in _SENTENCE_ENDS


def _cyrillic(word: str) -> str:
    """A Russian word with its Latin lookalikes and stress marks made Cyrillic."""
    if not any("а" <= c <= "я" for c in word.lower()):
        return word
    return word.translate(_CYRILLIC_LOOKALIKES)


def _title_case(text: str, start: int) -> bool:
    """Whether the line from `start` is a headline in title case (Expectations Are
    Low), where a capital says nothing about a name."""
    end = text.find("\n", start)
    words = [
        w
        for w in text[start : end if end >= 0 else len(text)].split()
        if len(w) >= _TITLE_CASE_MIN_LETTERS and w[0].isalpha()
    ]
    if len(words) < _TITLE_CASE_WORDS:
        return False
    capitalised = sum(1 for w in words if w[:1].isupper())
    return capitalised >= _TITLE_CASE_SHARE * len(words)


def person_id(name: str) -> str:
    """The stable id of a person found without a watchlist id."""
    return "person:~" + "-".join(re.findall(r"[^\W_]+", fold(name)))


class Person(NamedTuple):
    start: int
    end: int
    text: str
    author: bool  # a byline's name
    name: str = ""  # the name in its base form, when the text declines it (Russian)

    @property
    def canonical(self) -> str:
        return self.name or self.text


# Russian male names in oblique cases, told from the first name's ending (the
# lexicon has its nominative): the case's first-name ending, and the surname
# endings it takes, with their nominative. (A female first name keeps the
# surname as it is: Мария Иванова is nominative, and so is its surname.)
_RUSSIAN_CASES = {
    "genitive": (
        ("а", "я"),
        (("ова", "ов"), ("ева", "ев"), ("ина", "ин"), ("ына", "ын"), ("ого", "ий")),
    ),
    "dative": (
        ("у", "ю"),
        (("ову", "ов"), ("еву", "ев"), ("ину", "ин"), ("ыну", "ын"), ("ому", "ий")),
    ),
    "instrumental": (
        ("ом", "ем"),
        (("овым", "ов"), ("евым", "ев"), ("иным", "ин"), ("ыным", "ын"), ("им", "ий")),
    ),
    "prepositional": (
        ("е", "и"),
        (("ове", "ов"), ("еве", "ев"), ("ине", "ин"), ("ыне", "ын"), ("ом", "ий")),
    ),
}


@dataclass(frozen=True)
class _Words:
    """The word lists of one language.

    A first name that is a common word of the text's language (José and Luis in
    Spanish, Bill and Will in English) is one only before another name; a common
    word of another language is no reason to doubt it (Tom, Danish for "empty")."""

    first: frozenset[str]  # given names that are no common word of the language
    weak: frozenset[str]  # given names that are common words of the language too
    common: frozenset[str]  # the language's frequent words and stopwords
    stop: frozenset[str]  # its stopwords alone (según, when, durante)


class Span(NamedTuple):
    """What the gazetteer found: where, which id, which entity type."""

    start: int
    end: int
    id: str
    type: str


@dataclass
class _Text:
    """One text `find` reads, and what its rules learn of it on the way."""

    text: str
    language: str | None
    known: list[Span]
    lex: _Words
    roles: frozenset[str]  # the language's roles (every language's when it is unknown)
    replaced: set[int] = field(default_factory=set)
    # Folded names the text shows to be a thing's: Dow Jones, from Dow Jones Industrial.
    things: set[str] = field(default_factory=set)
    counted: Counter[str] | None = None
    title_case_lines: dict[int, bool] = field(default_factory=dict)  # by line start
    starts: list[int] = field(init=False)
    # The countries' demonyms the gazetteer found (a role may come before one):
    # few per text, so a word before a run is checked against these, not all spans.
    demonyms: list[Span] = field(init=False)
    demonym_starts: list[int] = field(init=False)
    count: TextCounts = field(init=False)  # how often the text says a word

    def __post_init__(self) -> None:
        self.count = TextCounts(self.text)
        self.starts = [span.start for span in self.known]
        self.demonyms = [
            span for span in self.known if span.type == "MISC" and span.id.startswith("country:")
        ]
        self.demonym_starts = [span.start for span in self.demonyms]

    def overlapping(self, start: int, end: int) -> list[int]:
        """Indexes of the known spans that overlap [start, end)."""
        return overlapping(self.known, self.starts, start, end)

    def tokens(self) -> Counter[str]:
        # Once per text, and only when a run asks: each word, punctuation cut.
        if self.counted is None:
            self.counted = Counter(map(str.strip, self.text.split(), repeat(_PUNCTUATION)))
        return self.counted

    def word(self, at: tuple[int, int]) -> str:
        return self.text[at[0] : at[1]]

    def title_case(self, at: int) -> bool:
        """Whether the line around `at` is a headline in title case: once per line
        (a long line with a name at every few words made it quadratic)."""
        start = self.text.rfind("\n", 0, at) + 1
        if start not in self.title_case_lines:
            self.title_case_lines[start] = _title_case(self.text, start)
        return self.title_case_lines[start]


def _folded_list(path: Path, data: Mapping[str, Any], key: str) -> dict[str, frozenset[str]]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} must map languages to lists")
    return {str(lang): frozenset(fold(w) for w in words) for lang, words in value.items()}


class PeopleFinder:
    def __init__(self, path: Path, watchlist_first: Mapping[str, frozenset[str]]) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data = data or {}
        self.org_heads = _folded_list(path, data, "organisation_heads")
        self._roles = _folded_list(path, data, "roles")
        self._bylines = _folded_list(path, data, "bylines")
        self._all_roles = frozenset().union(*self._roles.values())
        self._role_tails = frozenset(role.split()[-1] for role in self._all_roles)
        self._not_names = frozenset(fold(w) for w in data.get("not_names", []))
        self._all_bylines = frozenset().union(*self._bylines.values())
        self._long_bylines = tuple(sorted(b for b in self._all_bylines if " " in b))
        # A byline cue opening a sentence inside a line ("... teuer. Ein Test von
        # Tobias Költzsch (iPhone)"): `*` in a cue is any one word (Ein * von).
        cues = "|".join(
            re.escape(b).replace(r"\*", r"\S+")
            for b in sorted(self._all_bylines, key=len, reverse=True)
        )
        self._byline_in_line = re.compile(rf"(?:^|[.!?] )(?:{cues})$")
        # A cue is this many words at most ("*" is one): the line's words before
        # that many and one more (the sentence's end before an inner cue) decide.
        self._byline_words = max((len(b.split()) for b in self._all_bylines), default=0) + 1
        # Roles that end a compound noun (Künstleragent, Tennisprofi), longest first.
        self._compound_roles = {
            lang: tuple(
                sorted(
                    (r for r in roles if len(r) >= _COMPOUND_ROLE_MIN and r.isalpha()),
                    key=len,
                    reverse=True,
                )
            )
            for lang, roles in self._roles.items()
            if lang in _COMPOUNDING
        }
        # One-word roles, for a role after the name (Getachew Reda, a spokesperson).
        self._word_roles = {
            lang: frozenset(r for r in roles if " " not in r) for lang, roles in self._roles.items()
        }
        self._determiners = _folded_list(path, data, "determiners")
        self._linking = frozenset(fold(w) for w in data.get("conjunctions", []))
        self._vessel_prefixes = frozenset(str(w) for w in data.get("vessel_prefixes", []))
        self._surname_endings = tuple(fold(w) for w in data.get("surname_endings", []))
        self._particles = frozenset(fold(p) for p in data.get("particles", []))
        particles = [re.escape(p) for p in data.get("particles", [])]
        part = rf"(?:(?:{'|'.join(particles)}){_SPACE})*" if particles else ""
        # The first word's capital comes first in the pattern and what may not
        # precede it (a letter, a dot) is looked at after it: the regex engine then
        # skips to capitals instead of trying a look-behind at every character
        # (2.5x the scan, the same runs).
        first = rf"[{_UPPER}](?<![^\W{_CJK}].|\..){_AFTER_CAPITAL}"
        self._runs = re.compile(rf"{first}(?:{_SPACE}{part}{_WORD})*(?![^\W{_CJK}])")
        self._name_ends = {
            lang: ends | _stopwords(lang)
            for lang, ends in _folded_list(path, data, "name_ends").items()
        }
        # Roles written without a space before the name: 发言人穆贾希德, 副总裁 Liat.
        self._joined_roles = {
            lang: tuple(sorted(roles, key=len, reverse=True))
            for lang, roles in self._roles.items()
            if lang in _JOINED_LANGUAGES
        }
        self._role_after = {
            lang: re.compile("|".join(re.escape(r) for r in roles), re.IGNORECASE)
            for lang, roles in self._joined_roles.items()
            if roles
        }
        # Roles as Urdu and Persian words are compared: folded, without short vowels.
        self._plain_roles = {
            lang: frozenset(_plain(r) for r in roles) for lang, roles in self._roles.items()
        }
        self._han_surnames = han_surnames()
        self._cjk = CjkPeople(self._roles, self.org_heads)
        self._given = given_names()
        self._surnames = surnames()
        self._common = common_words()
        self._by_language: dict[str, _Words] = {}
        # watchlist id -> the folded first words of its names (Donald for Trump)
        self._watchlist_first = watchlist_first

    def _words(self, language: str | None) -> _Words:
        """The word lists of `language`, worked out on its first text: its common
        words are faker's word list for it, English's and its stopwords; a text of
        no known language has every language's common words."""
        key = language or ""
        words = self._by_language.get(key)
        if words is None:
            # A language faker has no word list for (Portuguese) takes every
            # language's: José, Fernando stay first names, but only before another
            # name. English words are common in every language's news (Red Hat,
            # Star Wars, Winter Games).
            stop = _stopwords(key)
            common = (
                (language_words(key) or self._common) | language_words("en") | stop
                if key
                else self._common
            )
            words = _Words(self._given - common, self._given & common, common, stop)
            self._by_language[key] = words
        return words

    def _nominative(self, text: str) -> str:
        """A Russian male name in an oblique case, in the nominative (Вячеслава
        Александрова -> Вячеслав Александров), so it gets the nominative's id;
        any other name as it is ("" for that), but in Cyrillic letters only
        (Александрóва, with a Latin ó for the stress, is Александрова)."""
        written = text.split()
        words = [_cyrillic(w) for w in written]
        as_is = "" if words == written else " ".join(words)
        if len(words) < 2 or not "а" <= words[0][-1:].lower() <= "я":
            return as_is
        first = words[0]
        if fold(first) in self._given:
            return as_is  # already the nominative (or a female name)
        for first_endings, surname_endings in _RUSSIAN_CASES.values():
            for ending in first_endings:
                if not first.endswith(ending):
                    continue
                stem = first[: -len(ending)]
                # Soft stems: Юрия, Андрею -> Юрий, Андрей; hard: Максима -> Максим.
                order = ("й", "") if ending in ("я", "ю", "ем", "е", "и") else ("", "й")
                base = next((stem + e for e in order if fold(stem + e) in self._given), None)
                if base is None:
                    continue
                last = words[-1]
                for oblique, nominative in surname_endings:
                    if last.endswith(oblique):
                        return " ".join([base, *words[1:-1], last[: -len(oblique)] + nominative])
                return as_is
        return as_is

    def _first_name(self, word: str, lex: _Words) -> int:
        """2: a first name; 1: a first name that is a common word of the text's
        language too (see `_Words`); 0: neither."""
        parts = fold(word).split("-")
        if len(parts) > 1 and all(p in self._given for p in parts):
            return 2  # Pierre-Alain, Jean-Claude: two names make one, whatever each is
        folded = parts[0]
        if folded in lex.first:
            return 2
        if folded in lex.weak:
            return 1
        if len(folded) > 3 and "а" <= folded[-1] <= "я":  # Russian cases: Виктора, Андрея
            stem = folded[:-1]
            bases = (stem, stem + "й", stem + "а", stem + "я", folded[:-2], folded[:-2] + "й")
            return 2 if any(b in lex.first for b in bases) else 0
        return 0

    def _name_word(self, word: str) -> bool:
        """Whether a folded word is a given name or a family name of the lexicon."""
        return word in self._given or word in self._surnames

    def _common_word(self, word: str, lex: _Words) -> bool:
        """Whether a folded word of a name's run is a common word that ends the
        name: not one that is a family name too (Bill White, Peter Wolf, Tom Hardy)
        or a given name (José Manuel)."""
        return word in lex.common and word not in self._surnames and word not in self._given

    def _unknown(self, ctx: _Text, folded: list[str]) -> bool:
        """Whether folded words are none of the words that say a run is no name:
        a common word (of any language), a thing's name, a role."""
        return all(
            len(w) >= 2
            and w not in self._common
            and w not in ctx.lex.common
            and w not in self._not_names
            and w not in self._all_roles
            for w in folded
        )

    def _surname_recurs(self, ctx: _Text, words: list[tuple[int, int]]) -> bool:
        """Whether the run's words are unknown ones (no common word, no thing's
        name) and its last word comes back alone elsewhere in the text: more often
        than the whole run does."""
        folded = [fold(ctx.word(w)) for w in words]
        if not self._unknown(ctx, folded):
            return False
        surname = ctx.word(words[-1])
        if len(surname) < 3:
            return False
        alone = ctx.tokens()[surname]
        if alone < 2:
            return False  # the run itself is in the text: no count of it can be below 1
        text = ctx.text
        return alone > ctx.count(text[words[0][0] : words[-1][1]])

    def _before_surname(self, ctx: _Text, words: list[tuple[int, int]]) -> bool:
        """Whether the run is unknown words (no common word, no thing's name, no
        role) ending on a family name: of the lexicon (Delcy Rodriguez), or one
        by its ending (Adeliia Petrosian, Vaslav Nijinski); the words between may
        be family names too (Kilmar Abrego Garcia), the first not."""
        folded = [fold(ctx.word(w)) for w in words]
        last = folded[-1].split("-")[-1]
        if folded[0] in self._surnames:
            return False
        if last not in self._surnames and not (
            len(last) >= _SURNAME_BY_ENDING_MIN
            and last.endswith(self._surname_endings)
            and last not in ctx.lex.common
        ):
            return False
        return all(len(w) >= 3 for w in folded[:-1]) and self._unknown(ctx, folded[:-1])

    def _is_role(self, word: str, roles: frozenset[str], language: str | None) -> bool:
        """Whether a folded word is a role: one of the list, the last part of a
        hyphenated one (US-Rapper, ex-président) or, in German, the end of a
        compound (Künstleragent, Tennisprofi)."""
        if word in roles:
            return True
        tail = word.rsplit("-", 1)[-1]
        if tail != word and tail in roles:
            return True
        compounds = self._compound_roles.get(language or "")
        return compounds is not None and word.endswith(compounds)

    def _role_before(self, ctx: _Text, start: int, demonym: bool = True) -> bool:
        """Whether the words right before `start` are a role (on the same line), or
        a role and a country's adjective (el senador estadounidense Dan Coats)."""
        text, language = ctx.text, ctx.language
        line_start = text.rfind("\n", 0, start) + 1
        joined = self._joined_roles.get(language or "")
        if joined and text[max(line_start, start - 12) : start].rstrip().endswith(joined):
            return True  # 工程总监 Justin Schuh, 女主持人Clarissa Ward
        previous = text[max(line_start, start - 25) : start].split()
        if not previous:
            return False
        last = fold(previous[-1])
        if last not in self._role_tails:
            if self._is_role(last, ctx.roles, language):
                return True  # US-Rapper Soulja Boy, Künstleragent Peter Wolf
            if demonym and ctx.demonyms and previous[-1].islower():
                # An adjective after its noun (Romance languages): the gazetteer
                # found it as a country's demonym.
                end = text.rfind(previous[-1], line_start, start) + len(previous[-1])
                begin = end - len(previous[-1])
                if overlapping(ctx.demonyms, ctx.demonym_starts, begin, end):
                    return self._role_before(ctx, begin, demonym=False)
            return False  # the usual case, told from one word
        before = fold(text[max(line_start, start - 40) : start]).rstrip()
        if not before or before.endswith((",", ".", ":", ";")):
            return False
        words = before.split()
        return any(" ".join(words[-n:]) in ctx.roles for n in (1, 2, 3) if len(words) >= n)

    def _role_follows(self, ctx: _Text, end: int) -> bool:
        """Whether a role follows the name after a comma, within three words
        (Getachew Reda, a spokesperson for; Amitabh Chadra, economista de)."""
        text = ctx.text
        if not text.startswith(", ", end):
            return False
        roles = self._word_roles.get(ctx.language or "", self._all_roles)
        for word in text[end + 2 : end + 50].split()[:3]:
            if self._is_role(fold(word).strip(_PUNCTUATION), roles, ctx.language):
                return True
            if word[-1] in ",;:":
                break
        return False

    def _after_determiner(self, ctx: _Text, start: int) -> bool:
        """Whether an article comes right before `start` (the Capitol Hill
        insurrection): the press writes no article before a person's name."""
        determiners = self._determiners.get(ctx.language or "")
        if not determiners:
            return False
        before = ctx.text[max(0, start - 8) : start].split()
        return bool(before) and fold(before[-1]) in determiners

    def _byline_before(self, text: str, start: int, end: int) -> bool:
        """Whether the line up to `start` is a byline cue (By; Reporting by), or a
        sentence of the line is one and the name ends the line (Ein Test von
        Tobias Költzsch (iPhone, Smartphone))."""
        line_start = text.rfind("\n", 0, start) + 1
        before = ""
        if start - line_start > _BYLINE_WINDOW:
            # A long line: its last words alone (the first one cut off, it may be
            # part of one), not a fold of all of it at each name, which made a long
            # one-line text with many names quadratic. With more words than a cue,
            # they decide as the whole line does: the line is no cue by itself, and
            # a cue at its end lies within them.
            words = fold(text[start - _BYLINE_WINDOW : start]).rstrip(" (;\t").split()[1:]
            if len(words) > self._byline_words:
                before = " ".join(words)
        if not before:
            before = " ".join(fold(text[line_start:start]).strip(" (;\t").split())
            if before in self._all_bylines:
                return True
        if before.endswith(self._long_bylines):
            return True
        cue = self._byline_in_line.search(before)
        if cue is None:
            return False
        if cue.start() == 0:
            return True
        # Nothing after the name but, to the line's end, a bracket of tags (not
        # "Von Angela Merkel (CDU) stammt der Satz").
        line_end = text.find("\n", end)
        rest = text[end : line_end if line_end >= 0 else len(text)].strip()
        return not rest or (rest[0] == "(" and rest.find(")") == len(rest) - 1)

    def _east_asian(self, ctx: _Text, family: tuple[int, int], given: tuple[int, int]) -> bool:
        """Whether two words are a family name and a hyphenated given name (Moon
        Jae-in, Tsai Ing-wen)."""
        return (
            _HYPHENATED_GIVEN_NAME.fullmatch(ctx.text, *given) is not None
            and _FAMILY_NAME.fullmatch(ctx.text, *family) is not None
            and fold(ctx.word(family)) not in ctx.lex.common
        )

    def find(
        self, text: str, language: str | None, known: list[Span]
    ) -> tuple[list[Person], set[int]]:
        """Persons in `text`, and the indexes in `known` they replace (a place that is
        a first name, a watch-listed surname of another person)."""
        found: list[Person] = []
        if not text:
            return found, set()
        roles = self._roles.get(language or "", self._all_roles) if language else self._all_roles
        ctx = _Text(text, language, known, self._words(language), roles)
        singles: list[tuple[int, int]] = []  # one-word runs no rule made a name
        candidates: list[list[tuple[int, int]]] = []  # runs of two or three
        for run in self._runs.finditer(text):
            group = run.group()
            if " " not in group and "\u00a0" not in group and "\t" not in group:
                runs = [[(run.start(), run.end())]]
            else:
                runs = [[]]
                for m in _NON_SPACE.finditer(text, run.start(), run.end()):
                    if m.group() in _CONJUNCTIONS:
                        runs.append([])  # Chelsea Jones y Eva Sealove
                    else:
                        runs[-1].append(m.span())
            for words in runs:
                if not words:
                    continue
                person = self._person(ctx, words)
                if person is not None:
                    found.append(person)
                elif len(words) == 1:
                    singles.append(words[0])
                elif len(words) <= 3:
                    candidates.append(words)
        if ctx.things:
            found = [p for p in found if fold(p.canonical) not in ctx.things]
        for k in range(1, len(found)):
            # By Matt Spetalnick and Jason Szep: both names are the byline's.
            previous, person = found[k - 1], found[k]
            if (
                previous.author
                and not person.author
                and self._link(text[previous.end : person.start])
            ):
                found[k] = person._replace(author=True)
        if candidates and found:
            found.extend(self._listed(ctx, found, candidates))
        if singles and found:
            found = self._surname_mentions(ctx, found, singles)
        if language in _UNCASED_SPACED:
            found.extend(self._after_roles_uncased(ctx, language))
        if language not in _SPACED_LANGUAGES:
            for m in _HAN_NAME.finditer(text):
                start = m.start()
                dot = start + next(k for k, c in enumerate(m.group()) if c in "·‧•・")
                cut = _HAN_BEFORE.match(text, start, dot)
                if cut is not None:
                    start = cut.end()
                role = self._role_after.get(language or "")
                if role is not None:  # 主播沙布南·道兰: the name starts after the role
                    ends = [r.end() for r in role.finditer(text, max(0, start - 8), dot)]
                    start = max([start, *(e for e in ends if e < dot)])
                end = m.end()
                if start == dot:
                    continue
                if ctx.overlapping(start, end):
                    continue
                found.append(Person(start, end, text[start:end], False))
            if language == "zh":
                found.extend(self._han_after_roles(ctx, found))
        if language in _JOINED_LANGUAGES:  # a tokenizer's names (cjk_people.py)
            cjk = self._cjk.find(text, language, known, found)
            found = [p for k, p in enumerate(found) if k not in cjk.dropped]
            found.extend(
                Person(n.start, n.end, text[n.start : n.end], n.author, n.name) for n in cjk.names
            )
            ctx.replaced |= cjk.replaced
        return found, ctx.replaced

    def _after_roles_uncased(self, ctx: _Text, language: str) -> list[Person]:
        """Names after a role in a script without capitals (Urdu, Persian): the
        words up to a postposition, a particle or punctuation, two to four of them,
        none a name the gazetteer knows (وزیر دفاع خرم دستگیر نے کہا)."""
        text = ctx.text
        roles = self._plain_roles.get(language, frozenset())
        if not roles:
            return []
        ends = self._name_ends.get(language, frozenset())
        words = [
            (m.start(), m.end()) for m in re.finditer(r"[^\s\u200c]+(?:\u200c[^\s\u200c]+)*", text)
        ]
        plain = [_plain(text[s:e]) for s, e in words]
        found: list[Person] = []
        i = 0
        while i < len(words):
            n = next(
                (
                    n
                    for n in (3, 2, 1)
                    if " ".join(plain[i : i + n]) in roles and i + n <= len(words)
                ),
                0,
            )
            if not n:
                i += 1
                continue
            i += n
            while i < len(words) and plain[i] in roles:
                i += 1  # role after role: کمانڈر جنرل
            kept: list[tuple[int, int]] = []
            while i < len(words) and len(kept) < _UNCASED_MAX_WORDS:
                s, e = words[i]
                if not plain[i] or plain[i] in ends or plain[i] in roles or ctx.overlapping(s, e):
                    break
                kept.append((s, e))
                i += 1
                if text[e - 1] in _ARABIC_PUNCTUATION:
                    break  # the name ends with its sentence or clause
            if len(kept) >= 2:
                start, end = kept[0][0], kept[-1][1]
                name = text[start:end].rstrip(_ARABIC_PUNCTUATION)
                found.append(Person(start, start + len(name), name, False))
        return found

    def _han_after_roles(self, ctx: _Text, found: list[Person]) -> list[Person]:
        """Chinese names right after a role (董事长周子学, 运动员谢晖): a family name of
        faker's lists and one or two characters; two when the text says the
        longer one less often (谢晖 ... 谢晖酒桌: not 谢晖酒)."""
        text = ctx.text
        pattern = self._role_after.get("zh")
        if pattern is None:
            return []
        names: list[Person] = []
        for m in pattern.finditer(text):
            start = m.end()
            while start < len(text) and text[start] in " \u3000":
                start += 1  # 联席 CEO 梁孟松
            if (
                start >= len(text)
                or text[start] not in self._han_surnames
                or not _HAN_NAME_PART_RE.match(text, start)  # 和, 的: words of their own
                or pattern.match(text, start)  # role after role: 董事长兼总经理
            ):
                continue
            longest = start + 1
            while longest < min(start + 3, len(text)) and _HAN_NAME_PART_RE.match(text, longest):
                longest += 1
            if longest - start < 2:
                continue
            end = longest
            if longest - start == 3 and ctx.count(text[start:longest]) < ctx.count(
                text[start : longest - 1]
            ):
                end = longest - 1
            if ctx.overlapping(start, end) or any(p.start < end and start < p.end for p in found):
                continue
            names.append(Person(start, end, text[start:end], False))
        return names

    def _person(self, ctx: _Text, words: list[tuple[int, int]]) -> Person | None:
        text, language, lex = ctx.text, ctx.language, ctx.lex
        # Roles inside the run (President Moon, Prime Minister Albanese) are cues.
        cued = self._role_before(ctx, words[0][0])
        if len(words) == 1 and not cued:
            return None  # one word is a name only after a role (most runs: Le, The)
        roles = ctx.roles
        i = 0
        while i < len(words) - 1:
            one = fold(ctx.word(words[i]))
            two = fold(text[words[i][0] : words[min(i + 1, len(words) - 1)][1]])
            if two in roles and i + 2 < len(words):
                i, cued = i + 2, True
            elif self._is_role(one, roles, language):
                i, cued = i + 1, True
            else:
                break
        words = words[i:]
        # (Particles, the lower-case words of a run, are no first names: von, de.)
        tiers = [
            self._first_name(ctx.word(w), lex) if text[w[0]].isupper() else 0 for w in words[:-1]
        ]
        firsts = [k for k, tier in enumerate(tiers) if tier == 2]
        if not firsts:
            # A first name that is a common word too is one before another name
            # that is not a thing the gazetteer knows (José Manuel, Bill White; not
            # Can Trump).
            firsts = [
                k
                for k, tier in enumerate(tiers)
                if tier == 1
                and self._name_word(fold(ctx.word(words[k + 1])))
                and not ctx.overlapping(*words[k + 1])
                and not ctx.title_case(words[k][0])
            ]
        # A first name the gazetteer read as something else (French in French
        # Foreign Minister Jean-Noël Barrot) gives way to a later one.
        anchor = next(
            (k for k in firsts if not ctx.overlapping(*words[k])),
            firsts[0] if firsts else None,
        )
        # A first name that is a common word too, right before, is part of the
        # name (Luis Enrique Martínez), unless it opens the sentence (Can Sam Paparo).
        while (
            anchor
            and tiers[anchor - 1] == 1
            and not _opens_sentence(text, words[anchor - 1][0])
            and not ctx.overlapping(*words[anchor - 1])
        ):
            anchor -= 1
        if anchor and ctx.word(words[anchor - 1]) in self._vessel_prefixes:
            return None  # a ship named after a person (USS Abraham Lincoln)
        east_asian = False
        if anchor is None:
            k = next(
                (k for k in range(len(words) - 1) if self._east_asian(ctx, words[k], words[k + 1])),
                None,
            )
            if k is not None:
                words, anchor, east_asian = words[k : k + 2], 0, True
        recurring = by_surname = appositive = False
        if anchor is None and not cued:
            # Barack Obama ... Obama: the press names a person in full once, then by
            # the surname alone; a pair of unknown words whose last one comes back
            # alone is a name whatever its first name. (Not in German, where every
            # noun is capitalised: Kölner Silvesternacht ... Silvesternacht.)
            # Unknown words before a family name of the lexicon are a name too
            # (Delcy Rodriguez: a first name no list has).
            # With no first name known, a particle says nothing of the words before
            # it: the name is the words after it (Journal de | Vaslav Nijinski).
            lower = [k for k, w in enumerate(words) if not text[w[0]].isupper()]
            if lower and lower[-1] <= len(words) - 3:
                words = words[lower[-1] + 1 :]
            elif len(words) == 3 and fold(ctx.word(words[0])) in lex.stop:
                words = words[1:]  # a sentence's first word: Según | Quorvan Blettix
            if language in _NOUNS_CAPITALISED or not 2 <= len(words) <= 3:
                return None
            by_surname = self._before_surname(ctx, words) and not ctx.title_case(words[0][0])
            recurring = by_surname or self._surname_recurs(ctx, words)
            if not recurring:
                # Unknown words a role follows (Getachew Reda, a spokesperson).
                appositive = self._unknown(ctx, [fold(ctx.word(w)) for w in words]) and (
                    self._role_follows(ctx, words[-1][1])
                )
                if not appositive:
                    return None
                cued = True
            if self._after_determiner(ctx, words[0][0]):
                return None  # the Capitol Hill insurrection, the Boi Tolo parade
        if anchor is not None and (not cued or anchor > 0):
            if language in _NO_ARTICLE_BEFORE_NAMES and self._after_determiner(ctx, words[0][0]):
                return None  # the Winter Games, the Boi Tolo parade: a thing's name
            words = words[anchor:]
            anchor = 0
        # Gazetteer finds: a place as the first word gives way, anything else ends it.
        first_taken = None
        kept: list[tuple[int, int]] = []
        after_particle = False
        for k, (s, e) in enumerate(words[:_MAX_WORDS]):
            hits = ctx.overlapping(s, e)
            if hits and (recurring or appositive):
                return None  # no first name to say it is a person: not over a known name
            if hits:
                spans = [ctx.known[j] for j in hits]
                one_place = all(sp.type == "LOC" and s <= sp.start and sp.end <= e for sp in spans)
                if k == 0 and one_place and len(words) > 1:
                    first_taken = hits  # Jordan Bardella, Paris Hilton, Cheng Li-wun
                elif (
                    k == 1
                    and one_place
                    and anchor == 0
                    # The first name as written, not a case of one: Мария Иванова,
                    # not Власти Казахстана.
                    and fold(ctx.word(words[0]).split("-")[0]) in lex.first
                ):
                    # After a first name, a city's name is a surname (Jesse
                    # Jackson, not the capital of Mississippi).
                    first_taken = [*(first_taken or []), *hits]
                elif all(sp.type == "PER" for sp in spans):
                    pass  # a watch-listed name inside: decided below
                else:
                    break
            word = fold(text[s:e])
            if word in self._particles - _CONJUNCTIONS and anchor == 0 and 0 < k < len(words) - 1:
                kept.append((s, e))  # Marine Le Pen, Ursula von der Leyen
                after_particle = True
                continue
            if after_particle:  # the surname a particle leads to (Le Pen: not a pen)
                kept.append((s, e))
                after_particle = False
                continue
            if word in self._not_names or any(word in heads for heads in self.org_heads.values()):
                # A thing's name or a date (Royal Mail, Monday, Columbia University):
                # the words before it are that thing's wherever the text has them.
                if len(kept) > 1:
                    ctx.things.add(" ".join(fold(ctx.word(w)) for w in kept))
                return None
            if (by_surname and k == len(words) - 1) or east_asian:
                pass  # the family name that made it a name (Rodriguez, White)
            elif (k > 0 or anchor is None) and (
                self._common_word(word, lex) or self._is_role(word, roles, language)
            ):
                break
            kept.append((s, e))
        while kept and fold(ctx.word(kept[-1])) in self._particles:
            kept.pop()  # Reyes de | Madrid: the particle led to a place
        if not kept or (len(kept) == 1 and not cued):
            return None
        start, end = kept[0][0], kept[-1][1]
        if end - start < 3:
            return None
        # (Through the starts list: a scan of every span per name made a long
        # text naming a watch-listed person at each line quadratic.)
        inside = [j for j in ctx.overlapping(start, end) if ctx.known[j].type == "PER"]
        for j in inside:
            sp = ctx.known[j]
            if sp.start <= start and end <= sp.end:
                return None  # the watchlist's own full name
            first = fold(text[start : kept[0][1]])
            if first in self._watchlist_first.get(sp.id, frozenset()):
                return None  # Vladimir Vladimirovich Putin: still the watch-listed one
        ctx.replaced.update(inside)
        if first_taken is not None:
            ctx.replaced.update(first_taken)
        found = text[start:end]
        return Person(
            start, end, found, self._byline_before(text, start, end), self._nominative(found)
        )

    def _listed(
        self, ctx: _Text, found: list[Person], candidates: list[list[tuple[int, int]]]
    ) -> list[Person]:
        """Runs of two or three unknown words listed with persons: joined to one by
        "and" (Jez Humble and Dave Farley), or between two of them (Vincent
        Peillon, Mazarine Pingeot et Didier Barbelivien). Not in German, where
        every noun is capitalised, nor on a title-case headline."""
        if ctx.language in _NOUNS_CAPITALISED:
            return []
        text = ctx.text
        mentions = sorted(
            [(p.start, p.end) for p in found if not p.author]
            + [(sp.start, sp.end) for sp in ctx.known if sp.type == "PER"]
        )
        added: list[Person] = []
        pending = [
            words
            for words in candidates
            if self._unknown(ctx, [fold(ctx.word(w)) for w in words if fold(ctx.word(w))])
            and not any(ctx.overlapping(*w) for w in words)
        ]
        while pending:
            left = []
            for words in pending:
                start, end = words[0][0], words[-1][1]
                j = bisect.bisect_left(mentions, (start, start))
                before = self._link(text[mentions[j - 1][1] : start]) if j > 0 else ""
                after = self._link(text[end : mentions[j][0]]) if j < len(mentions) else ""
                if (
                    ("and" in (before, after) or (before and after))
                    and not ctx.title_case(start)
                    and not self._after_determiner(ctx, start)
                ):
                    added.append(Person(start, end, text[start:end], False))
                    bisect.insort(mentions, (start, end))
                    continue
                left.append(words)
            if len(left) == len(pending):
                break
            pending = left  # one found may link the next (A, B, C and D)
        return added

    def _link(self, between: str) -> str:
        """What joins two runs: "and" (a conjunction, a comma before it or not),
        "," (a comma alone), or nothing ("")."""
        if len(between) > 8:
            return ""
        words = between.replace(",", " , ").split()
        if words and words[0] == ",":
            words = words[1:]
            if not words:
                return ","
        return "and" if len(words) == 1 and fold(words[0]) in self._linking else ""

    def _surname_mentions(
        self, ctx: _Text, found: list[Person], singles: list[tuple[int, int]]
    ) -> list[Person]:
        """A surname alone (Merkel, Jeri's) where the text names the person in full
        (Angela Merkel, President Jose Jeri) is that person: the same id, whether a
        role came before it (le ministre Darmanin) or no rule read it as a name.
        A surname two persons of the text share (Alexiz and Roberto Núñez) is
        neither's."""
        full: dict[str, Person | None] = {}
        for p in found:
            parts = p.canonical.split()
            if p.author or len(parts) < 2:
                continue
            # The family name: the first of an East Asian name (Cho Hyun-dong).
            family = parts[0] if _HYPHENATED_GIVEN_NAME.fullmatch(parts[-1]) else parts[-1]
            key = fold(family)
            if len(key) < 3:
                continue
            if key in full and full[key] is not None:
                other = full[key]
                if other is not None and fold(other.canonical) != fold(p.canonical):
                    full[key] = None
            elif key not in full:
                full[key] = p
        if not full:
            return found
        text, lex = ctx.text, ctx.lex
        out = []
        for p in found:
            whole = full.get(fold(_POSSESSIVE.sub("", p.text))) if " " not in p.text else None
            out.append(p._replace(name=whole.canonical) if whole is not None else p)
        for s, e in singles:
            word = _POSSESSIVE.sub("", text[s:e])
            key = fold(word)
            whole = full.get(key)
            if whole is None or ctx.overlapping(s, e):
                continue
            if key in lex.common and _opens_sentence(text, s):
                continue  # White smoke rose: a capital of the sentence, not Bill White
            out.append(Person(s, s + len(word), word, False, whole.canonical))
        out.sort(key=lambda p: p.start)
        return out
