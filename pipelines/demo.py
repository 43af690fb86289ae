"""`make demo`: train the demo's perplexity models, then run the CCNet pipeline on the bundled sample."""
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
    out = work / "ccnet"
    ensure_models(models)
    rc = cli.main(["ccnet", "--input", str(SAMPLE / "*.warc.wet.gz"), "--output", str(out),
                   "--models", str(models), "--overwrite", *beam_args])
    if rc == 0:
        print(f"demo: shards, _stats.json and _manifest.json are in {out.resolve()}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
