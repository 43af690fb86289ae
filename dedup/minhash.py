"""MinHash signatures computed for all shingles of a document at once, equal to datasketch's.

`signature(shingles)` equals `datasketch.MinHash(num_perm, seed, scheme=...)` updated with the
same shingle bytes, element for element, for datasketch's default `affine32` scheme (2.0+) and
its `legacy` scheme (before 2.0), so signatures mix with datasketch's MinHashLSH and tools.
Shingle hashes come from a small C loop (dedup/_shingle.c) over the space-joined tokens, with
a hashlib fallback when the extension is not built; the permutations are one numpy product.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Iterable

import numpy as np

try:
    from dedup._shingle import sha1_shingles as _sha1_shingles
except ImportError:  # built by `pip install`; the pure-Python path gives the same values
    _sha1_shingles = None

SCHEMES = ("affine32", "legacy")
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH32 = np.uint64((1 << 32) - 1)
# MurmurHash3 32-bit finalizer, as datasketch pre-mixes hashes in the affine schemes.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
# Han, Hiragana, Katakana, Hangul syllables: each character is a token (no spaces between words).
_CJK_RE = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_CHUNK = 4096


def tokens(text: str) -> list[str]:
    """Lowercased whitespace tokens; every CJK character is a token of its own."""
    low = text.lower()
    if _CJK_RE.search(low):
        low = _CJK_RE.sub(r" \1 ", low)
    return low.split()


def shingles(text: str, n: int = 5) -> list[bytes]:
    """Word n-grams (UTF-8, words joined by one space); a shorter text is one shingle.

    Repeated n-grams may appear more than once: a set's MinHash does not change.
    """
    words = tokens(text)
    if not words:
        return []
    if len(words) <= n:
        return [" ".join(words).encode("utf-8")]
    grams = map(" ".join, zip(*(words[i:] for i in range(n))))
    return "\n".join(grams).encode("utf-8").split(b"\n")


def sha1_hash32(items: Iterable[bytes]) -> np.ndarray:
    """datasketch.hashfunc.sha1_hash32 of each item: first 4 bytes of SHA-1, little-endian."""
    digests = b"".join([h.digest() for h in map(hashlib.sha1, items)])
    return np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32)  # 20-byte digests: every 5th word


def shingle_hashes(text: str, n: int = 5, native: bool = True) -> np.ndarray:
    """sha1_hash32 of every shingle of `text` (uint32, the order of `shingles`), without building them."""
    if not native or _sha1_shingles is None:
        return sha1_hash32(shingles(text, n))
    words = tokens(text)
    if not words:
        return np.empty(0, dtype=np.uint32)
    return np.frombuffer(_sha1_shingles(" ".join(words).encode("utf-8"), n), dtype="<u4").astype(np.uint32)


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


@dataclasses.dataclass(frozen=True)
class MinHasher:
    """Permutations for one (num_perm, seed, scheme), drawn exactly as datasketch draws them."""

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown MinHash scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if self.num_perm < 1:
            raise ValueError(f"num_perm must be positive, got {self.num_perm}")
        gen = np.random.RandomState(self.seed)
        if self.scheme == "legacy":
            pairs = np.array([(gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                               gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64)) for _ in range(self.num_perm)],
                             dtype=np.uint64).T
            a, b = pairs[0], pairs[1]
        else:
            a = gen.randint(0, 1 << 31, self.num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
            b = gen.randint(0, 1 << 32, self.num_perm, dtype=np.uint32)
        object.__setattr__(self, "_a", a[:, None])
        object.__setattr__(self, "_b", b[:, None])

    @property
    def dtype(self):
        return np.uint64 if self.scheme == "legacy" else np.uint32

    def empty(self) -> np.ndarray:
        """Signature of the empty set (datasketch's initial hash values)."""
        return np.full(self.num_perm, _MAX_HASH32, dtype=self.dtype)

    def signature(self, items: list[bytes]) -> np.ndarray:
        """Signature of a set of byte strings, `num_perm` values of the scheme's dtype."""
        return self.hashes_signature(sha1_hash32(items))

    def hashes_signature(self, hashes: np.ndarray) -> np.ndarray:
        """Signature from the items' sha1_hash32 values (as `shingle_hashes` gives them)."""
        sig = self.empty()
        for start in range(0, len(hashes), _CHUNK):
            hv = hashes[start:start + _CHUNK]
            with np.errstate(over="ignore"):
                if self.scheme == "legacy":
                    phv = ((self._a * hv.astype(np.uint64)[None, :] + self._b) % _MERSENNE_PRIME) & _MAX_HASH32
                else:
                    phv = self._a * _fmix32(hv)[None, :] + self._b
            sig = np.minimum(sig, phv.min(axis=1))
        return sig

    def text_signature(self, text: str, ngram: int = 5) -> np.ndarray:
        return self.hashes_signature(shingle_hashes(text, ngram))


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature values (datasketch's MinHash.jaccard)."""
    return float(np.count_nonzero(a == b)) / a.size
