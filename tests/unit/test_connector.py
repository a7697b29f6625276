"""The connector's polling, state, schedule and full text against a real local
HTTP server (Kafka is not needed until the outbox is sent; see
tests/integration/test_connector.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.feed import document_of, parse_feed
from connectors.feedlist import FeedConfig, import_opml, load_feeds, shard_of
from connectors.fetch import Fetched, Validators, max_age_seconds
from connectors.poller import Outcome
from connectors.schedule import Bounds, after_failure, first_interval, next_interval
from connectors.service import Connector
from connectors.state import FeedState, State
from tests.feedserver import Served, feed_server
from vigie.article import Article, article_id
from vigie.settings import Settings


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with feed_server() as s:
        yield s


def _connector(tmp_path: Path, feeds: list[FeedConfig], **settings: Any) -> Connector:
    options: dict[str, Any] = {
        "connector_state": tmp_path / "state.sqlite3",
        "fetch_host_interval_seconds": 0,
        "fetch_timeout_seconds": 1.0,
        "feed_unhealthy_after": 2,
        "fetch_max_bytes": 1_000_000,
        **settings,
    }
    return Connector(Settings(**options), feeds, State(options["connector_state"]))


def _poll(connector: Connector, feed: FeedConfig) -> Outcome:
    async def go() -> Outcome:
        try:
            return await connector.poll(feed)
        finally:
            await connector.fetcher.close()

    return asyncio.run(go())


def _articles_of(served: Served) -> list[Article]:
    url = served("/feeds/rss2.xml")
    fetched = Fetched(url, 200, served.body("rss2.xml"), {"content-location": url})
    return parse_feed(document_of(fetched), FeedConfig(id="quotidien", url=url)).articles


def _outbox(connector: Connector) -> list[dict[str, Any]]:
    return [json.loads(payload) for _, _, payload in connector.state.outbox(1000)]


def test_new_then_304_then_one_update(tmp_path: Path, served: Served) -> None:
    feed = FeedConfig(
        id="quotidien", allow_private=True, url=served("/feeds/rss2.xml"), tags=("presse",)
    )
    connector = _connector(tmp_path, [feed])
    first = _poll(connector, feed)
    assert (first.result, first.new, first.updated) == ("new", 2, 0)
    assert [a["source"]["tags"] for a in _outbox(connector)] == [["presse"], ["presse"]]
    interval = connector.state.feed("quotidien").interval
    assert interval == 3600  # the feed's <ttl>60</ttl> is a floor for its interval

    assert _poll(connector, feed).result == "not_modified"
    assert len(_outbox(connector)) == 2

    served.bodies["rss2.xml"] = served.body("rss2.xml").replace(
        b"Le march\xc3\xa9 ouvre ses portes.", b"Le march\xc3\xa9 ferme ses portes."
    )
    try:
        changed = _poll(connector, feed)
    finally:
        del served.bodies["rss2.xml"]
    assert (changed.result, changed.new, changed.updated, changed.seen) == ("new", 0, 1, 1)
    outbox = _outbox(connector)
    assert len(outbox) == 3
    assert outbox[2]["id"] == outbox[1]["id"]
    assert "ferme" in outbox[2]["summary"]


def test_state_survives_a_restart(tmp_path: Path, served: Served) -> None:
    feed = FeedConfig(id="wire", allow_private=True, url=served("/plain/atom.xml"))
    first = _connector(tmp_path, [feed])
    assert _poll(first, feed).new == 2
    first.state.close()
    again = _connector(tmp_path, [feed])
    # no validators on this server: the body hash says nothing changed
    assert _poll(again, feed).result == "unchanged"
    assert len(_outbox(again)) == 2
    # and if the body changes without any entry changing, nothing new is accepted
    served.bodies["atom.xml"] = served.body("atom.xml").replace(
        b"<title>Wire Desk</title>", b"<title>Wire Desk (new look)</title>"
    )
    try:
        assert _poll(again, feed).result == "no_new"
    finally:
        del served.bodies["atom.xml"]
    assert len(_outbox(again)) == 2


def test_429_backs_off_at_least_retry_after_and_marks_unhealthy(
    tmp_path: Path, served: Served
) -> None:
    feed = FeedConfig(id="busy", allow_private=True, url=served("/status/429"))
    connector = _connector(tmp_path, [feed])
    before = time.time()
    outcome = _poll(connector, feed)
    assert outcome.result == "error"
    assert outcome.error
    assert "HTTP 429" in outcome.error
    assert connector.next_poll["busy"] >= before + 120
    assert "busy" not in connector.unhealthy
    _poll(connector, feed)
    assert connector.unhealthy == {"busy"}
    state = connector.state.feed("busy")
    assert (state.failures, state.last_error_kind) == (2, "http")
    assert connector.health()["unhealthy_feeds"] == ["busy"]


def test_failing_feeds_do_not_stop_the_others(tmp_path: Path, served: Served) -> None:
    feeds = [
        FeedConfig(id="down", allow_private=True, url=served("/status/500")),
        FeedConfig(id="slow", allow_private=True, url=served("/slow/rdf.xml")),
        FeedConfig(id="huge", allow_private=True, url=served("/huge/x")),
        FeedConfig(id="good", allow_private=True, url=served("/feeds/rdf.xml")),
    ]
    connector = _connector(tmp_path, feeds)
    outcomes = {o.feed_id: o for o in asyncio.run(connector.run_once())}
    assert {k: o.result for k, o in outcomes.items()} == {
        "down": "error",
        "slow": "error",
        "huge": "error",
        "good": "new",
    }
    assert [a["title"] for a in _outbox(connector)] == ["Wahl in Berlin"]
    kinds = {k: connector.state.feed(k).last_error_kind for k in ("down", "slow", "huge")}
    assert kinds == {"down": "http", "slow": "timeout", "huge": "too_large"}


def test_one_host_is_not_hammered(tmp_path: Path, served: Served) -> None:
    names = ["rss2.xml", "atom.xml", "rdf.xml", "latin1.xml"]
    feeds = [
        FeedConfig(id=f"f{n}", allow_private=True, url=served(f"/plain/{name}"))
        for n, name in enumerate(names)
    ]
    connector = _connector(tmp_path, feeds, fetch_host_interval_seconds=0.3)
    asyncio.run(connector.run_once())
    starts = sorted(served.requests[f"/plain/{name}"][-1]["at"] for name in names)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.25, gaps


def test_full_text_replaces_a_summary_with_the_page_text(tmp_path: Path, served: Served) -> None:
    feed_xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Résumés</title><link>https://quotidien.example/</link>"
        f"<item><title>Sommet</title><link>{served('/pages/article.html')}</link>"
        "<description>Un sommet inattendu.</description></item>"
        f"<item><title>Disparu</title><link>{served('/pages/gone.html')}</link>"
        "<description>Page perdue.</description></item></channel></rss>"
    )
    served.bodies["summaries.xml"] = feed_xml.encode()
    feed = FeedConfig(
        id="resumes", allow_private=True, url=served("/feeds/summaries.xml"), full_text=True
    )
    connector = _connector(tmp_path, [feed])
    assert _poll(connector, feed).new == 2
    complete, missing = _outbox(connector)
    assert "réouverture des liaisons ferroviaires" in complete["body"]
    assert "Mentions légales" not in complete["body"]
    assert "S'abonner" not in complete["body"]
    assert missing["body"] == "Page perdue."
    assert any("full text not fetched" in n and "404" in n for n in missing["notes"])
    # the page is not part of the fingerprint: polling again finds nothing updated
    served.bodies["summaries.xml"] = feed_xml.encode() + b" "
    assert _poll(connector, feed).result == "no_new"


def test_a_poll_keeps_ids_given_and_sends_a_linkless_entry(tmp_path: Path, served: Served) -> None:
    page = "https://diary.example/?date=20040101"

    def feed_xml(*posts: str) -> bytes:
        items = "".join(
            f"<item><title>{p}</title><link>{page}#{p}</link><guid>{page}#{p}</guid></item>"
            for p in posts
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>D</title>'
            f"<link>{served('/pages/site.html')}</link>{items}"
            "<item><title>Communiqué</title><guid isPermaLink='false'>cp-1</guid>"
            "<description>Texte.</description></item></channel></rss>"
        ).encode()

    feed = FeedConfig(
        id="diary", allow_private=True, url=served("/feeds/diary.xml"), full_text=True
    )
    connector = _connector(tmp_path, [feed])
    served.bodies["diary.xml"] = feed_xml("p01")
    try:
        assert _poll(connector, feed).new == 2
        served.bodies["diary.xml"] = feed_xml("p02", "p01")
        outcome = _poll(connector, feed)
    finally:
        del served.bodies["diary.xml"]
    assert (outcome.new, outcome.updated, outcome.seen) == (1, 0, 2)
    first, release, second = _outbox(connector)
    assert first["id"] == article_id(page) != second["id"]
    assert second["title"] == "p02"
    assert release["canonical_url"] is None
    assert release["url"] == served("/pages/site.html")
    # its url is the feed's site, not a page of its own: not fetched for full text
    assert "full text not fetched: the entry has no link of its own" in release["notes"]
    assert "/pages/site.html" not in served.requests


def test_feeds_yaml_problems_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - id: ok\n"
        "    url: https://a.example/rss\n"
        "    interval: 15m\n"
        "  - id: Bad Id\n"
        "    url: https://b.example/rss\n"
        "  - id: again\n"
        "    url: https://a.example/rss\n"
        "  - id: fast\n"
        "    url: https://c.example/rss\n"
        "    interval: 5s\n"
        "  - id: typo\n"
        "    url: https://d.example/rss\n"
        "    ful_text: true\n"
        "  - id: fine\n"
        "    url: https://e.example/rss\n"
        "    full_text: true\n"
        "    conditional_get: false\n"
    )
    loaded = load_feeds(path)
    assert [f.id for f in loaded.feeds] == ["ok", "fine"]
    assert loaded.feeds[0].interval == 900
    problems = [(p.line, p.reason.split(":")[0]) for p in loaded.problems]
    assert problems == [
        (5, "id"),
        (7, "url already listed on line 2"),
        (9, "interval"),
        (12, "ful_text"),
    ]
    assert str(loaded.problems[0]).startswith(f"{path}:5: id")


def test_opml_import_adds_new_feeds_with_categories(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("# my feeds\nfeeds:\n  - id: known\n    url: https://known.example/rss\n")
    opml = tmp_path / "export.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>x</title></head><body>\n'
        '<outline text="Monde">\n'
        '  <outline text="Le Monde" type="rss" xmlUrl="https://lemonde.example/rss"/>\n'
        '  <outline text="Known" type="rss" xmlUrl="https://known.example/rss"/>\n'
        '  <outline text="Le Monde" type="rss" xmlUrl="https://lemonde.example/autre"/>\n'
        '  <outline text="Bad" type="rss" xmlUrl="gopher://old.example/"/>\n'
        "</outline></body></opml>\n"
    )
    result = import_opml(opml, feeds)
    assert [(f.id, f.tags) for f in result.added] == [
        ("le-monde", ("Monde",)),
        ("le-monde-2", ("Monde",)),
    ]
    assert result.skipped == ["https://known.example/rss"]
    assert [(p.line, "url" in p.reason) for p in result.problems] == [(7, True)]
    reloaded = load_feeds(feeds)
    assert [f.id for f in reloaded.feeds] == ["known", "le-monde", "le-monde-2"]
    assert reloaded.problems == []
    assert feeds.read_text().startswith("# my feeds\n")


def test_interval_adapts_within_bounds() -> None:
    bounds = Bounds(60, 3600)
    assert next_interval(600, new=0, total=10, unchanged=False, hint=None, bounds=bounds) == 900
    assert next_interval(600, new=9, total=10, unchanged=False, hint=None, bounds=bounds) == 300
    assert next_interval(600, new=3, total=10, unchanged=False, hint=None, bounds=bounds) == 600
    assert next_interval(3000, new=0, total=0, unchanged=True, hint=None, bounds=bounds) == 3600
    assert next_interval(100, new=9, total=10, unchanged=False, hint=None, bounds=bounds) == 60
    assert next_interval(100, new=9, total=10, unchanged=False, hint=1800, bounds=bounds) == 1800


def test_the_servers_max_age_is_a_floor_for_the_interval(tmp_path: Path, served: Served) -> None:
    feed = FeedConfig(id="cached", allow_private=True, url=served("/cached/atom.xml"), interval=300)
    connector = _connector(tmp_path, [feed])
    _poll(connector, feed)
    assert connector.state.feed("cached").interval == 7200
    assert max_age_seconds({"cache-control": "no-cache"}) is None
    assert max_age_seconds({"cache-control": "private, max-age=0"}) is None


def test_a_first_poll_keeps_the_configured_interval() -> None:
    bounds = Bounds(60, 3600)
    assert first_interval(None, None, bounds) == 900
    assert first_interval(120, None, bounds) == 120
    assert first_interval(120, 1800, bounds) == 1800  # the feed's own hint is a floor
    assert first_interval(10, None, bounds) == 60


def _failing(failures: int, interval: float) -> FeedState:
    return FeedState("f", Validators(), interval, 0.0, failures, None, "x", "http")


def test_a_failing_feed_backs_off_with_jitter_and_honours_retry_after() -> None:
    bounds = Bounds(60, 1000)
    for n in range(1, 6):
        delay = after_failure(_failing(n - 1, 10), None, bounds, None)
        assert 10 * 2 ** (n - 1) / 2 <= delay <= 10 * 2 ** (n - 1)
    assert after_failure(_failing(19, 10), None, bounds, None) <= 1000
    assert after_failure(_failing(0, 10), None, bounds, retry_after=500) == 500
    # A server cannot push a feed out further than the longest interval.
    assert after_failure(_failing(0, 10), None, bounds, retry_after=10**9) == 1000
    # The first retry starts from the feed's interval, five minutes at most.
    assert 150 <= after_failure(_failing(0, 7200), None, bounds, None) <= 300


def test_the_feed_list_is_reloaded_keeping_known_schedules(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - id: a\n    url: https://a.example/rss\n")
    connector = _connector(tmp_path, load_feeds(path).feeds)
    connector.next_poll["a"] = 12345.0
    path.write_text(
        "feeds:\n  - id: a\n    url: https://a.example/rss\n"
        "  - id: b\n    url: https://b.example/rss\n  - id: Bad\n    url: x\n"
    )
    connector.reload(path)
    assert sorted(connector.feeds) == ["a", "b"]
    assert connector.next_poll == {"a": 12345.0, "b": 0.0}
    path.write_text("feeds:\n  - id: b\n    url: https://b.example/rss\n")
    connector.reload(path)
    assert list(connector.next_poll) == ["b"]


def test_entries_gone_from_their_feed_are_forgotten_but_not_those_behind_304s(
    tmp_path: Path, served: Served
) -> None:
    feed = FeedConfig(id="quotidien", allow_private=True, url=served("/feeds/rss2.xml"))
    connector = _connector(tmp_path, [feed])
    _poll(connector, feed)
    assert _poll(connector, feed).result == "not_modified"
    db = connector.state._db
    # as if all this happened 100 days ago, the last poll being a 304 today
    db.execute("UPDATE entries SET last_seen = last_seen - 8640000")
    db.execute("UPDATE feeds SET last_parsed = last_parsed - 8640000")
    assert connector.state.forget_older_than(90 * 86400) == 0
    # the feed is read again today and the market story is no longer in it
    served.bodies["rss2.xml"] = re.sub(
        rb"<item>\s*<title>March.*?</item>", b"", served.body("rss2.xml"), flags=re.S
    )
    try:
        outcome = _poll(connector, feed)
    finally:
        del served.bodies["rss2.xml"]
    assert (outcome.result, outcome.seen) == ("no_new", 1)
    assert connector.state.forget_older_than(90 * 86400) == 1
    assert connector.state.novelty(
        [a for a in _articles_of(served) if "marche" in (a.canonical_url or "")]
    ).new  # forgotten: it would count as new if it ever came back


def test_the_same_story_accepted_by_two_feeds_goes_out_once(tmp_path: Path) -> None:
    from connectors.fetch import Validators
    from connectors.state import fingerprint
    from tests.conftest import make_article

    state = State(tmp_path / "state.sqlite3")
    story = make_article("https://wire.example/story", "Story", "Text.")
    # both polls checked before either wrote (a full-text fetch in between)
    assert state.novelty([story]).new == [story]
    assert state.novelty([story]).new == [story]
    for feed_id in ("first", "second"):
        state.accept(feed_id, [(fingerprint(story), story)], [story.id], Validators(), 60, 0)
    assert state.outbox_size() == 1


def test_shards_split_the_feed_list_each_feed_polled_by_exactly_one(tmp_path: Path) -> None:
    feeds = [FeedConfig(id=f"feed-{n}", url=f"https://f{n}.example/rss") for n in range(60)]
    polled = [
        set(
            _connector(
                tmp_path / str(shard), feeds, connector_shards=3, connector_shard=shard
            ).feeds
        )
        for shard in range(3)
    ]
    assert all(polled), "every shard gets feeds"
    assert sum(len(p) for p in polled) == len(feeds)
    assert set().union(*polled) == {f.id for f in feeds}
    # the same shards in every process (Python's own str hash is salted per process)
    script = (
        "from connectors.feedlist import shard_of\n"
        "print([shard_of(f'feed-{n}', 3) for n in range(60)])"
    )
    for seed in ("1", "2"):
        other = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert other.stdout.strip() == str([shard_of(f"feed-{n}", 3) for n in range(60)])


def test_a_shard_outside_the_shards_is_refused() -> None:
    with pytest.raises(ValidationError, match="VIGIE_CONNECTOR_SHARD is 3"):
        Settings(connector_shards=3, connector_shard=3)
