"""Which encoding a feed is read with, and what its articles say of it.

feedparser follows RFC 3023 to the letter: a `text/xml` answer without a charset
is us-ascii, an answer without Content-Type is iso-8859-1, whatever the document
says. Servers rarely mean that, and a file gets no such rule: so the transport's
Content-Type reaches feedparser only when it names a charset. Otherwise the
document decides (BOM, XML declaration), and where it declares nothing either,
feedparser's own detection on the bytes, exactly as for a file.
"""

from __future__ import annotations

import codecs
import re

# Longest first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
# Leading blank lines are allowed: a declaration a line too low (Londonist's
# feed) still says what the publisher meant.
_XML_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


def transport_charset(headers: dict[str, str]) -> str | None:
    found = _CHARSET.search(headers.get("content-type", ""))
    return found.group(1) if found else None


def document_encoding(data: bytes) -> str | None:
    """The encoding the document itself declares: its BOM, or its XML declaration."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    found = _XML_ENCODING.match(data[:512])
    return found.group(1).decode("ascii") if found else None


def parser_headers(headers: dict[str, str]) -> dict[str, str] | None:
    """The response headers to give feedparser (None for a file): a Content-Type
    without charset becomes application/xml, under which feedparser goes by the
    document and its own detection, as for a file."""
    if not headers:
        return None
    if transport_charset(headers):
        return headers
    return {**headers, "content-type": "application/xml"}


def declared_encoding(data: bytes, headers: dict[str, str]) -> str | None:
    return transport_charset(headers) or document_encoding(data)


def encoding_note(declared: str | None, used: str) -> str | None:
    """What an article says of its feed's encoding: the one assumed where nothing
    was declared, or the one used where the declared one did not decode."""
    if not used:
        return None
    if declared is None:
        return f"encoding: none declared; read as {used} (feedparser's detection)"
    if _same(declared, used):
        return None
    return f"encoding: declared {declared} does not decode the feed; read as {used}"


def guessed(declared: str | None, used: str) -> bool:
    """True when nothing was declared and the bytes are not UTF-8 (XML's default):
    the text is then what a guess made of them."""
    return declared is None and not _same("utf-8", used)


def _same(declared: str, used: str) -> bool:
    try:
        one, other = _family(declared), _family(used)
    except LookupError:
        return False
    # feedparser reads gb2312 as its superset gb18030, on purpose.
    return one == other or {one, other} == {"gb2312", "gb18030"}


def _family(name: str) -> str:
    # utf-16 and utf-32 as declared by a BOM are read as their -le or -be form.
    found = codecs.lookup(name).name
    return found.removesuffix("-le").removesuffix("-be")
