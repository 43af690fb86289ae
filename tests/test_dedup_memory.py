"""Dedup's shard steps hold one shard's slice, not the corpus: run over 6x the input (with 6x the hash
shards, as the pipeline chooses them), every step in one process peaks at about the same allocations."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILE_DOCS = 500

ALL_STEPS = """
import json, sys, tracemalloc
from corpus.readers import stream_documents
from dedup import spill
from dedup.minhash import MinHasher
from pipelines.fileio import AtomicFile
from pipelines.steps.dedup import DedupConfig, candidate_shard, exact_shard, spill_file, verify_shard

paths, out = json.loads(sys.argv[1]), sys.argv[2]
tracemalloc.start()
cfg = DedupConfig(units=tuple((i, p, f"part-{i}") for i, p in enumerate(paths)), out=out, shard_bytes=1 << 20)
target, opener = (lambda n: AtomicFile(f"{out}/{n}")), (lambda n: open(f"{out}/{n}", "rb"))
shards = spill.shard_count(sum(len(open(p, "rb").read()) for p in paths), cfg.shard_bytes)
spills = [spill_file(stream_documents(p), p, i, cfg, MinHasher(), shards, target) for i, p in enumerate(paths)]
exact = sum(len(exact_shard(s, spills, cfg, shards, opener, target)) for s in range(shards))
pairs = sum(candidate_shard(s, spills, shards, opener, target) for s in range(shards))
edges = sum(1 for s in range(shards) for _ in verify_shard(s, shards, cfg, opener))
print(shards, exact, edges, tracemalloc.get_traced_memory()[1] >> 10)
"""


def _corpus(folder: Path, files: int, seed: int) -> list[str]:
    """`files` JSONL files of FILE_DOCS documents (~1 MB each): random 300-word texts, a fifth of them
    near copies (3 words changed) and a tenth exact copies of earlier documents of any file."""
    rnd = random.Random(seed)
    vocab = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(3, 9))) for _ in range(20000)]
    texts: list[list[str]] = []
    paths = []
    folder.mkdir()
    for f in range(files):
        path = folder / f"part-{f:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for d in range(FILE_DOCS):
                roll = rnd.random()
                if texts and roll < 0.1:
                    words = list(rnd.choice(texts))
                elif texts and roll < 0.3:
                    words = list(rnd.choice(texts))
                    for _ in range(3):
                        words[rnd.randrange(len(words))] = rnd.choice(vocab)
                else:
                    words = rnd.choices(vocab, k=300)
                texts.append(words)
                out.write(json.dumps({"id": f"f{f}d{d}", "text": " ".join(words)}) + "\n")
        paths.append(str(path))
    return paths


def _run(paths: list[str], out: Path) -> tuple[int, int, int, int]:
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", ALL_STEPS, json.dumps(paths), str(out)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    shards, exact, edges, peak_kb = map(int, done.stdout.split())
    return shards, exact, edges, peak_kb


def test_shard_steps_memory_stays_flat(tmp_path):
    small = _run(_corpus(tmp_path / "small", 2, 1), tmp_path / "out-small")
    large = _run(_corpus(tmp_path / "large", 12, 2), tmp_path / "out-large")
    assert large[0] >= 4 * small[0] >= 8, (small, large)   # the shard count follows the input size
    assert large[1] > 4 * small[1] > 0 and large[2] > 4 * small[2] > 0, (small, large)  # decisions, edges too
    # 10 MB more input (7 MB more shingle sets, 2 MB more band entries, as scratch files): a step holding
    # all sets would allocate ~7 MB more at its peak; one holding a shard's slice allocates the same ~3 MB
    # (Python and numpy allocations traced by tracemalloc: exact, unlike RSS, which moved by several MB
    # with whatever the parent pytest process had imported).
    assert large[3] - small[3] < 2 << 10, (small, large)


def test_verification_holds_a_budget_of_shingle_sets_not_every_candidate(tmp_path):
    """One cluster of 60 near copies of a 6,000-word text (1,770 candidate pairs, 60 sets of ~6,000 hashes,
    ~1.4 MB in all): verifying with a budget of 24,000 hashes allocates a fraction of what holding every
    set does, and finds the same edges."""
    import tracemalloc

    import numpy as np

    from corpus.readers import stream_documents
    from dedup.minhash import MinHasher
    from pipelines.fileio import AtomicFile
    from pipelines.steps.dedup import DedupConfig, candidate_shard, exact_shard, spill_file, verify_shard

    rnd = random.Random(5)
    vocab = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=7)) for _ in range(5000)]
    base = rnd.choices(vocab, k=6000)
    path = tmp_path / "cluster.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for d in range(60):
            words = list(base)
            for _ in range(3):
                words[rnd.randrange(len(words))] = rnd.choice(vocab)
            out.write(json.dumps({"id": f"d{d}", "text": " ".join(words)}) + "\n")
    cfg = DedupConfig(units=((0, str(path), "part-0"),), out=str(tmp_path))
    target, opener = (lambda n: AtomicFile(str(tmp_path / n))), (lambda n: open(tmp_path / n, "rb"))
    spills = [spill_file(stream_documents(str(path)), str(path), 0, cfg, MinHasher(), 1, target)]
    exact_shard(0, spills, cfg, 1, opener, target)
    assert candidate_shard(0, spills, 1, opener, target) == 60 * 59 // 2
    peaks, edges = [], []
    for budget in (10 ** 9, 24_000):
        tracemalloc.start()
        edges.append(verify_shard(0, 1, cfg, opener, budget))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert len(edges[0]) == 60 * 59 // 2 and np.array_equal(edges[0], edges[1])
    assert peaks[0] > 1_400_000 and peaks[1] < peaks[0] / 3, peaks
