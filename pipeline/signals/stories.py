"""Stories: the articles about one event, across sources and languages.

Each article joins the story of the recent article it resembles most, or starts
a story of its own (its id is then the story's id). Resemblance is the cosine of
the two articles' features, each weighted by its rarity among the articles held
(inverse document frequency, so "Russia" counts less than "Prigozhin"), once
they share at least MIN_SHARED features that are not common:

- entity and tag ids (`country:KP`, `person:…`, `theme:…`), the same in every
  language;
- the folded words of the title and lead (character pairs in scripts written
  without spaces), which tell two events about the same country apart, and
  across languages match the names written alike.

Across languages, where few words can be shared, the entities' own cosine (at
CROSS_LANGUAGE of its weight) counts when it is higher. Articles further apart in
time count less (DECAY_SECONDS). A wire copy (`duplicate_of`) always joins its
first copy's story. On the labelled real-feed set, pairwise precision is about
0.6 and recall about 0.2 (README, "Stories"): the set's articles are mostly a
title and a line, and the threshold was chosen on that same set.

State, like the near-duplicates' (duplicates.py): one record per article, under
its id, in a mapping (a Faust global table in the worker, so every worker
matches against every article; a dict in tests). A record is written once and
never updated, so workers never overwrite each other's. The window is the quiet
period after which a story closes: an article is matched against the articles
seen less than a window before it, and older records are forgotten and deleted,
so memory follows the window, not the history. Two workers handling two
articles of a new event in the same instant may start two stories; the next
article of the event joins one of them.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from prometheus_client import Gauge

from pipeline.enrichment.memo import Memo
from pipeline.enrichment.textfold import folded_words, is_unspaced
from vigie.article import Article

# Resemblance at or above which an article joins a story, and the rare features
# (entity ids, words) two articles must share at least (bench/stories_bench.py).
THRESHOLD = 0.2
MIN_SHARED = 3
CROSS_LANGUAGE = 0.8
DECAY_SECONDS = 3 * 86400.0
DEFAULT_WINDOW_SECONDS = 36 * 3600.0
_LEAD_WORDS = 60  # words of the body (or summary) that count, after the title's
_MAX_WORDS = 48  # word features an article keeps
_MIN_WORD = 4  # letters a word needs to count, in scripts with spaces
_POSTING = 32  # most recent articles kept per feature
_PROBED = 12  # rarest features of an article whose postings give candidates
_SCORED = 50  # candidates scored, those sharing the most features
# Features carried by more than this share of the articles held say nothing.
_COMMON = 0.05
_SMOOTHING = 20  # pseudo-articles: while few are held, nothing looks rare

STORY_RECORDS = Gauge("vigie_story_records", "Articles held to match new ones against")


def _feature(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


_features: Memo[str, int] = Memo(_feature, size=1 << 15)


def _words(article: Article) -> list[str]:
    # Folding a 50 KB body to keep 60 words was a third of an article's time here.
    lead = folded_words((article.body or article.summary)[: _LEAD_WORDS * 12])[:_LEAD_WORDS]
    words: list[str] = []
    for word in [*folded_words(article.title), *lead]:
        if is_unspaced(word[0]):
            words.extend(word[i : i + 2] for i in range(len(word) - 1))
        elif len(word) >= _MIN_WORD and not word.isdigit():
            words.append(word)
    return list(dict.fromkeys(words))[:_MAX_WORDS]


# An article's entity and tag ids, and its words, as hashes.
Features = tuple[frozenset[int], frozenset[int]]


def features(article: Article) -> Features:
    """What an article is matched on (its entity and tag ids, and the words of its
    title and lead), hashed as its record keeps them."""
    entities = frozenset(
        _features("e" + i)
        for i in {t.id for t in article.tags} | {e.id for e in article.entities if e.id}
    )
    return entities, frozenset(_features.many(["w" + w for w in _words(article)]))


def article_time(article: Article) -> float:
    """When the article says it was published, never after it was fetched."""
    fetched = article.fetched_at.timestamp()
    published = article.published_at.timestamp() if article.published_at else fetched
    return min(published, fetched)


@dataclass(frozen=True)
class _Record:
    seen: int  # when this index recorded it (the window counts from it)
    when: int  # the article's own time (resemblance decays with the distance)
    story: str
    language: str
    entities: frozenset[int]
    words: frozenset[int]

    def dump(self) -> str:
        return "|".join(
            [
                str(self.seen),
                str(self.when),
                self.story,
                self.language,
                ",".join(f"{f:x}" for f in sorted(self.entities)),
                ",".join(f"{f:x}" for f in sorted(self.words)),
            ]
        )

    @classmethod
    def load(cls, value: object) -> _Record | None:
        if not isinstance(value, str):
            return None
        parts = value.split("|")
        if len(parts) != 6 or not parts[2]:
            return None
        try:
            return cls(
                int(parts[0]),
                int(parts[1]),
                parts[2],
                parts[3],
                frozenset(int(f, 16) for f in parts[4].split(",") if f),
                frozenset(int(f, 16) for f in parts[5].split(",") if f),
            )
        except ValueError:
            return None


def _norms(record: _Record, weights: dict[int, float]) -> tuple[float, float]:
    """Euclidean norms of a record's features, all and entities only."""
    entities = sum(weights[f] ** 2 for f in record.entities)
    return math.sqrt(entities + sum(weights[f] ** 2 for f in record.words)), math.sqrt(entities)


def _resemblance(
    a: _Record,
    a_norms: tuple[float, float],
    b: _Record,
    b_norms: tuple[float, float],
    weights: dict[int, float],
) -> float:
    """Cosine of the articles' features (`weights`: those of `a`, now), across
    languages at least CROSS_LANGUAGE times that of their entities alone, less
    with time apart; 0 below MIN_SHARED features in common that are not common."""
    entities = [weights[f] for f in a.entities & b.entities if weights[f] > 0]
    words = [weights[f] for f in a.words & b.words if weights[f] > 0]
    if len(entities) + len(words) < MIN_SHARED or not a_norms[0] or not b_norms[0]:
        return 0.0
    on_entities = sum(w * w for w in entities)
    score = (on_entities + sum(w * w for w in words)) / (a_norms[0] * b_norms[0])
    if a.language != b.language and a_norms[1] and b_norms[1]:
        # Across languages few words are shared (names in one script): the
        # entity ids speak for the event.
        score = max(score, CROSS_LANGUAGE * on_entities / (a_norms[1] * b_norms[1]))
    return score * math.exp(-abs(a.when - b.when) / DECAY_SECONDS)


@dataclass(frozen=True)
class Assignment:
    story: str
    score: float  # resemblance to the article it joined through (1.0: a wire copy; 0: new)
    joined: str | None  # that article's id


class StoryIndex:
    """Gives each article its story, and remembers it to match later articles.
    Runs on one thread (the worker's event loop), like DuplicateIndex."""

    def __init__(
        self,
        state: MutableMapping[str, str],
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        threshold: float = THRESHOLD,
    ) -> None:
        self._state = state
        self._window = window_seconds
        self._clock = clock
        self._threshold = threshold
        self._records: dict[str, _Record] = {}
        self._postings: dict[int, list[str]] = {}
        self._df: Counter[int] = Counter()
        self._norms: dict[str, tuple[float, float]] = {}
        self._expiry: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._records)

    def assign(self, article: Article, found: Features | None = None) -> Assignment:
        """The story the article belongs to; recorded (one write) unless the same
        article was recorded before, whose story it keeps (a replay). `found`:
        its `features`, if worked out already (where it was enriched)."""
        known = self._records.get(article.id) or _Record.load(self._state.get(article.id))
        if known is not None:
            self._add(article.id, known)
            return Assignment(known.story, 1.0, None)
        now = int(self._clock())
        entities, words = found or features(article)
        record = _Record(
            now, int(article_time(article)), "", article.language or "", entities, words
        )
        # Records past the window may still be held until the next sweep: not matched.
        cutoff = now - self._window
        assignment = self._wire_copy(article.duplicate_of, cutoff) or self._nearest(
            article.id, record, cutoff
        )
        record = _Record(
            now, record.when, assignment.story, record.language, record.entities, record.words
        )
        self._state[article.id] = record.dump()
        self._add(article.id, record)
        return assignment

    def observe(self, key: object, value: object | None) -> None:
        """A record written by another worker (or read back from the changelog),
        or its deletion (None)."""
        if not isinstance(key, str):
            return
        record = _Record.load(value) if value is not None else None
        if record is None:
            self._remove(key)
        else:
            self._add(key, record)

    def expire(self, *, delete: bool = True) -> int:
        """Forget the records older than the window; with `delete`, also remove
        them from the mapping (one worker deletes, the others forget)."""
        cutoff = self._clock() - self._window
        forgotten = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            seen, key = heapq.heappop(self._expiry)
            record = self._records.get(key)
            if record is not None and record.seen == seen:
                self._remove(key)
                forgotten += 1
            if delete and key in self._state:
                current = _Record.load(self._state.get(key))
                if current is None or current.seen < cutoff:
                    del self._state[key]
        return forgotten

    def _wire_copy(self, first: str | None, cutoff: float) -> Assignment | None:
        record = self._records.get(first) if first else None
        if record is None or record.seen < cutoff:
            return None
        return Assignment(record.story, 1.0, first)

    def _weights(self, features: frozenset[int], held: int) -> dict[int, float]:
        """Each feature's weight with `held` articles held: 0 for a common one,
        else its smoothed inverse document frequency. (One loop with its lookups
        bound, not a method call per feature: an article has about a hundred
        features, weighed twice, and that was a third of its story matching.)"""
        df = self._df.get
        log = math.log
        top = held + _SMOOTHING
        if held > 50:
            common = _COMMON * held
            return {f: 0.0 if (d := df(f, 0)) > common else log(top / (d + 1)) for f in features}
        return {f: log(top / (df(f, 0) + 1)) for f in features}

    def _nearest(self, article_id: str, record: _Record, cutoff: float) -> Assignment:
        weights = self._weights(record.entities | record.words, len(self._records))
        probed = sorted(
            (f for f in weights if weights[f] > 0 and f in self._postings),
            key=weights.__getitem__,
            reverse=True,
        )[:_PROBED]
        shared: Counter[str] = Counter()
        for feature in probed:
            shared.update(self._postings[feature])
        norms = _norms(record, weights)
        best, best_score = None, 0.0
        for other_id, count in shared.most_common(_SCORED):
            if count < 2:
                break  # the rest share fewer of the rarest features still
            other = self._records.get(other_id)
            if other is None or other_id == article_id or other.seen < cutoff:
                continue
            score = _resemblance(record, norms, other, self._norms[other_id], weights)
            if score > best_score:
                best, best_score = other_id, score
        if best is not None and best_score >= self._threshold:
            return Assignment(self._records[best].story, best_score, best)
        return Assignment(article_id, 0.0, None)

    def _add(self, key: str, record: _Record) -> None:
        if self._records.get(key) == record:
            return
        self._remove(key)
        self._records[key] = record
        # With the weights of now: rarity moves slowly, and a held article's norm
        # worked out at each comparison was most of the time an article took.
        features = record.entities | record.words
        self._norms[key] = _norms(record, self._weights(features, len(self._records)))
        df, postings = self._df, self._postings
        for feature in features:
            df[feature] = df.get(feature, 0) + 1
            posting = postings.setdefault(feature, [])
            posting.append(key)
            if len(posting) > _POSTING:
                del posting[0]
        heapq.heappush(self._expiry, (record.seen, key))
        STORY_RECORDS.set(len(self._records))

    def _remove(self, key: str) -> None:
        record = self._records.pop(key, None)
        if record is None:
            return
        del self._norms[key]
        for feature in record.entities | record.words:
            left = self._df[feature] - 1
            if left > 0:
                self._df[feature] = left
            else:
                del self._df[feature]
            posting = self._postings.get(feature)
            if posting is not None and key in posting:
                posting.remove(key)
                if not posting:
                    del self._postings[feature]
        STORY_RECORDS.set(len(self._records))
