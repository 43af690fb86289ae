"""`llamapipe stackexchange`: its flags, and the command that checks them and runs pipelines/stackexchange.py."""
from __future__ import annotations

from pipelines.cli.common import absolute, add_run_flags, checked, claim_out, run_pipeline, unreadable_inputs
from pipelines.steps import checks
from pipelines.steps.stackexchange import COMPAT, StackExchangeConfig, site_names

D = StackExchangeConfig()  # the defaults, written once in the config


def add_parsers(sub) -> None:
    p = sub.add_parser("stackexchange", allow_abbrev=False,
                       help="Stack Exchange data dump -> one document per question with its answers",
                       description=(
                           "Read the Stack Exchange data dump (<site>.7z, stackoverflow.com-Posts.7z or "
                           "<site>/Posts.xml), keep the largest sites (or the ones listed), join each question "
                           "with its answers (highest score first) into 'Q: ...\\nA: ...' text without HTML, and "
                           "write Parquet shards with _stats.json, _manifest.json and _SUCCESS. Unknown --flags "
                           "go to Beam."))
    p.add_argument("--input", action="append", required=True, metavar="GLOB",
                   help="dump files: <site>.7z, <site>-Posts.7z or <site>/Posts.xml; other tables of a per-table "
                        "dump (stackoverflow.com-Users.7z) are skipped; repeat or quote a glob")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder (local path or gs://...)")
    p.add_argument("--sites", type=checked(lambda v: v.split(","), lambda v: site_names("--sites", v)),
                   default=None, metavar="SITE,SITE,...",
                   help="keep exactly these sites, meta sites included when listed (default: rank by --top-sites)")
    p.add_argument("--top-sites", type=checked(int, lambda v: checks.at_least("--top-sites", v, 1)),
                   default=D.top_sites, metavar="N",
                   help=f"keep the N non-meta sites with the most questions + answers, ties by name "
                        f"(default {D.top_sites}, LLaMA's choice)")
    p.add_argument("--questions-per-part", type=checked(int, lambda v: checks.at_least("--questions-per-part", v, 1)),
                   default=D.questions_per_part, metavar="N",
                   help=f"a site gets ceil(questions / N) output parts; a part is sorted on one worker "
                        f"(default {D.questions_per_part:,})")
    p.add_argument("--require-answer", action="store_true",
                   help="drop questions without answers as 'unanswered' (default: keep them as 'Q: ...')")
    p.add_argument("--compat", choices=COMPAT, default=D.compat,
                   help="clean: answers by integer score; redpajama: RedPajama's string order and HTML "
                        "replacements, for comparison with its data")
    add_run_flags(p)
    p.set_defaults(func=run_stackexchange)


def run_stackexchange(args, beam_args: list[str]) -> int:
    from pipelines import fileio, stackexchange
    from pipelines.steps.stackexchange import plan_sites

    files = fileio.expand_globs([absolute(i) for i in args.input])
    cfg = StackExchangeConfig(files=tuple(files), out=absolute(args.output),
                              sites=tuple(args.sites) if args.sites is not None else None,
                              top_sites=args.top_sites, questions_per_part=args.questions_per_part,
                              require_answer=args.require_answer, compat=args.compat, strict=args.strict,
                              unreadable=tuple(unreadable_inputs(files, args.strict).items()))
    plan_sites(cfg)  # a bad file name or --sites entry is refused before OUT is touched
    claim = claim_out(cfg.out, "stackexchange", stackexchange.output_patterns(), args.overwrite, input_files=files)
    run_pipeline("stackexchange", len(files), cfg.out, beam_args, args.workers,
                 lambda p: stackexchange.build_pipeline(p, cfg, claim.run_id), claim=claim)
    return 0
