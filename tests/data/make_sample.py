"""Rebuild the bundled sample (WET files + truth) and the demo's reference texts.

Needs the Debian documentation packages that ../shared/bench/make_wet_corpus.py reads
(see tests/data/README.md). Reference texts are pool documents that the sample does not
use, so the demo's language models never saw the documents they score.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = "debian-handbook,debian-reference,maint-guide,installation-guide"
REFERENCE_LANGS = ("en", "de", "fr")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-tool", default=str(HERE.parents[2] / "shared" / "bench" / "make_wet_corpus.py"))
    ap.add_argument("--cache-dir", default="/tmp/llamapipe-pool-cache")
    args = ap.parse_args()
    out = HERE / "sample"
    subprocess.run([sys.executable, args.bench_tool, "--out", str(out), "--size-mb", "5", "--file-mb", "1.7",
                    "--seed", "7", "--sources", SOURCES, "--cache-dir", args.cache_dir,
                    "--prefix", "CC-MAIN-sample", "--jobs", "2"], check=True)
    used = {json.loads(l)["source_path"] for l in open(out / "truth.jsonl", encoding="utf-8")}
    pools = sorted(glob.glob(os.path.join(args.cache_dir, "pool-*.jsonl.gz")), key=os.path.getmtime)
    ref_dir = HERE / "reference"
    ref_dir.mkdir(exist_ok=True)
    texts: dict[str, list[str]] = {l: [] for l in REFERENCE_LANGS}
    with gzip.open(pools[-1], "rt", encoding="utf-8") as f:
        next(f)
        for line in f:
            doc = json.loads(line)
            if doc["lang"] in texts and f"{doc['path']}#{doc['part']}" not in used:
                texts[doc["lang"]].append(doc["text"])
    for lang, docs in texts.items():
        with gzip.open(ref_dir / f"{lang}.txt.gz", "wt", encoding="utf-8", compresslevel=9) as f:
            f.write("\n".join(docs) + "\n")
        print(f"reference/{lang}.txt.gz: {len(docs)} documents")


if __name__ == "__main__":
    main()
