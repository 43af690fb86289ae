"""Where a path points: a URL (gs://, s3://, any scheme Beam's FileSystems knows) or this machine."""
from __future__ import annotations

import os


def is_url(path: str) -> bool:
    """True for gs://, s3:// and other URLs, False for local paths."""
    return "://" in path


def file_name(path: str) -> str:
    """The last component of a local path or URL (`enwiki-…-multistream.xml.bz2`)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def canonical(path: str) -> str:
    """One spelling per place: symlinks resolved for local paths, a URL without its trailing slash."""
    return path.rstrip("/") if is_url(path) else os.path.realpath(path)
