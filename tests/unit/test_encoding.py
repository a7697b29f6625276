"""Encodings: where neither the document nor the transport declares one, the
connector reads a feed as feedparser's own detection reads its bytes, however
the server labels it, and its articles say which encoding was assumed. Shapes of
real feeds (Le Cercle Psy's and UOL's Latin-1, feedparser's Shift_JIS case, Al
Jazeera's UTF-8, all without declaration), written here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import feedparser
import pytest

from connectors.encoding import declared_encoding, document_encoding, encoding_note
from connectors.feed import parse_feed, read_feed
from connectors.feedlist import FeedConfig

LATIN1 = (
    '<rss version="2.0"><channel><title>Le Cercle</title><link>https://cercle.example/</link>'
    "<item><title>Le cœur a ses raisons : « déjà vu »</title>"
    "<link>https://cercle.example/a</link><description>Une étude récente…</description></item>"
    "</channel></rss>"
).encode("cp1252")
SHIFT_JIS = (
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
    "<title>DrecomRSSに記事投稿が反映されない…</title>"
    "<summary>色々調べてたら、MT3.2がRSS1.0をサポートしていないことが判明。</summary>"
    "</entry></feed>"
).encode("shift_jis")
UTF8 = (
    '<rss version="2.0"><channel><title>News</title><link>https://news.example/</link>'
    "<item><title>Colbert says CBS barred an interview — “a first”</title>"
    "<link>https://news.example/colbert</link></item></channel></rss>"
).encode()


class _Server(BaseHTTPRequestHandler):
    """Serves `body` with the Content-Type `content_type` (None: no such header)."""

    body: ClassVar[bytes] = b""
    content_type: ClassVar[str | None] = None

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.content_type is not None:
            self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/feed"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("body", [LATIN1, SHIFT_JIS, UTF8], ids=["latin1", "shift_jis", "utf8"])
@pytest.mark.parametrize(
    "content_type",
    # text/xml without charset is us-ascii to RFC 3023, no Content-Type is
    # iso-8859-1 to feedparser: neither is what the server means.
    [None, "text/xml", "application/rss+xml", "application/xml"],
)
def test_undeclared_feeds_read_as_feedparser_detects_their_bytes(
    server: str, body: bytes, content_type: str | None
) -> None:
    _Server.body, _Server.content_type = body, content_type
    parsed = parse_feed(read_feed(server, allow_private=True), FeedConfig(id="f", url=server))
    own = feedparser.parse(body)  # feedparser on the bytes alone, as for a file
    assert [(a.title, a.summary) for a in parsed.articles] == [
        (e.get("title", ""), e.get("summary", "")) for e in own.entries
    ]
    assert parsed.articles[0].notes[0] == (
        f"encoding: none declared; read as {own.encoding} (feedparser's detection)"
    )
    assert not any("malformed" in w for w in parsed.warnings)


def test_the_latin1_shape_is_read_as_windows_1252_not_latin1(server: str) -> None:
    # What the difference is about: "œ" is 0x9c, a control character in ISO-8859-1.
    _Server.body, _Server.content_type = LATIN1, None
    (article,) = parse_feed(
        read_feed(server, allow_private=True), FeedConfig(id="f", url=server)
    ).articles
    assert article.title == "Le cœur a ses raisons : « déjà vu »"


def test_a_charset_the_server_or_the_document_declares_is_followed(server: str) -> None:
    _Server.body, _Server.content_type = LATIN1, "text/xml; charset=windows-1252"
    (article,) = parse_feed(
        read_feed(server, allow_private=True), FeedConfig(id="f", url=server)
    ).articles
    assert article.title.startswith("Le cœur")
    assert not any(n.startswith("encoding") for n in article.notes)
    declared = b'<?xml version="1.0" encoding="windows-1252"?>\n' + LATIN1
    _Server.body, _Server.content_type = declared, "text/xml"
    (article,) = parse_feed(
        read_feed(server, allow_private=True), FeedConfig(id="f", url=server)
    ).articles
    assert article.title.startswith("Le cœur")
    assert not any(n.startswith("encoding") for n in article.notes)


def test_a_declared_encoding_that_does_not_decode_is_said(server: str) -> None:
    _Server.body = b'<?xml version="1.0" encoding="utf-8"?>' + LATIN1
    _Server.content_type = "application/rss+xml"
    parsed = parse_feed(read_feed(server, allow_private=True), FeedConfig(id="f", url=server))
    (article,) = parsed.articles
    assert article.notes[0].startswith("encoding: declared utf-8 does not decode the feed")
    assert "malformed feed" in parsed.warnings[0]  # the publisher's fault, unlike undeclared


@pytest.mark.parametrize(
    ("data", "headers", "declared"),
    [
        (b'<?xml version="1.0" encoding="EUC-JP"?><rdf:RDF/>', {}, "EUC-JP"),
        (b'\n<?xml version="1.0" encoding="UTF-8"?>\n<rss/>', {}, "UTF-8"),  # Londonist
        (b'\xef\xbb\xbf<?xml version="1.0"?><rss/>', {}, "utf-8"),  # BOM, no attribute
        (b"\xff\xfe<\x00r\x00", {}, "utf-16"),
        (b"<rss/>", {"content-type": "application/rss+xml; charset=UTF-8"}, "UTF-8"),
        (b'<?xml version="1.0"?><rss/>', {"content-type": "text/xml"}, None),
        (b"<!-- encoding='x' --><rss/>", {}, None),
    ],
)
def test_what_counts_as_declared(
    data: bytes, headers: dict[str, str], declared: str | None
) -> None:
    assert declared_encoding(data, headers) == declared
    assert document_encoding(data) == (declared if not headers else None)


def test_encoding_notes() -> None:
    assert encoding_note("ISO-8859-1", "iso-8859-1") is None
    assert encoding_note("gb2312", "gb18030") is None  # feedparser's superset, on purpose
    assert encoding_note("utf-16", "utf-16le") is None
    assert (
        encoding_note(None, "utf-8")
        == "encoding: none declared; read as utf-8 (feedparser's detection)"
    )
