"""The feed list (`config/feeds.yaml`) and OPML import into it.

A bad entry is reported with file, line and reason and the others still load:
one typo must not take a news desk's thousand feeds down.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any) -> float:
    """300, "300", "5m", "1h", "1d" -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use seconds or 30s, 15m, 2h, 1d)")
    return float(match[1]) * _UNITS[match[2]]


class FeedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)
    url: str
    name: str | None = None
    language: str | None = None  # hint, ISO 639-1 (or a tag such as fr-FR)
    interval: float | None = None  # seconds; None: the connector's adaptive default
    tags: tuple[str, ...] = ()
    full_text: bool = False  # fetch each article's page and extract its main text
    conditional_get: bool = True  # off for servers whose ETag/Last-Modified lie
    # An intranet feed: may reach loopback and private addresses (SECURITY.md).
    allow_private: bool = False

    @classmethod
    def at(cls, location: str, feed_id: str, **fields: Any) -> FeedConfig:
        """A one-off feed for a URL or a local path (`vigie ingest`, `feeds check`)."""
        if not location.startswith(("http://", "https://", "file://")):
            location = Path(location).resolve().as_uri()
        return cls(id=feed_id, url=location, **fields)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https?|file)://[^\s/]*[^\s]*$", value):
            raise ValueError("must be an http(s):// or file:// URL")
        return value

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> float | None:
        if value is None:
            return None
        found = seconds(value)
        if found < 30:
            raise ValueError("must be at least 30 seconds")
        return found


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class FeedList:
    feeds: list[FeedConfig]
    problems: list[Problem]


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
    )


def shard_of(feed_id: str, shards: int) -> int:
    """The shard a feed belongs to: from a hash of its id, so the same on every
    machine and run (Python's own `hash` of a str is not)."""
    return int.from_bytes(hashlib.blake2b(feed_id.encode(), digest_size=8).digest()) % shards


def in_shard(feeds: list[FeedConfig], shard: int, shards: int) -> list[FeedConfig]:
    return [feed for feed in feeds if shard_of(feed.id, shards) == shard]


def load_feeds(path: Path) -> FeedList:
    """Every valid feed of the file, and a Problem for each entry that is not."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        return FeedList([], [Problem(path, 0, f"cannot read: {exc.strerror or exc}")])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        return FeedList([], [Problem(path, line, f"not valid YAML: {exc}")])
    if data is None:
        return FeedList([], [])
    entries = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(entries, list) or root is None:
        return FeedList([], [Problem(path, 1, "expected a top-level `feeds:` list")])
    nodes = next(v for k, v in root.value if k.value == "feeds").value
    feeds: list[FeedConfig] = []
    problems: list[Problem] = []
    seen_ids: dict[str, int] = {}
    seen_urls: dict[str, int] = {}
    for entry, node in zip(entries, nodes, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(entry, dict):
            problems.append(Problem(path, line, "a feed is a mapping with at least id and url"))
            continue
        url = entry.get("url")
        if isinstance(url, str) and url and "://" not in url:  # a local file, for replays
            entry = {**entry, "url": (path.parent / url).resolve().as_uri()}
        try:
            feed = FeedConfig.model_validate(entry)
        except ValidationError as exc:
            problems.append(Problem(path, line, _reason(exc)))
            continue
        if feed.id in seen_ids:
            problems.append(
                Problem(path, line, f"id {feed.id!r} already used on line {seen_ids[feed.id]}")
            )
            continue
        if feed.url in seen_urls:
            problems.append(
                Problem(path, line, f"url already listed on line {seen_urls[feed.url]}")
            )
            continue
        seen_ids[feed.id] = seen_urls[feed.url] = line
        feeds.append(feed)
    return FeedList(feeds, problems)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feed"


@dataclass
class Imported:
    added: list[FeedConfig]
    skipped: list[str]  # already listed
    problems: list[Problem]


def read_opml(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """(line, feed fields) of every outline with an xmlUrl; categories become tags."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        tree = etree.parse(str(path), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        return [], [Problem(path, 0, f"cannot read OPML: {exc}")]
    problems = [
        Problem(path, error.line, f"malformed OPML: {error.message}") for error in parser.error_log
    ]
    found: list[tuple[int, dict[str, Any]]] = []
    for outline in tree.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url:
            continue
        categories = [
            parent.get("text") or parent.get("title") for parent in outline.iterancestors("outline")
        ]
        fields: dict[str, Any] = {
            "url": url.strip(),
            "name": outline.get("title") or outline.get("text") or None,
            "tags": [c for c in reversed(categories) if c],
        }
        if language := outline.get("language"):
            fields["language"] = language
        line = outline.sourceline
        found.append((line if isinstance(line, int) else 0, fields))
    return found, problems


def import_opml(opml: Path, feeds_file: Path) -> Imported:
    """Append the OPML's feeds that are not listed yet to `feeds_file`, keeping the
    file's own text and comments."""
    current = load_feeds(feeds_file) if feeds_file.exists() else FeedList([], [])
    ids = {f.id for f in current.feeds}
    urls = {f.url for f in current.feeds}
    outlines, problems = read_opml(opml)
    added: list[FeedConfig] = []
    skipped: list[str] = []
    for line, fields in outlines:
        if fields["url"] in urls:
            skipped.append(fields["url"])
            continue
        base = slug(fields["name"] or re.sub(r"^\w+://", "", fields["url"]))
        feed_id, n = base, 2
        while feed_id in ids:
            feed_id, n = f"{base}-{n}", n + 1
        try:
            feed = FeedConfig.model_validate({"id": feed_id, **fields})
        except ValidationError as exc:
            problems.append(Problem(opml, line, _reason(exc)))
            continue
        ids.add(feed.id)
        urls.add(feed.url)
        added.append(feed)
    if added:
        text = feeds_file.read_text(encoding="utf-8") if feeds_file.exists() else ""
        if not text.strip():
            text = "feeds:\n"
        entries = [
            feed.model_dump(exclude_defaults=True, mode="json") | {"id": feed.id, "url": feed.url}
            for feed in added
        ]
        block = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False)
        indented = "".join(f"  {line}" if line.strip() else line for line in block.splitlines(True))
        feeds_file.parent.mkdir(parents=True, exist_ok=True)
        feeds_file.write_text(
            text.rstrip("\n") + f"\n  # imported from {opml.name}\n" + indented, encoding="utf-8"
        )
    return Imported(added, skipped, problems)
