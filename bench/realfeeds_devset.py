"""The real-feed dev set: passages of ../shared/realfeeds cut by a fixed rule, and
the annotations (tests/data/devset_realfeeds.jsonl) that point at them.

The repository keeps only the labels; a passage's text is read from the feed file
at run time, parsed by the connector and cleaned by the worker's Cleaner, and its
hash must match the one the annotation was written against.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vigie.article import Article

REPO = Path(__file__).resolve().parents[1]
REALFEEDS = REPO.parent / "shared" / "realfeeds"
ANNOTATIONS = REPO / "tests" / "data" / "devset_realfeeds.jsonl"

# The cut every annotation names: title + "\n" + body (the summary when there is no
# body), both as the worker's Cleaner leaves them, then at most PASSAGE_CHARS
# characters, ending at the last sentence end or line break within them (past
# MIN_CUT), else at the last space, else hard.
CUT_RULE = "title+body-1200"
PASSAGE_CHARS = 1200
MIN_CUT = 400
_SENTENCE_END = re.compile(r"(?:[.!?…»\"”)](?=\s)|[。！？۔؟]|\n)")
# Relative links resolve against this, not the folder the feeds happen to be in,
# so an entry's id does not depend on where ../shared is.
_BASE = "https://realfeeds.invalid/"


class DevsetError(Exception):
    """The real-feed dev set cannot be read as annotated; the message says why."""


@dataclass(frozen=True)
class Passage:
    feed: str  # file name in the real-feeds folder
    entry: str  # the connector's article id for the entry
    link: str | None
    text: str
    language_hint: str | None  # what the feed declares

    @property
    def sha(self) -> str:
        return digest(self.text)


@dataclass(frozen=True)
class Annotation:
    feed: str
    entry: str
    link: str | None
    cut: str
    sha: str
    lang: str
    countries: tuple[str, ...]
    persons: tuple[str, ...]  # watchlist ids (`person:...`) or names
    authors: tuple[str, ...]  # bylines: named, never scored as persons
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.feed}#{self.entry[:10]}"

    @classmethod
    def from_json(cls, line: str, where: str) -> Annotation:
        try:
            data: dict[str, Any] = json.loads(line)
            return cls(
                feed=str(data["feed"]),
                entry=str(data["entry"]),
                link=data.get("link"),
                cut=str(data["cut"]),
                sha=str(data["sha256"]),
                lang=str(data["lang"]),
                countries=tuple(data["countries"]),
                persons=tuple(data["persons"]),
                authors=tuple(data.get("authors", ())),
                note=str(data.get("note", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DevsetError(f"{where}: not an annotation ({exc!r})") from exc


def digest(text: str) -> str:
    """A short sha256 of a passage: enough to see that a feed file changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cut(text: str, limit: int = PASSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() >= MIN_CUT]
    if ends:
        return head[: ends[-1]].rstrip()
    space = head.rfind(" ")
    return head[:space].rstrip() if space >= MIN_CUT else head


@cache
def feed_articles(folder: Path, name: str) -> tuple[Article, ...]:
    """One real feed's entries as the connector's articles (links resolved against
    _BASE, so an entry's id does not depend on where the feeds folder is)."""
    from connectors.feed import FeedDocument, FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug

    path = folder / name
    if not path.is_file():
        raise DevsetError(f"{path}: feed file missing (the dev sets read their text there)")
    document = read_feed(str(path))
    document = FeedDocument(document.data, _BASE + name, document.headers)
    try:
        parsed = parse_feed(document, FeedConfig(id=slug(path.stem), url=_BASE + name))
    except FeedError as exc:
        raise DevsetError(f"{path}: {exc}") from exc
    return tuple(parsed.articles)


@cache
def feed_passages(folder: Path, name: str) -> tuple[Passage, ...]:
    """Every entry of one real feed as the passage the annotations are written on."""
    from pipeline.enrichment.clean import Cleaner
    from vigie.paths import package_data

    cleaner = Cleaner.from_config(package_data() / "boilerplate.yaml")
    passages = []
    for article in feed_articles(folder, name):
        title = cleaner.clean(article.title)
        rest = cleaner.clean(article.body) or cleaner.clean(article.summary)
        text = cut("\n".join(part for part in (title, rest) if part))
        passages.append(Passage(name, article.id, article.url, text, article.source.language_hint))
    return tuple(passages)


def load_annotations(path: Path = ANNOTATIONS) -> list[Annotation]:
    if not path.is_file():
        raise DevsetError(f"{path}: annotation file missing")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        Annotation.from_json(line, f"{path.name}:{n}")
        for n, line in enumerate(lines, 1)
        if line.strip()
    ]


def resolve(
    annotations: list[Annotation], folder: Path = REALFEEDS
) -> list[tuple[Annotation, Passage]]:
    """Each annotation with the passage it was written on; DevsetError when the
    folder, a feed, an entry is missing or a passage's text has changed."""
    if not folder.is_dir():
        raise DevsetError(
            f"{folder}: real-feeds folder missing; the dev set's passages are read from "
            "there (../shared/realfeeds beside the checkout)"
        )
    resolved = []
    for a in annotations:
        if a.cut != CUT_RULE:
            raise DevsetError(f"{a.id}: cut {a.cut!r}, this code cuts {CUT_RULE!r}")
        by_entry = {p.entry: p for p in feed_passages(folder, a.feed)}
        passage = by_entry.get(a.entry)
        if passage is None:
            raise DevsetError(f"{a.feed}: no entry {a.entry} (link {a.link}) in the feed")
        if passage.sha != a.sha:
            raise DevsetError(
                f"{a.id}: passage text changed (sha256 {passage.sha}, annotated {a.sha}); "
                "the feed file or the parse/clean code differs from the annotated one"
            )
        resolved.append((a, passage))
    return resolved
