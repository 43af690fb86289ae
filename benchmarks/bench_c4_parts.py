"""The C4 (--from-wet) parts of the source benchmarks: a WET input in the real format, the same reader and
rules as one plain single-process loop, and datatrove's C4 filters on the same WET for comparison.

`make` writes CommonCrawl-style WET files (one gzip member per record) whose pages mix real English
sentences (tests/data/reference) with what C4's rules remove: navigation and short lines, lines without
an end mark, cookie and JavaScript notices, boilerplate shared across a site's pages, a few pages of
code, lorem ipsum, and pages crawled twice under one normalised URL. `plain` runs corpus/c4_input.py and
pipelines/steps/c4.py in one process (dicts for the two dedups) and writes the same Parquet shards.
`datatrove` runs datatrove's C4QualityFilter + C4BadWordsFilter (TFDS values: 3 sentences, 5 words per
line) over the same files in a separate virtual environment (default /tmp/dtvenv, where `pip install
datatrove nltk regex warcio spacy requests aiohttp fasteners`), as a subprocess; it does not dedup URLs
or lines nor detect the language, so it does less than `plain` (and splits sentences with spaCy's
sentencizer, not Punkt). `filters_only` is our side of that comparison: the reader, clean_page and the
bad words, nothing else, in one process.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too: benchmarks.* from the root
from benchmarks.bench_source_inputs import MB, sentences  # noqa: E402
from corpus.c4_input import read_c4_wet
from corpus.counters import Counters, Units
from corpus.document import Document
from pipelines import fileio
from pipelines.steps import c4
from pipelines.steps.chain import read_rows, run_steps

FILE_TEXT = 8 * MB  # page text per generated WET file (real ones hold about 400 MB)
NAV = ["Home", "About us", "Contact", "Shop now", "Read more", "Log in | Register", "Share this:", "Categories"]
NOTICES = ["This website uses cookies to improve your experience while you navigate.",
           "Please enable JavaScript in your browser to see this content properly.",
           "By continuing you agree to our terms of use and the privacy policy of this site."]


def _record(url: str, date: str, text: str, i: int) -> bytes:
    body = text.encode("utf-8")
    head = (f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\n"
            f"WARC-Record-ID: <urn:uuid:bench-{i:08d}>\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(head + body + b"\r\n\r\n") + c.flush()


def _page(rng: random.Random, pool: list[str], site_lines: list[str]) -> str:
    lines = rng.sample(NAV, 3)
    kind = rng.random()
    for _ in range(rng.randint(4, 14)):
        lines.append(" ".join(rng.choice(pool) for _ in range(rng.randint(1, 3))))
        if rng.random() < 0.2:
            lines.append(rng.choice(pool).rstrip(".") + " and more")  # no end mark
    lines += rng.sample(site_lines, 2) + [rng.choice(NOTICES)]
    if kind < 0.03:
        lines.append("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.")
    elif kind < 0.06:
        lines.append("The script reads var x = function(a) { return a * 2; }; and runs it.")
    lines.append(f"Copyright {rng.randint(2005, 2019)} All rights reserved")
    rng.shuffle(lines)
    return "\n".join(lines)


def make(folder: Path, mb: float, seed: int = 0) -> dict:
    """WET files of about FILE_TEXT of page text each, about `mb` MB in all; 2% of the pages crawled again
    later under the same normalised URL."""
    rng = random.Random(seed)
    pool = sentences("en")
    folder.mkdir(parents=True, exist_ok=True)
    sites = [[rng.choice(pool) for _ in range(6)] for _ in range(200)]
    files, text_bytes, records = [], 0, 0
    while text_bytes < mb * MB:
        path = folder / f"CC-MAIN-20190418101243-20190418123243-{len(files):05d}.warc.wet.gz"
        start = text_bytes
        with open(path, "wb") as f:
            while text_bytes - start < FILE_TEXT and text_bytes < mb * MB:
                site = rng.randrange(len(sites))
                url = f"https://www.site{site}.example.com/page/{records}"
                text = _page(rng, pool, sites[site])
                f.write(_record(url, f"2019-04-18T10:{records % 60:02d}:00Z", text, records))
                text_bytes += len(text.encode())
                records += 1
                if rng.random() < 0.02:
                    again = _page(rng, pool, sites[site])
                    f.write(_record(url.replace("https://www.", "http://") + "/?utm_source=feed",
                                    "2019-04-20T08:00:00Z", again, records))
                    text_bytes += len(again.encode())
                    records += 1
        files.append(path)
    return {"files": files, "text_mb": text_bytes / MB, "text_bytes": text_bytes, "records": records}


def plain(files: list[str], out: str, cfg: c4.C4Config = c4.C4Config(from_wet=True)) -> Counters:
    """`llamapipe c4 --from-wet` as one plain loop: URL keys of every file, the winners, each file cleaned
    (pages kept in memory, line keys in a list), the line winners, then each file's pages through the final
    rules into the same shards. Counted as the graph counts (the clean pass reads, the final pass writes)."""
    import logging

    log = logging.getLogger("bench_c4")
    files = sorted(files)
    sentences_of = c4.punkt_sentences()

    def rows(path: str, counters=None):
        return read_rows(read_c4_wet(fileio.open_raw, path), path, False, counters, log)

    entries = []
    for part, path in enumerate(files):
        kept = ((r, d) for b in run_steps(rows(path), c4.url_recipe(cfg), Counters()) for r, d in zip(b.rows, b.docs))
        entries.extend(c4.url_entries(kept, part))
    url_lost = c4.url_losers(entries)
    total, cleaned, keys = Counters(), {}, []
    for part, path in enumerate(files):
        counters = Counters()
        docs: list[Document] = []
        for batch in run_steps(rows(path, counters), c4.clean_recipe(cfg, url_lost.get(part, []), sentences_of),
                               counters):
            docs.extend(batch.docs)
        unit_keys = c4.LineKeys()
        unit_keys.add(docs)
        keys.extend(k for _, k in unit_keys.by_shard(part, 1))
        counters.writes = Units()
        total += counters
        cleaned[part] = docs
    line_lost = c4.line_losers(keys)
    for part in range(len(files)):
        counters = Counters()
        steps = c4.final_recipe(cfg, [line_lost.get(part, b"")], sentences_of)
        with fileio.shard_stream(out, part) as stream:
            for batch in run_steps(enumerate(cleaned.pop(part)), steps, counters):
                stream.add(batch.docs)
            stream.close()
        counters.reads = Units()
        total += counters
    return total


def filters_only(files: list[str]) -> dict:
    """Our reader, clean_page (TFDS values) and the pinned bad words over the files in this process, the
    work datatrove's two C4 filters do: {"written": pages kept, "seconds", "cpu_seconds"}."""
    cfg = c4.C4Config(from_wet=True)
    sentences_of = c4.punkt_sentences()
    pattern = c4.badwords_regex(c4.load_badwords())
    started, cpu = time.time(), time.process_time()
    kept = 0
    for path in files:
        for page in read_c4_wet(fileio.open_raw, str(path)):
            if isinstance(page, Document):
                cleaned = c4.clean_page(page.text, cfg, sentences_of)
                kept += cleaned.text is not None and pattern.search(cleaned.text.lower()) is None
    return {"written": kept, "seconds": time.time() - started, "cpu_seconds": time.process_time() - cpu}


DATATROVE_SCRIPT = r"""
import json, os, shutil, sys, time
from datatrove.data import Document
from datatrove.io import cached_asset_path_or_download, strip_protocol
from datatrove.pipeline.filters import C4BadWordsFilter, C4QualityFilter, c4_filters
from warcio.archiveiterator import ArchiveIterator

# Offline: the pinned C4 bad-words list put where datatrove caches its download (same file, same URL key).
local = cached_asset_path_or_download.__globals__["cached_assets_path"](
    library_name="datatrove", namespace="filters", subfolder="c4_badwords")
target = os.path.join(local, strip_protocol(c4_filters._EN_BADWORDS_URL).replace("/", "_"))
shutil.copyfile(sys.argv[1], target)
open(target + ".completed", "w").close()

files = sys.argv[2:]
started = time.time()
quality = C4QualityFilter(min_num_sentences=3, min_words_per_line=5, split_paragraph=True)
badwords = C4BadWordsFilter(keep_fraction=0.0, default_language="en")


def documents():
    # the WET conversion records as datatrove Documents (what its WarcReader makes of them)
    for path in files:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "conversion":
                    text = record.content_stream().read().decode("utf-8", "replace")
                    yield Document(text=text, id=record.rec_headers.get_header("WARC-Record-ID"),
                                   metadata={"url": record.rec_headers.get_header("WARC-Target-URI")})


kept = 0
for _ in badwords.run(quality.run(documents())):
    kept += 1
print(json.dumps({"written": kept, "seconds": time.time() - started, "cpu_seconds": time.process_time()}))
"""


def datatrove(files: list[str], venv: str = "/tmp/dtvenv") -> dict:
    """datatrove's C4QualityFilter + C4BadWordsFilter over the same WET files in `venv` (a subprocess, one
    process; its English sentences come from spaCy's rule-based sentencizer, not Punkt; the bad-words list is
    provided locally, being offline): {"written": pages kept, "seconds": wall time inside it, "cpu_seconds":
    its CPU time}; {"error": ...} when the venv cannot run it."""
    import tempfile

    python = Path(venv) / "bin" / "python"
    if not python.exists():
        return {"error": f"{python} missing: python3 -m venv {venv} && {venv}/bin/pip install datatrove nltk "
                         f"regex warcio spacy requests aiohttp fasteners"}
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": "/usr/bin:/bin", "HF_HOME": home, "HOME": home}
        done = subprocess.run([str(python), "-c", DATATROVE_SCRIPT, str(c4.BADWORDS_FILE), *map(str, files)],
                              capture_output=True, text=True, env=env)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        made = make(Path(tmp) / "wet", float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
        t = time.time()
        stats = plain([str(f) for f in made["files"]], str(Path(tmp) / "out")).to_stats()
        print(json.dumps({"text_mb": made["text_mb"], "records": made["records"], "plain_seconds": time.time() - t,
                          "read": stats["documents"]["read"], "written": stats["documents"]["written"],
                          "dropped": stats["documents"]["dropped"], "filters_only": filters_only(made["files"]),
                          "datatrove": datatrove(made["files"])}))
