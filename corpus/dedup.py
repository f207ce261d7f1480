"""Exact and near-duplicate articles: syndicated copies of one story across sites.

Exact copies are texts equal after :func:`normalise_text` (Unicode form, case, punctuation and
spacing do not count). Near copies are found with MinHash signatures (datasketch) of word
shingles, banded into LSH buckets; every bucket collision is verified with the estimated Jaccard
similarity of the two signatures before it may merge two clusters, and clusters are transitive
(A~B and B~C: one cluster), kept in a union-find.

Articles are added one at a time and only small fixed-size data is kept per article (a 64-bit
text hash, a ``num_perm`` x 4-byte signature, the caller's rank): never the text. LSH banding
runs in :meth:`Deduplicator.result` over all signatures at once, one band at a time, with numpy
sorting; datasketch's own ``MinHashLSH`` would hold ~6 KB of Python objects per article in its
bucket dictionaries, more than the text itself (see ``bench/dedup_threshold.py``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import MinHash

__all__ = ["Deduplicator", "DupInfo", "normalise_text"]

_NOT_WORD = re.compile(r"[\W_]+")  # punctuation, symbols and whitespace alike
# The defaults of the CORPUS_DEDUP_* settings (settings.py repeats them with their reasons).
DEFAULT_THRESHOLD = 0.6
DEFAULT_NUM_PERM = 128
DEFAULT_SHINGLE_WORDS = 5


def normalise_text(text: str) -> str:
    """``text`` in NFKC, casefolded, with every run of non-word characters one space.

    Copies that differ only in quotes, dashes, apostrophes, spacing, line breaks or case
    normalise to the same string.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


@dataclass(frozen=True)
class DupInfo:
    """Where one record stands among its copies.

    ``cluster_id`` is the record id of the cluster's kept member (so a unique record's cluster
    id is its own id). ``kind`` is ``"unique"`` (no copy), ``"original"`` (the kept member of a
    cluster), ``"exact"`` (a dropped copy whose normalised text equals the kept one's) or
    ``"near"`` (a dropped copy that is not exact). ``duplicate_of`` is the kept member's id and
    ``similarity`` the estimated Jaccard similarity to it, for dropped copies only. A near
    copy joined through another copy (A~B, B~C) may be less similar to the kept one than the
    threshold.
    """

    cluster_id: str
    kind: str
    duplicate_of: str | None
    similarity: float | None


def lsh_bands(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """``(bands, rows)`` whose banding makes a pair of similarity ``threshold`` a candidate
    with probability >= ``recall``; the most rows per band that do, to keep false candidates
    (which verification drops, at a cost) few."""
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


class Deduplicator:
    """Streams articles in with :meth:`add`, then tells each one's cluster with :meth:`result`.

    ``threshold``: estimated Jaccard similarity of the word-shingle sets from which two
    articles are near-duplicates. ``num_perm``: MinHash permutations per article (estimate
    error ~ sqrt(J(1-J)/num_perm)). ``shingle_words``: words per shingle. Texts with fewer than
    ``min_words`` words are compared by exact hash only: a few shingles say too little, and
    texts shorter than a shingle have none at all.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        num_perm: int = DEFAULT_NUM_PERM,
        shingle_words: int = DEFAULT_SHINGLE_WORDS,
        min_words: int = 30,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        if num_perm < 2 or shingle_words < 1:
            raise ValueError("num_perm must be >= 2 and shingle_words >= 1")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.min_words = max(min_words, shingle_words)
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        # crc32 in C instead of datasketch's default sha1 in Python: twice the articles/s, the
        # same estimate error (the affine32 scheme mixes the input hash before permuting it)
        self._minhash = MinHash(num_perm=num_perm, hashfunc=zlib.crc32)  # reused for every text
        self._ids: list[str] = []
        self._seen_ids: set[str] = set()
        self._ranks: list[tuple] = []
        self._parent = array("q")  # union-find forest over record numbers
        self._text_hash = array("Q")  # 64-bit hash of the normalised text; 0: empty text
        self._sig_row = array("q")  # row of the text's signature, -1: none (short text)
        self._first_with_hash: dict[int, int] = {}
        self._signatures = np.empty((0, num_perm), dtype=self._minhash.hashvalues.dtype)
        self._row_owner = array("q")  # signature row -> the record that first had the text
        self._sig_count = 0
        self._banded_count = 0  # signatures present at the last banding

    @classmethod
    def from_settings(cls, settings: Any) -> Deduplicator:
        """The CORPUS_DEDUP_* settings; each absent one (no settings.py) takes its default."""
        return cls(
            threshold=settings.getfloat("CORPUS_DEDUP_THRESHOLD", DEFAULT_THRESHOLD),
            num_perm=settings.getint("CORPUS_DEDUP_NUM_PERM", DEFAULT_NUM_PERM),
            shingle_words=settings.getint("CORPUS_DEDUP_SHINGLE_WORDS", DEFAULT_SHINGLE_WORDS),
        )

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, record_id: str, text: str, rank: tuple = ()) -> None:
        """Take one article. The kept copy of a cluster is the one with the smallest
        ``(rank, record_id)``, so ranks must compare with each other (e.g. all
        ``(iso_date, url)``)."""
        if record_id in self._seen_ids:
            raise ValueError(f"record id added twice: {record_id!r}")
        number = len(self._ids)
        self._seen_ids.add(record_id)
        self._ids.append(record_id)
        self._ranks.append(tuple(rank))
        self._parent.append(number)
        normalised = normalise_text(text)
        if not normalised:  # nothing to compare: empty texts are not copies of each other
            self._text_hash.append(0)
            self._sig_row.append(-1)
            return
        digest = hashlib.blake2b(normalised.encode(), digest_size=8).digest()
        text_hash = int.from_bytes(digest, "big") or 1
        self._text_hash.append(text_hash)
        first = self._first_with_hash.get(text_hash)
        if first is not None:  # an exact copy shares the first one's signature
            self._parent[number] = first
            self._sig_row.append(self._sig_row[first])
            return
        self._first_with_hash[text_hash] = number
        words = normalised.split(" ")
        if len(words) < self.min_words:
            self._sig_row.append(-1)
            return
        self._sig_row.append(self._store_signature(words))
        self._row_owner.append(number)

    def _store_signature(self, words: list[str]) -> int:
        k = self.shingle_words
        shingles = {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}
        minhash = self._minhash
        minhash.clear()
        minhash.update_batch(shingles)
        if self._sig_count == len(self._signatures):  # grow by half: amortised O(1) appends
            grown = np.empty(
                (max(1024, self._sig_count * 3 // 2), self.num_perm), minhash.hashvalues.dtype
            )
            grown[: self._sig_count] = self._signatures[: self._sig_count]
            self._signatures = grown
        self._signatures[self._sig_count] = minhash.hashvalues
        self._sig_count += 1
        return self._sig_count - 1

    def _find(self, number: int) -> int:
        parent = self._parent
        root = number
        while parent[root] != root:
            root = parent[root]
        while parent[number] != root:  # path compression
            parent[number], number = root, parent[number]
        return root

    def _union(self, a: int, b: int) -> bool:
        root_a, root_b = self._find(a), self._find(b)
        if root_a == root_b:
            return False
        self._parent[max(root_a, root_b)] = min(root_a, root_b)
        return True

    def _merge_near_duplicates(self) -> None:
        """Band all signatures, verify the pairs sharing a bucket, union the similar ones."""
        if self._banded_count == self._sig_count:
            return
        signatures = self._signatures[: self._sig_count]
        mixers = np.random.default_rng(0x5EED).integers(
            1, 2**63, size=(self.bands, self.rows), dtype=np.uint64
        )
        for band, mixer in enumerate(mixers):
            columns = signatures[:, band * self.rows : (band + 1) * self.rows].astype(np.uint64)
            keys = (columns * mixer).sum(axis=1)  # wraps mod 2**64: a hash of the band's values
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            ends = np.r_[starts[1:], len(order)]
            shared = ends - starts > 1
            for start, end in zip(starts[shared], ends[shared], strict=True):
                self._verify_bucket(np.sort(order[start:end]), signatures)
        self._banded_count = self._sig_count

    def _verify_bucket(self, rows: np.ndarray, signatures: np.ndarray) -> None:
        """Compare each member with the earlier ones not yet in its cluster; a hash
        collision alone never merges (bands of near-equal values collide by chance)."""
        owners = [self._row_owner[row] for row in rows.tolist()]
        roots = np.array([self._find(owner) for owner in owners])
        if (roots == roots[0]).all():
            return
        for i in range(1, len(rows)):
            others = np.flatnonzero(roots[:i] != roots[i])
            if not len(others):
                continue
            # the fraction of equal MinHash values is the Jaccard estimate (MinHash.jaccard)
            similarity = (signatures[rows[others]] == signatures[rows[i]]).mean(axis=1)
            for j in others[similarity >= self.threshold].tolist():
                if self._union(owners[j], owners[i]):
                    merged = self._find(owners[i])
                    roots[(roots == roots[j]) | (roots == roots[i])] = merged

    def _similarity(self, a: int, b: int) -> float:
        row_a, row_b = self._sig_row[a], self._sig_row[b]
        equal = self._signatures[row_a] == self._signatures[row_b]
        return float(np.count_nonzero(equal)) / self.num_perm

    def result(self) -> dict[str, DupInfo]:
        """Every added record's cluster. Deterministic for a given set of records, whatever
        order they were added in."""
        self._merge_near_duplicates()
        kept: dict[int, int] = {}  # root -> record number of the kept member
        sizes: dict[int, int] = {}
        roots = [self._find(number) for number in range(len(self._ids))]
        for number, root in enumerate(roots):
            sizes[root] = sizes.get(root, 0) + 1
            best = kept.get(root)
            if best is None or (self._ranks[number], self._ids[number]) < (
                self._ranks[best],
                self._ids[best],
            ):
                kept[root] = number
        infos: dict[str, DupInfo] = {}
        for number, root in enumerate(roots):
            record_id, keeper = self._ids[number], kept[root]
            keeper_id = self._ids[keeper]
            if sizes[root] == 1:
                infos[record_id] = DupInfo(record_id, "unique", None, None)
            elif number == keeper:
                infos[record_id] = DupInfo(record_id, "original", None, None)
            elif self._text_hash[number] == self._text_hash[keeper]:
                infos[record_id] = DupInfo(keeper_id, "exact", keeper_id, 1.0)
            else:
                similarity = self._similarity(number, keeper)
                infos[record_id] = DupInfo(keeper_id, "near", keeper_id, similarity)
        return infos
