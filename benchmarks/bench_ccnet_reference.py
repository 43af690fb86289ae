"""cc_net 1.0.0 doing the ccnet benchmark's work, in one process, with cc_net's own functions.

Runs in cc_net's own virtualenv (see bench_ccnet.py): parse WET (min length), two-pass
line dedup (HashesCollector then DuplicatesRemover, as cc_net's deduplicate_two_pass), fastText
LID with the threshold, SentencePiece + KenLM perplexity for the languages with models.
Prints one JSON line: documents read, kept, with perplexity, seconds.
"""
import argparse
import gzip
import json
import time
from pathlib import Path

from cc_net import dedup, perplexity, process_wet_file, split_by_lang


def read_docs(path: str, min_len: int):
    with gzip.open(path, "rt", encoding="utf-8", errors="strict") as f:
        yield from process_wet_file.parse_warc_file(f, min_len=min_len)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="+", required=True)
    ap.add_argument("--lid-model", required=True)
    ap.add_argument("--models", required=True, help="folder with lm/<lang>.sp.model and .arpa.bin")
    ap.add_argument("--langs", default="en")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--min-len", type=int, default=300)
    args = ap.parse_args()
    started = time.time()
    langs = args.langs.split(",")
    lm_dir = Path(args.models) / "lm"
    collector = dedup.HashesCollector(field="raw_content").__enter__()
    n_read = 0
    for path in args.files:
        for doc in read_docs(path, args.min_len):
            collector(doc)
            n_read += 1
    remover = dedup.DuplicatesRemover(field="raw_content", hashes_files=[]).__enter__()
    remover.duplicates = collector.hashes
    lid = split_by_lang.Classifier(model=Path(args.lid_model), field="raw_content", out_field="language",
                                   threshold=args.threshold).__enter__()
    sp = perplexity.MultiSentencePiece({l: lm_dir / f"{l}.sp.model" for l in langs}, field="raw_content",
                                       output_field="tokenized", normalize=True).__enter__()
    lm = perplexity.DocLM({l: lm_dir / f"{l}.arpa.bin" for l in langs}, field="tokenized",
                          output_field="perplexity", normalize=False).__enter__()
    kept = scored = 0
    for path in args.files:
        for doc in read_docs(path, args.min_len):
            doc = remover(doc)
            if doc is None:
                continue
            doc = lid(doc)
            if doc is None:
                continue
            kept += 1
            if doc.get("language") in langs:
                lm(sp(doc))
                scored += 1
    print(json.dumps({"documents_read": n_read, "documents_kept": kept, "documents_scored": scored,
                      "seconds": time.time() - started}))


if __name__ == "__main__":
    main()
