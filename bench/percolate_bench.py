"""Percolation throughput against the real local engine (`vigie services up`
first): articles per second matched against 10, 100 and 1,000 rules, batches of
100 articles per percolate request beside one article per request.

    .venv/bin/python -m bench.percolate_bench [--articles 500]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipeline.alerts.rules import parse_rule
from pipeline.alerts.store import RuleStore
from pipeline.enrichment.enrich import Enricher
from pipeline.search.clients import connect
from pipeline.search.templates import Indices, setup
from vigie.article import Article, Source, article_id
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "Corée", "Russie", "sanctions", "nucléaire", "élection", "Ukraine", "Chine", "missile",
    "Trump", "Poutine", "Kim", "sommet", "négociations", "frontière", "accord", "pétrole",
]  # fmt: skip


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    args = parser.parse_args()
    settings = Settings(index_alert_rules=f"bench-{uuid.uuid4().hex[:8]}-rules")
    engine = connect(settings)
    enricher = Enricher.from_settings(settings)
    passages = [
        json.loads(line) for line in (REPO / "tests/data/devset.jsonl").read_text().splitlines()
    ]
    articles = []
    for n in range(args.articles):
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
    print(f"Percolation, {args.articles} enriched dev-set passages, local OpenSearch")
    print(f"{'rules':>6} | {'batch of 100':>14} | {'one per request':>16} | matches")
    setup(engine, Indices.from_settings(settings), settings.config_dir)
    store = RuleStore(engine, settings.index_alert_rules)
    loaded = 0
    try:
        for count in (10, 100, 1000):
            for data in _rules(count)[loaded:]:
                store.put(parse_rule(data), wait=False)
            store.refresh()
            loaded = count
            started = time.perf_counter()
            matches = sum(
                len(store.match(articles[i : i + 100])) for i in range(0, len(articles), 100)
            )
            batched = len(articles) / (time.perf_counter() - started)
            sample = articles[:100]
            started = time.perf_counter()
            for article in sample:
                store.match([article])
            single = len(sample) / (time.perf_counter() - started)
            print(f"{count:>6} | {batched:>10.0f} a/s | {single:>12.0f} a/s | {matches}")
    finally:
        engine.delete_index(settings.index_alert_rules)
        engine.close()


if __name__ == "__main__":
    main()
