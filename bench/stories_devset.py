"""The real-feed stories set: which entries of ../shared/realfeeds report the same
real-world event (tests/data/stories_realfeeds.jsonl, guidelines in
tests/data/STORIES.md), and pairwise scores of a story grouping against it.

The repository keeps only the labels (feed file, the connector's article id, link,
language, event slug); the articles are parsed from the feed files at run time, the
same way bench/realfeeds_devset.py parses them, so an entry's id does not depend on
where the feeds folder is.

    python -m bench.stories_devset      # load every label, print the counts
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.realfeeds_devset import REALFEEDS, REPO, DevsetError, feed_articles
from vigie.article import Article

STORIES = REPO / "tests" / "data" / "stories_realfeeds.jsonl"
_END = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoryLabel:
    feed: str  # file name in the real-feeds folder
    entry: str  # the connector's article id for the entry
    link: str | None
    lang: str
    event: str  # short ascii slug; entries of one real-world event share it
    note: str = ""

    @classmethod
    def from_json(cls, line: str, where: str) -> StoryLabel:
        try:
            data: dict[str, Any] = json.loads(line)
            link = data.get("link")
            label = cls(
                feed=str(data["feed"]),
                entry=str(data["entry"]),
                link=None if link is None else str(link),
                lang=str(data["lang"]),
                event=str(data["event"]),
                note=str(data.get("note") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DevsetError(f"{where}: not a story label ({exc!r})") from exc
        if not (label.feed and label.entry and label.lang and label.event):
            raise DevsetError(f"{where}: empty feed, entry, lang or event")
        if not label.event.isascii() or any(c.isspace() for c in label.event):
            raise DevsetError(f"{where}: event {label.event!r} is not an ascii slug")
        return label


def load_labels(path: Path = STORIES) -> list[StoryLabel]:
    """Every label of the file, in file order; DevsetError on a bad line or an
    article id labelled twice."""
    if not path.is_file():
        raise DevsetError(f"{path}: story labels missing")
    labels: list[StoryLabel] = []
    seen: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        label = StoryLabel.from_json(line, where)
        if label.entry in seen:
            raise DevsetError(
                f"{where}: entry {label.entry} already labelled at {seen[label.entry]}"
            )
        seen[label.entry] = where
        labels.append(label)
    return labels


def labelled_articles(
    folder: Path = REALFEEDS, labels: Sequence[StoryLabel] | None = None
) -> list[tuple[StoryLabel, Article]]:
    """Each label (all of STORIES by default) with the connector's Article for its
    entry, in publication order.

    Order: dated articles by `published_at`; an undated article (published_at None)
    goes right after the last dated article of its own feed (after every dated
    article when its feed has none); ties keep feed name then feed order. So a feed
    that is partly undated (CNN) is replayed in feed order at its end, and a wholly
    undated one after everything dated. DevsetError names the feed and entry when an
    entry is missing from its feed file."""
    if labels is None:
        labels = load_labels()
    if not folder.is_dir():
        raise DevsetError(
            f"{folder}: real-feeds folder missing; the stories set's articles are read "
            "from there (../shared/realfeeds beside the checkout)"
        )
    found: list[tuple[StoryLabel, Article, int]] = []
    for label in labels:
        articles = feed_articles(folder, label.feed)
        position = {a.id: i for i, a in enumerate(articles)}
        i = position.get(label.entry)
        if i is None:
            raise DevsetError(
                f"{label.feed}: no entry {label.entry} (link {label.link}) in the feed"
            )
        found.append((label, articles[i], i))
    last_dated: dict[str, datetime] = {}
    for label, article, _ in found:
        when = article.published_at
        if when is not None and (label.feed not in last_dated or when > last_dated[label.feed]):
            last_dated[label.feed] = when
    # Undated articles of a feed with no dated one go after everything dated.
    latest = max(last_dated.values(), default=_END)

    def key(item: tuple[StoryLabel, Article, int]) -> tuple[datetime, int, str, int]:
        label, article, i = item
        if article.published_at is not None:
            return (article.published_at, 0, label.feed, i)
        if label.feed in last_dated:
            return (last_dated[label.feed], 1, label.feed, i)
        return (latest, 2, label.feed, i)

    found.sort(key=key)
    return [(label, article) for label, article, _ in found]


def gold_pairs(labels: Iterable[StoryLabel]) -> set[frozenset[str]]:
    """Unordered pairs of article ids labelled with the same event."""
    by_event: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        by_event[label.event].append(label.entry)
    return {frozenset(p) for ids in by_event.values() for p in combinations(ids, 2)}


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(
    predicted: Mapping[str, str], labels: Sequence[StoryLabel]
) -> tuple[float, float, float]:
    """(precision, recall, f1) of a grouping over the labelled articles.

    `predicted` maps article id -> predicted story id; a labelled article it does not
    name counts as a story of its own, ids that are not labelled are ignored.
    Precision = predicted same-story pairs that are gold pairs / predicted pairs;
    recall = gold pairs predicted together / gold pairs. With no predicted pair,
    precision is 1.0 (nothing wrongly joined); with no gold pair, recall is 1.0."""
    cells: Counter[tuple[str, str]] = Counter()
    stories: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for label in labels:
        story = predicted.get(label.entry)
        story_key = f"p:{story}" if story is not None else f"solo:{label.entry}"
        cells[(story_key, label.event)] += 1
        stories[story_key] += 1
        events[label.event] += 1
    together = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in stories.values())
    gold = sum(_pairs(n) for n in events.values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def counts(labels: Sequence[StoryLabel]) -> dict[str, int]:
    """The counts STORIES.md reports."""
    feeds: dict[str, set[str]] = defaultdict(set)
    langs: dict[str, set[str]] = defaultdict(set)
    size: Counter[str] = Counter()
    for label in labels:
        feeds[label.event].add(label.feed)
        langs[label.event].add(label.lang)
        size[label.event] += 1
    return {
        "entries": len(labels),
        "feeds": len({label.feed for label in labels}),
        "events": len(size),
        "events with >=2 entries": sum(1 for n in size.values() if n >= 2),
        "entries in events with >=2": sum(n for n in size.values() if n >= 2),
        "cross-feed events": sum(1 for f in feeds.values() if len(f) >= 2),
        "cross-language events": sum(1 for lang in langs.values() if len(lang) >= 2),
        "positive pairs": sum(_pairs(n) for n in size.values()),
        "cross-feed pairs": len(_cross_feed_pairs(labels)),
    }


def _cross_feed_pairs(labels: Sequence[StoryLabel]) -> set[frozenset[str]]:
    feed_of = {label.entry: label.feed for label in labels}
    return {p for p in gold_pairs(labels) if len({feed_of[e] for e in p}) == 2}


def main(argv: Sequence[str] = ()) -> int:
    folder = Path(argv[0]) if argv else REALFEEDS
    labels = load_labels()
    resolved = labelled_articles(folder, labels)
    for name, value in counts(labels).items():
        print(f"{name:28} {value}")
    per_feed = Counter(label.feed for label, _ in resolved)
    undated = Counter(label.feed for label, a in resolved if a.published_at is None)
    print(f"{'resolved articles':28} {len(resolved)}")
    for feed, n in sorted(per_feed.items()):
        extra = f" ({undated[feed]} undated)" if undated[feed] else ""
        print(f"  {feed:45} {n}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
