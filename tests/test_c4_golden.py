"""Golden test of `llamapipe c4 --from-wet`: a separate, plain reimplementation here of TFDS C4 3.0.1's
length filter, URL dedup, clean_page and remove_duplicate_text (SOURCES.md 2(a), written from that
description as one in-memory loop, not from pipelines/steps/c4.py) gives byte-identical page texts."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import punkt

from corpus.c4_input import read_c4_wet
from corpus.readers import open_local
from pipelines import cli

DATA = Path(__file__).parent / "data" / "c4"
WET = DATA / "CC-MAIN-c4-test.warc.wet.gz"
SENTENCES = punkt.tokenizer_for("english")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _url_key(url: str) -> str:
    for pattern in (r"https?:\/\/(www\.)?", r"\?(utm_|ref|feed).*"):
        url = re.sub(pattern, "", url)
    return url.rstrip("/")


def _tfds_clean_page(text: str):
    """clean_page as TFDS has it, with its default values: the cleaned text, or None when dropped."""
    out, count = [], 0
    for line in (raw.strip() for raw in text.splitlines()):
        if max((len(w) for w in line.split()), default=0) > 1000:
            continue
        line = re.sub(r"\[\d*\]|\[edit\]|\[citation needed\]", "", line)
        if line.endswith("...") or not line.endswith((".", "?", "!", '"')):
            continue
        if len(line.split()) < 5:
            continue
        low = line.lower()
        if "lorem ipsum" in low or ("{" in line and "javascript" not in low):
            return None
        if "javascript" in low:
            continue
        if any(p in low for p in ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                                  "use of cookies", "use cookies")):
            continue
        count += len(SENTENCES.tokenize(line))
        out.append(line)
    return "\n".join(out).strip() if count >= 3 else None


def _tfds_pages() -> dict[str, str]:
    """URL key -> text of every page C4 keeps before language ID and bad words."""
    newest: dict[str, tuple] = {}
    for page in read_c4_wet(open_local, str(WET)):
        if not page.text or len(page.text) > 1.9e5:
            continue
        key = _url_key(page.url)
        rank = (page.date, [-ord(c) for c in hashlib.sha1(page.text.encode()).hexdigest()])
        if key not in newest or rank > newest[key][0]:
            newest[key] = (rank, page.text)
    cleaned = {k: _tfds_clean_page(t) for k, (_, t) in newest.items()}
    cleaned = {k: t for k, t in cleaned.items() if t is not None}
    owner: dict[str, str] = {}
    for key in cleaned:
        for line in cleaned[key].split("\n"):
            h = _md5(line.strip().lower())
            if h not in owner or _md5(key) < _md5(owner[h]):
                owner[h] = key
    final = {}
    for key, text in cleaned.items():
        seen, kept = set(), []
        for line in text.split("\n"):
            h = _md5(line.strip().lower())
            if owner[h] == key and h not in seen:
                seen.add(h)
                kept.append(line)
        new = "\n".join(kept)
        if new and len(SENTENCES.tokenize(new)) >= 3:
            final[key] = new
    return final


def test_texts_are_byte_identical_to_the_reimplementation(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["c4", "--from-wet", "--input", str(WET), "--output", str(out), "--workers", "1",
                     "--badwords", str(DATA / "badwords_test.txt")]) == 0
    rows = [r for f in sorted(out.rglob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    expected = _tfds_pages()
    got = {_url_key(r["url"]): r["text"] for r in rows}
    assert got == {k: expected[k] for k in got}
    assert sorted(set(expected) - set(got)) == ["fr.example.com/page", "rules.example.com/badword"]
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["documents"]["dropped"]["not_english"] == 1 and stats["documents"]["dropped"]["badwords"] == 1
    split = {_url_key(r["url"]): json.loads(r["meta"])["split"] for r in rows}
    assert split == {k: "validation" if int(_md5(k), 16) % 1000 == 0 else "train" for k in got}
