"""Word lists from maintained data packages: first names, surnames and common words.

All come from `faker` (MIT), whose locales carry lists of given names and family
names drawn from name statistics (with their romanised forms for Chinese and
Japanese) and lists of frequent words (its lorem providers), per language. They
are read once per process, as plain sets of folded strings; which given names
are first names in a text depends on its language's common words
(pipeline/enrichment/people.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from pipeline.enrichment.textfold import fold

# faker's lorem "la" is pseudo-Latin filler, not a language's words.
_NOT_WORDS = frozenset({"la"})
# Given names shorter than this are mostly initials or syllables (Li, Bo, Ai).
_MIN_FIRST_NAME = 3


def _providers(package: str) -> list[object]:
    module = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(module.__path__):
        try:
            found.append(importlib.import_module(f"{package}.{info.name}").Provider)
        except (ImportError, AttributeError):
            continue
    return found


@cache
def given_names() -> frozenset[str]:
    """Folded given names of every faker locale (Latin, Cyrillic, Arabic, Greek...),
    common words among them (José, Bill, Pierre): which of them say a name depends
    on the text's language."""
    names: set[str] = set()
    for provider in _providers("faker.providers.person"):
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            value = getattr(provider, attribute, ())
            if not isinstance(value, (dict, list, tuple, set, frozenset)):
                continue  # a property computed per instance
            for name in value:
                if isinstance(name, str) and len(name) >= _MIN_FIRST_NAME and " " not in name:
                    names.add(fold(name))
    return frozenset(names)


@cache
def surnames() -> frozenset[str]:
    """Folded family names of every faker locale, and the romanised Chinese and
    Japanese ones (Chen, Tanaka). Not less the common words: a surname is only
    read after a word that is neither a common word nor a known name."""
    names: set[str] = set()
    for provider in _providers("faker.providers.person"):
        for attribute in ("last_names", "last_romanized_names"):
            value = getattr(provider, attribute, ())
            if not isinstance(value, (dict, list, tuple, set, frozenset)):
                continue
            for name in value:
                if isinstance(name, str) and len(name) >= _MIN_FIRST_NAME and " " not in name:
                    names.add(fold(name))
    return frozenset(names)


@cache
def han_surnames() -> frozenset[str]:
    """Chinese family names of one character (faker's zh_CN and zh_TW lists)."""
    names: set[str] = set()
    for provider in _providers("faker.providers.person"):
        if not provider.__module__.rsplit(".", 1)[-1].startswith("zh"):
            continue
        for name in getattr(provider, "last_names", ()):
            if isinstance(name, str) and len(name) == 1:
                names.add(name)
    return frozenset(names)


@cache
def _words_by_language() -> dict[str, frozenset[str]]:
    """Folded frequent words per language (es: es_ES, es_MX, es_AR together)."""
    words: dict[str, set[str]] = {}
    for provider in _providers("faker.providers.lorem"):
        locale = provider.__module__.rsplit(".", 1)[-1]
        if locale in _NOT_WORDS:
            continue
        value = getattr(provider, "word_list", ())
        mine = words.setdefault(locale.split("_")[0], set())
        for word in value if isinstance(value, (list, tuple, set, frozenset)) else ():
            # Capitalised: a proper name in the list (John in cs_CZ), except German nouns.
            if isinstance(word, str) and (word[:1].islower() or locale.startswith("de")):
                mine.add(fold(word))
    return {language: frozenset(w) for language, w in words.items()}


def language_words(language: str) -> frozenset[str]:
    """Folded frequent words of one language (empty where faker has no list: pt)."""
    return _words_by_language().get(language, frozenset())


@cache
def common_words() -> frozenset[str]:
    """Folded frequent words of the languages faker has word lists for."""
    return frozenset().union(*_words_by_language().values())


@cache
def han_given_characters() -> frozenset[str]:
    """The characters of Chinese given names (faker's zh_CN and zh_TW lists): 婷, 伟."""
    characters: set[str] = set()
    for provider in _providers("faker.providers.person"):
        if not provider.__module__.rsplit(".", 1)[-1].startswith("zh"):
            continue
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            value = getattr(provider, attribute, ())
            for name in value if isinstance(value, (list, tuple, set, frozenset)) else ():
                if isinstance(name, str):
                    characters.update(name)
    return frozenset(characters)
