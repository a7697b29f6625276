"""Main text of an article page, for feeds that only carry a summary."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import trafilatura

from connectors.fetch import Fetcher, FetchError
from vigie.article import Article, capped

# A body at least this long is taken to be the article already.
ENOUGH_CHARS = 1500


def needs_full_text(article: Article) -> bool:
    return len(article.body) < ENOUGH_CHARS


class FullText:
    """Fetches pages through the feed fetcher (same per-host politeness) with its own,
    smaller concurrency bound: pages are many and heavy next to feeds."""

    def __init__(self, fetcher: Fetcher, concurrency: int) -> None:
        self._fetcher = fetcher
        self._slots = asyncio.Semaphore(concurrency)

    async def complete(self, article: Article, allow_private: bool = False) -> Article:
        """The article with its page's main text as body; unchanged, with a note
        saying why, when the page cannot be fetched or has no main text."""
        if article.canonical_url is None or article.url is None:
            # A link-less entry's url is its feed's site, not a page of its own.
            return _noted(article, "full text not fetched: the entry has no link of its own")
        async with self._slots:
            try:
                final_url, body, headers = await self._fetcher.page(article.url, allow_private)
            except FetchError as exc:
                return _noted(article, f"full text not fetched: {exc}")
            text = await asyncio.to_thread(_extract, body, final_url, headers)
        if not text:
            return _noted(article, "full text: no main text found on the page")
        return capped(article.model_copy(update={"body": text}))

    async def complete_all(
        self, articles: Sequence[Article], allow_private: bool = False
    ) -> list[Article]:
        """Each article whose body is short, completed (in order; see `complete`)."""

        async def one(article: Article) -> Article:
            if not needs_full_text(article):
                return article
            return await self.complete(article, allow_private)

        return list(await asyncio.gather(*(one(a) for a in articles)))


def _extract(body: bytes, url: str, headers: dict[str, str]) -> str | None:
    charset = headers.get("content-type", "").partition("charset=")[2].split(";")[0].strip()
    try:
        html = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        html = body.decode("utf-8", errors="replace")
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    return str(text) if text else None


def _noted(article: Article, note: str) -> Article:
    return article.model_copy(update={"notes": (*article.notes, note)})
