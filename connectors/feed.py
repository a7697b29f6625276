"""Read an RSS/Atom/RDF feed (URL or file) and turn its entries into articles."""

from __future__ import annotations

import asyncio
import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import ftfy

from connectors.canonical import canonical_url
from connectors.dates import lenient_date
from connectors.encoding import declared_encoding, encoding_note, guessed, parser_headers
from connectors.feedlist import FeedConfig
from connectors.fetch import Fetched, Fetcher, FetchError
from connectors.identity import Entry, Identity, assign
from vigie.article import TEXT_CHARS, TITLE_CHARS, Article, Media, Source
from vigie.numbers import whole_number


class FeedError(Exception):
    """A feed could not be read or yielded nothing usable; the message says why."""


@dataclass
class ParsedFeed:
    articles: list[Article]
    warnings: list[str] = field(default_factory=list)
    update_hint: float | None = None  # seconds, from the feed's ttl or sy:update*
    # Article id -> the ids its entry can have (connectors/identity.py `settled`).
    identities: dict[str, Identity] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedDocument:
    data: bytes
    base_url: str  # what relative links resolve against
    headers: dict[str, str] = field(default_factory=dict)  # HTTP only: charset, location


def read_feed(
    location: str,
    timeout: float = 30.0,
    max_bytes: int = 10_000_000,
    allow_private: bool = False,
) -> FeedDocument:
    """The raw bytes of a feed, from a URL or a local file (one-shot; the connector
    service uses its own long-lived Fetcher)."""
    if not location.startswith(("http://", "https://", "file://")):
        location = Path(location).resolve().as_uri()

    async def get() -> Fetched:
        fetcher = Fetcher(
            concurrency=1, per_host=1, host_interval=0, timeout=timeout, max_bytes=max_bytes
        )
        try:
            return await fetcher.fetch(location, allow_private=allow_private)
        finally:
            await fetcher.close()

    try:
        fetched = asyncio.run(get())
    except FetchError as exc:
        raise FeedError(str(exc)) from exc
    return document_of(fetched)


def document_of(fetched: Fetched) -> FeedDocument:
    headers = dict(fetched.headers)
    if headers:
        headers["content-location"] = fetched.url
    return FeedDocument(fetched.body, fetched.url, headers)


def _utc(parsed: Any) -> datetime | None:
    # feedparser gives a UTC struct_time; timegm reads it as UTC, unlike mktime.
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):  # year 9999 at UTC-1, year 0, ...
        return None


def _body(entry: Any) -> str:
    contents = entry.get("content") or []
    if contents:
        return "\n".join(str(c.get("value", "")) for c in contents)
    return str(entry.get("summary", ""))


def _media(entry: Any) -> tuple[Media, ...]:
    found: dict[str, Media] = {}
    candidates = [
        *(
            (link.get("href"), link.get("type"), None, link.get("length"))
            for link in entry.get("links", [])
            if link.get("rel") == "enclosure"
        ),
        *(
            (m.get("url"), m.get("type"), m.get("medium"), m.get("filesize"))
            for m in entry.get("media_content", [])
        ),
        *((m.get("url"), None, "image", None) for m in entry.get("media_thumbnail", [])),
    ]
    for url, kind, medium, length in candidates:
        if not url or url in found:
            continue
        size = whole_number(length, 2**62)
        if medium is None and kind:
            medium = str(kind).split("/")[0] if "/" in str(kind) else None
        found[url] = Media(url=str(url), type=kind or None, medium=medium, length=size)
    return tuple(found.values())


# feedparser's ISO 8601 reader takes "2020/1/10 14:33" or "2020.01.10" for 1 November
# 2020 (it matches a prefix and drops the rest): such dates are not its to read.
_MISREAD = re.compile(r"^\s*\d{4}[/.]\d")


# A non-ASCII Latin letter then a Latin letter or cp1252 sign: where mojibake ("Ã©",
# "â€™", "Ð¯") always is, and ordinary text rarely; only such text is given to ftfy.
# The first is a letter because it is what a UTF-8 lead byte (0xC2-0xF4) reads as in
# cp1252 or Latin-1/2: so Chinese "——" or "……" cost no ftfy pass (on the real feeds
# those were two thirds of ftfy's time, and ftfy changed none of them).
_MOJIBAKE_HINT = re.compile(r"[\u00c0-\u02ff][\u0080-\u02ff\u2013-\u203a\u20ac\u2122]")


def _text(text: str, field: str, limit: int, notes: list[str], repair: bool = True) -> str:
    # Cut before repairing: ftfy takes a second over a few megabytes.
    if len(text) > limit:
        notes.append(f"{field} cut from {len(text)} to {limit} characters")
        text = text[:limit]
    return _repaired(text, field, notes) if repair else text


def _repaired(text: str, field: str, notes: list[str]) -> str:
    """Text whose UTF-8 was decoded as another encoding (once or twice) by the
    publisher, repaired by ftfy; the article's notes say so."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    fixed = str(ftfy.fix_encoding(text))
    if fixed != text:
        notes.append(f"{field}: mojibake repaired")
    return fixed


def _date(entry: Any, key: str, notes: list[str]) -> datetime | None:
    # dict.get: feedparser's own get() maps a missing updated_parsed to
    # published_parsed, with a deprecation warning.
    raw = dict.get(entry, key)
    value = _utc(dict.get(entry, f"{key}_parsed"))
    if raw and _MISREAD.match(str(raw)):
        value = None
    if value is None and raw:
        value = lenient_date(str(raw))
        if value is None:
            notes.append(f"{key} date {str(raw)[:60]!r} could not be read")
    return value


def update_hint_seconds(parsed: Any) -> float | None:
    """How often the feed says it changes: RSS <ttl> (minutes) or sy:updatePeriod and
    sy:updateFrequency. None when it says nothing usable."""
    feed = parsed.get("feed", {})
    # A year at most: a 5,000-digit <ttl> is "rarely", not a crash.
    ttl = whole_number(feed.get("ttl"), 525_600)
    if ttl:
        return ttl * 60.0
    period = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000}.get(
        str(feed.get("sy_updateperiod", "")).strip().lower()
    )
    if period:
        frequency = whole_number(feed.get("sy_updatefrequency"), 10_000)
        return period / (frequency or 1)
    return None


# Entries read per feed: a feed of a million entries is an attack or a mistake.
MAX_ENTRIES = 1000


def parse_feed(document: FeedDocument, feed: FeedConfig) -> ParsedFeed:
    """Entries of a feed as articles. A malformed feed keeps what is recoverable and
    says so in `warnings`; a feed with nothing recoverable raises FeedError."""
    # Only real HTTP headers go to feedparser (made-up ones make it flag a well-formed
    # file as malformed), and their Content-Type only with a charset (encoding.py).
    # No sanitising or resolving of links inside the HTML: the worker turns every
    # text into plain text first (pipeline/enrichment/clean.py), which drops the
    # markup, its links and script/style content alike, and they were 40 % of the
    # parse (bench/parse_identity.py compares the articles). Entry links are still
    # resolved: feedparser does it for `link` whatever this says, and _link again.
    parsed = feedparser.parse(
        document.data,
        response_headers=parser_headers(document.headers),
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    declared = declared_encoding(document.data, document.headers)
    used = str(parsed.get("encoding") or "")
    warnings: list[str] = []
    problem = parsed.get("bozo_exception")
    # Reading an undeclared document as other than UTF-8 is no fault of the feed:
    # the articles' notes say which encoding was assumed.
    if parsed.get("bozo") and not (
        declared is None and isinstance(problem, feedparser.CharacterEncodingOverride)
    ):
        reason = f"{feed.id}: malformed feed ({problem})"
        if not parsed.entries:
            raise FeedError(f"{reason}; no entry could be recovered")
        warnings.append(f"{reason}; kept {len(parsed.entries)} recoverable entries")
    elif not parsed.entries and not parsed.get("version"):
        raise FeedError(f"{feed.id}: not a feed (no RSS, Atom or RDF found)")
    # feedparser already resolved relative links of a fetched feed against its URL
    # (content-location); a local file's resolve against the site it names.
    base = str(parsed.feed.get("link") or document.base_url)
    site = urljoin(document.base_url, str(parsed.feed.get("link") or "").strip())
    context = _Context(
        source=Source(
            feed_id=feed.id,
            name=feed.name or parsed.feed.get("title"),
            language_hint=feed.language or parsed.feed.get("language"),
            tags=feed.tags,
        ),
        fetched_at=datetime.now(UTC),
        site=site if site.startswith(("http://", "https://")) else None,
        encoding_note=encoding_note(declared, used),
        # ftfy undoes UTF-8 that a publisher read as cp1252; text that a guess read
        # from bytes that are not UTF-8 is not that, and a second guess only changes it.
        repair=not guessed(declared, used),
    )
    raw = list(parsed.entries)
    if len(raw) > MAX_ENTRIES:
        warnings.append(f"{feed.id}: {len(raw)} entries; the first {MAX_ENTRIES} are read")
        raw = raw[:MAX_ENTRIES]
    # One entry's bad value (a link like "http://[::1", a port 99999) costs that
    # entry, with a warning, never the feed.
    readable: list[tuple[int, Any, str | None, str | None, Any]] = []
    for position, entry in enumerate(raw):
        try:
            page, link = _link(entry, position, base, feed.id, warnings)
            readable.append((position, entry, page, link, _entry(entry, page, link)))
        except Exception as exc:
            warnings.append(f"{feed.id}: entry {position} unreadable ({_why(exc)}); skipped")
    articles: list[Article] = []
    identities: dict[str, Identity] = {}
    for (position, entry, page, link, _), assigned in zip(
        readable, assign([r[4] for r in readable], feed.id), strict=True
    ):
        if assigned.repeats is not None:
            repeated = readable[assigned.repeats][0]
            warnings.append(f"{feed.id}: entry {position} repeats entry {repeated}; skipped")
            continue
        try:
            article = _article(entry, assigned.id, page, link, context)
        except Exception as exc:
            warnings.append(f"{feed.id}: entry {position} unreadable ({_why(exc)}); skipped")
            continue
        articles.append(article)
        identities[article.id] = assigned.identity
    return ParsedFeed(
        articles=articles,
        warnings=warnings,
        update_hint=update_hint_seconds(parsed),
        identities=identities,
    )


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


@dataclass(frozen=True)
class _Context:
    """What every article of one parse shares."""

    source: Source
    fetched_at: datetime
    site: str | None  # the feed's own link: where a link-less entry is published
    encoding_note: str | None
    repair: bool  # mojibake repair (off for text read by a guess)


def _link(
    entry: Any, position: int, base: str, feed_id: str, warnings: list[str]
) -> tuple[str | None, str | None]:
    """The entry's canonical URL and its link as given resolved, or (None, what was
    given) when it has no usable link."""
    guid = str(entry.get("id") or "")
    link = str(entry.get("link") or (guid if "://" in guid else "")).strip()
    if not link:
        return None, None
    try:
        # Resolved once: urljoin is most of what a link costs.
        resolved = urljoin(base, link)
        url = canonical_url(resolved)
        urlsplit(url).port  # noqa: B018 (raises on a port out of range)
    except ValueError as exc:  # "http://[::1", port 99999: no usable link
        warnings.append(
            f"{feed_id}: entry {position} link {link[:80]!r} is malformed ({exc}); "
            "kept without a link"
        )
        return None, None
    if not url.startswith(("http://", "https://")) and entry.get("guidislink"):
        return None, None  # an Atom id or GUID such as urn:uuid:…, not a link
    if not url.startswith(("http://", "https://")):
        warnings.append(
            f"{feed_id}: entry {position} link {link[:80]!r} resolves to no web address "
            "(relative, in a feed that names no site?); kept without a link"
        )
        return None, link
    return url, resolved


def _entry(entry: Any, page: str | None, link: str | None) -> Entry:
    return Entry(
        page=page,
        fragment=urlsplit(link).fragment if page and link else "",
        guid=str(entry.get("id") or "").strip(),
        title=str(entry.get("title") or "").strip(),
        date=str(dict.get(entry, "published") or "").strip(),
        text=f"{entry.get('summary', '')}\x1f{_body(entry)}",
    )


def _article(
    entry: Any, id_: str, page: str | None, link: str | None, context: _Context
) -> Article:
    notes: list[str] = []
    if context.encoding_note:
        notes.append(context.encoding_note)
    if page is None:
        given = f" (its link {link[:80]!r} cannot be resolved)" if link else ""
        where = "url is the feed's site" if context.site else "no url"
        notes.append(f"no link of its own{given}: id from the feed and the entry; {where}")
    published = _date(entry, "published", notes)
    updated = _date(entry, "updated", notes)
    repair = context.repair
    title = _text(str(entry.get("title", "")), "title", TITLE_CHARS, notes, repair)
    summary = _text(str(entry.get("summary", "")), "summary", TEXT_CHARS, notes, repair)
    body = _text(_body(entry), "body", TEXT_CHARS, notes, repair)
    return Article(
        id=id_,
        url=link if page else context.site,
        canonical_url=page,
        source=context.source,
        title=title,
        summary=summary,
        body=body,
        authors=tuple(str(a.get("name")) for a in entry.get("authors", []) if a.get("name")),
        media=_media(entry),
        published_at=published or updated,
        updated_at=updated,
        fetched_at=context.fetched_at,
        date_missing=published is None and updated is None,
        notes=tuple(notes),
    )
