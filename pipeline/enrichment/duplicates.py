"""Exact and near duplicates: a wire story carried by twenty outlets is linked to
the first copy seen (`duplicate_of`), so it is searched and alerted on once.

Exact copies share the content hash. Near copies share most of their word
3-shingles: MinHash signatures estimate that share (Jaccard similarity) and
locality-sensitive hashing over bands of the signature finds the candidates
without comparing with every article. (SimHash was tried first: on news-length
texts a credit line and a changed sentence already move it 6-10 bits, too close
to unrelated texts for a safe threshold.)

Memory is a time window (`VIGIE_DUPLICATES_WINDOW_HOURS`): an article is linked
to a first copy seen less than a window before it, and older first copies are
forgotten, so what a worker holds is as large as the window, never as the
history.

The state is a mapping (a Faust global table in the worker, replicated through
its changelog; a dict in tests) with one record per first copy, under its id:
when it was seen, its content hash and a compact signature, one string of about
200 characters, so one changelog write per article (the layout before kept the
signature and every band bucket as keys of their own: 18 writes). What finds
candidates, from content hash and bands to ids, lives only in memory and is
built from the records: those this index writes, those the worker's changelog
brings (`observe`: other workers' records and deletions), and any that reach the
mapping some other way (seen as a change of its size, then read again).
`expire` removes the records older than the window, a tombstone each in the
worker, which the changelog's compaction (`changelog_configs`) turns into
nothing: the table's memory, its changelog and a restart's replay stay flat.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import numpy as np
from prometheus_client import Gauge

from pipeline.enrichment.memo import Memo
from pipeline.enrichment.textfold import folded_words
from vigie.article import Article

# Two texts sharing at least this share of their shingles are copies.
SIMILARITY = 0.7
_PERMUTATIONS = 64
_BANDS, _ROWS = 16, 4  # 16 x 4 = 64: J=0.7 is a candidate with p=0.98, J=0.3 with p=0.12
# Below this many words the shingles say little: short texts only match exactly.
_MIN_WORDS = 25
# A band bucket keeps this many articles, the most recent.
_BUCKET_SIZE = 32
# How long a first copy is remembered unless the settings say otherwise.
DEFAULT_WINDOW_SECONDS = 72 * 3600.0
_RNG = np.random.default_rng(20250209)  # fixed: signatures must be stable across processes
_A = _RNG.integers(1, 2**63, size=_PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))
# A stored signature keeps the low 16 bits of each value (128 bytes, not 64 big
# ints in JSON). Two different values agree there by chance once in 65,536, which
# moves a similarity estimate by that much, and a band (four values) by 2**-64.
_PACKED = np.dtype("<u2")
_PACKED_BYTES = _PERMUTATIONS * _PACKED.itemsize
# Keys of the in-memory postings: a band is (band << 64 | its four packed values);
# content hashes live above every band.
_EXACT = 1 << 72

STATE_KEYS = Gauge(
    "vigie_duplicates_state_keys",
    "Records in the near-duplicate table: first copies seen within the window",
)


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


# News repeats its words from one article to the next: most of an article's words
# were hashed for an article before it. A few MB at most (two generations of
# this many words).
_word_hashes: Memo[str, int] = Memo(_word_hash, size=1 << 15)


def signature(text: str) -> list[int] | None:
    """MinHash signature of the text's word 3-shingles (case and accents folded);
    None when the text is too short for one."""
    words = folded_words(text)
    if len(words) < _MIN_WORDS:
        return None
    hashes = np.fromiter(_word_hashes.many(words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):
        # A shingle met twice changes no minimum: no need to sort them unique.
        shingles = hashes[:-2] * _MIX[0] + hashes[1:-1] * _MIX[1] + hashes[2:]
        permuted = np.outer(_A, shingles) + _B[:, None]  # wraps modulo 2**64
    minima: list[int] = permuted.min(axis=1).tolist()
    return minima


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def _pack(sig: list[int]) -> bytes:
    return (np.asarray(sig, dtype=np.uint64) & np.uint64(0xFFFF)).astype(_PACKED).tobytes()


def packed_signature(article: Article) -> bytes:
    """What DuplicateIndex keeps of an article's signature (b"": too short for one)."""
    return _packed(article.body or article.summary)


def _packed(text: str) -> bytes:
    sig = signature(text)
    return _pack(sig) if sig is not None else b""


def _packed_similarity(a: bytes, b: bytes) -> float:
    same = np.count_nonzero(np.frombuffer(a, dtype=_PACKED) == np.frombuffer(b, dtype=_PACKED))
    return same / _PERMUTATIONS


def _exact(content_hash: str) -> int:
    return int.from_bytes(hashlib.blake2b(content_hash.encode(), digest_size=8).digest(), "little")


def _keys(exact: int, packed: bytes) -> list[int]:
    keys = [_EXACT | exact]
    if packed:
        # The four 16-bit values of a band, read as one 64-bit number.
        rows = np.frombuffer(packed, dtype="<u8")
        keys.extend(band << 64 | int(value) for band, value in enumerate(rows))
    return keys


def _content(exact: int, packed: bytes) -> str:
    """A record without its time: content hash and signature."""
    return f"{exact:016x}:{base64.b64encode(packed).decode()}"


def _parse(value: object) -> tuple[int, int, bytes] | None:
    """(seen, content hash, packed signature) of a record; None for anything else
    (a value of the layout before this one, or damage)."""
    if not isinstance(value, str):
        return None
    seen, _, rest = value.partition(":")
    exact, _, sig = rest.partition(":")
    if len(exact) != 16:
        return None
    try:
        packed = base64.b64decode(sig, validate=True)
        parsed = int(seen), int(exact, 16), packed
    except (ValueError, binascii.Error):
        return None
    return parsed if len(packed) in (0, _PACKED_BYTES) else None


def changelog_configs(window_seconds: float) -> dict[str, str]:
    """Kafka configs for the table's compacted changelog, so that it holds about a
    window of records and a restart replays no more: segments roll, and are
    compacted (deleted records and tombstones dropped), within a quarter of the
    window, at most an hour. Tombstones need not stay longer: a worker replaying
    a record whose tombstone is gone sees from its time that it has expired."""
    lag_ms = str(int(max(1.0, min(window_seconds / 4, 3600.0)) * 1000))
    return {"segment.ms": lag_ms, "max.compaction.lag.ms": lag_ms, "delete.retention.ms": lag_ms}


def sweep_interval(window_seconds: float) -> float:
    """How often to call `expire`: often enough that the window is not overstayed
    by much, seldom enough that a long window costs nothing."""
    return max(1.0, min(window_seconds / 10, 300.0))


class DuplicateIndex:
    """Finds the first copy of an article within the window, and remembers
    articles as first copies.

    Everything runs on one thread (the worker's event loop): the mapping, the
    postings and the expiry heap are not locked.
    """

    def __init__(
        self,
        state: MutableMapping[str, Any],
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._window = window_seconds
        self._clock = clock
        # id -> the record indexed under it (the very string the mapping holds).
        self._records: dict[str, str] = {}
        # content hash or band -> the ids filed under it, oldest first; one id is
        # kept bare, as most postings hold one (16 bands a record: memory counts).
        self._postings: dict[int, str | tuple[str, ...]] = {}
        # (seen, id) of every record indexed; an entry whose record has changed
        # since is skipped when it comes up.
        self._expiry: list[tuple[int, str]] = []
        # The mapping's size when the index was last in step with it.
        self._synced = 0

    def __len__(self) -> int:
        """Records indexed (the state may also hold records being expired)."""
        return len(self._records)

    def link(self, article: Article, packed: bytes | None = None) -> Article:
        """The enriched article with `duplicate_of` set when it copies one seen
        within the window (recorded as a first copy otherwise). An article with
        no text at all is nobody's copy. `packed`: its `packed_signature`, if
        worked out already (where it was enriched, off the event loop)."""
        if article.content_hash is None:
            return article
        if packed is None:
            packed = packed_signature(article)
        first = self._first_copy(article.id, article.content_hash, packed)
        return article.model_copy(update={"duplicate_of": first}) if first else article

    def first_copy(self, article_id: str, content_hash: str, body: str) -> str | None:
        """The id of an article seen within the window that this one copies, or
        None (then it is recorded as a first copy, one write). Seeing the same id
        again is not a copy, and a replay with the same content writes nothing."""
        return self._first_copy(article_id, content_hash, _packed(body))

    def _first_copy(self, article_id: str, content_hash: str, packed: bytes) -> str | None:
        own = self._state.get(article_id)
        if len(self._state) != self._synced:
            self._reconcile()
        now = int(self._clock())
        cutoff = now - self._window
        exact = _exact(content_hash)
        first = self._find(article_id, _keys(exact, packed), packed, cutoff)
        if first is not None:
            return first
        content = _content(exact, packed)
        known = _parse(own)
        if known is not None and known[0] >= cutoff and str(own).partition(":")[2] == content:
            self._add(article_id, own)  # a replay: recorded already
            return None
        record = f"{now}:{content}"
        self._state[article_id] = record
        self._add(article_id, record)
        self._synced = len(self._state)
        STATE_KEYS.set(self._synced)
        return None

    def observe(self, key: object, value: object | None) -> None:
        """A record the mapping is about to hold (None: about to drop) that did not
        come through `first_copy`: in the worker, each changelog record, another
        worker's or this one's read back, just before the table applies it."""
        if not isinstance(key, str):
            return
        present = key in self._state
        if value is None:
            self._remove(key)
            self._synced -= present
        else:
            self._add(key, value)
            self._synced += not present
        STATE_KEYS.set(self._synced)

    def expire(self, *, delete: bool = True) -> int:
        """Forget the records older than the window, and with `delete` remove them
        (and values that are not records) from the mapping: in the worker one
        worker deletes, each deletion a changelog tombstone, and the others forget
        the records and then drop them from their copy as the tombstones arrive.
        Returns the number of records forgotten."""
        if len(self._state) != self._synced:
            self._reconcile()
        cutoff = self._clock() - self._window
        forgotten = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            seen, key = heapq.heappop(self._expiry)
            record = self._records.get(key)
            if record is not None:
                if int(record.partition(":")[0]) != seen:
                    continue  # written again since: it has its own entry
                self._remove(key)
                forgotten += 1
            if delete and key in self._state:
                current = _parse(self._state.get(key))
                if current is None or current[0] < cutoff:
                    del self._state[key]
        self._synced = len(self._state)
        STATE_KEYS.set(self._synced)
        return forgotten

    def _find(self, article_id: str, keys: list[int], packed: bytes, cutoff: float) -> str | None:
        for other in self._ids(keys[0]):
            found = _parse(self._records.get(other))
            if other != article_id and found is not None and found[0] >= cutoff:
                return other
        if not packed:
            return None
        candidates = dict.fromkeys(other for key in keys[1:] for other in self._ids(key))
        for other in candidates:
            found = _parse(self._records.get(other))
            if other == article_id or found is None or found[0] < cutoff or not found[2]:
                continue
            if _packed_similarity(packed, found[2]) >= SIMILARITY:
                return other
        return None

    def _ids(self, key: int) -> tuple[str, ...]:
        ids = self._postings.get(key, ())
        return (ids,) if isinstance(ids, str) else ids

    def _add(self, key: str, value: object) -> None:
        if self._records.get(key) == value:
            return
        self._remove(key)
        parsed = _parse(value)
        if parsed is None:
            # Not a record (the layout before this one): deleted by the next sweep.
            heapq.heappush(self._expiry, (0, key))
            return
        assert isinstance(value, str)
        seen, exact, packed = parsed
        self._records[key] = value
        for posting in _keys(exact, packed):
            ids = self._ids(posting)
            if key not in ids:
                kept = (*ids[-(_BUCKET_SIZE - 1) :], key)
                self._postings[posting] = kept[0] if len(kept) == 1 else kept
        heapq.heappush(self._expiry, (seen, key))

    def _remove(self, key: str) -> None:
        parsed = _parse(self._records.pop(key, None))
        if parsed is None:
            return
        for posting in _keys(parsed[1], parsed[2]):
            kept = tuple(other for other in self._ids(posting) if other != key)
            if not kept:
                self._postings.pop(posting, None)
            else:
                self._postings[posting] = kept[0] if len(kept) == 1 else kept

    def _reconcile(self) -> None:
        """Brings the postings in step with the mapping, which changed some other
        way than through this index (records put there directly, a Faust store
        that dropped keys): a pass over every record, rare."""
        for key in [key for key in self._records if key not in self._state]:
            self._remove(key)
        for key, value in list(self._state.items()):
            self._add(key, value)
        self._synced = len(self._state)
        STATE_KEYS.set(self._synced)
