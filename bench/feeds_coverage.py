"""Does the connector lose entries? Per real feed: the entries feedparser finds,
the true repeats among them, the articles the connector makes, and the entries
lost (entries - repeats - articles: 0 everywhere, or something is dropped).

    .venv/bin/python -m bench.feeds_coverage [--feeds ../shared/realfeeds] [--cli]

Feeds are read in --feeds (never copied). By default each goes through
`read_feed` + `parse_feed`, what `vigie feeds check` runs; --cli runs the command
itself, one process per feed (slower, same counts).

True repeats are counted here on feedparser's entries, apart from the connector's
code: an entry is one when an earlier entry of the same canonical URL has its
GUID, or its link (fragment included) and title; or, both without link or GUID,
its title, date and text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser

from connectors.canonical import canonical_url
from connectors.encoding import document_encoding

REPO = Path(__file__).resolve().parents[1]
VIGIE = Path(sys.executable).parent / "vigie"


def _key(entry: Any) -> tuple[str, str, str, str, str, str]:
    guid = str(entry.get("id") or "")
    link = str(entry.get("link") or "")
    page = canonical_url(link) if "://" in link else ""
    text = str(entry.get("summary") or "") + str(entry.get("content") or "")
    return page, link, guid, str(entry.get("title") or ""), str(entry.get("published", "")), text


def true_repeats(entries: list[Any]) -> int:
    seen: list[tuple[str, str, str, str, str, str]] = []
    repeats = 0
    for entry in entries:
        page, link, guid, title, date, text = key = _key(entry)
        if any(
            (page and page == p and ((guid and guid == g) or (link == lk and title == t)))
            or (not page and not p and not guid and not g and (title, date, text) == (t, d, x))
            for p, lk, g, t, d, x in seen
        ):
            repeats += 1
        else:
            seen.append(key)
    return repeats


def _articles(path: Path, cli: bool) -> list[dict[str, Any]]:
    if cli:
        done = subprocess.run(
            [str(VIGIE), "feeds", "check", str(path)], capture_output=True, text=True, cwd=REPO
        )
        return list(json.loads(done.stdout)["articles"]) if done.returncode == 0 else []
    from connectors.feed import FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug

    try:
        parsed = parse_feed(read_feed(str(path)), FeedConfig.at(str(path), slug(str(path))))
    except FeedError:  # nothing recoverable: no article, as `feeds check` exits 1
        return []
    return [a.model_dump(mode="json") for a in parsed.articles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=Path, default=REPO.parent / "shared" / "realfeeds")
    parser.add_argument("--cli", action="store_true", help="run `vigie feeds check` per feed")
    args = parser.parse_args()
    rows = []
    for path in sorted(args.feeds.glob("*.xml")):
        data = path.read_bytes()
        own = feedparser.parse(data)
        articles = _articles(path, args.cli)
        repeats = true_repeats(own.entries)
        rows.append(
            (
                path.stem,
                len(own.entries),
                repeats,
                len(articles),
                len(own.entries) - repeats - len(articles),
                sum(1 for a in articles if not a.get("canonical_url")),
                "-" if document_encoding(data) else own.get("encoding", "?"),
            )
        )
    head = ("feed", "entries", "repeats", "articles", "lost", "no link", "encoding assumed")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    totals = [sum(int(r[i]) for r in rows) for i in range(1, 6)]
    print(f"| **{len(rows)} feeds** | " + " | ".join(str(t) for t in totals) + " | |")


if __name__ == "__main__":
    main()
