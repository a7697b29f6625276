from datetime import UTC, datetime

import pytest

from connectors.feed import FeedError, parse_feed, read_feed
from connectors.feedlist import FeedConfig
from tests.conftest import DATA, SAMPLE_FEED
from vigie.article import Article


def _parse(path: str, feed_id: str = "f") -> tuple[list[Article], list[str]]:
    parsed = parse_feed(read_feed(path), FeedConfig.at(path, feed_id))
    return parsed.articles, parsed.warnings


def test_sample_feed_carries_the_seed_article(seed_article: Article) -> None:
    a = seed_article
    assert a.canonical_url == "https://news.example/monde/trump-coree-du-nord-relations"
    assert "utm_source" in a.url  # the link as published is kept beside the canonical one
    assert a.published_at == datetime(2025, 2, 9, 9, 30, tzinfo=UTC)
    assert not a.date_missing
    assert a.source.language_hint == "fr"
    assert a.authors == ("Rédaction",)
    # content:encoded (full text) wins over the description
    assert a.body.startswith("![](https://cdn0.celebritax.com/")
    assert "Kim Jong-un responded with insults" in a.body
    assert a.body.rstrip().endswith("Archivé dans :")


def test_sample_feed_parses_without_warning() -> None:
    _, warnings = _parse(str(SAMPLE_FEED))
    assert warnings == []


def test_latin1_feed_relative_link_and_missing_date() -> None:
    articles, warnings = _parse(str(DATA / "relative_nodate.xml"), "regional")
    assert [a.title for a in articles] == ["Élection municipale à Besançon"]
    (a,) = articles
    assert a.canonical_url == "https://regional.example/actualites/2025/election.html?id=42"
    assert a.published_at is None
    assert a.date_missing
    assert a.source.language_hint == "fr-FR"
    assert any("entry 1 has no link" in w for w in warnings)


def test_unparseable_feed_is_an_error_that_names_it() -> None:
    with pytest.raises(FeedError, match="broken: malformed feed"):
        _parse(str(DATA / "malformed.xml"), "broken")


def test_missing_file_is_an_error() -> None:
    with pytest.raises(FeedError, match=r"nope\.xml"):
        read_feed("nope.xml")


def test_a_feed_from_a_url_on_a_real_local_server() -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(SAMPLE_FEED.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        articles, warnings = _parse(f"{base}/{SAMPLE_FEED.name}")
        assert warnings == []
        assert [a.canonical_url for a in articles] == [
            "https://news.example/monde/trump-coree-du-nord-relations"
        ]
        with pytest.raises(FeedError, match="404"):
            read_feed(f"{base}/missing.xml")
    finally:
        server.shutdown()
        server.server_close()
