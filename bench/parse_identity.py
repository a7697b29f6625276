"""Do two versions of the connector's parse give the same articles? The 40 real
feeds of ../shared/realfeeds (read from there, not copied) parsed by the code on
PYTHONPATH (new) and by another checkout's (old, in a subprocess), compared field
by field, with the texts as the worker's Cleaner leaves them.

    PYTHONPATH=. .venv/bin/python bench/parse_identity.py [--old ../main]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REALFEEDS = Path(__file__).resolve().parents[2] / "shared" / "realfeeds"
# What an article is compared on besides its texts; fetched_at is the clock's.
FIELDS = (
    "id",
    "url",
    "canonical_url",
    "published_at",
    "updated_at",
    "date_missing",
    "authors",
    "media",
    "notes",
)
TEXTS = ("title", "summary", "body")


def dump() -> dict[str, Any]:
    """Every real feed's articles (or its error) as parsed by the code on PYTHONPATH."""
    from connectors.feed import FeedDocument, FeedError, parse_feed
    from connectors.feedlist import FeedConfig

    feeds: dict[str, Any] = {}
    seconds = 0.0
    for path in sorted(REALFEEDS.glob("*.xml")):
        document = FeedDocument(path.read_bytes(), f"https://feeds.example/{path.name}")
        config = FeedConfig(id=path.stem, url=document.base_url)
        started = time.perf_counter()
        try:
            parsed = parse_feed(document, config)
        except FeedError as exc:
            feeds[path.name] = {"error": str(exc)}
            continue
        finally:
            seconds += time.perf_counter() - started
        feeds[path.name] = {"articles": [a.model_dump(mode="json") for a in parsed.articles]}
    return {"seconds": seconds, "feeds": feeds}


def _old(checkout: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--dump"],
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the old parse failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[int, int, int, list[str]]:
    """(articles, identical as parsed, identical after cleaning, the differences)."""
    from pipeline.enrichment.clean import Cleaner
    from vigie.paths import package_data

    cleaner = Cleaner.from_config(package_data() / "boilerplate.yaml")
    total = same_raw = same_clean = 0
    differences: list[str] = []
    for name, before in old["feeds"].items():
        after = new["feeds"].get(name, {})
        if "error" in before or "error" in after:
            if before.get("error") != after.get("error"):
                differences.append(
                    f"{name}: error {before.get('error')!r} -> {after.get('error')!r}"
                )
            continue
        olds, news = before["articles"], after["articles"]
        if len(olds) != len(news):
            differences.append(f"{name}: {len(olds)} articles -> {len(news)}")
        for a, b in zip(olds, news, strict=False):
            total += 1
            a.pop("fetched_at"), b.pop("fetched_at")
            if a == b:
                same_raw += 1
            changed = [f for f in FIELDS if a[f] != b[f]]
            changed += [f for f in TEXTS if cleaner.clean(a[f]) != cleaner.clean(b[f])]
            if not changed:
                same_clean += 1
                continue
            for f in changed:
                x, y = (cleaner.clean(a[f]), cleaner.clean(b[f])) if f in TEXTS else (a[f], b[f])
                differences.append(f"{name} {a['id'][:12]} {f}: {_diff(x, y)}")
    return total, same_raw, same_clean, differences


def _diff(a: Any, b: Any) -> str:
    if not (isinstance(a, str) and isinstance(b, str)):
        return f"{a!r} -> {b!r}"
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
    start = max(0, start - 30)
    return f"…{a[start : start + 120]!r} -> …{b[start : start + 120]!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, default=Path(__file__).resolve().parents[2] / "main")
    parser.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        print(json.dumps(dump()))
        return
    old, new = _old(args.old), dump()
    total, same_raw, same_clean, differences = compare(old, new)
    print(f"{len(new['feeds'])} real feeds, {total} articles (old: {args.old})")
    print(f"parse time, in-process:   old {old['seconds']:.2f} s, new {new['seconds']:.2f} s")
    print(f"identical as parsed:      {same_raw}/{total}")
    print(f"identical after cleaning: {same_clean}/{total}")
    for line in differences:
        print(" ", line)


if __name__ == "__main__":
    main()
