"""Exact and near duplicates: a wire story carried by twenty outlets is linked to
the first copy seen (`duplicate_of`), so it is searched and alerted on once.

Exact copies share the content hash. Near copies share most of their word
3-shingles: MinHash signatures estimate that share (Jaccard similarity) and
locality-sensitive hashing over bands of the signature finds the candidates
without comparing with every article. (SimHash was tried first: on news-length
texts a credit line and a changed sentence already move it 6-10 bits, too close
to unrelated texts for a safe threshold.)

The state is a mapping (a Faust table in the worker, so it survives restarts
through its changelog; a dict in tests and `vigie enrich`) of JSON values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from typing import Any

import numpy as np

from pipeline.enrichment.textfold import fold

# Two texts sharing at least this share of their shingles are copies.
SIMILARITY = 0.7
_PERMUTATIONS = 64
_BANDS, _ROWS = 16, 4  # 16 x 4 = 64: J=0.7 is a candidate with p=0.98, J=0.3 with p=0.12
# Below this many words the shingles say little: short texts only match exactly.
_MIN_WORDS = 25
# A band bucket keeps this many articles, the most recent.
_BUCKET_SIZE = 32
_WORD = re.compile(r"\w+")
_RNG = np.random.default_rng(20250209)  # fixed: signatures must be stable across processes
_A = _RNG.integers(1, 2**63, size=_PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def signature(text: str) -> list[int] | None:
    """MinHash signature of the text's word 3-shingles (case and accents folded);
    None when the text is too short for one."""
    words = _WORD.findall(fold(text))
    if len(words) < _MIN_WORDS:
        return None
    unique = {w: _word_hash(w) for w in set(words)}
    hashes = np.fromiter((unique[w] for w in words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):
        shingles = np.unique(hashes[:-2] * _MIX[0] + hashes[1:-1] * _MIX[1] + hashes[2:])
        permuted = np.outer(_A, shingles) + _B[:, None]  # wraps modulo 2**64
    return [int(v) for v in permuted.min(axis=1)]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def _band_keys(sig: list[int]) -> list[str]:
    keys = []
    for band in range(_BANDS):
        rows = sig[band * _ROWS : (band + 1) * _ROWS]
        digest = hashlib.blake2b(repr(rows).encode(), digest_size=8).hexdigest()
        keys.append(f"b{band}:{digest}")
    return keys


class DuplicateIndex:
    """Finds the first copy of an article, and remembers articles as first copies."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state

    def first_copy(self, article_id: str, content_hash: str, body: str) -> str | None:
        """The id of an earlier article this one copies, or None (then it is
        recorded as a first copy). Seeing the same id again is not a copy."""
        exact_key = f"h:{content_hash}"
        first = self._state.get(exact_key)
        if first is not None and first != article_id:
            return str(first)
        sig = signature(body)
        keys = _band_keys(sig) if sig is not None else []
        if sig is not None:
            candidates = dict.fromkeys(
                other for key in keys for other in self._state.get(key) or [] if other != article_id
            )
            for other in candidates:
                other_sig = self._state.get(f"s:{other}")
                if other_sig is not None and similarity(sig, other_sig) >= SIMILARITY:
                    return str(other)
        if first is None:
            self._state[exact_key] = article_id
        if sig is not None:
            self._state[f"s:{article_id}"] = sig
            for key in keys:
                bucket = [other for other in self._state.get(key) or [] if other != article_id]
                self._state[key] = [*bucket[-(_BUCKET_SIZE - 1) :], article_id]
        return None
