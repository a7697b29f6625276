"""Read an RSS/Atom/RDF feed (URL or file) and turn its entries into articles."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx

from connectors.canonical import canonical_url
from vigie.article import Article, Source, article_id

USER_AGENT = "Vigie/0.1 (+news monitor; feed reader)"


class FeedError(Exception):
    """A feed could not be read or yielded nothing usable; the message says why."""


@dataclass(frozen=True)
class FeedSource:
    feed_id: str
    location: str  # URL or local path
    name: str | None = None
    language_hint: str | None = None


@dataclass
class ParsedFeed:
    articles: list[Article]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedDocument:
    data: bytes
    base_url: str  # what relative links resolve against
    headers: dict[str, str] = field(default_factory=dict)  # HTTP only: charset, location


def read_feed(location: str, timeout: float = 30.0) -> FeedDocument:
    """The raw bytes of a feed, from a URL or a local file."""
    if location.startswith(("http://", "https://")):
        try:
            response = httpx.get(
                location,
                timeout=timeout,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise FeedError(f"{location}: {exc}") from exc
        headers = {k.lower(): v for k, v in response.headers.items()}
        headers["content-location"] = str(response.url)
        return FeedDocument(response.content, str(response.url), headers)
    path = Path(location)
    try:
        return FeedDocument(path.read_bytes(), path.resolve().as_uri())
    except OSError as exc:
        raise FeedError(f"{location}: {exc.strerror or exc}") from exc


def _utc(parsed: Any) -> datetime | None:
    # feedparser gives a UTC struct_time; timegm reads it as UTC, unlike mktime.
    if parsed is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _body(entry: Any) -> str:
    contents = entry.get("content") or []
    if contents:
        return "\n".join(str(c.get("value", "")) for c in contents)
    return str(entry.get("summary", ""))


def parse_feed(document: FeedDocument, source: FeedSource) -> ParsedFeed:
    """Entries of a feed as articles. A malformed feed keeps what is recoverable and
    says so in `warnings`; a feed with nothing recoverable raises FeedError."""
    # Only real HTTP headers go to feedparser: made-up ones (no content-type) make it
    # flag a well-formed file as malformed.
    parsed = feedparser.parse(document.data, response_headers=document.headers or None)
    warnings: list[str] = []
    if parsed.get("bozo"):
        reason = f"{source.feed_id}: malformed feed ({parsed.get('bozo_exception')})"
        if not parsed.entries:
            raise FeedError(f"{reason}; no entry could be recovered")
        warnings.append(f"{reason}; kept {len(parsed.entries)} recoverable entries")
    feed_link = str(parsed.feed.get("link") or document.base_url)
    fetched_at = datetime.now(UTC)
    articles: list[Article] = []
    for position, entry in enumerate(parsed.entries):
        link = entry.get("link") or (entry.get("id") if "://" in str(entry.get("id")) else None)
        if not link:
            warnings.append(f"{source.feed_id}: entry {position} has no link nor URL id; skipped")
            continue
        url = canonical_url(str(link), base=feed_link)
        # dict.get: feedparser's own get() maps a missing updated_parsed to
        # published_parsed, with a deprecation warning.
        published = _utc(dict.get(entry, "published_parsed"))
        updated = _utc(dict.get(entry, "updated_parsed"))
        articles.append(
            Article(
                id=article_id(url),
                url=str(link),
                canonical_url=url,
                source=Source(
                    feed_id=source.feed_id,
                    name=source.name or parsed.feed.get("title"),
                    language_hint=source.language_hint or parsed.feed.get("language"),
                ),
                title=str(entry.get("title", "")),
                summary=str(entry.get("summary", "")),
                body=_body(entry),
                authors=tuple(
                    str(a.get("name")) for a in entry.get("authors", []) if a.get("name")
                ),
                published_at=published or updated,
                updated_at=updated,
                fetched_at=fetched_at,
                date_missing=published is None and updated is None,
            )
        )
    return ParsedFeed(articles=articles, warnings=warnings)
