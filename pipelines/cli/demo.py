"""`make demo`: all seven sources of LLaMA's Table 1 -> tokenizer-train -> tokenize under the LLaMA
mixture -> stats (HTML reports) -> a tiny LLaMA trained for a few hundred steps on CPU, and a sample of
its text.

The perplexity models are trained first from the bundled reference text. CommonCrawl is the bundled
WET sample through `llamapipe ccnet`, and C4 is the same sample through C4's own rules (`llamapipe c4
--from-wet`), as C4 itself was made from CommonCrawl. The other five sources get inputs in their real
download formats (a Wikipedia multistream dump with its index, Stack Exchange site archives, arXiv
source tars, a GitHub BigQuery export, Gutenberg books), generated once into WORKDIR/inputs from the
bundled real prose by the benchmarks' generators, sized so that no source has to be read for more
epochs than the mixture allows.
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
# Inputs of the other sources: (command and mixture key, generator module in benchmarks/, its function,
# MB of text). Sizes: the sample's CommonCrawl text allows a budget of ~1.8M tokens; each source needs
# proportion / epochs of it (e.g. wikipedia 0.045 / 2.45), with room for what cleaning removes.
GENERATED = [
    ("wikipedia", "bench_source_inputs", "make_wikipedia", 0.3),
    ("stackexchange", "bench_source_inputs", "make_stackexchange", 0.3),
    ("arxiv", "bench_source_inputs", "make_arxiv", 0.35),
    ("github", "bench_github_parts", "make", 0.8),
    ("books", "bench_books_parts", "make", 0.3),
]


def generated_inputs(work: Path) -> dict[str, list[str]]:
    """Each generated source's input files, made once into WORK/inputs/<source> (kept for reruns)."""
    import importlib
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    files = {}
    for name, module, function, mb in GENERATED:
        folder = work / "inputs" / name
        listing = folder / "inputs.json"
        if not listing.exists():
            print(f"demo: generating {mb:g} MB of {name} input in its download format into {folder}", flush=True)
            made = getattr(importlib.import_module(module), function)(folder, mb)
            listing.write_text(json.dumps([str(Path(f).relative_to(folder)) for f in made["files"]]))
        files[name] = [str(folder / f) for f in json.loads(listing.read_text())]
    return files


def print_shares(tokens: Path) -> None:
    """The mixture the token shards realise, next to the configured one."""
    import json

    mixture = json.loads((tokens / "mixture.json").read_text())
    print(f"\ndemo: the LLaMA mixture as tokenized ({mixture['total_tokens']:,} tokens):")
    print(f"  {'source':<14}{'configured':>11}{'realised':>10}{'epochs':>8}{'tokens':>11}")
    for name, src in mixture["sources"].items():
        print(f"  {name:<14}{src['proportion']:>11.3f}{src['realised_share']:>10.3f}{src['epochs_used']:>8.2f}"
              f"{src['tokens']:>11,}")


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
    inputs = generated_inputs(work)
    corpora = {"cc": work / "ccnet", "c4": work / "c4", **{name: work / name for name in inputs}}
    corpus_args = [a for name, folder in corpora.items() for a in ("--corpus", f"{name}={folder}")]
    steps = [
        ["ccnet", "--input", str(SAMPLE / "*.warc.wet.gz"), "--output", str(work / "ccnet"),
         "--models", str(models), "--overwrite", *beam_args],
        ["c4", "--from-wet", "--input", str(SAMPLE / "*.warc.wet.gz"), "--output", str(work / "c4"), "--overwrite",
         *beam_args],
        *([name, *(a for f in files for a in ("--input", f)), "--output", str(work / name), "--overwrite", *beam_args]
          for name, files in inputs.items()),
        ["tokenizer-train", *corpus_args, "--vocab-size", "4000",
         "--sample-docs", "700", "--out", str(work / "tokenizer" / "tok.model"), *beam_args],
        ["tokenize", *corpus_args, "--tokenizer",
         str(work / "tokenizer" / "tok.model"), "--out", str(work / "tokens"), "--overwrite", *beam_args],
        ["stats", *map(str, corpora.values()), "--html", str(work / "corpus-report.html")],
        ["stats", str(work / "tokens"), "--html", str(work / "tokens-report.html")],
    ]
    for step in steps:
        print(f"\ndemo: llamapipe {' '.join(step[:1])} ...", flush=True)
        rc = cli.main(step)
        if rc:
            return rc
        if step[0] == "tokenize":
            print_shares(work / "tokens")
    rc = train_tiny(work)
    if rc:
        return rc
    print(f"\ndemo: corpus shards in {', '.join(str(f.resolve()) for f in corpora.values())}, tokenizer in {(work / 'tokenizer').resolve()}, "
          f"token shards in {(work / 'tokens').resolve()}, the model in {(work / 'train').resolve()}; open {(work / 'corpus-report.html').resolve()}, "
          f"{(work / 'tokens-report.html').resolve()}, {(work / 'train-report.html').resolve()} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
