"""Words of another language below the sentence: the reference article's French
sentences that open in Spanish ("Durante une conférence…", "Aun así, des mois plus
tard…"). fastText reads whole sentences, and a word or two does not move its
verdict; these openings are found from the languages' function words instead
(the stopwords-iso lists, `stopwordsiso`).

A sentence of the document's language opens with a foreign fragment when its
first words are function words of another language and none of the document's
own. A fragment's language is the one whose lists hold all of its words. A
language counts only when the document has a fragment of two words or more that
is only its own (Aun así: Spanish); then its one-word fragments count too, and a
word several languages share (durante: Spanish, Portuguese, Italian) goes to it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import stopwordsiso

from pipeline.enrichment.language import segments

# Languages whose openings are looked for, in Latin-script documents; English is
# left out as a fragment's language: its list holds many other languages' words
# (con, al, la, de).
FRAGMENT_LANGUAGES = ("fr", "es", "pt", "it", "de", "nl", "ca")
_MIN_WORDS = 4  # a sentence shorter than this is a heading or a caption
_MAX_FRAGMENT = 3  # words
_MIN_LETTERS = 3  # "al", "la": too short to say anything
_MAX_SENTENCES = 400
_STRIP = "\"'“”«»‘’(),;:!?.¿¡"


@cache
def _function_words(language: str) -> frozenset[str]:
    return (
        frozenset(stopwordsiso.stopwords(language))
        if stopwordsiso.has_lang(language)
        else frozenset()
    )


@dataclass(frozen=True)
class Fragment:
    language: str
    text: str  # as written


def foreign_openings(text: str, language: str | None) -> list[Fragment]:
    """The fragments of other languages that open the text's sentences."""
    if language is None or not _function_words(language):
        return []
    own = _function_words(language)
    found: list[tuple[str, frozenset[str]]] = []  # fragment, the languages it may be
    for sentence in segments(text)[:_MAX_SENTENCES]:
        words = sentence.split()
        if len(words) < _MIN_WORDS:
            continue
        fragment: list[str] = []
        candidates: frozenset[str] | None = None
        for raw in words[:_MAX_FRAGMENT]:
            word = raw.strip(_STRIP).lower()
            if (len(word) < _MIN_LETTERS and not fragment) or word in own or not word.isalpha():
                break
            theirs = frozenset(
                lang
                for lang in FRAGMENT_LANGUAGES
                if lang != language and word in _function_words(lang)
            )
            both = theirs if candidates is None else candidates & theirs
            if not both:
                break
            fragment.append(raw.strip(_STRIP))
            candidates = both
            if raw.rstrip().endswith((",", ";", ":")):
                break
        # The fragment must be followed by the document's own language.
        if fragment and candidates and len(fragment) < len(words):
            found.append((" ".join(fragment), candidates))
    # Evidence of a language: fragments of two words or more that only it has
    # (Aun así). One word is never enough alone: too many words are another
    # language's function word and this one's noun (Local, Total, War).
    sure = Counter(
        next(iter(langs)) for written, langs in found if " " in written and len(langs) == 1
    )
    fragments = []
    for written, languages in found:
        shown = [lang for lang in languages if sure[lang]]
        if len(shown) == 1:
            fragments.append(Fragment(shown[0], written))
    return fragments
