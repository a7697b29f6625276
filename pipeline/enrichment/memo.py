"""A bounded memo for values that repeat across articles (word hashes, folded
text): a worker runs for months, so what it remembers has a ceiling."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """`compute(key)`, remembered for the last `size` to `2 * size` keys asked.

    Two generations instead of an LRU list: a hit costs one dict lookup and no
    bookkeeping; when the current generation is full it becomes the previous one,
    and a key asked again is carried over, so the keys in use stay. Safe to share
    between threads: at worst a race computes a value twice.
    """

    def __init__(self, compute: Callable[[K], V], size: int) -> None:
        self._compute = compute
        self._size = size
        self._current: dict[K, V] = {}
        self._previous: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def __call__(self, key: K) -> V:
        try:
            return self._current[key]
        except KeyError:
            pass
        value = self._previous[key] if key in self._previous else self._compute(key)
        self._current[key] = value
        self._rotate()
        return value

    def many(self, keys: Iterable[K]) -> list[V]:
        """The values of `keys`, in order: the lookups in C, Python only for misses."""
        keys = keys if isinstance(keys, list) else list(keys)
        current, previous = self._current, self._previous
        for key in set(keys).difference(current):
            current[key] = previous[key] if key in previous else self._compute(key)
        values = list(map(current.__getitem__, keys))
        self._rotate()
        return values

    def _rotate(self) -> None:
        if len(self._current) >= self._size:
            self._previous, self._current = self._current, {}


class TextCounts:
    """How often one text says each word asked, each counted once: counted at each
    mention, a long text repeating names cost the name rules quadratic time."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._counts: dict[str, int] = {}

    def __call__(self, word: str) -> int:
        count = self._counts.get(word)
        if count is None:
            count = self._counts[word] = self._text.count(word)
        return count
