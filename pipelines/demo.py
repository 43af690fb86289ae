"""`make demo`: on the bundled sample, ccnet -> tokenizer-train -> tokenize -> stats (with an HTML report).

The perplexity models are trained first from the bundled reference text. The sample is
CommonCrawl only, so the LLaMA mixture is renormalised to its `cc` source.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filters.perplexity import model_paths
from pipelines import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sample" / "wet"
REFERENCE = ROOT / "tests" / "data" / "reference"
DEMO_LANGS = ("de", "en", "fr")


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=".demo", help="where models and output go (default .demo)")
    args, beam_args = ap.parse_known_args(argv)
    work = Path(args.workdir)
    models = work / "models"
    ensure_models(models)
    steps = [
        ["ccnet", "--input", str(SAMPLE / "*.warc.wet.gz"), "--output", str(work / "ccnet"),
         "--models", str(models), "--overwrite", *beam_args],
        ["tokenizer-train", "--corpus", f"cc={work / 'ccnet'}", "--renormalize", "--vocab-size", "4000",
         "--sample-docs", "700", "--out", str(work / "tokenizer" / "tok.model"), *beam_args],
        ["tokenize", "--corpus", f"cc={work / 'ccnet'}", "--renormalize", "--tokenizer",
         str(work / "tokenizer" / "tok.model"), "--out", str(work / "tokens"), "--overwrite", *beam_args],
        ["stats", str(work / "ccnet"), "--html", str(work / "ccnet-report.html")],
        ["stats", str(work / "tokens"), "--html", str(work / "tokens-report.html")],
    ]
    for step in steps:
        print(f"\ndemo: llamapipe {' '.join(step[:1])} ...", flush=True)
        rc = cli.main(step)
        if rc:
            return rc
    print(f"\ndemo: corpus shards in {(work / 'ccnet').resolve()}, tokenizer in {(work / 'tokenizer').resolve()}, "
          f"token shards in {(work / 'tokens').resolve()}; open {(work / 'ccnet-report.html').resolve()} and "
          f"{(work / 'tokens-report.html').resolve()} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
