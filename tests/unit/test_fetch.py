"""Fetching and parsing feeds from a real local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from connectors.feed import FeedError, document_of, parse_feed
from connectors.feedlist import FeedConfig
from connectors.fetch import Fetched, Fetcher, FetchError, Validators
from tests.conftest import DATA
from tests.feedserver import Served, feed_server
from vigie.article import Article
from vigie.retry import retry_after


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with feed_server() as s:
        yield s


def _fetch(
    url: str,
    last: Validators | None = None,
    conditional: bool = True,
    allow_private: bool = True,  # the test server is on 127.0.0.1
) -> Fetched:
    async def go() -> Fetched:
        fetcher = Fetcher(
            concurrency=4, per_host=2, host_interval=0, timeout=1.0, max_bytes=1_000_000
        )
        try:
            return await fetcher.fetch(url, last, conditional, allow_private)
        finally:
            await fetcher.close()

    return asyncio.run(go())


def _articles(url: str, feed_id: str = "f") -> tuple[list[Article], list[str]]:
    parsed = parse_feed(document_of(_fetch(url)), FeedConfig(id=feed_id, url=url))
    return parsed.articles, parsed.warnings


def test_rss2_entry_is_normalised(served: Served) -> None:
    articles, warnings = _articles(served("/feeds/rss2.xml"))
    sommet = articles[0]
    assert sommet.canonical_url == "https://quotidien.example/monde/sommet.html"
    assert sommet.url is not None
    assert "utm_source" in sommet.url
    assert sommet.body == "<p>Le texte <em>complet</em> du sommet entre les deux Corées.</p>"
    assert sommet.summary == "<p>Un <b>sommet</b> inattendu.</p>"  # HTML kept for cleaning
    assert sommet.authors == ("Claire Martin",)
    assert sommet.published_at is not None
    assert sommet.published_at.isoformat() == ("2025-02-09T09:30:00+00:00")
    assert [(m.url, m.medium, m.length) for m in sommet.media] == [
        ("https://cdn.quotidien.example/sommet.jpg", "image", 12345),
        ("https://cdn.quotidien.example/sommet-video.mp4", "video", None),
    ]
    assert sommet.source.language_hint == "fr"
    # the duplicate GUID is one article, and said so
    assert [a.title for a in articles] == ["Sommet à Pyongyang", "Marché de Noël"]
    assert warnings == ["f: entry 2 repeats entry 1; skipped"]


def test_atom_relative_links_resolve_against_the_feed_url(served: Served) -> None:
    articles, _ = _articles(served("/feeds/atom.xml"))
    assert [a.canonical_url for a in articles] == [
        served("/stories/ceasefire-talks"),
        served("/feeds/stories/markets"),
    ]
    assert articles[0].authors == ("J. Doe",)
    assert articles[1].body == "<p>Stocks rose.</p>"


def test_rdf_date_in_utc(served: Served) -> None:
    (article,), _ = _articles(served("/feeds/rdf.xml"))
    assert article.title == "Wahl in Berlin"
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2025-02-09T06:15:00+00:00"


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("latin1.xml", "Élection à Besançon : les résultats"),
        ("cp1252.xml", "\u201cRecord\u201d budget of 5\u20ac billion \u2013 approved"),
    ],
)
def test_declared_encodings(served: Served, name: str, title: str) -> None:
    (article,), warnings = _articles(served(f"/feeds/{name}"))
    assert article.title == title
    assert warnings == []


def test_malformed_feed_keeps_what_it_can_and_names_the_feed(served: Served) -> None:
    articles, warnings = _articles(served("/feeds/recoverable.xml"), "broken-feed")
    assert [a.title for a in articles] == ["First entry", "Second entry"]
    assert len(warnings) == 1
    assert warnings[0].startswith("broken-feed: malformed feed")
    assert all(a.date_missing and a.published_at is None for a in articles)


def test_unrecoverable_feed_is_an_error_naming_it(served: Served) -> None:
    served.bodies["unrecoverable.xml"] = (DATA / "malformed.xml").read_bytes()
    with pytest.raises(FeedError, match=r"^hopeless: malformed feed"):
        _articles(served("/feeds/unrecoverable.xml"), "hopeless")


def test_conditional_get_and_user_agent(served: Served) -> None:
    first = _fetch(served("/feeds/rdf.xml"))
    assert first.status == 200
    assert not first.unchanged
    assert first.validators.etag
    second = _fetch(served("/feeds/rdf.xml"), first.validators)
    assert second.status == 304
    assert second.unchanged
    sent = served.requests["/feeds/rdf.xml"][-1]
    assert sent["If-None-Match"] == first.validators.etag
    assert sent["User-Agent"].startswith("Vigie/")
    assert "gzip" in sent["Accept-Encoding"]


def test_a_body_identical_to_the_last_one_is_unchanged_without_validators(
    served: Served,
) -> None:
    first = _fetch(served("/plain/atom.xml"))
    assert first.validators.etag is None
    assert first.validators.body_hash
    assert _fetch(served("/plain/atom.xml"), first.validators).unchanged


def test_a_feed_can_opt_out_of_a_lying_etag(served: Served) -> None:
    url = served("/lying/cp1252.xml")
    first = _fetch(url)
    served.bodies["cp1252.xml"] = served.body("cp1252.xml").replace(b"final", b"revised")
    try:
        assert _fetch(url, first.validators).status == 304  # the lie
        opted_out = _fetch(url, first.validators, conditional=False)
        assert opted_out.status == 200
        assert not opted_out.unchanged
        assert "If-None-Match" not in served.requests["/lying/cp1252.xml"][-1]
    finally:
        del served.bodies["cp1252.xml"]


def test_gzip_and_redirects(served: Served) -> None:
    assert _fetch(served("/gzip/rdf.xml")).body == served.body("rdf.xml")
    moved = _fetch(served("/moved/rdf.xml"))
    assert moved.url == served("/feeds/rdf.xml")
    assert moved.body == served.body("rdf.xml")


@pytest.mark.parametrize(
    ("path", "kind", "status"),
    [
        ("/status/500", "http", 500),
        ("/status/404", "http", 404),
        ("/slow/rdf.xml", "timeout", None),
        ("/huge/x", "too_large", None),
    ],
)
def test_errors_by_kind(served: Served, path: str, kind: str, status: int | None) -> None:
    with pytest.raises(FetchError) as caught:
        _fetch(served(path))
    assert caught.value.kind == kind
    assert caught.value.status == status


def test_429_carries_retry_after(served: Served) -> None:
    with pytest.raises(FetchError) as caught:
        _fetch(served("/status/429"))
    assert caught.value.status == 429
    assert caught.value.retry_after == 120


def test_retry_after_as_a_date() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert retry_after("soon") is None


def test_connection_refused_is_a_connection_error() -> None:
    with pytest.raises(FetchError) as caught:
        _fetch("http://127.0.0.1:9/feed.xml")
    assert caught.value.kind == "connection"
