"""Benchmark `llamapipe dedup` against datasketch on a make_wet_corpus.py corpus; write BENCHMARKS.md.

In one run: precision and recall against the planted truth (pairs of one planted cluster whose
Jaccard to the cluster's source is >= 0.8) for llamapipe and for datasketch's MinHashLSH; the
signature throughput of ours against a datasketch MinHash.update loop on the same documents;
the end-to-end wall time and CPU-seconds of the whole process tree (launcher and workers) against
datasketch insert+query in one process; peak RSS of the tree. With --memory-corpus (a larger
corpus), llamapipe runs on it too and the table compares peak RSS at the two sizes.

    python benchmarks/bench_dedup.py --corpus CORPUS [--memory-corpus BIGGER] [--workers 2]
        [--signature-files 1] [--output BENCHMARKS.md]
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
    """Our vectorised signatures vs a datasketch update loop, same documents, same process, in CPU seconds."""
    import datasketch

    from corpus.readers import read_documents
    from corpus.wet import Fault
    from dedup.minhash import MinHasher, shingles

    docs = [d for f in files for d in read_documents(f.read_bytes(), f.name) if not isinstance(d, Fault)]
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    hasher = MinHasher()
    t = time.process_time()
    ours = [hasher.text_signature(d.text) for d in docs]
    t_ours = time.process_time() - t
    t = time.process_time()
    theirs = []
    for d in docs:
        m = datasketch.MinHash(num_perm=128)
        for s in shingles(d.text):
            m.update(s)
        theirs.append(m.hashvalues)
    t_theirs = time.process_time() - t
    same = all((a == b).all() for a, b in zip(ours, theirs))
    return {"docs": len(docs), "mb": mb, "ours": t_ours, "theirs": t_theirs, "equal": same}


def llamapipe_clusters(out: Path, files: list[Path]) -> list[set[str]]:
    """A dedup run's clusters as sets of WARC-Record-IDs. Records that share a document id (one page
    fetched twice: same URL, same text) are one document to llamapipe, which keeps one of them and drops
    the others as duplicate_id without a _clusters row; so an id stands for all its records, and an id
    read twice outside any cluster is a cluster of its records."""
    import pyarrow.parquet as pq

    from corpus.readers import read_documents
    from corpus.wet import Fault
    records: dict[str, set[str]] = {}
    for f in files:
        for d in read_documents(f.read_bytes(), f.name):
            if not isinstance(d, Fault):
                records.setdefault(d.id, set()).add(d.meta["warc_record_id"])
    groups: dict[str, set[str]] = {}
    clustered = set()
    for r in pq.read_table(out / "_clusters.parquet").to_pylist():
        groups.setdefault(r["cluster_id"], set()).update(records[r["id"]])
        clustered.add(r["id"])
    return list(groups.values()) + [ws for i, ws in records.items() if len(ws) > 1 and i not in clustered]


def run_ours(files: list[Path], out: Path, workers: int) -> dict:
    """`llamapipe dedup` over `files` into `out`, measured (bench_common.measure)."""
    cmd = [sys.executable, "-m", "pipelines.cli", "dedup", "--output", str(out),
           "--workers", str(workers)] + [x for f in files for x in ("--input", str(f))]
    return measure(cmd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="make_wet_corpus.py output (wet/ and truth.jsonl)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--signature-files", type=int, default=1, help="WET files for the signature comparison")
    ap.add_argument("--memory-corpus", help="another make_wet_corpus.py output, larger or smaller: llamapipe's "
                                            "peak RSS there against --corpus (the memory-growth check)")
    ap.add_argument("--skip-datasketch", action="store_true", help="llamapipe only (while developing)")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"),
                    help="Markdown file whose dedup section is (re)written (default: BENCHMARKS.md)")
    args = ap.parse_args()
    corpus = Path(args.corpus).resolve()
    files = sorted((corpus / "wet").glob("*.warc.wet.gz"))
    truth = {d["id"]: d for d in map(json.loads, open(corpus / "truth.jsonl", encoding="utf-8"))}
    mb = sum(t["text_bytes"] for t in truth.values()) / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    try:
        print(f"llamapipe dedup on {len(files)} files ({mb:.0f} MB)...", flush=True)
        ours = run_ours(files, tmp / "out", args.workers)
        ours_pr = precision_recall(llamapipe_clusters(tmp / "out", files), truth)
        stats = json.loads((tmp / "out" / "_stats.json").read_text())
        big = None
        if args.memory_corpus:
            big_corpus = Path(args.memory_corpus).resolve()
            big_files = sorted((big_corpus / "wet").glob("*.warc.wet.gz"))
            big_mb = sum(json.loads(line)["text_bytes"] for line in open(big_corpus / "truth.jsonl")) / 1e6
            print(f"llamapipe dedup on {len(big_files)} files ({big_mb:.0f} MB), memory check...", flush=True)
            shutil.rmtree(tmp / "out", ignore_errors=True)
            big = {**run_ours(big_files, tmp / "big", args.workers), "mb": big_mb, "files": len(big_files)}
            shutil.rmtree(tmp / "big", ignore_errors=True)
        ds = ds_out = ds_pr = None
        if not args.skip_datasketch:
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
        f"to their source. Threshold 0.8, 128 permutations, word 5-grams, same shingles for both; llamapipe "
        f"verifies each LSH candidate pair by the exact Jaccard of the two shingle-hash sets, datasketch "
        f"trusts its LSH buckets. CPU s: user + system of the whole process tree (launcher and workers), "
        f"which another job on the machine does not change. One run, {time.strftime('%Y-%m-%d')}.",
        "",
        "| system | wall s | cores | CPU s | CPU s per MB | precision | recall | predicted pairs | truth pairs "
        "| peak RSS GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| llamapipe dedup (Beam, {args.workers} workers; exact + LSH {stats['config']['lsh_bands']}x"
        f"{stats['config']['lsh_rows']} + exact-Jaccard verification + star components) | {ours['wall']:.1f} | "
        f"{args.workers} | {ours['cpu']:.1f} | {ours['cpu'] / mb:.3f} | {ours_pr[0]:.3f} | {ours_pr[1]:.3f} | "
        f"{ours_pr[2]:,} | {ours_pr[3]:,} | {ours['peak_rss'] / 1e9:.2f} |",
    ]
    if ds is not None:
        lines.append(
            f"| datasketch MinHash.update + MinHashLSH insert/query ({ds_out['bands']}x{ds_out['rows']}), 1 process "
            f"| {ds['wall']:.1f} | 1 | {ds['cpu']:.1f} | {ds['cpu'] / mb:.3f} | {ds_pr[0]:.3f} | {ds_pr[1]:.3f} | "
            f"{ds_pr[2]:,} | {ds_pr[3]:,} | {ds['peak_rss'] / 1e9:.2f} |")
    lines += [
        "",
        f"llamapipe dropped {dropped.get('exact_duplicate', 0):,} exact and {dropped.get('near_duplicate', 0):,} "
        f"near duplicates of {stats['documents']['read']:,} documents.",
    ]
    if ds is not None:
        lines[-1] += (f" Per CPU-second: llamapipe {mb / ours['cpu']:.2f} MB/s, datasketch {mb / ds['cpu']:.2f} "
                      f"MB/s: **{ds['cpu'] / ours['cpu']:.1f}×**; per core by wall time: llamapipe "
                      f"{mb / ours['wall'] / args.workers:.2f} MB/s, datasketch {mb / ds['wall']:.2f} MB/s.")
    if big is not None:
        sizes = sorted([(mb, ours), (big["mb"], big)], key=lambda x: x[0])
        growth = sizes[1][1]["peak_rss"] / sizes[0][1]["peak_rss"] - 1
        lines += [
            "",
            f"Memory at two sizes (llamapipe, default local runner, {args.workers} workers; peak RSS summed over "
            f"the process tree, sampled every 0.1 s; launcher = the `llamapipe` process, worker = the largest "
            f"other process):",
            "",
            "| input | files | wall s | CPU s | CPU s per MB | peak RSS GB (tree) | launcher GB | largest worker GB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, m, n_mb, n_files in (("--corpus", ours, mb, len(files)), ("--memory-corpus", big, big["mb"],
                                                                               big["files"])):
            lines.append(f"| {n_mb:.0f} MB ({label}) | {n_files} | {m['wall']:.1f} | {m['cpu']:.1f} | "
                         f"{m['cpu'] / n_mb:.3f} | {m['peak_rss'] / 1e9:.2f} | {m['peak_root'] / 1e9:.2f} | "
                         f"{m['peak_child'] / 1e9:.2f} |")
        lines += ["", f"Peak RSS grows **{growth:+.0%}** for {sizes[1][0] / sizes[0][0]:.1f}× the input (target: at "
                      f"most +25%)."]
    lines += [
        "",
        f"Signatures alone, same {sig['docs']:,} documents ({sig['mb']:.0f} MB), one process, per CPU-second, "
        f"shingling included: llamapipe {sig['mb'] / sig['ours']:.1f} MB/s ({sig['docs'] / sig['ours']:.0f} docs/s), "
        f"datasketch update loop {sig['mb'] / sig['theirs']:.1f} MB/s ({sig['docs'] / sig['theirs']:.0f} docs/s): "
        f"**{sig['theirs'] / sig['ours']:.1f}×**; signatures identical: {sig['equal']}.",
    ]
    write_section(Path(args.output), "dedup", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
