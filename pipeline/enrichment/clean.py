"""Article text cleanup: HTML and markdown to plain text, page boilerplate removed.

Boilerplate goes two ways: the lines listed in boilerplate.yaml, and, in any
language, by its shape (issue #15): link-dense lists in HTML, and a block of short
headline-like lines closing the text (related stories, most read, a menu)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html import unescape
from pathlib import Path

import yaml
from selectolax.lexbor import LexborHTMLParser, LexborNode

# Every pattern over article text is linear: no span may run past the next
# opening bracket of its own kind, and each span is bounded. (`[^\]]*` alone made
# a feed entry of 100 KB of "[" cost minutes: each "[" scanned to the end.)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,500}\]\([^()\s]{0,2000}\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]{0,500})\]\([^()\s]{0,2000}\)")
_HTML_HINT = re.compile(r"<[a-zA-Z/!][^<>]{0,2000}>")
# Runs of spaces, tabs and no-break spaces, but a lone space (most of them, and
# already what a run becomes): a replacement for every word was most of the time.
_SPACES = re.compile(r"[\t\u00a0][ \t\u00a0]*| [ \t\u00a0]+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
     "section", "article", "header", "footer", "figure", "figcaption", "table", "hr", "pre"}
)  # fmt: skip
_DROPPED = ["iframe", "noscript", "script", "style", "svg", "template"]


# Blocks break lines, as the text is read: a newline before and after each (the
# empty lines this leaves are dropped with the other blank ones).
_BLOCKS = ",".join(sorted(_BLOCK_TAGS))

# Link-dense lists: a list whose text is mostly link text is a list of other pages
# (related stories, a menu, "get our app, newsletter or podcast"), not the article.
# Lists only: paragraphs and <div>s of the real feeds are often link-dense prose
# (Global Voices, Londonist, TIME link every other phrase: up to 0.87).
_LINK_LISTS = "ul,ol,menu,nav,aside"
# Share of a list's text (spaces aside) inside <a>. Real feeds: content lists with
# links 0.40-0.48 (20minutos, Londonist); related-story, product and promotion
# lists 0.84-1.0 (Guardian, TIME, Six Apart).
_LINK_SHARE = 0.7
# One link in a list is a citation more often than a list of pages.
_MIN_LINKS = 2
# Each list's text is read once, nested ones again within their parents': at most
# this many lists, and this many characters read per character of HTML, keep it
# linear (10,000 nested lists would be read 10,000 times). Real entries: up to 16.
_MAX_LISTS = 32
_LIST_READ_PER_CHAR = 2
_ANCESTORS = 64

# A closing block of headline-like lines: at least _BLOCK_LINES lines at the end of
# the text, each shorter than _SHORT_LINE word-equivalents and not ending a
# sentence. Three: two short lines at the end are as often a byline and a date,
# or a signature, and cost little. Sixteen: the real feeds' titles have 8-10 words
# at the median, 13-14 at the 90th percentile, 16 at the 95th in English; a
# headline longer than that stops the block there (the lines after it still go).
_BLOCK_LINES = 3
_SHORT_LINE = 16
# The prose before the block must weigh this many times the block: furniture is
# small beside an article (TIME: 5 headlines after 300-1,000 words), while a
# list-style article (an intro, then the list) or a gallery (a line, then
# captions) has about as much list as prose, or more.
_PROSE_PER_BLOCK = 3
# Characters of scripts written without spaces count as half a word each (a
# Chinese word is 1.5-2 characters; a 30-character Chinese headline is "short").
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]"
)
# A line ending so is a sentence, not a headline: headlines end in a word, a number,
# "?" (6% of the real feeds' titles), "!" or "..." cut, under 1% in ".".
_SENTENCE_END = frozenset(".\u3002\uff0e\u06d4\u0964\u104b\u1362")
_CLOSERS = "\"'\u201d\u2019\u00bb)]\uff09\u300d\u300f\u3011"


def html_to_text(html: str) -> str:
    """The text of an HTML fragment, lines broken at blocks, scripts and the like
    dropped. Lexbor (selectolax) parses as browsers do, at 1.7x the speed of
    html.parser, with the same text on every real feed entry (bench/enrich_compare)."""
    if not _HTML_HINT.search(html):
        return unescape(html)
    # With scripting on, <noscript> holds raw text, dropped with it; off, a
    # <noscript> first in the fragment would lose its content to the body.
    tree = LexborHTMLParser(html, scripting=True)
    tree.strip_tags(_DROPPED)  # with their content
    _drop_link_lists(tree, _LIST_READ_PER_CHAR * len(html))
    for block in tree.css(_BLOCKS):
        block.insert_before("\n")
        block.insert_after("\n")
    root = tree.root
    return root.text() if root is not None else ""


def _drop_link_lists(tree: LexborHTMLParser, budget: int) -> None:
    """Removes the lists whose text is mostly link text (_LINK_SHARE), when the text
    left is at least as long as the text removed: a page that is a list of links (a
    links roundup, a title-only digest) keeps it."""
    lists = tree.css(_LINK_LISTS)
    if not lists:
        return
    dropped: list[LexborNode] = []
    dropped_ids: set[int] = set()
    dropped_chars = 0
    for node in lists[:_MAX_LISTS]:
        text = len(node.text(strip=True))
        budget -= text + 1
        if budget < 0:
            break
        if text == 0:
            continue
        anchors = node.css("a")
        if len(anchors) < _MIN_LINKS:
            continue
        linked = sum(len(a.text(strip=True)) for a in anchors)
        budget -= linked
        if linked < _LINK_SHARE * text:
            continue
        # Inside a list already dropped, its text is counted there. (A list deeper
        # than _ANCESTORS in the other is counted twice: the guard below is then
        # only stricter.)
        parent, inside = node.parent, False
        for _ in range(_ANCESTORS):
            if parent is None or (inside := parent.mem_id in dropped_ids):
                break
            parent = parent.parent
        if not inside:
            dropped.append(node)
            dropped_ids.add(node.mem_id)
            dropped_chars += text
    if not dropped:
        return
    root = tree.root
    total = len(root.text(strip=True)) if root is not None else 0
    if total - dropped_chars < dropped_chars:
        return
    for node in dropped:
        node.decompose(recursive=False)  # detached with its subtree: O(1)


def _weight(line: str) -> float:
    """A line's length in words: spaced words, and characters of scripts written
    without spaces at half a word each."""
    words = line.count(" ") + 1  # the lines' spaces are single (Cleaner.clean)
    if line.isascii():
        return words
    return words + len(_UNSPACED.findall(line)) / 2


def _is_headline_like(line: str) -> bool:
    return line.rstrip(_CLOSERS)[-1:] not in _SENTENCE_END and _weight(line) < _SHORT_LINE


def drop_closing_block(lines: list[str]) -> list[str]:
    """`lines` without the block of headline-like lines that closes them (related
    stories, most read, other headlines, a menu and the heading that announces it),
    when it has at least _BLOCK_LINES lines and the lines before it hold prose (lines
    that are not headline-like) _PROSE_PER_BLOCK times as long as the block. So a
    text of short lines only (a title, a classified ad), a list-style article or a
    photo gallery of captions is left whole."""
    start = len(lines)
    block = 0.0
    while start > 0 and _is_headline_like(lines[start - 1]):
        start -= 1
        block += _weight(lines[start])
    if len(lines) - start < _BLOCK_LINES or start == 0:
        return lines
    needed, prose = _PROSE_PER_BLOCK * block, 0.0
    for line in reversed(lines[:start]):
        if not _is_headline_like(line):
            prose += _weight(line)
            if prose >= needed:
                return lines[:start]
    return lines


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
        if "](" in text:  # both markdown patterns need it
            text = _MD_IMAGE.sub("", text)
            text = _MD_LINK.sub(r"\1", text)
        text = html_to_text(text)
        joined = "\n".join(line for raw in text.splitlines() if (line := raw.strip()))
        if not joined:
            return ""
        # Stripping first leaves the runs inside lines, seldom any: one look for
        # them instead of a regex scan of every text. (The same lines: the runs are
        # whitespace, and whitespace at either end is stripped either way.)
        if "  " in joined or "\t" in joined or "\u00a0" in joined:
            joined = _SPACES.sub(" ", joined)
        lines = joined.split("\n")
        # Each line's key (_line_key), for all lines at once: NFC and case folding
        # act within a line, and neither makes nor removes a line break.
        folded = unicodedata.normalize("NFC", joined).casefold().split("\n")
        keys = [k.strip().rstrip(":").strip() for k in folded]
        if len(keys) != len(lines):  # not expected; the line by line way
            keys = [_line_key(line) for line in lines]
        boilerplate, prefixes = self._boilerplate, self._prefixes
        kept = [
            line
            for line, key in zip(lines, keys, strict=True)
            if key not in boilerplate and not key.startswith(prefixes)
        ]
        return "\n".join(drop_closing_block(kept))
