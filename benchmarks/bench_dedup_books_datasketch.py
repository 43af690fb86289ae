"""datasketch doing book-level near-duplicate detection as its users would: MinHash.update_batch of the
book's shingles, MinHashLSHEnsemble (its containment index) at the same threshold, a query per book;
clusters by union-find of the answers, trusting the index (no verification).

One process, reading the corpus Parquet `llamapipe dedup --granularity book` reads. Shingles are
llamapipe's (word 5-grams) so both see the same sets; a set's size is its count of distinct shingles.
Prints one JSON line: the clusters (book ids), signature and total CPU seconds (time.process_time).
"""
import argparse
import glob
import json
import os
import time

import datasketch
import pyarrow.parquet as pq

from dedup.minhash import shingles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="corpus Parquet folder (lang=*/bucket=*/*.parquet)")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--num-part", type=int, default=16)
    args = ap.parse_args()
    cpu_started = time.process_time()
    entries = []
    sig_cpu = 0.0
    for path in sorted(glob.glob(os.path.join(args.corpus, "lang=*", "bucket=*", "*.parquet"))):
        for row in pq.read_table(path, columns=["id", "text"]).to_pylist():
            c = time.process_time()
            grams = set(shingles(row["text"]))
            m = datasketch.MinHash(num_perm=args.num_perm)
            m.update_batch(list(grams))
            sig_cpu += time.process_time() - c
            entries.append((row["id"], m, len(grams)))
    lsh = datasketch.MinHashLSHEnsemble(threshold=args.threshold, num_perm=args.num_perm, num_part=args.num_part)
    lsh.index(entries)
    parent = {key: key for key, _, _ in entries}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for key, m, size in entries:
        for other in lsh.query(m, size):
            a, b = find(key), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    clusters = {}
    for key in parent:
        clusters.setdefault(find(key), []).append(key)
    multi = {root: members for root, members in clusters.items() if len(members) > 1}
    print(json.dumps({"clusters": multi, "signature_cpu_seconds": sig_cpu,
                      "cpu_seconds": time.process_time() - cpu_started, "num_part": args.num_part}))


if __name__ == "__main__":
    main()
