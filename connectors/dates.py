"""A second reading of feed dates feedparser could not read.

Real feeds write RFC 822 dates with a misspelt or translated weekday
("Wes, 18 Aug 2021", "Seg, 24 Set 2018"), month names in their own language,
unpadded times ("4:35:5") or offsets such as "GMT+9". Those are read here. A
date without a time zone stays unread: guessing the zone would invent the time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from functools import cache

from babel.dates import get_month_names

# Languages whose month names are accepted, besides English.
_LOCALES = ("en", "fr", "es", "pt", "it", "de", "nl", "ca", "ro", "pl", "sv", "da", "no")
_ENGLISH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_WEEKDAY = re.compile(r"^\s*[^\W\d]{2,12}\.?\s*,\s*")
_OFFSET = re.compile(r"(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$")
_TIME = re.compile(r"\b(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?\b")
_WORD = re.compile(r"[^\W\d]+\.?")
# email.utils reads a missing or unknown zone as UTC: accept only zones it knows.
_ZONE = re.compile(r"(?:[+-]\d{4}|\b(?:GMT|UTC?|Z|[ECMP][SD]T))\s*$", re.IGNORECASE)


@cache
def _months() -> dict[str, str]:
    """Month name or abbreviation (case-folded, in any of _LOCALES) -> English
    abbreviation; a word that names two different months is left out."""
    found: dict[str, set[int]] = {}
    for locale in _LOCALES:
        for width in ("abbreviated", "wide"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, locale).items():
                    found.setdefault(name.casefold().rstrip("."), set()).add(number)
    return {name: _ENGLISH[next(iter(n)) - 1] for name, n in found.items() if len(n) == 1}


def lenient_date(text: str) -> datetime | None:
    value = _WEEKDAY.sub("", text)
    value = _OFFSET.sub(lambda m: f"{m[1]}{int(m[2]):02d}{m[3] or '00'}", value)
    value = _TIME.sub(lambda m: ":".join(f"{int(p or 0):02d}" for p in m.groups()), value)
    months = _months()
    value = _WORD.sub(lambda m: months.get(m[0].casefold().rstrip("."), m[0]), value)
    parts = parsedate_tz(value) if _ZONE.search(value) else None
    if parts is None or parts[9] is None:
        return None
    try:
        local = datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=parts[9])))
        return local.astimezone(UTC)
    except (ValueError, OverflowError):  # out of range, or past it once in UTC
        return None
