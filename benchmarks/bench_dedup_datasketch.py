"""datasketch doing near-duplicate detection as its users do: MinHash.update per shingle,
MinHashLSH(threshold) insert, then a query per document; clusters by union-find of the answers.

One process. Shingles are llamapipe's (word 5-grams) so both see the same sets. Prints one
JSON line: cluster of every document in a cluster (by WARC-Record-ID), signature seconds, total,
and the same as CPU seconds of this process (time.process_time: other jobs on the machine do not count).
"""
import argparse
import json
import time

import datasketch

from corpus.readers import read_documents
from corpus.wet import Fault
from dedup.minhash import shingles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="+", required=True)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    args = ap.parse_args()
    started, cpu_started = time.time(), time.process_time()
    sigs = {}
    sig_seconds = sig_cpu = 0.0
    for path in args.files:
        with open(path, "rb") as f:
            docs = [d for d in read_documents(f.read(), path) if not isinstance(d, Fault)]
        t, c = time.time(), time.process_time()
        for d in docs:
            m = datasketch.MinHash(num_perm=args.num_perm)
            for s in shingles(d.text):
                m.update(s)
            sigs[d.meta["warc_record_id"]] = m
        sig_seconds += time.time() - t
        sig_cpu += time.process_time() - c
    lsh = datasketch.MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
    for key, m in sigs.items():
        lsh.insert(key, m)
    parent = {k: k for k in sigs}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for key, m in sigs.items():
        for other in lsh.query(m):
            a, b = find(key), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    clusters = {}
    for k in sigs:
        clusters.setdefault(find(k), []).append(k)
    multi = {root: members for root, members in clusters.items() if len(members) > 1}
    print(json.dumps({"clusters": multi, "signature_seconds": sig_seconds, "seconds": time.time() - started,
                      "signature_cpu_seconds": sig_cpu, "cpu_seconds": time.process_time() - cpu_started,
                      "bands": lsh.b, "rows": lsh.r}))


if __name__ == "__main__":
    main()
