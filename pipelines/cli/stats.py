"""`llamapipe stats`: summarise a corpus, token or training-run folder (no Beam)."""
from __future__ import annotations

import json
import os
import sys

from pipelines.cli.common import CLIError, user_errors


def add_parsers(sub) -> None:
    p = sub.add_parser("stats", allow_abbrev=False,
                       help="summarise corpus shards or token shards (terminal table, --json, --html)",
                       description=(
                           "On corpus shards: documents, characters, mean/median length by source x language "
                           "x bucket, perplexity percentiles per language, drop reasons from _stats.json. On "
                           "token shards: tokens and documents per source, configured vs realised mixture, "
                           "epochs. --html writes one self-contained page with plots."))
    p.add_argument("path", metavar="PATH", nargs="+",
                   help="a corpus shard folder, a token shard folder (mixture.json) or a training run; "
                        "several corpus folders (one per source) are shown side by side with their drop reasons")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    p.add_argument("--html", metavar="REPORT.html", default=None, help="also write an HTML report with plots")
    p.add_argument("--verify", action="store_true",
                   help="also check every file's sha256 against _manifest.json (reads every byte)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="summarise a folder without _SUCCESS (an unfinished run) as it is")
    p.set_defaults(func=run_stats)


def run_stats(args, beam_args: list[str]) -> int:
    from pipelines.report import stats as stats_report

    if beam_args:
        raise CLIError(f"stats does not take {' '.join(beam_args)}")
    with user_errors(ValueError):
        summarise = stats_report.summarise_many if len(args.path) > 1 else (
            lambda paths, **kw: stats_report.summarise(paths[0], **kw))
        summary = summarise(args.path, progress=not args.json and sys.stderr.isatty(),
                            verify=args.verify, allow_incomplete=args.allow_incomplete)
    if args.json:
        print(json.dumps(summary, indent=1, sort_keys=True))
    else:
        stats_report.print_summary(summary)
    if args.html:
        try:
            stats_report.write_html(summary, args.html)
        except OSError as exc:
            raise CLIError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        print(f"wrote {os.path.abspath(args.html)}", file=sys.stderr)
    return 0
