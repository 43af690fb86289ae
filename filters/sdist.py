"""A package's source distribution from PyPI, unpacked: what the KenLM and fastText CLI builds compile."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path


def fetch_sdist(package: str, version: str, into: str) -> Path:
    """`pip download` the sdist of package==version into `into` and unpack it there; its source folder.
    Exits with a message naming the package when pip gives no source archive."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", package,
                    f"{package}=={version}", "-d", into], check=True)
    sdist = glob.glob(os.path.join(into, f"{package}-*.tar.gz"))
    if not sdist:
        sys.exit(f"pip download of {package}=={version} gave no source archive in {into}")
    shutil.unpack_archive(sdist[0], into)
    return Path(into) / f"{package}-{version}"
