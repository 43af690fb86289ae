"""The C4 filters alone on WET files, one process, for the `llamapipe c4 --from-wet` rows of bench_sources.py:
datatrove's C4QualityFilter + C4BadWordsFilter (bench_c4_parts.datatrove, in its own venv), or with --ours
llamapipe's reader, clean_page and bad words (bench_c4_parts.filters_only). Neither dedups URLs or lines
nor detects the language. Prints one JSON line: {"written": pages kept, "seconds", "cpu_seconds"}.

    python benchmarks/bench_c4_datatrove.py [--ours] [--venv /tmp/dtvenv] FILE.warc.wet.gz...
    python benchmarks/bench_c4_datatrove.py --version [--venv /tmp/dtvenv]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_c4_parts import datatrove, filters_only  # noqa: E402


def venv_versions(venv: str) -> str:
    """The versions of datatrove and what its C4 filters run on, as installed in `venv`."""
    code = ("import importlib.metadata as m, platform; print(', '.join(['Python ' + platform.python_version()] + "
            "[p + ' ' + m.version(p) for p in ('datatrove', 'spacy', 'warcio')]))")
    done = subprocess.run([str(Path(venv) / "bin" / "python"), "-c", code], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{venv}: cannot read the datatrove versions: {done.stderr.strip()[-500:]}")
    return done.stdout.strip() + f" in {venv}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", action="store_true", help="llamapipe's filters instead of datatrove's")
    ap.add_argument("--venv", default="/tmp/dtvenv", help="virtual environment with datatrove (default /tmp/dtvenv)")
    ap.add_argument("--version", action="store_true", help="print the versions in --venv and stop")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.version:
        print(venv_versions(args.venv))
        return
    if not args.files:
        ap.error("give the WET files")
    result = filters_only(args.files) if args.ours else datatrove(args.files, args.venv)
    if "error" in result:
        sys.exit(f"datatrove in {args.venv}: {result['error']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
