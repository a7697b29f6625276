"""Numbers read from what others wrote (feeds, HTTP headers): ASCII digits only,
bounded before conversion, so that '²', '٣' or 5,000 digits cost nothing and
fail nothing."""

from __future__ import annotations


def whole_number(text: object, ceiling: int) -> int | None:
    """A non-negative whole number written in ASCII digits, at most `ceiling`
    (larger ones read as `ceiling`); None for anything else."""
    value = str(text or "").strip()
    if not value or not value.isascii() or not value.isdecimal():
        return None
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(ceiling)) and int(digits) <= ceiling else ceiling
