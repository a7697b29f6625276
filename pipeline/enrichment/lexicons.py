"""Word lists from maintained data packages: first names, surnames and common words.

All come from `faker` (MIT), whose locales carry lists of given names and family
names drawn from name statistics (with their romanised forms for Chinese and
Japanese) and lists of frequent words (its lorem providers). They are read once
per process, as plain sets of folded strings.
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
def first_names() -> frozenset[str]:
    """Folded given names of every faker locale (Latin, Cyrillic, Arabic, Greek...)."""
    names: set[str] = set()
    for provider in _providers("faker.providers.person"):
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            value = getattr(provider, attribute, ())
            if not isinstance(value, (dict, list, tuple, set, frozenset)):
                continue  # a property computed per instance
            for name in value:
                if isinstance(name, str) and len(name) >= _MIN_FIRST_NAME and " " not in name:
                    names.add(fold(name))
    return frozenset(names - common_words())


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
def common_words() -> frozenset[str]:
    """Folded frequent words of the languages faker has word lists for."""
    words: set[str] = set()
    for provider in _providers("faker.providers.lorem"):
        locale = provider.__module__.rsplit(".", 1)[-1]
        if locale in _NOT_WORDS:
            continue
        value = getattr(provider, "word_list", ())
        for word in value if isinstance(value, (list, tuple, set, frozenset)) else ():
            # Capitalised: a proper name in the list (John in cs_CZ), except German nouns.
            if isinstance(word, str) and (word[:1].islower() or locale.startswith("de")):
                words.add(fold(word))
    return frozenset(words)


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
