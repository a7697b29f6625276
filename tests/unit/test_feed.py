from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.feed import MAX_ENTRIES, FeedDocument, FeedError, ParsedFeed, parse_feed, read_feed
from connectors.feedlist import FeedConfig
from tests.conftest import DATA, SAMPLE_FEED
from vigie.article import Article


def _parse(path: str, feed_id: str = "f") -> tuple[list[Article], list[str]]:
    parsed = parse_feed(read_feed(path, allow_private=True), FeedConfig.at(path, feed_id))
    return parsed.articles, parsed.warnings


def test_sample_feed_carries_the_seed_article(seed_article: Article) -> None:
    a = seed_article
    assert a.canonical_url == "https://news.example/monde/trump-coree-du-nord-relations"
    assert a.url is not None
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
    assert [a.title for a in articles] == ["Élection municipale à Besançon", "Sans lien"]
    a, linkless = articles
    assert a.canonical_url == "https://regional.example/actualites/2025/election.html?id=42"
    assert a.published_at is None
    assert a.date_missing
    assert a.source.language_hint == "fr-FR"
    # An entry without a link is an article all the same (test_identity.py says more).
    assert linkless.canonical_url is None
    assert linkless.url == "https://Regional.Example:443/actualites/"
    assert warnings == []


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
            read_feed(f"{base}/missing.xml", allow_private=True)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Thu,28 Jul 2022 4:35:5 GMT+9", "2022-07-27T19:35:05+00:00"),  # Korea Times
        ("Seg, 24 Set 2018 19:42:40 -0300", "2018-09-24T22:42:40+00:00"),  # UOL, Portuguese
        ("Wes, 18 Aug 2021 17:00:00 +0800", "2021-08-18T09:00:00+00:00"),  # misspelt weekday
        ("lun., 3 févr. 2025 10:00:00 +0100", "2025-02-03T09:00:00+00:00"),
    ],
)
def test_real_world_dates_feedparser_cannot_read(written: str, read: str) -> None:
    from connectors.dates import lenient_date

    found = lenient_date(written)
    assert found is not None
    assert found.isoformat() == read


@pytest.mark.parametrize("written", ["2020/1/10 14:33:00", "3 Okt 2024 10:00 MEZ", "bientôt"])
def test_a_date_without_a_known_zone_is_not_guessed(written: str) -> None:
    from connectors.dates import lenient_date

    assert lenient_date(written) is None


def test_unreadable_dates_are_flagged_in_notes(tmp_path: Path) -> None:
    feed = tmp_path / "dates.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://d.example/</link>"
        "<item><title>a</title><link>https://d.example/a</link>"
        "<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate></item>"
        "<item><title>b</title><link>https://d.example/b</link>"
        "<pubDate>2020/1/10 14:33:00</pubDate></item></channel></rss>"
    )
    (a, b), _ = _parse(str(feed))
    assert a.published_at == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)
    assert a.notes == ()
    assert b.published_at is None
    assert b.date_missing
    assert b.notes == ("published date '2020/1/10 14:33:00' could not be read",)


def test_mojibake_is_repaired_and_said(tmp_path: Path) -> None:
    # What Le Monde's and Le Figaro's feeds carry: UTF-8 read as cp1252, then
    # written out as UTF-8 again; and the same twice over.
    once = "Zidane égale le record d’invincibilité".encode().decode("cp1252")
    twice = "Pékin".encode().decode("cp1252").encode().decode("cp1252")
    legit = "Les négociations à São Paulo, ações e eleições"
    feed = tmp_path / "mojibake.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://m.example/</link>"
        f"<item><title>{once}</title><link>https://m.example/a</link>"
        f"<description>{twice}</description></item>"
        f"<item><title>{legit}</title><link>https://m.example/b</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    (a, b), _ = _parse(str(feed))
    assert a.title == "Zidane égale le record d’invincibilité"
    assert a.summary == "Pékin"
    assert a.notes == (
        "title: mojibake repaired",
        "summary: mojibake repaired",
        "body: mojibake repaired",
    )
    assert b.title == legit
    assert b.notes == ()


def _hostile(items: str, channel: str = "") -> ParsedFeed:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://site.example/</link>{channel}{items}</channel></rss>"
    )
    document = FeedDocument(xml.encode(), "https://site.example/feed.xml", {})
    return parse_feed(document, FeedConfig(id="h", url="https://site.example/feed.xml"))


def _item(title: str, extra: str) -> str:
    return f"<item><title>{title}</title>{extra}<description>{title} text</description></item>"


def test_one_bad_value_costs_at_most_its_entry_never_the_feed() -> None:
    parsed = _hostile(
        _item("bracket", "<link>http://[::1</link>")
        + _item("port", "<link>http://site.example:99999/a</link>")
        + _item(
            "future",
            "<link>https://site.example/c</link><pubDate>Fri, 31 Dec 9999 23:59:59 -0100</pubDate>",
        )
        + _item(
            "enclosure",
            '<link>https://site.example/d</link><enclosure url="https://site.example/x.mp3" '
            'length="²" type="audio/mpeg"/>',
        )
        + _item("ok", "<link>https://site.example/e</link>"),
        channel=f"<ttl>{'9' * 5000}</ttl>",
    )
    by_title = {a.title: a for a in parsed.articles}
    assert sorted(by_title) == ["bracket", "enclosure", "future", "ok", "port"]
    assert by_title["bracket"].canonical_url is None  # kept, without a link
    assert by_title["port"].canonical_url is None
    assert by_title["future"].published_at is None  # the date is what is lost
    assert by_title["enclosure"].media[0].length is None
    assert by_title["ok"].canonical_url == "https://site.example/e"
    assert sum("malformed" in w for w in parsed.warnings) == 2
    assert parsed.update_hint == 525_600 * 60.0  # "a year", not 5,000 digits


def test_a_feed_of_too_many_entries_is_read_up_to_the_cap() -> None:
    items = "".join(_item(f"n{n}", f"<link>https://site.example/{n}</link>") for n in range(1005))
    parsed = _hostile(items)
    assert len(parsed.articles) == MAX_ENTRIES
    assert any(f"the first {MAX_ENTRIES} are read" in w for w in parsed.warnings)
