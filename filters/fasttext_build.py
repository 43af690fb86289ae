"""Find the fastText 0.9.3 command-line tool, or build it from the `fasttext` sdist on PyPI.

Training the quality classifier needs the `fasttext` CLI (the Python wheels either break on numpy 2
or clash with fasttext-predict's module). It is one g++ line over the sdist's src/*.cc and goes to
$LLAMAPIPE_CACHE/fasttext-0.9.3/bin/fasttext, so a second setup is a no-op.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from filters.kenlm_build import cache_dir
from filters.sdist import fetch_sdist

FASTTEXT_VERSION = "0.9.3"
CXX_FLAGS = ["-O3", "-funroll-loops", "-std=c++17", "-pthread"]


def binary_path() -> Path:
    """Where the built CLI lives: $LLAMAPIPE_CACHE/fasttext-0.9.3/bin/fasttext."""
    return cache_dir() / f"fasttext-{FASTTEXT_VERSION}" / "bin" / "fasttext"


def build_command() -> str:
    """The command a user runs to build the CLI (named in the missing-binary error)."""
    return f"{sys.executable} -m filters.fasttext_build"


def find_fasttext() -> Path:
    """Path of the fastText CLI: $FASTTEXT_BIN, then the cache; an error naming both otherwise."""
    candidates = []
    if os.environ.get("FASTTEXT_BIN"):
        candidates.append(Path(os.environ["FASTTEXT_BIN"]))
    candidates.append(binary_path())
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError(
        f"fastText CLI not found at {' or '.join(str(c) for c in candidates)}; "
        f"build it with `{build_command()}` (make setup does)")


def build() -> Path:
    """Build the fastText CLI into the cache (no-op when it is there)."""
    target = binary_path()
    if target.is_file():
        return target
    cxx = shutil.which("g++")
    if cxx is None:
        sys.exit("building the fastText CLI needs g++ (apt-get install g++)")
    with tempfile.TemporaryDirectory(prefix="fasttext-build-") as tmp:
        src = fetch_sdist("fasttext", FASTTEXT_VERSION, tmp)
        sources = sorted(str(p) for p in (src / "src").glob("*.cc"))
        out = Path(tmp) / "fasttext"
        cmd = [cxx, *CXX_FLAGS, *sources, "-o", str(out)]
        print(f"building the fastText {FASTTEXT_VERSION} CLI (about a minute)...", flush=True)
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            tail = "\n".join(res.stdout.splitlines()[-40:])
            sys.exit(f"fastText build failed ({' '.join(cmd)}, exit {res.returncode}):\n{tail}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(".fasttext.tmp")
        shutil.copy2(out, staging)
        os.replace(staging, target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"fastText CLI: {build()}")


if __name__ == "__main__":
    main()
