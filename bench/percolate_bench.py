"""Percolation throughput against the real local engine (`vigie services up`
first): articles per second matched against 10, 100 and 1,000 rules, by batch
size, today's request (every field of every article, every enabled rule) beside
RuleStore.match (the rules the batch can satisfy, the fields rules read), run in
turns on the same articles and rules; every run's matches are compared.

    .venv/bin/python -m bench.percolate_bench [--articles 500] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline.alerts.rules import parse_rule
from pipeline.alerts.store import RuleStore
from pipeline.enrichment.enrich import Enricher
from pipeline.search.clients import connect
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from pipeline.search.templates import rules_body
from vigie.article import Article, Source, article_id
from vigie.settings import private_environment, private_prefix, settings_for

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "Corée", "Russie", "sanctions", "nucléaire", "élection", "Ukraine", "Chine", "missile",
    "Trump", "Poutine", "Kim", "sommet", "négociations", "frontière", "accord", "pétrole",
]  # fmt: skip
BATCHES = (1, 50, 100, 200, 500)
Pairs = list[tuple[str, str]]  # (rule id, article id), sorted


def _rules(count: int) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for n in range(count):
        query: dict[str, object] = (
            {"text": f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7 + 3) % len(WORDS)]}"}
            if n % 2
            else {
                "any_tags": [f"country:{c}" for c in ("KP", "RU", "US", "UA", "CN")[: 1 + n % 5]],
                "languages": ["fr"],
            }
        )
        rules.append(
            {"id": f"r{n}", "query": query, "destinations": [{"url": "http://127.0.0.1:9/x"}]}
        )
    return rules


def today(engine: SearchEngine, index: str, articles: Sequence[Article]) -> Pairs:
    """The percolate request RuleStore.match sent before issue #14 (every field of
    every article, against every enabled rule, each hit's rule parsed), kept to
    measure against."""
    documents = [to_document(a) for a in articles]
    result = engine.search(
        index,
        {
            "size": 10_000,
            "query": {
                "bool": {
                    "must": {"percolate": {"field": "query", "documents": documents}},
                    "filter": {"term": {"rule_enabled": True}},
                }
            },
            "_source": ["rule"],
        },
    )
    pairs = []
    for hit in result.hits:
        rule = parse_rule(hit.source["rule"])
        for slot in hit.fields.get("_percolator_document_slot", [0]):
            pairs.append((rule.id, articles[slot].id))
    return pairs


def _articles(count: int) -> list[Article]:
    enricher = Enricher.from_settings(settings_for({}))
    passages = [
        json.loads(line) for line in (REPO / "tests/data/devset.jsonl").read_text().splitlines()
    ]
    articles = []
    for n in range(count):
        p = passages[n % len(passages)]
        url = f"https://bench.example/{n}"
        articles.append(
            enricher.enrich(
                Article(
                    id=article_id(url), url=url, canonical_url=url, source=Source(feed_id="bench"),
                    title="", body=p["text"], fetched_at=datetime.now(UTC),
                )
            )
        )  # fmt: skip
    return articles


def _timed(
    match: Callable[[Sequence[Article]], Pairs], articles: list[Article], batch: int
) -> tuple[float, Pairs]:
    """Articles per second, and every (rule, article) match."""
    pairs: Pairs = []
    started = time.perf_counter()
    for start in range(0, len(articles), batch):
        pairs.extend(match(articles[start : start + batch]))
    return len(articles) / (time.perf_counter() - started), sorted(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, help="turns of old and new per cell")
    parser.add_argument("--single", type=int, default=50, help="articles sent one at a time")
    args = parser.parse_args()
    settings = settings_for(private_environment("percbench"))
    engine = connect(settings)
    articles = _articles(args.articles)
    print(f"Percolation, {args.articles} enriched dev-set passages, local engine")
    print("a/s: median of", args.rounds, "turns, old and new alternating")
    print(f"{'rules':>5} | {'batch':>5} | {'today a/s':>9} | {'new a/s':>7} | matches | identical")
    # The rules index alone: no articles templates to leave behind.
    index = settings.index_alert_rules
    engine.create_index(index, rules_body(settings.config_dir))
    loaded = 0
    try:
        for count in (10, 100, 1000):
            writer = RuleStore(engine, index)
            for data in _rules(count)[loaded:]:
                writer.put(parse_rule(data), wait=False)
            writer.refresh()
            loaded = count
            for batch in BATCHES:
                # One article at a time is slow: measured on the first `single`.
                sample = articles[: args.single] if batch == 1 else articles
                store = RuleStore(engine, index, batch_size=batch)

                def new(chunk: Sequence[Article], store: RuleStore = store) -> Pairs:
                    return [(m.rule.id, m.article.id) for m in store.match(chunk)]

                def old(chunk: Sequence[Article]) -> Pairs:
                    return today(engine, index, chunk)

                rates: dict[str, list[float]] = {"old": [], "new": []}
                found: dict[str, list[Pairs]] = {"old": [], "new": []}
                for turn in range(args.rounds):
                    # Alternate which goes first: a busy neighbour hurts both.
                    order = (
                        (("old", old), ("new", new))
                        if turn % 2 == 0
                        else (("new", new), ("old", old))
                    )
                    for name, match in order:
                        rate, pairs = _timed(match, sample, batch)
                        rates[name].append(rate)
                        found[name].append(pairs)
                reference = found["old"][0]
                same = all(pairs == reference for pairs in found["old"] + found["new"])
                print(
                    f"{count:>5} | {batch:>5} | {statistics.median(rates['old']):>9.0f} | "
                    f"{statistics.median(rates['new']):>7.0f} | {len(reference):>7} | "
                    f"{'yes' if same else 'NO'}",
                    flush=True,
                )
        print("Target from issue #14: >= 500 articles/s against 1,000 rules.")
    finally:
        engine.delete_prefixed(private_prefix(settings))
        engine.close()


if __name__ == "__main__":
    main()
