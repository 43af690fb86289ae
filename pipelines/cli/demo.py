"""`make demo`: on the bundled sample, ccnet and the dump sources -> tokenizer-train -> tokenize -> stats
(HTML reports) -> a tiny LLaMA trained for a few hundred steps on CPU, and a sample of its text.

The perplexity models are trained first from the bundled reference text. The sources are the
CommonCrawl sample and the test fixtures of the dump sources (Wikipedia, ...); the LLaMA mixture is
renormalised over the sources still missing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filters.perplexity import model_paths
from pipelines import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "sample" / "wet"
REFERENCE = ROOT / "tests" / "data" / "reference"
DEMO_LANGS = ("de", "en", "fr")
# The dump sources on their test fixtures: (command and mixture key, its --input flags).
FIXTURES = ROOT / "tests" / "data"
DUMP_SOURCES = [
    ("wikipedia", ["--input", str(FIXTURES / "wikipedia" / "*-multistream.xml.bz2")]),
    ("stackexchange", ["--input", str(FIXTURES / "stackexchange" / "7z" / "*.7z")]),
    ("arxiv", ["--input", str(FIXTURES / "arxiv" / "arXiv_src_*.tar")]),
]


def ensure_models(models: Path) -> None:
    """Train MODELS/lm/<lang>.* for the demo languages unless they are already there."""
    for lang in DEMO_LANGS:
        if all(p.exists() for p in model_paths(models, lang)):
            continue
        print(f"demo: training {lang} SentencePiece + KenLM models from {REFERENCE / f'{lang}.txt.gz'}",
              flush=True)
        rc = cli.main(["lm-train", "--lang", lang, "--text", str(REFERENCE / f"{lang}.txt.gz"),
                       "--out", str(models), "--vocab-size", "4000"])
        if rc:
            sys.exit(rc)


def train_tiny(work: Path) -> int:
    """The tiny LLaMA on the demo's token shards (a fresh run each time), then a few sampled words."""
    import shutil

    from train.__main__ import main as train_main
    from train.generate import generate, load_model

    out = work / "train"
    shutil.rmtree(out, ignore_errors=True)
    print("\ndemo: python -m train (tiny model, 300 steps on CPU) ...", flush=True)
    rc = train_main([f"tokens={work / 'tokens'}", f"out_dir={out}", "model=tiny", "seq_len=128", "batch_tokens=2048",
                     "micro_batch=16", "max_steps=300", "warmup_steps=30", "log_every=50", "eval_every=150",
                     "checkpoint_every=150"])
    if rc:
        return rc
    model, sp, _ = load_model(out)
    print(f"demo: python -m train.generate --checkpoint {out} --prompt 'The' ->")
    print("  The" + generate(model, sp, "The", max_new_tokens=40, seed=0))
    print("\ndemo: llamapipe stats (training run) ...", flush=True)
    return cli.main(["stats", str(out), "--html", str(work / "train-report.html")])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=".demo", help="where models and output go (default .demo)")
    args, beam_args = ap.parse_known_args(argv)
    work = Path(args.workdir)
    models = work / "models"
    ensure_models(models)
    corpora = {"cc": work / "ccnet", **{name: work / name for name, _ in DUMP_SOURCES}}
    corpus_args = [a for name, folder in corpora.items() for a in ("--corpus", f"{name}={folder}")]
    steps = [
        ["ccnet", "--input", str(SAMPLE / "*.warc.wet.gz"), "--output", str(work / "ccnet"),
         "--models", str(models), "--overwrite", *beam_args],
        *([name, *inputs, "--output", str(work / name), "--overwrite", *beam_args] for name, inputs in DUMP_SOURCES),
        ["tokenizer-train", *corpus_args, "--renormalize", "--vocab-size", "4000",
         "--sample-docs", "700", "--out", str(work / "tokenizer" / "tok.model"), *beam_args],
        ["tokenize", *corpus_args, "--renormalize", "--tokenizer",
         str(work / "tokenizer" / "tok.model"), "--out", str(work / "tokens"), "--overwrite", *beam_args],
        ["stats", *map(str, corpora.values()), "--html", str(work / "corpus-report.html")],
        ["stats", str(work / "tokens"), "--html", str(work / "tokens-report.html")],
    ]
    for step in steps:
        print(f"\ndemo: llamapipe {' '.join(step[:1])} ...", flush=True)
        rc = cli.main(step)
        if rc:
            return rc
    rc = train_tiny(work)
    if rc:
        return rc
    print(f"\ndemo: corpus shards in {', '.join(str(f.resolve()) for f in corpora.values())}, tokenizer in {(work / 'tokenizer').resolve()}, "
          f"token shards in {(work / 'tokens').resolve()}, the model in {(work / 'train').resolve()}; open {(work / 'corpus-report.html').resolve()}, "
          f"{(work / 'tokens-report.html').resolve()}, {(work / 'train-report.html').resolve()} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
