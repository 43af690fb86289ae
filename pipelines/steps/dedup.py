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
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
import pyarrow as pa

from corpus.counters import Counters
from corpus.document import Document, address, file_of, row_of
from corpus.normalize import normalize_joined_for_dedup
from corpus.faults import Fault
from corpus.shards import Target
from corpus.wet import MalformedInput
from dedup import spill
from dedup.components import edge_array, no_edges, node_shard, rows_by_key, unique_edges
from dedup.lsh import band_digests, bucket_candidates, choose_bands, passes, shared_counts
from dedup.minhash import MinHasher, shingle_hashes
from pipelines.steps import checks
from pipelines.steps.chain import read_rows
KEEP_RULES = ("perplexity", "longest", "first")
LOG = logging.getLogger("llamapipe.dedup")
# MinHash needs ~12 bytes of memory per character (~120 MB here); longer documents (a few rare
# book compilations) are kept without comparison rather than dropped.
DEFAULT_MAX_CHARS = 10_000_000
# Surviving documents handed to the shard writer at a time.
WRITE_BATCH = 256
# Shingle hashes (4 bytes each) of the candidate sets a verification shard holds at once: 32 MB.
VERIFY_SET_BUDGET = 8 << 20
# Candidate pairs per verification shard (8 MB of pairs; their sets go in runs of VERIFY_SET_BUDGET).
VERIFY_SHARD_PAIRS = 1 << 19


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
    shard_bytes: int = spill.SHARD_INPUT_BYTES

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
        if self.shard_bytes < 1:
            raise checks.ConfigError(f"--shard-mb must be positive; got {self.shard_bytes} bytes")
        checks.char_count("--max-chars", self.max_chars)
        if self.granularity == "document" and self.candidate_threshold > self.threshold:
            raise checks.ConfigError(f"--candidate-threshold {self.candidate_threshold} is above --threshold "
                                     f"{self.threshold}: banding would miss pairs that verification accepts")

    def file_count(self) -> int:
        """Input file indexes run below this (unreadable inputs keep theirs): partitions by input file."""
        return max((idx for idx, _, _ in self.units), default=-1) + 1

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
    return hashlib.sha1(normalize_joined_for_dedup(text.split("\n"))).digest()[:12]


def keep_key(doc: Document, node: int, rule: str) -> tuple:
    """Sort key of a cluster member: the smallest is kept (ties, even of equal ids, by input order)."""
    return keep_key_of(doc.perplexity, len(doc.text), doc.id, node, rule)


def keep_key_of(perplexity: Optional[float], length: int, doc_id: Optional[str], node: int, rule: str) -> tuple:
    """`keep_key` from the fields it reads (as the exact-stage scratch rows keep them)."""
    if rule == "perplexity":
        if perplexity is not None:
            return (0, perplexity, -length, doc_id, node)
        return (1, 0.0, -length, doc_id, node)
    if rule == "longest":
        return (-length, doc_id, node)
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


def spill_file(items: Iterable[Union[Document, Fault]], path: str, file_idx: int, cfg: DedupConfig,
               hasher: MinHasher, shards: int, open_target: Callable[[str], Target]) -> spill.FileSpill:
    """Pass 1 over one input file: write its exact-stage rows (exact key per document within `max_chars`,
    id key per document with an id) and, per compared document with words, its shingle-hash set and
    band digests, as scratch files (dedup/spill.py)."""
    bands, rows = cfg.bands()
    exact: list[tuple] = []
    sets = spill.SetWriter(shards)
    read_docs = read_chars = 0
    for row, doc in load(items, path, cfg):
        read_docs, read_chars = read_docs + 1, read_chars + len(doc.text)
        node = address(file_idx, row)
        compared = cfg.compared(doc)
        content = exact_key(doc.text) if compared else raw_key(doc.text)
        fields = (doc.id, doc.perplexity, len(doc.text))
        if compared:
            hashes = np.unique(shingle_hashes(doc.text, cfg.ngram))
            shards_of = None   # no words: nothing to compare (exact dedup merges such documents)
            if hashes.size:
                digests = band_digests(hasher.hashes_signature(hashes), bands, rows)
                sets.add(node, hashes, digests)
                shards_of = spill.band_shards(digests, shards)
            exact.append((content, node, *fields, None, shards_of))
        if doc.id is not None:
            exact.append((id_key(doc.id), id_node(node), *fields, content, None))
    sets.save(file_idx, open_target)
    groups = spill.save_exact(exact, file_idx, shards, open_target)
    return spill.FileSpill(file_idx, groups, len(sets.nodes), read_docs, read_chars)


def exact_members(table, paths: dict[int, str], rule: str) -> Iterator[list[tuple]]:
    """Groups of 2+ exact-stage rows with one key, as the member tuples `exact_decisions` takes."""
    cols = table.to_pydict()
    by_key: dict[bytes, list[int]] = {}
    for i, key in enumerate(cols["key"]):
        by_key.setdefault(key, []).append(i)
    for key in sorted(by_key):
        rows = by_key[key]
        if len(rows) < 2:
            continue
        members = []
        for i in rows:
            node, doc_id = cols["node"][i], cols["doc_id"][i]
            real = id_node(node) if node < 0 else node
            keep = keep_key_of(cols["perplexity"][i], cols["length"][i], doc_id, real, rule)
            if node < 0:
                members.append((node, keep, doc_id, cols["content"][i], paths[file_of(real)]))
            else:
                members.append((node, keep, doc_id))
        yield members


def exact_shard(shard: int, spills: Sequence[spill.FileSpill], cfg: DedupConfig, shards: int,
                open_file: spill.Opener, open_target: Callable[[str], Target]) -> np.ndarray:
    """Exact and id decisions of one of `shards` hash shards from every file's rows there, written as
    scratch with its exact duplicates by band shard (spill.write_dropped); an
    edge (larger node, smaller node; one (k, 2) array) from each exact duplicate to its group's kept
    member, so that connected components put an exact group in the near-duplicate cluster of its kept
    member (which therefore names the cluster of every exact decision but duplicate_id, whose rows get
    no cluster row)."""
    table = pa.concat_tables([spill.read_exact(s, shard, open_file) for s in spills if shard in s.exact_groups] or
                             [spill.EXACT_SCHEMA.empty_table()])
    paths = {idx: path for idx, path, _ in cfg.units}
    decisions, edges = [], []
    for members in exact_members(table, paths, cfg.keep):
        decisions += [(address(f, row), reason) for f, (row, reason, _) in exact_decisions(members)]
        if members[0][0] >= 0:
            best = min(members, key=lambda m: m[1])[0]
            edges += [(max(m[0], best), min(m[0], best)) for m in members if m[0] != best]
    spill.write_decisions(shard, decisions, cfg.file_count(), open_target)
    dropped = np.array(sorted(node for node, reason in decisions if reason == "exact_duplicate"), dtype=np.int64)
    nodes = table["node"].to_numpy()
    rows = np.flatnonzero(np.isin(nodes, dropped))
    rows = rows[np.argsort(nodes[rows], kind="stable")]
    spill.write_dropped(shard, nodes[rows], table["bands"].take(rows).to_pylist(), shards, open_target)
    return edge_array(edges)


def exact_dropped(band_shard: int, shards: int, open_file: spill.Opener) -> np.ndarray:
    """Nodes with entries in one band shard that the exact stage dropped as exact_duplicate (they take
    no part in banding): that partition of every exact shard's dropped file."""
    parts = [spill.read_dropped(s, band_shard, open_file) for s in range(shards)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def bucket_pairs(entries: np.ndarray) -> np.ndarray:
    """Candidate pairs ((n, 2) int64, smaller node first, unique) of band entries (spill.BAND_DTYPE):
    `bucket_candidates` of every (band, digest) bucket of 2+ documents."""
    e = entries[np.lexsort((entries["node"], entries["digest"], entries["band"]))]
    if len(e) < 2:
        return np.empty((0, 2), dtype=np.int64)
    new = np.ones(len(e), dtype=bool)
    new[1:] = (e["band"][1:] != e["band"][:-1]) | (e["digest"][1:] != e["digest"][:-1])
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(e)))
    nodes = e["node"]
    two = starts[sizes == 2]
    pairs = [np.stack([nodes[two], nodes[two + 1]], axis=1)]
    for lo, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist()):
        pairs.append(np.array(bucket_candidates(nodes[lo:lo + size].tolist()), dtype=np.int64).reshape(-1, 2))
    return np.unique(np.concatenate(pairs), axis=0)


def candidate_shard(shard: int, spills: Sequence[spill.FileSpill], shards: int, open_file: spill.Opener,
                    open_target: Callable[[str], Target]) -> int:
    """Candidate pairs of one band shard (exact duplicates left out), written by verification shard
    (spill.save_pairs); how many."""
    entries = np.concatenate([spill.read_bands(s, shard, open_file) for s in spills] or
                             [np.empty(0, dtype=spill.BAND_DTYPE)])
    entries = entries[~np.isin(entries["node"], exact_dropped(shard, shards, open_file))]
    pairs = bucket_pairs(entries)
    spill.save_pairs(shard, pairs, shards, open_target)
    return len(pairs)


def verify_shards(pairs: int, shards: int) -> int:
    """Verification shards for `pairs` candidate pairs: one per VERIFY_SHARD_PAIRS, at most `shards`."""
    return spill.fold_count(pairs, VERIFY_SHARD_PAIRS, shards)


def verify_shard(shard: int, band_shards: int, cfg: DedupConfig, open_file: spill.Opener,
                 budget: int = VERIFY_SET_BUDGET, parts: Optional[int] = None) -> np.ndarray:
    """Edges (larger node, smaller node; one (k, 2) array) of one of `parts` verification shards (default
    `band_shards`): its candidate pairs (the range of pair shards that folds into it, spill.folded_range)
    from every one of `band_shards` band shards, each verified on the exact shingle-hash sets
    (dedup.lsh.verified). The pairs go in runs whose sets hold at most `budget` hashes together
    (`pair_runs`), so memory stays flat however many candidates a shard gets."""
    lo, hi = spill.folded_range(shard, parts or band_shards, band_shards)
    pairs = np.concatenate([spill.read_pairs(band, lo, open_file, hi) for band in range(band_shards)] or
                           [no_edges()])
    if not len(pairs):
        return no_edges()
    pairs = np.unique(pairs, axis=0)
    reader = spill.SetReader(open_file)
    nodes = np.unique(pairs)
    sizes = reader.sizes(nodes)
    ok = np.zeros(len(pairs), dtype=bool)
    for lo, hi in pair_runs(np.searchsorted(nodes, pairs), sizes, budget):
        ok[lo:hi] = _verify_run(pairs[lo:hi], reader, cfg, (nodes, sizes))
    return np.ascontiguousarray(pairs[ok][:, ::-1])


def _verify_run(pairs: np.ndarray, reader: spill.SetReader, cfg: DedupConfig,
                known: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """`verified` of each pair, reading the run's sets into one flat array (freed when it returns, before
    the next run's load), intersected pair by pair in C (dedup.lsh.shared_counts); `known`: the shard's
    nodes and set sizes, read once for all its runs."""
    nodes, values, offsets = reader.load_flat(pairs.ravel(), known)
    index = np.searchsorted(nodes, pairs)
    found = index < len(nodes)
    found[found] = nodes[index[found]] == pairs[found]
    if not found.all():
        raise ValueError(f"dedup scratch: candidate document {int(pairs[~found][0])} has no shingle set")
    sizes = np.diff(offsets)
    shared = shared_counts(values, offsets, index)
    return passes(shared, sizes[index[:, 0]], sizes[index[:, 1]], cfg.threshold, cfg.granularity)


def pair_runs(pairs: np.ndarray, sizes: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """(lo, hi) runs covering `pairs` ((n, 2) indexes into `sizes`, two different ones per pair) in order,
    each as long as its distinct members' `sizes` add up to at most `budget` (one pair may exceed it)."""
    size = sizes.tolist()
    lo, held, seen = 0, 0, set()
    for i, (a, b) in enumerate(pairs.tolist()):
        new = (0 if a in seen else size[a]) + (0 if b in seen else size[b])
        if held + new > budget and i > lo:
            yield lo, i
            lo, held, seen = i, 0, set()
            new = size[a] + size[b]
        seen.add(a)
        seen.add(b)
        held += new
    yield lo, len(pairs)


MEMBER_FIELDS = ["node", "doc_id", "perplexity", "length"]
MEMBER_SCHEMA = pa.schema([spill.EXACT_SCHEMA.field(f) for f in MEMBER_FIELDS] + [pa.field("centre", pa.int64())])
"""A near-cluster member as member_batches writes it: its keep-key fields (as the exact stage has them), then
the node its cluster is centred on."""


def member_batches(members: Iterable[np.ndarray], spill_of: spill.FileSpill, shards: int, open_file: spill.Opener
                   ) -> Iterator[tuple[int, pa.Table]]:
    """(centre shard, its members) of one file's near-cluster members, given as (node, centre) batches:
    a table of centre and the fields a keep key reads (MEMBER_FIELDS) per member, by `node_shard` of
    the centre."""
    pairs = unique_edges(np.concatenate([no_edges(), *members]))
    table = spill.read_exact(spill_of, None, open_file)
    nodes = table["node"].to_numpy()
    table = table.filter(pa.array((nodes >= 0) & np.isin(nodes, pairs[:, 0]))).select(MEMBER_FIELDS)
    centres = pairs[np.searchsorted(pairs[:, 0], table["node"].to_numpy()), 1]
    table = table.append_column("centre", pa.array(centres, type=pa.int64()))
    for shard, rows in rows_by_key(np.arange(len(table)), node_shard(centres, shards)):
        yield shard, table.take(rows)


DECISION_SCHEMA = pa.schema([("row", pa.int64()), ("reason", pa.string()), ("cluster", pa.string())])


def cluster_batch_decisions(batches: Iterable[pa.Table], rule: str) -> Iterator[tuple[int, pa.Table]]:
    """(file index, its decisions as DECISION_SCHEMA) of every cluster whose members `batches`
    (member_batches of one centre shard) hold: `cluster_decisions` with keys by the --keep `rule`."""
    cols = pa.concat_tables(list(batches)).to_pydict()
    clusters: dict[int, list[tuple[int, tuple, str]]] = {}
    for centre, node, doc_id, perplexity, length in zip(cols["centre"], *(cols[f] for f in MEMBER_FIELDS)):
        clusters.setdefault(centre, []).append((node, keep_key_of(perplexity, length, doc_id, node, rule), doc_id))
    by_file: dict[int, list[tuple[int, str, str]]] = {}
    for centre in sorted(clusters):
        for file_idx, decision in cluster_decisions(clusters[centre]):
            by_file.setdefault(file_idx, []).append(decision)
    for file_idx in sorted(by_file):
        yield file_idx, pa.Table.from_pylist([dict(zip(DECISION_SCHEMA.names, d)) for d in by_file[file_idx]],
                                             schema=DECISION_SCHEMA)


def decision_rows(tables: Iterable[pa.Table]) -> list[tuple[int, str, str]]:
    """The (row, reason, cluster id) decisions of DECISION_SCHEMA tables, as merge_decisions takes them."""
    return [d for t in tables for d in zip(*(t[name].to_pylist() for name in DECISION_SCHEMA.names))]


def file_exact_decisions(file_idx: int, shards: int, open_file: spill.Opener) -> list[tuple[int, str, str]]:
    """(row, reason, "") of one file's exact-stage decisions: its slice of every shard's scratch (the cluster
    id comes from the near-duplicate clusters, see exact_shard)."""
    out = []
    for shard in range(shards):
        part = spill.read_decisions(shard, open_file, file_idx)
        rows, reasons = row_of(part["node"]).tolist(), part["reason"].tolist()
        out.extend((row, spill.REASONS[r], "") for row, r in zip(rows, reasons))
    return out


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
    """row -> (reason, cluster id); a duplicate id wins over all, a drop over a keep; the cluster id is
    the connected component's (`near`, which holds exact groups too) when the row is in one."""
    out: dict[int, tuple[str, str]] = {}
    for row, reason, cluster in [*exact, *near]:
        old = out.get(row)
        if old is None or _PRIORITY[reason] <= _PRIORITY[old[0]]:
            out[row] = (reason, cluster)
    for row, _, cluster in near:
        out[row] = (out[row][0], cluster)
    return out


def cluster_decisions(members: list[tuple[int, tuple, str]]) -> Iterator[tuple[int, tuple[int, str, str]]]:
    """For one near-duplicate cluster: `keep_best` as 'near_duplicate'."""
    yield from keep_best(members, "near_duplicate")


@dataclasses.dataclass
class WriteResult:
    clusters: list[dict]
    counters: Counters


def apply_decisions(items: Iterable[Union[Document, Fault]], path: str, cfg: DedupConfig,
                    decisions: dict[int, tuple[str, str]], write: Callable[[list[Document]], None],
                    batch: int = WRITE_BATCH) -> WriteResult:
    """Drop the rows decided as duplicates and pass the rest to `write`, `batch` documents at a time (so a
    file's survivors are never held together); cluster rows for every document in a cluster.

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
        if len(kept) >= batch:
            write(kept)
            kept = []
    if kept:
        write(kept)
    return WriteResult(clusters, counters)
