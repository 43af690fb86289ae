"""The quality classifier's four commands: `wiki-refs` (reference URLs of Wikipedia dumps),
`quality-data` (the fastText training file), `quality-train` (the fastText CLI, deterministic) and
`quality-filter` (keep the ccnet documents the classifier calls references)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from pipelines.cli.common import (CLIError, absolute, add_run_flags, checked, claim_out, run_pipeline,
                                  unreadable_inputs, user_errors)
from pipelines.steps import checks
from pipelines.steps.quality import (DEFAULT_BUCKETS, MODES, QualityDataConfig, QualityFilterConfig,
                                     QualityTrainConfig, WikiRefsConfig, bucket_list)

R, DD, T, F = WikiRefsConfig(), QualityDataConfig(), QualityTrainConfig(), QualityFilterConfig()


def _buckets(flag: str):
    """argparse type of a comma-separated bucket list, checked by the config's rule."""
    return checked(lambda v: [b.strip() for b in v.split(",") if b.strip()], lambda v: bucket_list(flag, v))


def add_parsers(sub) -> None:
    p = sub.add_parser("wiki-refs", allow_abbrev=False, help="Wikipedia dump -> reference URLs (Parquet)",
                       description=("Read Wikipedia pages-articles-multistream dumps and write the URLs cited in "
                                    "<ref> tags of articles as OUT/refs/part-NNNNN.parquet (url, url_norm, page_id, "
                                    "title) with _stats.json, _manifest.json and _SUCCESS. Unknown --flags go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="dumps, e.g. 'enwiki-*-pages-articles-multistream*.xml.bz2' (index files are skipped)")
    p.add_argument("--output", required=True, metavar="REFS", help="output folder")
    p.add_argument("--mode", choices=MODES, default=R.mode,
                   help="parser: mwparserfromhell, every <ref> with any attributes, its external links and url= / "
                        "archive-url= template parameters; redpajama: RedPajama v1's two regexes on the escaped "
                        f"text, bugs included (bare <ref> only, a trailing '&lt') (default {R.mode})")
    p.add_argument("--streams-per-unit", type=checked(int, lambda v: checks.at_least("--streams-per-unit", v, 1)),
                   default=R.streams_per_unit, help=f"bz2 streams one worker reads in one piece (default "
                                                    f"{R.streams_per_unit})")
    add_run_flags(p)
    p.set_defaults(func=run_wiki_refs)

    p = sub.add_parser("quality-data", allow_abbrev=False, help="reference URLs + ccnet corpus -> fastText data",
                       description=("Positives: ccnet documents whose normalised URL a Wikipedia reference cites "
                                    "(one per URL, at least --min-chars); negatives: as many other documents of the "
                                    "buckets, sampled by a seeded hash of their id. Writes OUT/train.txt, valid.txt "
                                    "(__label__wiki / __label__cc lines ordered by hash) and _stats.json."))
    p.add_argument("--refs", required=True, metavar="REFS", help="a finished wiki-refs output folder")
    p.add_argument("--corpus", required=True, metavar="CCNET_OUT", help="a finished ccnet output folder")
    p.add_argument("--output", required=True, metavar="DATA", help="output folder")
    p.add_argument("--positives", action="append", default=None, metavar="GLOB",
                   help="WET files of your own crawl of the reference URLs (e.g. 'crawl/*.warc.wet.gz'; repeatable): "
                        "positives then come from them (WET reader + ccnet's length admission), not the corpus")
    p.add_argument("--min-chars", type=checked(int, lambda v: checks.at_least("--min-chars", v, 0)),
                   default=DD.min_chars, help=f"shortest positive document in characters (default {DD.min_chars})")
    p.add_argument("--buckets", type=_buckets("--buckets"), default=DD.buckets,
                   help=f"corpus buckets read (default {','.join(DEFAULT_BUCKETS)}, as RedPajama)")
    p.add_argument("--max-per-class", type=checked(int, lambda v: checks.at_least("--max-per-class", v, 1)),
                   default=None, help="at most this many positives (smallest hash), and as many negatives")
    p.add_argument("--seed", type=checked(int, lambda v: checks.at_least("--seed", v, 0)), default=DD.seed,
                   help=f"seed of the sampling, order and split hashes (default {DD.seed})")
    p.add_argument("--valid-share", type=checked(float, lambda v: checks.fraction("--valid-share", v, include_one=False)),
                   default=DD.valid_share, help=f"share of lines held out in valid.txt (default {DD.valid_share})")
    add_run_flags(p)
    p.set_defaults(func=run_quality_data)

    p = sub.add_parser("quality-train", allow_abbrev=False, help="train the fastText quality classifier",
                       description=("Train DATA/train.txt with the fastText 0.9.3 CLI (built by `python -m "
                                    "filters.fasttext_build`), test it on DATA/valid.txt and write MODEL_DIR/model.bin "
                                    "and model.json (P@1, R@1, per-label precision/recall, sha256 of data and model). "
                                    "--threads 1 (default) gives the same model bytes every run; more is faster but "
                                    "not reproducible."))
    p.add_argument("--data", required=True, metavar="DATA", help="a quality-data output folder")
    p.add_argument("--output", required=True, metavar="MODEL_DIR", help="output folder")
    for flag, conv, default in (("--epoch", int, T.epoch), ("--lr", float, T.lr), ("--dim", int, T.dim),
                                ("--word-ngrams", int, T.word_ngrams), ("--min-count", int, T.min_count),
                                ("--threads", int, T.threads), ("--seed", int, T.seed)):
        p.add_argument(flag, type=conv, default=default, help=f"fastText {flag[2:]} (default {default})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model.bin / model.json")
    p.set_defaults(func=run_quality_train)

    p = sub.add_parser("quality-filter", allow_abbrev=False, help="keep ccnet documents classified as references",
                       description=("Score each ccnet document of the chosen buckets with the quality model as "
                                    "RedPajama did (wiki_prob into meta, 4 decimals) and keep those with wiki_prob "
                                    ">= --threshold; writes the same lang/bucket partitions."))
    p.add_argument("--corpus", required=True, metavar="CCNET_OUT", help="a finished ccnet output folder")
    p.add_argument("--model", required=True, metavar="MODEL.bin", help="a quality-train model")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--threshold", type=checked(float, lambda v: checks.fraction("--threshold", v)),
                   default=F.threshold, help=f"keep wiki_prob >= this (default {F.threshold}, as RedPajama)")
    p.add_argument("--buckets", type=_buckets("--buckets"), default=F.buckets,
                   help=f"buckets read (default {','.join(DEFAULT_BUCKETS)}); others are not written")
    add_run_flags(p)
    p.set_defaults(func=run_quality_filter)


def run_wiki_refs(args, beam_args: list[str]) -> int:
    """Dumps -> plan (as `llamapipe wikipedia`) -> config -> claim OUT -> the wiki-refs graph."""
    from corpus import wikipedia_dump as dump
    from pipelines import fileio, quality
    from pipelines.cli.wikipedia import plan

    matched = fileio.expand_globs([absolute(i) for i in args.input])
    files = [f for f in matched if not dump.is_index(f)]
    if not files:
        raise CLIError(f"--input matches only multistream index files ({matched[0]}); give the dumps")
    with user_errors(dump.DumpError):
        for f in files:
            dump.parse_name(f)
        dump.check_distinct(files)
    unreadable = unreadable_inputs(files, args.strict)
    units, _, indexes = plan(files, unreadable, args.streams_per_unit)
    cfg = WikiRefsConfig(files=tuple(files), out=absolute(args.output), mode=args.mode, strict=args.strict,
                         unreadable=tuple(unreadable.items()), units=units, streams_per_unit=args.streams_per_unit)
    claim = claim_out(cfg.out, "wiki-refs", quality.refs_output_patterns(), args.overwrite,
                      input_files=files + indexes)
    run_pipeline("wiki-refs", len(files), cfg.out, beam_args, args.workers,
                 lambda p: quality.build_refs(p, cfg, claim.run_id), claim=claim)
    return 0


def corpus_shards(folder: str, buckets) -> list[str]:
    """The Parquet shards of a finished corpus folder in the given buckets, in manifest order."""
    from pipelines import fileio

    found = []
    for path, rel in fileio.corpus_files(folder):
        parts = dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)
        if parts.get("bucket") in buckets:
            found.append(path)
    return found


def run_quality_data(args, beam_args: list[str]) -> int:
    """Refs + corpus folders -> config -> claim DATA -> the quality-data graph."""
    from pipelines import fileio, quality

    positives = fileio.expand_globs([absolute(g) for g in args.positives]) if args.positives else []
    unreadable_inputs(positives, strict=True)  # an unreadable file of the crawl is refused, naming it
    cfg = QualityDataConfig(refs=absolute(args.refs), corpus=absolute(args.corpus), out=absolute(args.output),
                            min_chars=args.min_chars, buckets=tuple(args.buckets), max_per_class=args.max_per_class,
                            seed=args.seed, valid_share=args.valid_share, strict=args.strict,
                            positives=tuple(positives))
    refs = [p for p, _ in fileio.corpus_files(cfg.refs, what="--refs")]
    corpus = corpus_shards(cfg.corpus, cfg.buckets)
    if not refs:
        raise CLIError(f"--refs {cfg.refs} holds no reference shards")
    if not corpus:
        raise CLIError(f"--corpus {cfg.corpus} has no shard in the buckets {','.join(cfg.buckets)}")
    inputs = quality.DataInputs(tuple(refs), tuple(corpus))
    claim = claim_out(cfg.out, "quality-data", quality.data_output_patterns(), args.overwrite,
                      input_folders=[cfg.refs, cfg.corpus], input_files=positives)
    run_pipeline("quality-data", len(corpus), cfg.out, beam_args, args.workers,
                 lambda p: quality.build_data(p, cfg, inputs, claim.run_id), claim=claim)
    return 0


def sha256_file(path: Path) -> str:
    """Hex sha256 of a local file, read a MiB at a time (model.json and the runs' config record it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_model(cfg: QualityTrainConfig, binary: Path, folder: Path) -> dict:
    """Train, test and evaluate into `folder` (model.bin, model.json); the report it wrote."""
    from filters import quality

    train, valid = Path(cfg.data) / "train.txt", Path(cfg.data) / "valid.txt"
    prefix = folder / "model"
    quality.run_cli(binary, quality.train_args(str(train), str(prefix), cfg.epoch, cfg.lr, cfg.dim, cfg.word_ngrams,
                                               cfg.min_count, cfg.threads, cfg.seed), "supervised")
    model = folder / "model.bin"
    test = quality.parse_test(quality.run_cli(binary, ["test", str(model), str(valid)], "test"))
    scorer = quality.QualityScorer(model)
    gold, predicted = [], []
    with open(valid, encoding="utf-8") as f:
        for line in f:
            label, _, text = line.rstrip("\n").partition(" ")
            gold.append(label)
            predicted.append(scorer.top(text)[0])
    report = {"model_sha256": sha256_file(model), "train_sha256": sha256_file(train),
              "valid_sha256": sha256_file(valid), "labels": quality.model_labels(binary, str(model)),
              "test": {"n": test["N"], "precision_at_1": test["P@1"], "recall_at_1": test["R@1"]},
              "per_label": quality.label_metrics(gold, predicted), "config": cfg.run_info(),
              "fasttext": str(binary)}
    (folder / "model.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def run_quality_train(args, beam_args: list[str]) -> int:
    """DATA -> a model trained in a temporary sibling folder, moved into MODEL_DIR when complete."""
    from filters.fasttext_build import find_fasttext

    if beam_args:
        raise CLIError(f"unknown flag {beam_args[0]}")
    with user_errors(checks.ConfigError):
        cfg = QualityTrainConfig(data=absolute(args.data), out=absolute(args.output), epoch=args.epoch, lr=args.lr,
                                 dim=args.dim, word_ngrams=args.word_ngrams, min_count=args.min_count,
                                 threads=args.threads, seed=args.seed)
    binary = find_fasttext()
    for name in ("train.txt", "valid.txt"):
        if not (Path(cfg.data) / name).is_file():
            raise FileNotFoundError(f"--data {cfg.data} has no {name} (make it with `llamapipe quality-data`)")
    out = Path(cfg.out)
    done = [out / n for n in ("model.bin", "model.json") if (out / n).exists()]
    if done and not args.overwrite:
        raise CLIError(f"{done[0]} exists; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".quality-train-", dir=out))
    try:
        with user_errors(RuntimeError):
            report = train_model(cfg, binary, tmp)
        for name in ("model.bin", "model.json"):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"quality-train: {out / 'model.bin'} P@1 {report['test']['precision_at_1']:.4f} "
          f"R@1 {report['test']['recall_at_1']:.4f} on {report['test']['n']} held-out lines")
    return 0


def run_quality_filter(args, beam_args: list[str]) -> int:
    """Corpus + model (checked first) -> config -> claim OUT -> the single-pass source graph."""
    from filters import quality
    from pipelines import source
    from pipelines.steps.quality import filter_recipe

    model = quality.check_model(absolute(args.model))
    cfg = QualityFilterConfig(corpus=absolute(args.corpus), model=model, out=absolute(args.output),
                              threshold=args.threshold, buckets=tuple(args.buckets), strict=args.strict,
                              model_sha256=sha256_file(Path(model)))
    files = corpus_shards(cfg.corpus, cfg.buckets)
    if not files:
        raise CLIError(f"--corpus {cfg.corpus} has no shard in the buckets {','.join(cfg.buckets)}")
    run = source.SourceRun(files=tuple(files), out=cfg.out, make_steps=functools.partial(filter_recipe, cfg),
                           run_info=cfg.run_info(), strict=cfg.strict)
    claim = claim_out(cfg.out, "quality-filter", source.output_patterns(), args.overwrite,
                      input_folders=[cfg.corpus], input_files=[model])
    run_pipeline("quality-filter", len(files), cfg.out, beam_args, args.workers,
                 lambda p: source.build_pipeline(p, run, claim.run_id), claim=claim)
    return 0

