"""Article text cleanup: HTML and markdown to plain text, page boilerplate removed."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import yaml

# Every pattern over article text is linear: no span may run past the next
# opening bracket of its own kind, and each span is bounded. (`[^\]]*` alone made
# a feed entry of 100 KB of "[" cost minutes: each "[" scanned to the end.)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,500}\]\([^()\s]{0,2000}\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]{0,500})\]\([^()\s]{0,2000}\)")
_HTML_HINT = re.compile(r"<[a-zA-Z/!][^<>]{0,2000}>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
     "section", "article", "header", "footer", "figure", "figcaption", "table", "hr", "pre"}
)  # fmt: skip
_DROPPED_TAGS = frozenset({"script", "style", "noscript", "iframe", "svg", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    if not _HTML_HINT.search(html):
        return unescape(html)
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def _line_key(line: str) -> str:
    return unicodedata.normalize("NFC", line).strip().rstrip(":").strip().casefold()


class Cleaner:
    """Turns a feed's title/summary/body into the plain text that is analysed."""

    def __init__(self, boilerplate: Iterable[str]) -> None:
        entries = list(boilerplate)
        # "Lire aussi *": any line that starts so ("Lire aussi : le récit de ...").
        self._prefixes = tuple(
            _line_key(e.removesuffix("*")) for e in entries if e.rstrip().endswith("*")
        )
        self._boilerplate = frozenset(_line_key(e) for e in entries if not e.rstrip().endswith("*"))

    def _is_boilerplate(self, line: str) -> bool:
        key = _line_key(line)
        return key in self._boilerplate or key.startswith(self._prefixes)

    @classmethod
    def from_config(cls, path: Path) -> Cleaner:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of language -> list of lines")
        lines: list[str] = []
        for language, entries in data.items():
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise ValueError(f"{path}: `{language}` must be a list of strings")
            lines.extend(entries)
        return cls(lines)

    def clean(self, text: str) -> str:
        text = _MD_IMAGE.sub("", text)
        text = _MD_LINK.sub(r"\1", text)
        text = html_to_text(text)
        kept = []
        for raw_line in text.splitlines():
            line = _SPACES.sub(" ", raw_line).strip()
            if line and not self._is_boilerplate(line):
                kept.append(line)
        return "\n".join(kept)
