"""Output of enrichment, this tree's against an older commit's, on every real feed
entry and every dev set passage: how many articles keep the same language, mix
of languages, tags, entities, cleaned text, notes and near-duplicate signature
and links, and the first differences of each kind, to read.

    .venv/bin/python -m bench.enrich_compare [--feeds ../shared/realfeeds]
        [--baseline REF] [--show 5]

Each side runs in its own process with its own tree's packages (bench/baseline.py);
feeds are read where they are, never copied.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIELDS = (
    "language",
    "languages (which, in order)",
    "languages (shares)",
    "languages (shares, confidences)",
    "tags",
    "entities",
    "text",
    "notes",
    "signature",
    "duplicate_of",
)


def _entries(feeds: Path) -> Iterator[tuple[str, Any]]:
    from connectors.feed import FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug
    from vigie.article import Article, Source

    for path in sorted(feeds.glob("*.xml")):
        try:
            parsed = parse_feed(read_feed(str(path)), FeedConfig.at(str(path), slug(path.stem)))
        except FeedError:
            continue
        for n, article in enumerate(parsed.articles):
            yield f"feed {path.name}#{n}", article
    devset = REPO / "tests" / "data" / "devset.jsonl"
    for line in devset.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        yield (
            f"devset {p['id']}",
            Article(
                id=p["id"],
                url=p["id"],
                canonical_url=p["id"],
                source=Source(feed_id="devset"),
                title="",
                body=p["text"],
                fetched_at=datetime(2025, 3, 1, tzinfo=UTC),
            ),
        )


def _run(feeds: Path, out: Path) -> None:
    """In a child process, with either tree's packages: one JSON line per entry."""
    from pipeline.enrichment.duplicates import DuplicateIndex, signature
    from pipeline.enrichment.enrich import Enricher
    from vigie.settings import Settings

    enricher = Enricher.from_settings(Settings())
    duplicates = DuplicateIndex({}, clock=lambda: 1_750_000_000.0)
    with out.open("w", encoding="utf-8") as lines:
        for key, article in _entries(feeds):
            r = enricher.enrich(article)
            first = duplicates.link(r).duplicate_of
            text = "\x00".join((r.title, r.summary, r.body))
            record = {
                "key": key,
                "language": r.language,
                "languages (which, in order)": [s.lang for s in r.languages],
                "languages (shares)": [[s.lang, s.share] for s in r.languages],
                "languages (shares, confidences)": [
                    [s.lang, s.share, s.confidence] for s in r.languages
                ],
                "tags": [t.id for t in r.tags],
                "entities": [[e.field, e.id, e.start, e.end, e.text] for e in r.entities],
                "text": hashlib.sha256(text.encode()).hexdigest(),
                "notes": list(r.notes),
                "signature": signature(r.body),
                "duplicate_of": first,
            }
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) < 300 else text[:297] + "..."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=REPO.parent / "shared" / "realfeeds")
    parser.add_argument("--baseline", help="commit to compare with")
    parser.add_argument("--show", type=int, default=5, help="differences shown per field")
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    feeds = args.feeds.resolve()
    if args.child_out:
        _run(feeds, args.child_out)
        return
    from bench.baseline import BEFORE_FAST_ENRICHMENT, checkout, run_child

    baseline = args.baseline or BEFORE_FAST_ENRICHMENT
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for code, tree in (("old", checkout(baseline)), ("new", REPO)):
            out = Path(folder) / f"{code}.jsonl"
            done = run_child(tree, Path(__file__).resolve(), ["--child-out", str(out)])
            if done.returncode != 0:
                sys.exit(f"{code} ({tree}) failed:\n{done.stderr[-2000:]}")
            results[code] = [json.loads(line) for line in out.read_text().splitlines()]
    old, new = results["old"], results["new"]
    assert [r["key"] for r in old] == [r["key"] for r in new], "not the same entries"
    for group in ("feed", "devset"):
        pairs = [(o, n) for o, n in zip(old, new, strict=True) if o["key"].startswith(group)]
        print(f"{group}: {len(pairs)} entries, old = commit {baseline}, new = this tree")
        for name in FIELDS:
            differ = [(o, n) for o, n in pairs if o[name] != n[name]]
            print(f"  {name:34} identical {len(pairs) - len(differ):>5} / {len(pairs)}")
            for o, n in differ[: args.show]:
                print(f"      {o['key']}")
                print(f"        old {_short(o[name])}\n        new {_short(n[name])}")
        print()


if __name__ == "__main__":
    main()
