"""Stories against the labelled real-feed set (tests/data/stories_realfeeds.jsonl):
pairwise precision, recall and F1 of the worker's story grouping
(pipeline/signals/stories.py) beside a baseline that joins an article to the
earlier one whose title shares the most words (Jaccard of folded title words at
least 0.5), in the same run, on the same enriched articles in publication order.

    python -m bench.stories_bench [--thresholds 0.15,0.2,0.25] [--soak 100000]

Each article goes through the worker's enrichment and near-duplicate linking
first, as in the worker. The set's feeds cover several days each; the story
index's window is set to cover them all (the bench measures grouping, not
expiry). Columns: pairs each method put together, precision, recall, F1, the
share of cross-feed gold pairs found, of cross-language gold pairs found, the
number of stories, and the grouping's time per article (enrichment excluded).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from itertools import combinations

from bench.realfeeds_devset import REALFEEDS
from bench.stories_devset import StoryLabel, gold_pairs, labelled_articles, pairwise_scores
from pipeline.enrichment.duplicates import DuplicateIndex
from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.textfold import folded_words
from pipeline.signals.stories import THRESHOLD, StoryIndex
from vigie.article import Article
from vigie.settings import Settings

_TITLE_JACCARD = 0.5
_YEARS = 20 * 365 * 86400.0


def _title_words(article: Article) -> frozenset[str]:
    return frozenset(w for w in folded_words(article.title) if len(w) >= 3)


def title_baseline(articles: Sequence[Article]) -> dict[str, str]:
    """The earlier article with the most title words in common (Jaccard >= 0.5)
    gives its story; else a story of its own."""
    stories: dict[str, str] = {}
    seen: list[tuple[str, frozenset[str]]] = []
    for article in articles:
        words = _title_words(article)
        best, best_score = None, 0.0
        for other, theirs in seen:
            if words and theirs:
                score = len(words & theirs) / len(words | theirs)
                if score > best_score:
                    best, best_score = other, score
        stories[article.id] = (
            stories[best] if best is not None and best_score >= _TITLE_JACCARD else article.id
        )
        seen.append((article.id, words))
    return stories


def story_index(threshold: float) -> Callable[[Sequence[Article]], dict[str, str]]:
    def group(articles: Sequence[Article]) -> dict[str, str]:
        index = StoryIndex({}, window_seconds=_YEARS, threshold=threshold)
        return {a.id: index.assign(a).story for a in articles}

    return group


def _found(predicted: dict[str, str], pairs: set[frozenset[str]]) -> str:
    if not pairs:
        return "-"
    hit = sum(1 for p in pairs if len({predicted.get(i, i) for i in p}) == 1)
    return f"{hit}/{len(pairs)}"


def soak(articles: Sequence[Article], total: int) -> None:
    """The index's memory and time per article as it holds more: the labelled
    articles again and again under new ids, an hour apart per round, all within
    the window (what a worker holds at the end of a window of that many)."""
    import gc
    import tracemalloc

    tracemalloc.start()
    index = StoryIndex({}, window_seconds=_YEARS)
    print("| articles held | MB held | KB per article | ms per article (last step) |")
    print("|---|---|---|---|")
    done, step, started = 0, max(1, total // 5), time.perf_counter()
    while done < total:
        base = articles[done % len(articles)]
        shift = timedelta(hours=done // len(articles))
        when = (base.published_at or base.fetched_at) + shift
        copy = base.model_copy(
            update={"id": f"{base.id}-{done}", "duplicate_of": None, "published_at": when}
        )
        index.assign(copy)
        done += 1
        if done % step == 0:
            elapsed = time.perf_counter() - started
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
            print(
                f"| {len(index):,} | {held / 1e6:.0f} | {held / len(index) / 1e3:.2f} "
                f"| {elapsed * 1000 / step:.2f} |"
            )
            started = time.perf_counter()
    tracemalloc.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thresholds", default=f"{THRESHOLD}")
    parser.add_argument("--soak", type=int, default=0, help="then hold this many articles")
    args = parser.parse_args(argv)
    resolved = labelled_articles(REALFEEDS)
    labels: list[StoryLabel] = [label for label, _ in resolved]
    enricher = Enricher.from_settings(Settings())
    duplicates = DuplicateIndex({}, window_seconds=_YEARS)
    started = time.perf_counter()
    articles = []
    for _, raw in resolved:
        articles.append(duplicates.link(enricher.enrich(raw)))
    print(
        f"{len(articles)} articles from {len({lb.feed for lb in labels})} feeds enriched in "
        f"{time.perf_counter() - started:.0f} s"
    )
    gold = gold_pairs(labels)
    feed = {lb.entry: lb.feed for lb in labels}
    language = {lb.entry: lb.lang for lb in labels}
    cross_feed = {p for p in gold if len({feed[i] for i in p}) == 2}
    cross_language = {p for p in gold if len({language[i] for i in p}) == 2}
    methods: list[tuple[str, Callable[[Sequence[Article]], dict[str, str]]]] = [
        ("baseline: same title words", title_baseline)
    ]
    for threshold in (float(t) for t in args.thresholds.split(",")):
        methods.append((f"Vigie stories (threshold {threshold:g})", story_index(threshold)))
    header = (
        "| method | pairs | precision | recall | F1 | cross-feed found "
        "| cross-language found | stories | ms/article |"
    )
    print(header)
    print("|" + "---|" * 9)
    for name, group in methods:
        started = time.perf_counter()
        predicted = group(articles)
        per_article = (time.perf_counter() - started) * 1000 / len(articles)
        together: dict[str, list[str]] = {}
        for article_id, story in predicted.items():
            together.setdefault(story, []).append(article_id)
        pairs = sum(1 for ids in together.values() for _ in combinations(ids, 2))
        precision, recall, f1 = pairwise_scores(predicted, labels)
        print(
            f"| {name} | {pairs} | {precision:.2f} | {recall:.2f} | {f1:.2f} "
            f"| {_found(predicted, cross_feed)} | {_found(predicted, cross_language)} "
            f"| {len(together)} | {per_article:.2f} |"
        )
    print(
        f"gold: {len(gold)} pairs, {len(cross_feed)} cross-feed, {len(cross_language)} "
        "cross-language"
    )
    if args.soak:
        soak(articles, args.soak)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
