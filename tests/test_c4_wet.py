"""`llamapipe c4 --from-wet` end to end through the real Beam runner, on the WET file of planted records
(tests/data/make_c4.py): each record dropped with exactly its reason, the line dedup winner, the same bytes
for any worker count and file order, and the paper's values."""
from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import pytest

from corpus.counters import check_accounting
from corpus.document import document_id
from pipelines.steps import c4

from tests.c4_helpers import MAKE, TEST_BADWORDS, WET
from tests.c4_helpers import rows as _rows, run_c4 as _c4, stats as _stats


def _member_bytes(path: Path) -> list[bytes]:
    """The compressed gzip members of a file (one per WET record), as they are in it."""
    data, out = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(31)
        d.decompress(data)
        rest = d.unused_data
        out.append(data[:len(data) - len(rest)])
        data = rest
    return out


def _planted_run(tmp_path: Path, name: str, *flags: str) -> tuple[dict, dict]:
    out = tmp_path / name
    assert _c4(out, [WET], "--from-wet", "--badwords", str(TEST_BADWORDS), *flags) == 0
    return {r["url"]: r for r in _rows(out)}, _stats(out)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[dict, dict]:
    """The planted WET file through --from-wet with the five-word bad-words list, one worker."""
    return _planted_run(tmp_path_factory.mktemp("c4_planted"), "out", "--workers", "1")


def test_each_planted_record_goes_with_exactly_its_reason_and_counts_add_up(planted):
    rows, stats = planted
    assert not check_accounting(stats)
    kept = sorted(u for u, why in MAKE.PLANTED.items() if why == "kept")
    assert sorted(rows) == kept
    dropped = stats["documents"]["dropped"]
    reasons = [why for why in MAKE.PLANTED.values() if why != "kept"]
    assert {r: n for r, n in dropped.items() if n} == {r: reasons.count(r) for r in reasons}
    lines = stats["lines"]["dropped"]
    for url, rule in MAKE.PLANTED_LINES.items():
        assert lines[rule] >= 1 and rows[url]["text"].count("\n") == 2, url
    assert lines["line:too_short"] == 2  # the short-line page and the four-sentence page
    assert "[1]" not in rows["https://rules.example.com/citations"]["text"]
    assert "[edit]" not in rows["https://rules.example.com/citations"]["text"]
    assert stats["chars"]["dropped"]["line:citation"] == len("[1]") + len("[edit]")
    assert stats["documents"]["read"] == len(MAKE.PLANTED)
    for r in rows.values():
        meta = json.loads(r["meta"])
        assert meta["split"] in ("train", "validation") and meta["file"] == WET.name
        assert r["id"] == document_id("c4", r["url"], hashlib.sha1(r["text"].encode()).hexdigest())
        assert r["lang"] == "en" and r["lang_score"] >= 0.99 and r["bucket"] == "all"
    assert rows["https://x.com/a/"]["date"] == "2019-04-20T08:00:00Z"  # the newer of the two x.com/a pages


def test_line_dedup_keeps_each_line_in_the_page_with_the_smallest_url_md5(planted):
    rows, stats = planted
    owners = {u: c4.md5_hex(c4.normalize_url(u)) for u in ("https://good.example.com/one",
                                                          "https://good.example.com/two")}
    winner = min(owners, key=owners.get)
    assert [u for u in owners if MAKE.BOILERPLATE in rows[u]["text"]] == [winner]
    one = rows["https://good.example.com/one"]["text"].split("\n")
    assert len(one) == len(set(one))  # the in-page repeat is gone
    assert stats["lines"]["dropped"]["line:local_duplicate"] == 1
    assert stats["documents"]["dropped"]["empty_after_dedup"] == 1  # the mirror lost every line


def test_same_bytes_for_one_or_two_workers_and_any_file_order(tmp_path, planted):
    members = _member_bytes(WET)
    head, tail = members[:1], members[1:]
    a, b = tmp_path / "in1" / "a.warc.wet.gz", tmp_path / "in1" / "b.warc.wet.gz"
    a.parent.mkdir()
    a.write_bytes(b"".join(head + tail[::2]))
    b.write_bytes(b"".join(head + tail[1::2]))
    swapped = tmp_path / "in2"
    swapped.mkdir()
    (swapped / "a.warc.wet.gz").write_bytes(b.read_bytes())
    (swapped / "b.warc.wet.gz").write_bytes(a.read_bytes())
    flags = ("--from-wet", "--badwords", str(TEST_BADWORDS), "--dedup-shards", "3")
    assert _c4(tmp_path / "one", [a, b], *flags, "--workers", "1") == 0
    assert _c4(tmp_path / "two", [b, a], *flags, "--workers", "2") == 0
    assert _c4(tmp_path / "swap", sorted(swapped.iterdir()), *flags, "--workers", "1") == 0
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert len(files) == 2
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()

    def texts(out):
        return sorted((r["url"], r["text"], r["id"], r["date"]) for r in _rows(out))

    assert texts(tmp_path / "one") == texts(tmp_path / "swap")
    whole = planted[0]
    assert texts(tmp_path / "one") == sorted((r["url"], r["text"], r["id"], r["date"]) for r in whole.values())
    stats = [_stats(tmp_path / o) for o in ("one", "two", "swap")]
    assert not check_accounting(stats[0])
    assert stats[0]["documents"] == stats[1]["documents"] == stats[2]["documents"]






def test_paper_values_through_the_command(tmp_path):
    rows, stats = _planted_run(tmp_path, "out", "--workers", "1", "--min-words-per-line", "3", "--min-sentences", "5")
    assert sorted(rows) == ["https://good.example.com/one", MAKE.FOUR_SENTENCE_PAGE]  # the pages of 5 sentences
    assert rows[MAKE.FOUR_SENTENCE_PAGE]["text"].endswith(MAKE.SHORT_LINE)
    assert stats["config"]["min_words_per_line"] == 3 and stats["config"]["min_sentences"] == 5
    assert not check_accounting(stats)
