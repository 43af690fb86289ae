"""Benchmark `llamapipe dedup` against datasketch on a make_wet_corpus.py corpus; write BENCHMARKS.md.

In one run: precision and recall against the planted truth (pairs of one planted cluster whose
Jaccard to the cluster's source is >= 0.8) for llamapipe and for datasketch's MinHashLSH; the
signature throughput of ours against a datasketch MinHash.update loop on the same documents;
the end-to-end time against datasketch insert+query in one process; peak memory.

    python benchmarks/bench_dedup.py --corpus CORPUS [--workers 2] [--signature-files 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

from bench_common import ROOT, machine, measure, write_section

HERE = Path(__file__).resolve().parent


def precision_recall(clusters: list[set[str]], truth: dict[str, dict]) -> tuple[float, float, int, int]:
    """Pair precision (predicted pairs inside one planted cluster) and recall of planted copy pairs."""
    pred = {frozenset(p) for members in clusters for p in combinations(sorted(members), 2)}
    wanted = {frozenset((t["id"], t["dup_of"])) for t in truth.values()
              if t["cluster_role"] == "copy" and (t["jaccard_w5"] or 0) >= 0.8 and t["dup_of"] in truth}
    good = sum(1 for p in pred if len({truth[x]["cluster"] for x in p}) == 1 and truth[next(iter(p))]["cluster"])
    precision = good / len(pred) if pred else 1.0
    recall = len(wanted & pred) / len(wanted) if wanted else 1.0
    return precision, recall, len(pred), len(wanted)


def signature_throughput(files: list[Path]) -> dict:
    """Our vectorised signatures vs a datasketch update loop, same documents, one process each."""
    import datasketch

    from corpus.readers import read_documents
    from corpus.wet import Fault
    from dedup.minhash import MinHasher, shingles

    docs = [d for f in files for d in read_documents(f.read_bytes(), f.name) if not isinstance(d, Fault)]
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    hasher = MinHasher()
    t = time.time()
    ours = [hasher.text_signature(d.text) for d in docs]
    t_ours = time.time() - t
    t = time.time()
    theirs = []
    for d in docs:
        m = datasketch.MinHash(num_perm=128)
        for s in shingles(d.text):
            m.update(s)
        theirs.append(m.hashvalues)
    t_theirs = time.time() - t
    same = all((a == b).all() for a, b in zip(ours, theirs))
    return {"docs": len(docs), "mb": mb, "ours": t_ours, "theirs": t_theirs, "equal": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="make_wet_corpus.py output (wet/ and truth.jsonl)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--signature-files", type=int, default=1, help="WET files for the signature comparison")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    corpus = Path(args.corpus).resolve()
    files = sorted((corpus / "wet").glob("*.warc.wet.gz"))
    truth = {d["id"]: d for d in map(json.loads, open(corpus / "truth.jsonl", encoding="utf-8"))}
    mb = sum(t["text_bytes"] for t in truth.values()) / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    try:
        print(f"llamapipe dedup on {len(files)} files ({mb:.0f} MB)...", flush=True)
        cmd = [sys.executable, "-m", "pipelines.cli", "dedup", "--output", str(tmp / "out"),
               "--workers", str(args.workers)] + [x for f in files for x in ("--input", str(f))]
        ours = measure(cmd)
        import pyarrow.parquet as pq

        from corpus.readers import read_documents
        from corpus.wet import Fault
        warc = {d.id: d.meta["warc_record_id"] for f in files for d in read_documents(f.read_bytes(), f.name)
                if not isinstance(d, Fault)}
        groups: dict[str, set[str]] = {}
        for r in pq.read_table(tmp / "out" / "_clusters.parquet").to_pylist():
            groups.setdefault(r["cluster_id"], set()).add(warc[r["id"]])
        ours_pr = precision_recall(list(groups.values()), truth)
        stats = json.loads((tmp / "out" / "_stats.json").read_text())
        print("datasketch MinHashLSH, one process...", flush=True)
        ds = measure([sys.executable, str(HERE / "bench_dedup_datasketch.py"), "--files", *map(str, files)])
        ds_out = json.loads(ds["last"])
        ds_pr = precision_recall([set(v) for v in ds_out["clusters"].values()], truth)
        print("signature throughput...", flush=True)
        sig = signature_throughput(files[: args.signature_files])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import apache_beam
    import datasketch
    dropped = stats["documents"]["dropped"]
    lines = [
        "## Near-duplicate removal (`benchmarks/bench_dedup.py`)",
        "",
        f"Machine: {machine()}. Python {platform.python_version()}, apache-beam {apache_beam.__version__}, "
        f"datasketch {datasketch.__version__}. Corpus: {len(files)} WET files from make_wet_corpus.py, "
        f"{len(truth):,} documents, {mb:.0f} MB of text; truth pairs: planted copies with 5-gram Jaccard >= 0.8 "
        f"to their source. Threshold 0.8, 128 permutations, word 5-grams, same shingles for both. "
        f"One run, {time.strftime('%Y-%m-%d')}.",
        "",
        "| system | wall s | cores | precision | recall | predicted pairs | truth pairs | peak RSS GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| llamapipe dedup (Beam, {args.workers} workers; exact + LSH {stats['config']['lsh_bands']}x"
        f"{stats['config']['lsh_rows']} + verification + star components) | {ours['wall']:.1f} | {args.workers} | "
        f"{ours_pr[0]:.3f} | {ours_pr[1]:.3f} | {ours_pr[2]:,} | {ours_pr[3]:,} | {ours['peak_rss'] / 1e9:.2f} |",
        f"| datasketch MinHash.update + MinHashLSH insert/query ({ds_out['bands']}x{ds_out['rows']}), 1 process "
        f"| {ds['wall']:.1f} | 1 | {ds_pr[0]:.3f} | {ds_pr[1]:.3f} | {ds_pr[2]:,} | {ds_pr[3]:,} | "
        f"{ds['peak_rss'] / 1e9:.2f} |",
        "",
        f"llamapipe dropped {dropped.get('exact_duplicate', 0):,} exact and {dropped.get('near_duplicate', 0):,} "
        f"near duplicates of {stats['documents']['read']:,} documents. End-to-end per core: llamapipe "
        f"{mb / ours['wall'] / args.workers:.2f} MB/s, datasketch {mb / ds['wall']:.2f} MB/s.",
        "",
        f"Signatures alone, same {sig['docs']:,} documents ({sig['mb']:.0f} MB), one process each, shingling "
        f"included: llamapipe {sig['mb'] / sig['ours']:.1f} MB/s ({sig['docs'] / sig['ours']:.0f} docs/s), "
        f"datasketch update loop {sig['mb'] / sig['theirs']:.1f} MB/s ({sig['docs'] / sig['theirs']:.0f} docs/s): "
        f"**{sig['theirs'] / sig['ours']:.1f}×**; signatures identical: {sig['equal']}.",
    ]
    write_section(Path(args.output), "dedup", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
