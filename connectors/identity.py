"""Which entries of a feed are one article, and the id each article gets.

An entry's page is its canonical URL. Entries of one page are one article only
when nothing tells them apart: a true repeat (same GUID, or same link and title)
is folded into the first; entries that share a page but not their GUID, link
fragment or title (a blog's day page with one anchor per post, a thread's
summary item) are articles of their own. An entry without a usable link is an
article all the same, standing for itself by its feed and GUID (or, without one,
its title and date).

Ids never change for an entry: one alone on its page keeps the page's id
(`article_id(canonical_url)`, the id entries always had); entries that share a
page add what tells them apart to it; and the connector's state keeps an id once
given (`settled`), so an entry keeps its id when another comes to share its page,
or when the others leave it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vigie.article import Article, article_id


@dataclass(frozen=True)
class Entry:
    """What identifies one feed entry (texts as the feed gives them, unrepaired)."""

    page: str | None  # canonical URL; None when the entry has no usable link
    fragment: str = ""  # of its link: the anchor that canonical URLs drop
    guid: str = ""
    title: str = ""
    date: str = ""  # publication date as written, "" when none
    text: str = ""  # summary and body


@dataclass(frozen=True)
class Identity:
    """The two ids an entry can have: its page's (`base`) and its own among the
    entries of that page (`own`); they are the same for an entry without a link
    that has a GUID, which tells it apart from any other already."""

    base: str
    own: str


def identity(entry: Entry, feed_id: str) -> Identity:
    if entry.page is not None:
        told = ("guid", entry.guid) if entry.guid else ("link", entry.fragment, entry.title)
        return Identity(article_id(entry.page), article_id(entry.page, *told))
    # Not a URL (no "://"), so it can never be a page's id.
    key = f"entry:{feed_id}"
    if entry.guid:
        only = article_id(key, "guid", entry.guid)
        return Identity(only, only)
    base = ("title", entry.title, "date", entry.date)
    text = hashlib.sha256(entry.text.encode()).hexdigest()
    return Identity(article_id(key, *base), article_id(key, *base, "text", text))


def is_repeat(entry: Entry, earlier: Entry) -> bool:
    """The same entry published twice (both on one base id already)."""
    if entry.guid and entry.guid == earlier.guid:
        return True
    if entry.page is not None:
        return (entry.fragment, entry.title) == (earlier.fragment, earlier.title)
    return not entry.guid and not earlier.guid and entry == earlier


@dataclass(frozen=True)
class Assigned:
    id: str
    identity: Identity
    repeats: int | None  # position of the earlier entry this one repeats


def assign(entries: Sequence[Entry], feed_id: str) -> list[Assigned]:
    """Each entry's id, or the earlier entry it repeats. An entry alone on its base
    gets the base id; entries that share it, their own ids."""
    identities = [identity(e, feed_id) for e in entries]
    members: dict[str, list[int]] = {}
    repeats: dict[int, int] = {}
    for position, (entry, ident) in enumerate(zip(entries, identities, strict=True)):
        group = members.setdefault(ident.base, [])
        earlier = next((p for p in group if is_repeat(entry, entries[p])), None)
        if earlier is None:
            group.append(position)
        else:
            repeats[position] = earlier
    assigned = []
    for position, ident in enumerate(identities):
        shared = len(members[ident.base]) > 1
        assigned.append(Assigned(ident.own if shared else ident.base, ident, repeats.get(position)))
    return assigned


def settled(
    articles: Sequence[Article],
    identities: Mapping[str, Identity],
    known: Mapping[str, str],
    fingerprint_of: Callable[[Article], str],
) -> list[Article]:
    """The articles with the ids the connector's state already gave their entries.

    `known` maps the ids the state holds to their fingerprints. An entry alone on
    its page whose own id is known was told apart from a neighbour before, and
    keeps that id; an entry that now shares its page, whose own id is not known but
    whose page's id is, with its very fingerprint, had the page to itself before,
    and keeps the page's id (for one entry at most)."""
    taken = {a.id for a in articles}
    result = []
    for article in articles:
        ident = identities.get(article.id)
        chosen = article.id
        if ident is not None and ident.own != ident.base:
            if article.id == ident.base and ident.own in known:
                chosen = ident.own
            elif (
                article.id == ident.own
                and ident.own not in known
                and ident.base not in taken
                and known.get(ident.base) == fingerprint_of(article)
            ):
                chosen = ident.base
        taken.add(chosen)
        result.append(
            article if chosen == article.id else article.model_copy(update={"id": chosen})
        )
    return result
