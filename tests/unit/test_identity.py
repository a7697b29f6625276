"""Connectors lose no entry: entries without a link, entries that share a page,
true repeats, and ids that stay put across polls. The feeds are small shapes of
real ones (../shared/realfeeds), written here."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from connectors.feed import FeedDocument, ParsedFeed, parse_feed
from connectors.feedlist import FeedConfig
from connectors.fetch import Validators
from connectors.state import Novelty, State, fingerprint
from vigie.article import Article, article_id

FEED_URL = "https://feed.example/rss.xml"


def _parse(data: bytes, feed_id: str = "lettre") -> ParsedFeed:
    return parse_feed(FeedDocument(data, FEED_URL), FeedConfig(id=feed_id, url=FEED_URL))


def _rss(items: str, site: str = "https://lettre.example/") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>t</title><link>{site}</link>{items}</channel></rss>"
    ).encode()


def _item(title: str = "", link: str = "", guid: str = "", text: str = "", date: str = "") -> str:
    return (
        "<item>"
        + (f"<title>{title}</title>" if title else "")
        + (f"<link>{link}</link>" if link else "")
        + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
        + (f"<description>{text}</description>" if text else "")
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + "</item>"
    )


# A French newsletter without XML declaration, in Latin-1 (Le Cercle Psy's shape):
# one entry has a link, one has neither link nor title (only a date), and a press
# release has a GUID but no link.
NEWSLETTER = (
    '<rss version="2.0"><channel><title>Lettre de la rédaction</title>'
    "<link>https://lettre.example/</link>"
    + _item("Éditorial", "https://lettre.example/edito", date="Wed, 17 Oct 2018 08:00:00 GMT")
    + _item(date="Wed, 17 Oct 2018 10:30:00 GMT")
    + _item("Communiqué : la préfecture lève l'alerte", guid="cp-2018-014", text="Fin de l'alerte.")
    + "</channel></rss>"
).encode("latin-1")


def test_entries_without_a_link_are_articles_all_the_same() -> None:
    parsed = _parse(NEWSLETTER)
    assert len(parsed.articles) == len(feedparser.parse(NEWSLETTER).entries) == 3
    assert parsed.warnings == []
    edito, dated, release = parsed.articles
    assert edito.id == article_id("https://lettre.example/edito")  # as it always was
    for linkless in (dated, release):
        assert linkless.canonical_url is None
        assert linkless.url == "https://lettre.example/"  # the feed's site
        assert any(n.startswith("no link of its own") for n in linkless.notes)
    assert release.title == "Communiqué : la préfecture lève l'alerte"
    assert dated.title == ""
    assert dated.published_at is not None


def test_a_linkless_id_comes_from_the_feed_and_the_entry() -> None:
    first, again = _parse(NEWSLETTER), _parse(NEWSLETTER)
    assert [a.id for a in first.articles] == [a.id for a in again.articles]
    other_feed = _parse(NEWSLETTER, feed_id="autre")
    assert other_feed.articles[0].id == first.articles[0].id  # a page is a page
    assert other_feed.articles[1].id != first.articles[1].id
    assert other_feed.articles[2].id != first.articles[2].id
    # With a GUID, the GUID alone: a corrected title is the same article.
    retitled = _parse(NEWSLETTER.replace(b"Communiqu\xe9 :", b"Communiqu\xe9 rectifi\xe9 :"))
    assert retitled.articles[2].id == first.articles[2].id
    # Without one, its title and date: its text may change.
    dated = _rss(_item(date="Wed, 17 Oct 2018 10:30:00 GMT", text="v1"))
    assert _parse(dated).articles[0].id == _parse(dated.replace(b"v1", b"v2")).articles[0].id


def test_an_atom_entry_whose_id_is_no_link_has_no_link() -> None:
    data = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>'
        b'<link href="https://wire.example/"/><entry><id>urn:uuid:60a76c80-d399</id>'
        b"<title>Flash</title><content>Le texte est la d\xc3\xa9p\xc3\xaache.</content>"
        b"</entry></feed>"
    )
    parsed = _parse(data)
    assert parsed.warnings == []
    (article,) = parsed.articles
    assert (article.canonical_url, article.url) == (None, "https://wire.example/")
    assert article.id == _parse(data.replace(b"Flash", b"Flash (corrected)")).articles[0].id


def test_a_malformed_feed_whose_only_entry_is_empty_keeps_it() -> None:
    # feedparser's incomplete-CDATA case: a comment before the declaration, and the
    # document cut inside the only item's title.
    data = (
        b'<!--\nDescription: cut\n-->\n<?xml version="1.0"?>\n<rss version="2.0"><channel>'
        b"<title>t</title><link>http://cut.example</link><item><title><![CD"
    )
    parsed = _parse(data)
    assert len(feedparser.parse(data).entries) == 1
    (article,) = parsed.articles
    assert article.canonical_url is None
    assert article.url == "http://cut.example"
    assert "malformed feed" in parsed.warnings[0]


# A blog's day page with one anchor per post (tDiary's RDF): GUID = link, fragment
# included; and a day with one post only.
DIARY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<rdf:RDF xmlns="http://purl.org/rss/1.0/"'
    ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<channel rdf:about="https://diary.example/index.rdf"><title>Diary</title>'
    "<link>https://diary.example/</link></channel>"
    + "".join(
        f'<item rdf:about="https://diary.example/?date={day}#{anchor}">'
        f"<link>https://diary.example/?date={day}#{anchor}</link>"
        f"<title>{title}</title><description>{title}, the text.</description></item>"
        for day, anchor, title in [
            ("20040101", "p01", "Morning"),
            ("20040101", "p02", "Noon"),
            ("20040101", "p03", "Evening"),
            ("20031231", "p01", "New Year's Eve"),
        ]
    )
    + "</rdf:RDF>"
).encode()


def test_entries_of_one_day_page_are_articles_of_their_own() -> None:
    parsed = _parse(DIARY)
    assert parsed.warnings == []
    assert [a.title for a in parsed.articles] == ["Morning", "Noon", "Evening", "New Year's Eve"]
    day = [a for a in parsed.articles if a.canonical_url == "https://diary.example/?date=20040101"]
    assert len({a.id for a in day}) == 3
    assert article_id("https://diary.example/?date=20040101") not in {a.id for a in day}
    assert day[0].url == "https://diary.example/?date=20040101#p01"  # the link as given
    # alone on its page, an entry keeps the page's id
    assert parsed.articles[3].id == article_id("https://diary.example/?date=20031231")


def test_two_items_sharing_a_link_with_different_guids_are_two_articles() -> None:
    # 2ch's thread feed: the thread's summary item links to its first post.
    post = "https://thread.example/1155970287/1"
    data = _rss(
        _item("1: first post", post, guid=post)
        + _item("2: second post", "https://thread.example/1155970287/2")
        + _item("1-", post, guid="https://thread.example/1155970287/")
    )
    parsed = _parse(data)
    assert parsed.warnings == []
    assert [a.title for a in parsed.articles] == ["1: first post", "2: second post", "1-"]
    assert len({a.id for a in parsed.articles}) == 3


@pytest.mark.parametrize(
    "repeat",
    [
        # Le Figaro's: one article twice, same GUID and link
        _item("Culture", "https://news.example/a", guid="a-1"),
        # same link and title, no GUID
        _item("Culture", "https://news.example/a?utm_source=rss"),
    ],
)
def test_true_repeats_are_folded_with_a_warning(repeat: str) -> None:
    first = _item("Culture", "https://news.example/a", guid="a-1")
    parsed = _parse(_rss(first + _item("Other", "https://news.example/b") + repeat))
    assert [a.title for a in parsed.articles] == ["Culture", "Other"]
    assert parsed.articles[0].id == article_id("https://news.example/a")
    assert parsed.warnings == ["lettre: entry 2 repeats entry 0; skipped"]


def test_linkless_entries_are_repeats_only_when_nothing_tells_them_apart() -> None:
    date = "Mon, 03 Feb 2025 10:00:00 GMT"
    one = _item("Communiqué", date=date, text="Premier texte.")
    two = _item("Communiqué", date=date, text="Second texte.")
    parsed = _parse(_rss(one + two + one))
    assert [a.body for a in parsed.articles] == ["Premier texte.", "Second texte."]
    assert parsed.articles[0].id != parsed.articles[1].id
    assert parsed.warnings == ["lettre: entry 2 repeats entry 0; skipped"]


def _poll(state: State, data: bytes) -> tuple[list[Article], Novelty]:
    """What the connector does with a parse (connectors/poller.py), without HTTP."""
    parsed = _parse(data)
    articles = state.settled(parsed.articles, parsed.identities)
    novelty = state.novelty(articles)
    fresh = [*novelty.new, *novelty.updated]
    state.accept(
        "lettre",
        [(fingerprint(a), a) for a in fresh],
        [a.id for a in articles],
        Validators(),
        60,
        0,
    )
    return articles, novelty


def test_updates_of_a_linkless_entry_are_detected(tmp_path: Path) -> None:
    state = State(tmp_path / "state.sqlite3")
    _, first = _poll(state, NEWSLETTER)
    assert len(first.new) == 3
    changed = NEWSLETTER.replace(b"Fin de l'alerte.", b"Fin de l'alerte, sauf en montagne.")
    articles, again = _poll(state, changed)
    assert (len(again.new), [a.id for a in again.updated], again.seen) == (0, [articles[2].id], 2)
    assert _poll(state, changed)[1].seen == 3


def test_an_entry_keeps_its_id_when_its_page_gains_or_loses_a_neighbour(tmp_path: Path) -> None:
    page = "https://diary.example/?date=20040101"
    morning = _item("Morning", f"{page}#p01", guid=f"{page}#p01", text="Coffee.")
    noon = _item("Noon", f"{page}#p02", guid=f"{page}#p02", text="Lunch.")
    state = State(tmp_path / "state.sqlite3")

    (alone,), _ = _poll(state, _rss(morning))
    assert alone.id == article_id(page)  # the page's id, as before this change
    # A second post on the page: the first keeps its id, and is not sent again.
    (first, second), novelty = _poll(state, _rss(noon + morning))
    assert first.title == "Noon"
    assert second.id == alone.id
    assert ([a.title for a in novelty.new], novelty.updated, novelty.seen) == (["Noon"], [], 1)
    # The first post leaves the feed's window: the second keeps its own id.
    (left,), novelty = _poll(state, _rss(noon))
    assert left.id == first.id
    assert (novelty.new, novelty.updated, novelty.seen) == ([], [], 1)
    # Without state (`vigie feeds check`, a first poll) both have ids of their own.
    assert article_id(page) not in {a.id for a in _parse(_rss(noon + morning)).articles}
