"""What the connector remembers across restarts, in one SQLite file.

- per feed: HTTP validators (ETag, Last-Modified, body hash), the adapted poll
  interval, when to poll next, failures in a row, last success and last error;
- per article id: a fingerprint of its content, so an unchanged entry is never
  produced twice and a changed one is produced once more, as an update;
- an outbox of articles accepted from a feed but not yet acknowledged by Kafka.

A poll's new articles, their fingerprints and the feed's validators are written
in one transaction, before anything is sent; the outbox row goes away only once
Kafka has acknowledged (acks=all). A broker outage or a SIGTERM therefore loses
nothing, and a crash between the acknowledgement and the delete sends an article
once more, which downstream indexes by id (at least once, never silently lost).

SQLite because the state is the connector's own (one process per file), small,
and must survive restarts without another service to run; Kafka itself cannot
say which entries were already seen without reading the whole topic back.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.fetch import Validators
from connectors.identity import Identity, settled
from vigie.article import Article

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT, body_hash TEXT,
    interval REAL, next_poll REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_success REAL, last_error TEXT, last_error_kind TEXT,
    last_parsed REAL
);
CREATE TABLE IF NOT EXISTS entries (
    article_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    feed_id TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""


def fingerprint(article: Article) -> str:
    """What makes an entry 'changed': its text, title, link and declared update time,
    not when it was fetched."""
    parts = [
        article.canonical_url or "",
        article.title,
        article.summary,
        article.body,
        article.updated_at.isoformat() if article.updated_at else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    validators: Validators
    interval: float | None
    next_poll: float
    failures: int
    last_success: float | None
    last_error: str | None
    last_error_kind: str | None


@dataclass(frozen=True)
class Novelty:
    new: list[Article]
    updated: list[Article]
    seen: int  # entries already produced, unchanged


class State:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def feed(self, feed_id: str) -> FeedState:
        row = self._db.execute(
            "SELECT etag, last_modified, body_hash, interval, next_poll, failures,"
            " last_success, last_error, last_error_kind FROM feeds WHERE feed_id = ?",
            (feed_id,),
        ).fetchone()
        if row is None:
            return FeedState(feed_id, Validators(), None, 0.0, 0, None, None, None)
        return FeedState(feed_id, Validators(*row[:3]), *row[3:])

    def feeds(self) -> dict[str, FeedState]:
        ids = [r[0] for r in self._db.execute("SELECT feed_id FROM feeds")]
        return {feed_id: self.feed(feed_id) for feed_id in ids}

    def fingerprints(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The fingerprints of those of these ids that were produced."""
        found = {}
        for article_id in set(article_ids):
            row = self._db.execute(
                "SELECT fingerprint FROM entries WHERE article_id = ?", (article_id,)
            ).fetchone()
            if row is not None:
                found[article_id] = str(row[0])
        return found

    def settled(
        self, articles: Sequence[Article], identities: Mapping[str, Identity]
    ) -> list[Article]:
        """A parse's articles with the ids already given to their entries
        (connectors/identity.py)."""
        ids = [i for identity in identities.values() for i in (identity.base, identity.own)]
        return settled(articles, identities, self.fingerprints(ids), fingerprint)

    def novelty(self, articles: Iterable[Article]) -> Novelty:
        new: list[Article] = []
        updated: list[Article] = []
        seen = 0
        for article in articles:
            row = self._db.execute(
                "SELECT fingerprint FROM entries WHERE article_id = ?", (article.id,)
            ).fetchone()
            if row is None:
                new.append(article)
            elif row[0] != fingerprint(article):
                updated.append(article)
            else:
                seen += 1
        return Novelty(new, updated, seen)

    def accept(
        self,
        feed_id: str,
        accepted: list[tuple[str, Article]],
        seen_ids: Iterable[str] | None,
        validators: Validators,
        interval: float,
        next_poll: float,
    ) -> None:
        """One successful poll, in one transaction: its new and updated articles (with
        the fingerprint of their feed version) into the outbox, the fingerprints, the
        feed's validators and next poll. `seen_ids` is None when the feed was
        unchanged (not parsed)."""
        now = time.time()
        with self._transaction():
            for entry_fingerprint, article in accepted:
                known = self._db.execute(
                    "SELECT fingerprint FROM entries WHERE article_id = ?", (article.id,)
                ).fetchone()
                if known is not None and known[0] == entry_fingerprint:
                    # Accepted meanwhile by another feed's poll (the same story in two
                    # feeds, the check and this write apart by a full-text fetch).
                    continue
                self._db.execute(
                    "INSERT INTO entries (article_id, fingerprint, feed_id, first_seen, last_seen)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(article_id) DO UPDATE SET"
                    " fingerprint = excluded.fingerprint, last_seen = excluded.last_seen",
                    (article.id, entry_fingerprint, feed_id, now, now),
                )
                self._db.execute(
                    "INSERT INTO outbox (article_id, payload) VALUES (?, ?)",
                    (article.id, article.model_dump_json().encode()),
                )
            if seen_ids is not None:
                self._db.executemany(
                    "UPDATE entries SET last_seen = ? WHERE article_id = ?",
                    [(now, article_id) for article_id in seen_ids],
                )
                self._db.execute(
                    "INSERT INTO feeds (feed_id, last_parsed) VALUES (?, ?)"
                    " ON CONFLICT(feed_id) DO UPDATE SET last_parsed = excluded.last_parsed",
                    (feed_id, now),
                )
            self._db.execute(
                "INSERT INTO feeds (feed_id, etag, last_modified, body_hash, interval, next_poll,"
                " failures, last_success) VALUES (?, ?, ?, ?, ?, ?, 0, ?)"
                " ON CONFLICT(feed_id) DO UPDATE SET etag = excluded.etag,"
                " last_modified = excluded.last_modified, body_hash = excluded.body_hash,"
                " interval = excluded.interval, next_poll = excluded.next_poll, failures = 0,"
                " last_success = excluded.last_success",
                (
                    feed_id,
                    validators.etag,
                    validators.last_modified,
                    validators.body_hash,
                    interval,
                    next_poll,
                    now,
                ),
            )

    def failed(self, feed_id: str, kind: str, error: str, next_poll: float) -> int:
        """Record a failed poll; returns the failures in a row."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO feeds (feed_id, next_poll, failures, last_error, last_error_kind)"
                " VALUES (?, ?, 1, ?, ?) ON CONFLICT(feed_id) DO UPDATE SET"
                " next_poll = excluded.next_poll, failures = failures + 1,"
                " last_error = excluded.last_error, last_error_kind = excluded.last_error_kind",
                (feed_id, next_poll, error, kind),
            )
        return self.feed(feed_id).failures

    def enqueue(self, articles: Iterable[Article]) -> None:
        """Put articles in the outbox as they are, fingerprints untouched: `vigie
        ingest` replays a feed, every entry, whether the connector sent it or not."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO outbox (article_id, payload) VALUES (?, ?)",
                [(a.id, a.model_dump_json().encode()) for a in articles],
            )

    def outbox(self, limit: int) -> list[tuple[int, str, bytes]]:
        return list(
            self._db.execute(
                "SELECT seq, article_id, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)
            )
        )

    def outbox_size(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def delivered(self, seqs: Iterable[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def forget_older_than(self, seconds: float) -> int:
        """Drop fingerprints of entries that their feed, parsed since, no longer
        shows, and of feeds not polled successfully, for `seconds` (feeds are rolling
        windows: such an entry will not come back). An entry of a feed answering
        304 all that while is kept: it was not seen because nothing was read."""
        cutoff = time.time() - seconds
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM entries WHERE last_seen < :cutoff AND NOT EXISTS ("
                " SELECT 1 FROM feeds f WHERE f.feed_id = entries.feed_id"
                " AND f.last_parsed <= entries.last_seen AND f.last_success >= :cutoff)",
                {"cutoff": cutoff},
            )
        return cursor.rowcount

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
