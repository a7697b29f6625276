"""The connector's fast parse (feedparser without its sanitiser or link resolution
inside HTML; ftfy only on text that looks mojibaked) gives the articles it gave
before, as the worker's Cleaner leaves them; and a feed parsed in a child process
that crashes it or overruns its time fails alone."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest

import connectors.feed
from connectors.feed import FeedDocument, FeedError, ParsedFeed, parse_feed, read_feed
from connectors.feedlist import FeedConfig
from connectors.parsing import FeedParsers
from pipeline.enrichment.clean import Cleaner
from tests.conftest import DATA, children_outliving_a_kill
from vigie.article import Article
from vigie.paths import package_data

# Real-world shapes: RSS 2, Atom, RDF, cp1252 and Latin-1, a recoverable broken
# feed, relative links without dates, a malformed feed, and a page that is no feed.
FIXTURES = sorted(
    [
        *(DATA / "feeds").iterdir(),
        DATA / "malformed.xml",
        DATA / "relative_nodate.xml",
        DATA / "html_shapes.xml",
    ]
)
# What parse_feed did before: feedparser's defaults, ftfy on any two non-ASCII
# Latin letters or cp1252 signs in a row.
_BEFORE_HINT = re.compile(r"[\u0080-\u02ff\u2013-\u203a\u20ac\u2122]{2}")


def _as_cleaned(article: Article, cleaner: Cleaner) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "date_missing": article.date_missing,
        "authors": article.authors,
        "media": article.media,
        "title": cleaner.clean(article.title),
        "summary": cleaner.clean(article.summary),
        "body": cleaner.clean(article.body),
    }


def _parsed(path: Path) -> list[Article] | str:
    try:
        document = read_feed(str(path), allow_private=True)
        return parse_feed(document, FeedConfig.at(str(path), "f")).articles
    except FeedError as exc:
        return str(exc)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_the_fast_parse_gives_the_articles_of_the_full_one(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaner = Cleaner.from_config(package_data() / "boilerplate.yaml")
    fast = _parsed(path)
    full_parse = feedparser.parse

    def sanitising(*args: Any, **kwargs: Any) -> Any:
        return full_parse(*args, **{**kwargs, "sanitize_html": True, "resolve_relative_uris": True})

    monkeypatch.setattr(feedparser, "parse", sanitising)
    monkeypatch.setattr(connectors.feed, "_MOJIBAKE_HINT", _BEFORE_HINT)
    full = _parsed(path)
    if isinstance(full, str) or isinstance(fast, str):
        assert fast == full  # the same error, or both parse
        return
    assert full, f"{path.name}: no articles to compare"
    assert [_as_cleaned(a, cleaner) for a in fast] == [_as_cleaned(a, cleaner) for a in full]
    assert [a.notes for a in fast] == [a.notes for a in full]
    if path.name == "html_shapes.xml":  # not the same parse twice: the HTML differs
        assert [a.body for a in fast] != [a.body for a in full]


def test_relative_entry_links_are_still_resolved() -> None:
    articles = _parsed(DATA / "relative_nodate.xml")
    assert not isinstance(articles, str)
    assert articles[0].canonical_url == (
        "https://regional.example/actualites/2025/election.html?id=42"
    )


# -- parsing in child processes ------------------------------------------------------


def hostile_parse(document: FeedDocument, feed: FeedConfig) -> ParsedFeed:
    """parse_feed, but a feed named `crash` kills its process and one named `slow`
    never ends (module level: a child process imports it)."""
    if feed.id == "crash":
        os._exit(70)
    if feed.id == "slow":
        time.sleep(600)
    return parse_feed(document, feed)


def _document() -> FeedDocument:
    path = DATA / "feeds" / "rss2.xml"
    return FeedDocument(path.read_bytes(), path.resolve().as_uri())


def _feed(feed_id: str) -> FeedConfig:
    return FeedConfig(id=feed_id, url="https://quotidien.example/rss")


async def _parse_all(parsers: FeedParsers, ids: list[str]) -> list[ParsedFeed | BaseException]:
    try:
        results = await asyncio.gather(
            *(parsers.parse(_document(), _feed(i)) for i in ids), return_exceptions=True
        )
    finally:
        await asyncio.to_thread(parsers.close)
    return [r if isinstance(r, BaseException) else r[0] for r in results]


def _ids(parsed: ParsedFeed | BaseException) -> list[str]:
    assert isinstance(parsed, ParsedFeed), parsed
    return [a.id for a in parsed.articles]


def test_a_process_parses_as_the_thread_does() -> None:
    in_thread = asyncio.run(_parse_all(FeedParsers(workers=0, timeout=60), ["f"]))
    in_processes = asyncio.run(_parse_all(FeedParsers(workers=2, timeout=60), ["f", "f"]))
    assert _ids(in_processes[0]) == _ids(in_processes[1]) == _ids(in_thread[0])
    assert len(_ids(in_thread[0])) == 2


def test_a_feed_that_kills_its_parser_fails_alone() -> None:
    parsers = FeedParsers(workers=2, timeout=60, parse=hostile_parse)
    results = asyncio.run(_parse_all(parsers, ["a", "crash", "b", "c"]))
    crash = results.pop(1)
    assert isinstance(crash, FeedError)
    assert "crash: the feed's parser process died" in str(crash)
    assert all(len(_ids(r)) == 2 for r in results)


def test_a_parse_past_its_time_is_stopped_and_the_pool_made_again() -> None:
    # The time counts from the hand-over, so a child's start (spawn, imports) is in
    # it: seconds on a busy machine, hence not 5 s.
    parsers = FeedParsers(workers=2, timeout=20, parse=hostile_parse)

    async def go() -> tuple[list[ParsedFeed | BaseException], list[ParsedFeed | BaseException]]:
        first = await asyncio.gather(
            *(parsers.parse(_document(), _feed(i)) for i in ["slow", "a"]),
            return_exceptions=True,
        )
        # The pool that held the slow parse is gone; the next parse gets a new one.
        after = await _parse_all(parsers, ["b"])
        return [r if isinstance(r, BaseException) else r[0] for r in first], after

    first, after = asyncio.run(go())
    assert isinstance(first[0], FeedError)
    assert "slow: parsing took more than 20 s; stopped" in str(first[0])
    assert len(_ids(first[1])) == 2
    assert len(_ids(after[0])) == 2


# A connector whose parse child is busy when it is killed.
PARSE_CHILD = """
import os, time
from connectors.parsing import _new_pool
pool = _new_pool(1)
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 2)
time.sleep(600)
"""


def test_parse_children_exit_when_the_connector_is_killed() -> None:
    # One used to live on for good, blocked sending a result nobody would read.
    assert children_outliving_a_kill(PARSE_CHILD) == []
