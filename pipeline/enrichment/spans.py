"""What the gazetteer found in a text, as the name rules read it: spans in text
order that do not overlap, and which of them a stretch of text touches."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Protocol


class KnownSpan(Protocol):
    """What the gazetteer found (people.Span)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def type(self) -> str: ...


def overlapping(spans: Sequence[KnownSpan], starts: list[int], start: int, end: int) -> list[int]:
    """Indexes of the spans (in text order, not overlapping; `starts` their
    starts) that overlap [start, end)."""
    k = max(bisect.bisect_right(starts, start) - 1, 0)
    hits = []
    while k < len(spans) and spans[k].start < end:
        if start < spans[k].end:
            hits.append(k)
        k += 1
    return hits
