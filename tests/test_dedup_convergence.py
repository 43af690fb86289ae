"""`llamapipe dedup`'s connected components on a long chain of near copies: found with enough
--cc-rounds, refused (not silently cut) with too few."""
from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest

from dedup.components import components
from tests.conftest import read_stats, run_dedup

DOCS = 80


def _chain(tmp_path):
    """DOCS documents, each a 300-word window 6 words on from the previous (Jaccard ~0.96 to it, below
    0.8 from 6 windows on; letters only, as CCNet normalisation maps digits to 0), in shuffled order
    so that node order does not follow the chain."""
    rnd = random.Random(0)
    words = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=8)) for _ in range(300 + 6 * DOCS)]
    docs = [{"id": f"doc{i:03d}", "text": " ".join(words[6 * i:6 * i + 300])} for i in range(DOCS)]
    rnd.shuffle(docs)
    src = tmp_path / "chain.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return src, [d["id"] for d in docs]


def test_long_chain_is_one_cluster(tmp_path):
    src, _ = _chain(tmp_path)
    out = tmp_path / "out"
    assert run_dedup(out, [str(src)], "--keep", "first", "--workers", "2", "--shard-mb", "0.01") == 0
    clusters = pq.read_table(out / "_clusters.parquet").to_pylist()
    assert len(clusters) == DOCS and len({r["cluster_id"] for r in clusters}) == 1
    assert sum(r["kept"] for r in clusters) == 1
    assert read_stats(out)["connected_components"] == {"rounds": 12, "converged": True}
    one = tmp_path / "one"                                  # one worker, one shard: the same bytes
    assert run_dedup(one, [str(src)], "--keep", "first", "--workers", "1") == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (one / f).read_bytes(), f


def test_too_few_rounds_refused(tmp_path):
    src, order = _chain(tmp_path)
    # the reference needs more than one round on this chain's graph (node i = row i of the shuffled file)
    row = {doc: i for i, doc in enumerate(order)}
    edges = [(row[f"doc{i:03d}"], row[f"doc{j:03d}"]) for i in range(DOCS) for j in range(i + 1, min(DOCS, i + 6))]
    with pytest.raises(RuntimeError):
        components(edges, max_rounds=1)
    out = tmp_path / "out"
    with pytest.raises(Exception, match="not converged after 1 rounds"):
        run_dedup(out, [str(src)], "--keep", "first", "--workers", "2", "--shard-mb", "0.01", "--cc-rounds", "1")
    assert not (out / "_SUCCESS").exists()
