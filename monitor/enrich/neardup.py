"""Near-duplicate clustering with 64-bit SimHash and a banded index.

Normalisation strips what copies of the same post typically differ in: URLs (short links
differ per share), @mentions, Weibo repost markers (``转发微博``, ``//@name:`` chains, ``RT @x:``),
a short comment that a leading repost chain puts before the copied text
(``转发微博 //@某人: 哈哈 <original>``), Weibo's ``网页链接`` (a link as the page shows it) and
``[表情]`` codes, ``#话题#`` topics and the hashtags trailing a tweet, punctuation, emoji and whitespace;
Latin text is lower-cased and Traditional characters read as Simplified (a post copied from Taiwan).

Features are overlapping character 3-grams of the normalised text (jieba would be ~50x
slower and buys little for copy detection).  Each 3-gram is packed injectively into one
integer and mixed with the splitmix64 finaliser, so hashes are stable across processes and
machines (Python's ``hash`` is salted per process and would break ``load``).

The index splits the 64 bits into ``max_distance + 1`` bands; by pigeonhole two hashes within
``max_distance`` bits agree on at least one band, so only items sharing a band are compared.

Texts shorter than ``SHORT_CHARS`` normalised characters get an exact 64-bit hash of the
normalised text instead of a SimHash and only join a cluster on exact equality.  Those
fingerprints are also inserted into the banded index, but a random 64-bit value is within 3
bits of a given SimHash with probability ~1e-14, so they do not pollute long-text lookups.
Texts that normalise to nothing (pure emoji, a bare link) always form their own cluster.

A comment glued to the copied text without whitespace (``//@x:哈哈原文``) cannot be separated
by normalisation; when such a repost finds no cluster, ``assign`` retries with up to
``GLUED_COMMENT_CHARS`` leading characters dropped and stores the hash of the matching core
(``items()`` returns what was stored, which may then differ from ``simhash(text)``).

Limitations: clusters are never merged (a new text joins the nearest existing member's
cluster, ties to the earliest member); longer glued comments are not recovered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

from monitor.enrich.hanzi import simplified

__all__ = ["GLUED_COMMENT_CHARS", "SHORT_CHARS", "NearDupIndex", "normalize", "simhash", "simhash_many"]

SHORT_CHARS = 10
GLUED_COMMENT_CHARS = 12

_URL_RE = re.compile(r"(?:https?://|www\.)[^\s\u4e00-\u9fff]*|\bt\.cn/[A-Za-z0-9]+", re.IGNORECASE)
# A leading repost chain: optional "转发微博" then one or more "//@name:" markers, each possibly
# followed by a short whitespace-delimited comment that is not part of the copied text.
_REPOST_HEAD_RE = re.compile(
    r"^\s*(?:转发微博|轉發微博|转发|轉發|repost|RT)?\s*"
    r"(?:(?://|RT\s*)@[^\s:：]{1,30}[:：]\s*(?:[^\s/]{1,12}\s+(?=\S))?)*",
    re.IGNORECASE,
)
_REPOST_TAIL_RE = re.compile(r"//@[^\s:：]{1,30}[:：][^/]{0,30}$")
_MARKER_RE = re.compile(r"转发微博|轉發微博|//@[^\s:：]{1,30}[:：]|\bRT\s+@\w+[:：]?", re.IGNORECASE)
_HAS_CHAIN_RE = re.compile(r"//@|转发|轉發|\bRT\s*@", re.IGNORECASE)
_MENTION_RE = re.compile(r"@[\w\u4e00-\u9fff\-]{1,30}")
# what copies add or drop around the same words: a link as Weibo shows it, emoticon codes, topics,
# the hashtags closing a tweet
# (Traditional characters are Simplified by then; most posts have none of these, and skip both regexes)
_DECORATION_RE = re.compile(r"O?网页链接|\[[^\[\]\s]{1,8}\]|#[^#\s]{1,30}#")
_TRAILING_TAGS_RE = re.compile(r"(?:\s*#\w+)+\s*\Z")
# Keep letters (any script, incl. CJK) and digits; everything else is noise for copy detection.
_NOISE_RE = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    text = _URL_RE.sub(" ", simplified(text))
    if "[" in text or "#" in text or "网页链接" in text:
        text = _DECORATION_RE.sub(" ", text)
        if "#" in text:
            text = _TRAILING_TAGS_RE.sub(" ", text)
    text = _REPOST_HEAD_RE.sub("", text, count=1)
    text = _REPOST_TAIL_RE.sub("", text)
    text = _MARKER_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    return _NOISE_RE.sub("", text).lower()


def _exact_hash(norm: str) -> int:
    return int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "little")


_U = np.uint64
_S21, _S42, _S30, _S27, _S31 = _U(21), _U(42), _U(30), _U(27), _U(31)
_C1, _C2 = _U(0xBF58476D1CE4E5B9), _U(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: good avalanche so the 64 output bits behave independently.
    # Array uint64 multiplication wraps silently (only scalar ops warn), so no errstate,
    # which alone would cost more than the arithmetic.
    x = (x ^ (x >> _S30)) * _C1
    x = (x ^ (x >> _S27)) * _C2
    return x ^ (x >> _S31)


def _simhash_norm(norm: str) -> int:
    if len(norm) < SHORT_CHARS:
        return _exact_hash(norm)
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    # Code points fit in 21 bits, so three of them pack into one 63-bit key without collisions.
    keys = (cps[:-2] << _S42) | (cps[1:-1] << _S21) | cps[2:]
    hashes = _mix(keys).astype("<u8")
    bits = np.unpackbits(hashes.view(np.uint8), bitorder="little").reshape(-1, 64)
    ones = bits.sum(axis=0, dtype=np.int32)
    packed = np.packbits(2 * ones > len(keys), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def simhash_many(norms: list[str]) -> list[int]:
    """`_simhash_norm` for a batch of normalised texts in one vectorised pass (same values).

    Per-call numpy overhead dominates on short posts, so the enrichment step hashes a whole
    batch at once: all texts' code points are concatenated, 3-grams that would straddle two
    texts are masked out, and per-text bit counts come from one `reduceat`.
    """
    out = [0] * len(norms)
    long_idx = []
    for i, norm in enumerate(norms):
        if len(norm) < SHORT_CHARS:
            out[i] = _exact_hash(norm)
        else:
            long_idx.append(i)
    if not long_idx:
        return out
    lengths = np.array([len(norms[i]) for i in long_idx], dtype=np.int64)
    cps = np.frombuffer("".join(norms[i] for i in long_idx).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    keys = (cps[:-2] << _S42) | (cps[1:-1] << _S21) | cps[2:]
    keep = np.ones(len(keys), dtype=bool)
    boundaries = np.cumsum(lengths)[:-1]
    keep[boundaries - 2] = False
    keep[boundaries - 1] = False
    hashes = _mix(keys[keep]).astype("<u8")
    bits = np.unpackbits(hashes.view(np.uint8), bitorder="little").reshape(-1, 64)
    counts = lengths - 2
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ones = np.add.reduceat(bits, offsets, axis=0, dtype=np.int32)
    packed = np.packbits(2 * ones > counts[:, None], axis=1, bitorder="little")
    for i, value in zip(long_idx, packed.view("<u8").ravel().tolist(), strict=True):
        out[i] = int(value)
    return out


def simhash(text: str) -> int:
    """Unsigned 64-bit SimHash of ``text`` (exact hash for very short texts, see module doc)."""
    return _simhash_norm(normalize(text))


class NearDupIndex:
    def __init__(self, max_distance: int = 3) -> None:
        if not 0 <= max_distance < 16:
            raise ValueError("max_distance must be in [0, 15]")
        self.max_distance = max_distance
        nbands = max_distance + 1
        widths = [64 // nbands + (1 if i < 64 % nbands else 0) for i in range(nbands)]
        self._bands: list[tuple[int, int]] = []  # (shift, mask)
        shift = 0
        for w in widths:
            self._bands.append((shift, (1 << w) - 1))
            shift += w
        # Band tables hold indices into _distinct, not items: a post copied 10,000 times adds
        # one entry, so viral clusters do not turn every lookup into a long scan.
        self._tables: list[dict[int, list[int]]] = [{} for _ in self._bands]
        self._distinct: list[int] = []
        self._exact: dict[int, str] = {}  # hash -> cluster of the first item with that hash
        self._items: dict[str, tuple[int, str]] = {}  # key -> (hash, cluster id)
        self._sizes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def _add(self, key: str, h: int, cluster_id: str) -> None:
        self._items[key] = (h, cluster_id)
        self._sizes[cluster_id] = self._sizes.get(cluster_id, 0) + 1
        if h in self._exact:
            return
        self._exact[h] = cluster_id
        idx = len(self._distinct)
        self._distinct.append(h)
        for table, (shift, mask) in zip(self._tables, self._bands, strict=True):
            table.setdefault((h >> shift) & mask, []).append(idx)

    def _nearest(self, h: int) -> str | None:
        if h in self._exact:
            return self._exact[h]
        best_idx, best_dist = -1, self.max_distance + 1
        distinct = self._distinct
        for table, (shift, mask) in zip(self._tables, self._bands, strict=True):
            for idx in table.get((h >> shift) & mask, ()):
                dist = (distinct[idx] ^ h).bit_count()
                # Ties go to the earliest hash so cluster ids are deterministic.
                if dist < best_dist or (dist == best_dist and idx < best_idx):
                    best_idx, best_dist = idx, dist
        return self._exact[distinct[best_idx]] if best_idx >= 0 else None

    def assign(self, key: str, text: str) -> str:
        """Add ``text`` under ``key`` and return its cluster id (idempotent per key)."""
        if key in self._items:
            return self._items[key][1]
        norm = normalize(text)
        return self._assign(key, text, norm, _simhash_norm(norm))

    def assign_many(self, pairs: list[tuple[str, str]]) -> list[str]:
        """``assign`` for a batch of (key, text), hashing the batch in one vectorised pass."""
        norms = [normalize(text) for _, text in pairs]
        hashes = simhash_many(norms)
        return [self._items[key][1] if key in self._items else self._assign(key, text, norm, h)
                for (key, text), norm, h in zip(pairs, norms, hashes, strict=True)]

    def _assign(self, key: str, text: str, norm: str, h: int) -> str:
        if not norm:
            cluster = key
        elif len(norm) < SHORT_CHARS:
            cluster = self._exact.get(h, key)
        else:
            found = self._nearest(h)
            if found is None and _HAS_CHAIN_RE.search(text):
                found, h = self._nearest_without_glued_comment(norm, h)
            cluster = found or key
        self._add(key, h, cluster)
        return cluster

    def _nearest_without_glued_comment(self, norm: str, h: int) -> tuple[str | None, int]:
        # A repost comment glued to the copied text ("//@x:哈哈原文") cannot be delimited by
        # normalisation, so retry with up to GLUED_COMMENT_CHARS leading characters dropped.
        # Only reposts that found no cluster pay for this, and the stored hash becomes the
        # hash of the core so later copies of the same repost match directly.
        # Most such reposts match at no cut, so every cut is hashed in one vectorised pass.
        cores = [norm[k:] for k in range(1, GLUED_COMMENT_CHARS + 1) if len(norm) - k >= SHORT_CHARS]
        for core_hash in simhash_many(cores):
            found = self._nearest(core_hash)
            if found is not None:
                return found, core_hash
        return None, h

    def items(self) -> Iterable[tuple[str, int, str]]:
        """``(key, simhash, cluster_id)`` rows to persist; feed them to ``load`` after a restart."""
        for key, (h, cluster_id) in self._items.items():
            yield key, h, cluster_id

    def entry(self, key: str) -> tuple[int, str] | None:
        """``(simhash, cluster_id)`` stored for ``key``, to persist one assignment at a time."""
        return self._items.get(key)

    def cluster_size(self, cluster_id: str) -> int:
        return self._sizes.get(cluster_id, 0)

    def load(self, items: Iterable[tuple[str, int, str]]) -> None:
        """Restore ``(key, simhash, cluster_id)`` rows persisted from earlier ``assign`` calls."""
        for key, h, cluster_id in items:
            if key not in self._items:
                self._add(key, int(h) & 0xFFFFFFFFFFFFFFFF, cluster_id)
