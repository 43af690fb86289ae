"""Near-duplicate removal's per-file steps as plain functions (no Beam); pipelines/dedup.py wires them.

Documents are addressed by a node number, (input file index << 32) | row, which is unique,
ordered like the input, and small enough to shuffle.

Input ids must identify documents, so the exact stage also groups documents by id. When one
id is read more than once with the same text (a WET record or JSONL line in two files), the
copy the --keep rule ranks first keeps it and the others are dropped as `duplicate_id`
without a _clusters row: every id has at most one row there, with one decision. Two different
texts under one id stop the run (MalformedInput naming both files). Documents longer than
`max_chars` are written unchanged without being compared.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from typing import Iterable, Iterator, Optional, Union

import numpy as np

from corpus.counters import Counters
from corpus.document import Document, address, file_of, row_of
from corpus.normalize import normalize_lines_for_dedup
from corpus.faults import Fault
from corpus.wet import MalformedInput
from dedup.lsh import band_keys, choose_bands, verified
from dedup.minhash import MinHasher, shingle_hashes
from pipelines.steps import checks
from pipelines.steps.chain import read_rows
KEEP_RULES = ("perplexity", "longest", "first")
LOG = logging.getLogger("llamapipe.dedup")
# MinHash needs ~12 bytes of memory per character (~120 MB here); longer documents (a few rare
# book compilations) are kept without comparison rather than dropped.
DEFAULT_MAX_CHARS = 10_000_000


GRANULARITIES = ("document", "book")
# (threshold, candidate threshold) per granularity: documents by Jaccard (0.6 collides 21 bands x 6
# rows for 128 permutations); books by containment, where a book inside a 3x longer one has Jaccard ~0.3.
DEFAULT_THRESHOLDS = {"document": (0.8, 0.6), "book": (0.9, 0.2)}


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Everything that decides a dedup run's output: which documents survive and where they go.

    `units` are (file index, input path, output path relative to `out`); `unreadable` the indexes
    (with why) of inputs that cannot be opened. `threshold` and `candidate_threshold` left None
    take the granularity's defaults (DEFAULT_THRESHOLDS).
    """

    units: tuple[tuple[int, str, str], ...] = ()
    out: str = ""
    unreadable: tuple[tuple[int, str], ...] = ()
    granularity: str = "document"
    threshold: Optional[float] = None
    candidate_threshold: Optional[float] = None
    num_perm: int = 128
    ngram: int = 5
    seed: int = 1
    keep: str = "perplexity"
    strict: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    cc_rounds: int = 12

    def __post_init__(self):
        checks.one_of("--granularity", self.granularity, GRANULARITIES)
        threshold, candidate = DEFAULT_THRESHOLDS[self.granularity]
        if self.threshold is None:
            object.__setattr__(self, "threshold", threshold)
        if self.candidate_threshold is None:
            object.__setattr__(self, "candidate_threshold", candidate)
        checks.fraction("--threshold", self.threshold, include_zero=False)
        checks.fraction("--candidate-threshold", self.candidate_threshold, include_zero=False, include_one=False)
        for flag, value in (("--num-perm", self.num_perm), ("--ngram", self.ngram), ("--cc-rounds", self.cc_rounds)):
            checks.at_least(flag, value, 1)
        if not 0 <= self.seed < 2 ** 32:
            raise checks.ConfigError(f"--seed must be within [0, 2**32), as datasketch's MinHash seeds are; "
                                     f"got {self.seed}")
        checks.one_of("--keep", self.keep, KEEP_RULES)
        checks.char_count("--max-chars", self.max_chars)
        if self.granularity == "document" and self.candidate_threshold > self.threshold:
            raise checks.ConfigError(f"--candidate-threshold {self.candidate_threshold} is above --threshold "
                                     f"{self.threshold}: banding would miss pairs that verification accepts")

    def compared(self, doc: Document) -> bool:
        """Whether a document is short enough to be compared (exact and MinHash)."""
        return len(doc.text) <= self.max_chars

    def bands(self) -> tuple[int, int]:
        return choose_bands(self.num_perm, self.candidate_threshold)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        bands, rows = self.bands()
        return {"inputs": len(self.units), "threshold": self.threshold, "num_perm": self.num_perm,
                "ngram": self.ngram, "seed": self.seed, "keep": self.keep,
                "candidate_threshold": self.candidate_threshold, "lsh_bands": bands, "lsh_rows": rows,
                "cc_rounds": self.cc_rounds, "granularity": self.granularity, "max_chars": self.max_chars}


def load(items: Iterable[Union[Document, Fault]], path: str, cfg: DedupConfig, counters: Optional[Counters] = None
         ) -> Iterator[tuple[int, Document]]:
    """(row, Document) of one input file's reader output (corpus.readers.stream_documents); faults are
    counted (or raised in strict mode), documents counted as read into `counters` when given."""
    for row, doc in read_rows(items, path, cfg.strict, counters, LOG):
        if counters is not None:
            counters.read(doc)
        yield row, doc


def exact_key(text: str) -> bytes:
    """Hash of the CCNet-normalised full text: equal for documents that differ only in case, digits, punctuation."""
    normalized = "\n".join(normalize_lines_for_dedup(text.split("\n")))
    return hashlib.sha1(normalized.encode("utf-8")).digest()[:12]


def keep_key(doc: Document, node: int, rule: str) -> tuple:
    """Sort key of a cluster member: the smallest is kept (ties, even of equal ids, by input order)."""
    if rule == "perplexity":
        if doc.perplexity is not None:
            return (0, doc.perplexity, -len(doc.text), doc.id, node)
        return (1, 0.0, -len(doc.text), doc.id, node)
    if rule == "longest":
        return (-len(doc.text), doc.id, node)
    if rule == "first":
        return (node,)
    raise ValueError(f"unknown --keep rule {rule!r}; choose one of {', '.join(KEEP_RULES)}")


def raw_key(text: str) -> bytes:
    """Content key of a document too long to compare: SHA-1 of its exact text (never equal to an exact_key)."""
    return b"raw:" + hashlib.sha1(text.encode("utf-8")).digest()


def id_key(doc_id: str) -> bytes:
    """Group key of a document id: 23 bytes, so it never meets a 12-byte exact key."""
    return b"id:" + hashlib.sha1(doc_id.encode("utf-8")).digest()


def id_node(node: int) -> int:
    """Node of an id entry: negative, so exact_decisions knows it and it never matches a real node
    (the pipeline joins every entry's keep key to cluster members by node: these join none)."""
    return -1 - node


def exact_entries(items: Iterable[Union[Document, Fault]], path: str, file_idx: int, cfg: DedupConfig) -> Iterator[tuple[bytes, tuple]]:
    """Exact-stage entries of a file: (exact key, (node, keep key, doc id)) per document within
    `max_chars`, and (id key, (id node, keep key, doc id, content key, path)) per document with an id."""
    for row, doc in load(items, path, cfg):
        node = address(file_idx, row)
        key = keep_key(doc, node, cfg.keep)
        content = exact_key(doc.text) if cfg.compared(doc) else raw_key(doc.text)
        if cfg.compared(doc):
            yield content, (node, key, doc.id)
        if doc.id is not None:
            yield id_key(doc.id), (id_node(node), key, doc.id, content, path)


def id_decisions(members: list[tuple]) -> Iterator[tuple[int, tuple[int, str, str]]]:
    """For one id read 2+ times: (file index, (row, 'duplicate_id', id)) for every copy but the one
    the exact stage keeps or ranks first; MalformedInput when the copies' texts differ."""
    members = sorted(members, key=lambda m: id_node(m[0]))
    first = members[0]
    for other in members[1:]:
        if other[3] != first[3]:
            a, b = id_node(first[0]), id_node(other[0])
            raise MalformedInput(f"id {first[2]!r} names two different documents: {first[4]} (document "
                                 f"{row_of(a) + 1}) and {other[4]} (document {row_of(b) + 1}); input ids must "
                                 f"be unique (a copy with the same text is dropped as duplicate_id)")
    owner = min(members, key=lambda m: m[1])
    for m in members:
        if m is not owner:
            node = id_node(m[0])
            yield file_of(node), (row_of(node), "duplicate_id", m[2])


def keep_best(members: list[tuple], dropped_as: str) -> Iterator[tuple[int, tuple[int, str, str]]]:
    """For a group of (node, keep key, doc id): (file index, (row, 'kept'|`dropped_as`, cluster id))
    per member; the member with the smallest keep key is kept and names the cluster."""
    best = min(members, key=lambda m: m[1])
    for node, *_ in members:
        yield file_of(node), (row_of(node), "kept" if node == best[0] else dropped_as, best[2])


def exact_decisions(members: list[tuple]) -> Iterator[tuple[int, tuple[int, str, str]]]:
    """For an exact group of 2+: `keep_best` as 'exact_duplicate'; for an id group (id entries) see
    `id_decisions`."""
    if len(members) < 2:
        return
    if members[0][0] < 0:
        yield from id_decisions(members)
        return
    yield from keep_best(members, "exact_duplicate")


_PRIORITY = {"duplicate_id": -1, "exact_duplicate": 0, "near_duplicate": 1, "kept": 2}


def merge_decisions(exact: list[tuple[int, str, str]], near: list[tuple[int, str, str]]
                    ) -> dict[int, tuple[str, str]]:
    """row -> (reason, cluster id); a duplicate id wins over all, a drop over a keep, a near cluster
    over an exact one."""
    out: dict[int, tuple[str, str]] = {}
    for row, reason, cluster in [*exact, *near]:
        old = out.get(row)
        if old is None or _PRIORITY[reason] <= _PRIORITY[old[0]]:
            out[row] = (reason, cluster)
    return out


def band_entries(items: Iterable[Union[Document, Fault]], path: str, file_idx: int, cfg: DedupConfig, dropped_rows: set[int],
                 hasher: MinHasher) -> Iterator[tuple[str, tuple]]:
    """Per surviving document with words: ('sig', (node, (signature, distinct shingles))) and one
    ('band', (band key, node)) per LSH band. Shingle counts (distinct hashes) only matter for books."""
    bands, rows = cfg.bands()
    for row, doc in load(items, path, cfg):
        if row in dropped_rows or not cfg.compared(doc):
            continue
        node = address(file_idx, row)
        hashes = shingle_hashes(doc.text, cfg.ngram)
        if not hashes.size:
            continue  # no words: nothing to compare (exact dedup already merged such documents)
        sig = hasher.hashes_signature(hashes)
        size = int(np.unique(hashes).size) if cfg.granularity == "book" else 0
        yield "sig", (node, (sig, size))
        for key in band_keys(sig, bands, rows):
            yield "band", (key, node)


def half_pairs(node: int, pairs_and_sig: dict) -> Iterator[tuple[int, tuple]]:
    """Join step 1: for each candidate (node, other), send node's signature to `other`."""
    sigs = list(pairs_and_sig["sig"])
    if not sigs:
        return
    sig, size = sigs[0]
    for other in pairs_and_sig["pair"]:
        yield other, (node, sig, size)


def verify_halves(node: int, halves_and_sig: dict, threshold: float, granularity: str = "document"
                  ) -> Iterator[tuple[int, int]]:
    """Join step 2: verify each candidate that reached `node` against node's own signature."""
    sigs = list(halves_and_sig["sig"])
    if not sigs:
        return
    sig, size = sigs[0]
    for other, other_sig, other_size in halves_and_sig["half"]:
        if verified(other_sig, sig, threshold, granularity, other_size, size):
            yield (max(node, other), min(node, other))


def cluster_decisions(members: list[tuple[int, tuple, str]]) -> Iterator[tuple[int, tuple[int, str, str]]]:
    """For one near-duplicate cluster: `keep_best` as 'near_duplicate'."""
    yield from keep_best(members, "near_duplicate")


@dataclasses.dataclass
class WriteResult:
    documents: list[Document]
    clusters: list[dict]
    counters: Counters


def apply_decisions(items: Iterable[Union[Document, Fault]], path: str, cfg: DedupConfig, decisions: dict[int, tuple[str, str]]
                    ) -> WriteResult:
    """Drop the rows decided as duplicates; cluster rows for every document in a cluster.

    A `duplicate_id` copy gets no cluster row (the copy that keeps its id speaks for it);
    documents too long to compare are written and tallied under not_compared/too_long.
    """
    counters = Counters()
    kept: list[Document] = []
    clusters: list[dict] = []
    for row, doc in load(items, path, cfg, counters):
        reason, cluster = decisions.get(row, ("", ""))
        if reason == "duplicate_id":
            counters.drop(reason, doc)
            continue
        if not cfg.compared(doc):
            counters.tally("not_compared", "too_long", 1)
        if cluster:
            clusters.append({"id": doc.id, "cluster_id": cluster, "kept": reason == "kept",
                             "reason": reason})
        if reason in ("exact_duplicate", "near_duplicate"):
            counters.drop(reason, doc)
            continue
        counters.write(doc)
        kept.append(doc)
    return WriteResult(kept, clusters, counters)
