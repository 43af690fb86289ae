"""Find KenLM's `lmplz` and `build_binary`, or build them from the `kenlm` sdist on PyPI.

The binaries go to a cache folder ($LLAMAPIPE_CACHE, default ~/.cache/llamapipe) so a
second setup finds them in milliseconds. Build needs cmake, a C++ compiler and the boost,
zlib, bz2 and lzma headers: installed with apt-get when running as root, otherwise the
exact command is printed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from filters.sdist import fetch_sdist

KENLM_VERSION = "0.3.0"
BINARIES = ("lmplz", "build_binary")
APT_PACKAGES = ["cmake", "g++", "make", "libboost-program-options-dev", "libboost-system-dev",
                "libboost-thread-dev", "libboost-test-dev", "zlib1g-dev", "libbz2-dev", "liblzma-dev"]


def cache_dir() -> Path:
    return Path(os.environ.get("LLAMAPIPE_CACHE", Path.home() / ".cache" / "llamapipe"))


def bin_dir() -> Path:
    return cache_dir() / f"kenlm-{KENLM_VERSION}" / "bin"


def find_binary(name: str) -> Path:
    """Path of a KenLM binary: $KENLM_BIN, then the cache, then PATH; clear error otherwise."""
    candidates = []
    if os.environ.get("KENLM_BIN"):
        candidates.append(Path(os.environ["KENLM_BIN"]) / name)
    candidates.append(bin_dir() / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError(
        f"KenLM's {name} not found in $KENLM_BIN, {bin_dir()} or PATH; "
        f"build it with `python -m filters.kenlm_build` (make demo does)")


def _missing_apt_packages() -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for pkg in APT_PACKAGES:
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in res.stdout:
            missing.append(pkg)
    return missing


def ensure_build_deps() -> None:
    """Install the build's Debian packages when root; else stop with the command to run."""
    missing = _missing_apt_packages()
    if not missing:
        return
    cmd = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(missing)
    if os.geteuid() != 0:
        sys.exit(f"KenLM build needs these packages; run as root:\n  {cmd}")
    print(f"installing build dependencies: {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env)


def _run_logged(cmd: list[str], cwd: Path) -> None:
    """Run a build step quietly; on failure show the end of its output and stop."""
    res = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        tail = "\n".join(res.stdout.splitlines()[-40:])
        sys.exit(f"KenLM build step failed ({' '.join(cmd)}, exit {res.returncode}):\n{tail}")


def build(jobs: int = 2) -> Path:
    """Build lmplz and build_binary into the cache (no-op when they are there)."""
    target = bin_dir()
    if all((target / b).is_file() for b in BINARIES):
        return target
    ensure_build_deps()
    with tempfile.TemporaryDirectory(prefix="kenlm-build-") as tmp:
        src = fetch_sdist("kenlm", KENLM_VERSION, tmp)
        build_dir = src / "build"
        build_dir.mkdir()
        print(f"building KenLM {KENLM_VERSION} lmplz/build_binary (about a minute)...", flush=True)
        _run_logged(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release", "-DKENLM_MAX_ORDER=6"], build_dir)
        _run_logged(["make", f"-j{jobs}", *BINARIES], build_dir)
        staging = target.parent / (target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for b in BINARIES:
            shutil.copy2(build_dir / "bin" / b, staging / b)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    print(f"KenLM binaries: {build(args.jobs)}")


if __name__ == "__main__":
    main()
