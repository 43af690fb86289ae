"""`llamapipe github` without Beam: the readers (BigQuery JSON lines, The Stack Parquet, format
detection, faults), RedPajama parity of the header cleaning and the file stats, the fast character
counts, every planted fixture row's fate, licence and suffix semantics, the dedup decision rule, and
the SentencePiece token count."""
from __future__ import annotations

import gzip
import importlib.util
import io
import logging
import random
import re
from pathlib import Path

import pytest

from corpus import github_input as gi
from corpus.counters import Counters, check_accounting
from corpus.document import document_id
from corpus.faults import Fault
from corpus.readers import open_local
from pipelines.source import Unit
from pipelines.steps import checks
from pipelines.steps import github as gh
from pipelines.steps.chain import read_rows, run_file, run_steps

DATA = Path(__file__).parent / "data" / "github"
BQ = DATA / "github_000.json.gz"
STACK = DATA / "the-stack-000.parquet"
LOG = logging.getLogger("test_github")


def _maker():
    spec = importlib.util.spec_from_file_location("make_github", Path(__file__).parent / "data" / "make_github.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()


# --- RedPajama's definitions, written out plainly here as the oracle --------------------------------

RP_BLOCK = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/")
RP_COPYRIGHT = re.compile("copyright", re.IGNORECASE)


def rp_clean(content: str) -> str:
    """github_clean_dedup_local.clean_copyright_comments: the first block comment decides; else the
    leading comment / empty lines (split on \\n) go."""
    found = RP_BLOCK.search(content)
    if found:
        block = content[found.start():found.end()]
        if RP_COPYRIGHT.search(block):
            return content[:found.start()] + content[found.end():]
        return content
    lines = content.split("\n")
    skip = 0
    for line in lines:
        if line.startswith("//") or line.startswith("#") or line.startswith("--") or line == "":
            skip += 1
        else:
            break
    return "\n".join(lines[skip:]) if skip else content


def rp_stats(content: str) -> dict:
    """get_filecontent_stats, a Python loop per character."""
    lengths = [len(line) for line in content.splitlines()]
    if not lengths:
        return {"line_count": 0, "max_line_length": 0, "avg_line_length": 0, "alnum_prop": 0}
    alnum = 0
    for ch in content:
        if ch.isalnum():
            alnum += 1
    return {"line_count": len(lengths), "max_line_length": max(lengths),
            "avg_line_length": len(content) / len(lengths), "alnum_prop": alnum / len(content)}


EDGE_CASES = [
    "", "\n", "\n\n\n", "// only a comment", "# a\n# b\n", "#!/bin/sh\n\necho hi\n", "-- sql comment\nSELECT 1;\n",
    "x = 1\r\n# not leading\r\n", "\r\n# CRLF first line is not empty\n", "/* no notice */ int a; /* Copyright me */",
    "int a; /* COPYRIGHT 2001 */ int b;", "/* unterminated comment", "/**/ after", "/* a */ /* b copyright */",
    "// c1\n// c2\n/* copyright */\nint x;", "\u00e9t\u00e9\u2028second\u2029third\x0bfourth\x1cfifth\x85",
    "\U0001f600 emoji \u0663\u0664 digits \u0301 mark", "line\twith\ttabs\n\n\nend", "--\n--x\n---\nbody",
]


def _fixture_contents() -> list[str]:
    rows = [r["content"] for r, _ in MAKE.BIGQUERY_ROWS] + [r["content"] for r, _ in MAKE.STACK_ROWS]
    return [c for c in rows if c is not None]


@pytest.mark.parametrize("content", _fixture_contents() + EDGE_CASES)
def test_header_cleaning_and_stats_match_redpajama(content):
    cleaned = gh.clean_copyright_comments(content)
    assert cleaned == rp_clean(content)
    stats = gh.file_stats(cleaned)
    assert stats.meta() == rp_stats(cleaned)
    assert stats.num_alpha == sum(ch.isalpha() for ch in cleaned)


def test_header_cleaning_matches_redpajama_on_random_comment_soup():
    pieces = ["/*", "*/", "*", "/", "//", "#", "--", "-", "\n", "\n\n", "\r\n", " ", "x", "int a;", "Copyright",
              "COPYRIGHT", "copy", "right", "\u00e9", "/**/", "**"]
    rng = random.Random(11)
    for _ in range(3000):
        content = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert gh.clean_copyright_comments(content) == rp_clean(content), repr(content)


def test_redpajama_quirks_are_kept():
    list_c = MAKE.LIST_C
    assert gh.clean_copyright_comments(list_c) == list_c  # doc comment first: the later copyright block stays
    strings_c = gh.clean_copyright_comments(MAKE.STRINGS_C)
    assert strings_c.startswith("\n#include <stddef.h>") and "Copyright" not in strings_c
    tool = gh.clean_copyright_comments(MAKE.TOOL_PY)
    assert tool.startswith('"""Count the words')  # shebang, comments and the blank line went
    assert gh.clean_copyright_comments("#include <a.h>\nint x;\n") == "int x;\n"  # the quirk: #include goes too


def test_fast_character_counts_equal_the_plain_definitions():
    rng = random.Random(7)
    pools = [range(0x20, 0x7F), range(0xA0, 0x3000), range(0x0300, 0x0370), range(0x0660, 0x06FF),
             range(0x1F300, 0x1F700), range(0x10000, 0x10400), range(0xD800, 0xD810), range(0, 0x20)]
    texts = ["", "abc123_-", "Ⅻ ½ ²³ ١٢٣ ǅ ß ﬁ"]
    for _ in range(300):
        pool = rng.choice(pools)
        texts.append("".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 200))))
    texts.append("".join(chr(c) for c in range(0, 0x3000, 3)))
    for text in texts:
        assert gh.count_alnum_alpha(text) == (sum(c.isalnum() for c in text), sum(c.isalpha() for c in text))
    assert gh.regex_token_count("int x = a->b; // done") == len(["int", "x", "=", "a", "->", "b", ";", "//", "done"])


# --- readers ---


def test_bigquery_rows_become_documents_with_provenance():
    items = list(gi.read_file(open_local, str(BQ), gi.BIGQUERY))
    assert not [i for i in items if isinstance(i, Fault)]
    assert [(d.meta["repo_name"], d.meta["path"]) for d in items] == [
        (r["repo_name"], r["path"]) for r, _ in MAKE.BIGQUERY_ROWS]
    alice = next(d for d in items if d.meta["repo_name"] == "alice/util" and d.meta["path"] == "src/strings.c")
    assert alice.url == "https://github.com/alice/util/blob/master/src/strings.c"
    assert alice.text == MAKE.STRINGS_C and alice.source == "github" and alice.lang == "code"
    assert alice.id == document_id("github", alice.url, alice.meta["content_hash"])
    import hashlib
    assert alice.meta["content_hash"] == hashlib.md5(MAKE.STRINGS_C.encode()).hexdigest()
    erin = next(d for d in items if d.meta["repo_name"] == "erin/scripts")
    assert erin.url == "https://github.com/erin/scripts/blob/HEAD/tool.py"  # no ref
    dave = next(d for d in items if d.meta["repo_name"] == "dave/lists")
    assert dave.url.startswith("https://github.com/dave/lists/blob/main/")
    png = next(d for d in items if d.meta["path"] == "logo.png")
    assert png.text == "" and png.meta["binary"] is True  # content null, binary: read, for the binary rule


def test_the_stack_rows_become_documents():
    items = list(gi.read_file(open_local, str(STACK), gi.THE_STACK))
    assert [d.meta["path"] for d in items] == [r["max_stars_repo_path"] for r, _ in MAKE.STACK_ROWS]
    jack = items[2]
    assert jack.meta["license"] == "GPL-3.0-only,MIT"
    assert jack.url == f"https://github.com/jack/lib/blob/9f1c2e{'0' * 34}/src/lib.rs"
    assert jack.meta["blob_id"] and jack.meta["stack_lang"] == "Rust"


def test_format_detection():
    assert gi.detect_format(open_local, str(BQ)) == gi.BIGQUERY
    assert gi.detect_format(open_local, str(STACK)) == gi.THE_STACK
    assert gi.detect_format(open_local, str(BQ), "bigquery") == gi.BIGQUERY


def test_format_detection_refuses_what_is_neither(tmp_path):
    other = tmp_path / "github_001.json.gz"
    MAKE.write_jsonl_gz(other, [{"text": "hello", "url": "http://x"}])
    with pytest.raises(gi.UnknownInput, match=re.escape(str(other)) + ".*first record has text, url"):
        gi.detect_format(open_local, str(other))
    with pytest.raises(gi.UnknownInput, match="the-stack was given.*bigquery rows"):
        gi.detect_format(open_local, str(BQ), "the-stack")
    with pytest.raises(gi.UnknownInput, match="notes.txt: not a GitHub export by its name"):
        gi.detect_format(open_local, str(tmp_path / "notes.txt"))
    empty = tmp_path / "github_002.json.gz"
    MAKE.write_jsonl_gz(empty, [])
    assert gi.detect_format(open_local, str(empty)) == gi.BIGQUERY  # nothing to tell by: nothing is read either


def _bad_export(path: Path, tail: bytes = b"") -> list[dict]:
    """Six good rows around an invalid JSON line and a row without `path`, then `tail` (raw bytes)."""
    rows = [MAKE.bigquery_row(f"u{i}/r", f"f{i}.py", f"value_{i} = compute_something({i})\n") for i in range(6)]
    missing = MAKE.bigquery_row("m/r", "gone.py", "x = 1\n")
    del missing["path"]
    import json
    lines = [json.dumps(r) for r in rows[:2]] + ["{\"repo_name\": \"broken"] + [json.dumps(r) for r in rows[2:4]] + [
        json.dumps(missing)] + [json.dumps(r) for r in rows[4:]]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0) + tail)
    return rows


def test_bad_lines_and_rows_are_faults_and_the_rest_is_read(tmp_path):
    path = tmp_path / "github_bad.json.gz"
    rows = _bad_export(path)
    items = list(gi.read_file(open_local, str(path), gi.BIGQUERY))
    faults = [i for i in items if isinstance(i, Fault)]
    assert [d.meta["path"] for d in items if not isinstance(d, Fault)] == [r["path"] for r in rows]
    assert len(faults) == 2
    assert "line 3: not JSON" in faults[0].error and "line 6: row lacks required key 'path'" in faults[1].error
    raw = gzip.decompress(path.read_bytes())
    assert raw[faults[0].offset:].startswith(b"{\"repo_name\": \"broken")  # decompressed offset of the line


def test_corrupt_or_truncated_gzip_keeps_the_rows_before(tmp_path):
    good = tmp_path / "github_ok.json.gz"
    rows = [MAKE.bigquery_row(f"u{i}/r", f"f{i}.py", f"x{i} = {i}\n" * 50) for i in range(40)]
    MAKE.write_jsonl_gz(good, rows)
    data = good.read_bytes()
    truncated = tmp_path / "github_cut.json.gz"
    truncated.write_bytes(data[:len(data) * 2 // 3])
    items = list(gi.read_file(open_local, str(truncated), gi.BIGQUERY))
    docs = [i for i in items if not isinstance(i, Fault)]
    assert isinstance(items[-1], Fault) and "truncated gzip member at compressed byte 0" in items[-1].error
    assert 0 < len(docs) < 40 and [d.meta["path"] for d in docs] == [f"f{i}.py" for i in range(len(docs))]
    # a second member after a corrupt one: the first member's rows, a fault, nothing invented
    corrupt = tmp_path / "github_corrupt.json.gz"
    member = bytearray(data)
    member[len(member) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(member))
    items = list(gi.read_file(open_local, str(corrupt), gi.BIGQUERY))
    assert isinstance(items[-1], Fault) and ("corrupt gzip" in items[-1].error or "truncated" in items[-1].error)
    assert all(d.meta["path"] == f"f{i}.py" for i, d in enumerate(items[:-1]))
    # two members: both read
    two = tmp_path / "github_two.json.gz"
    two.write_bytes(data + data)
    assert len(list(gi.read_file(open_local, str(two), gi.BIGQUERY))) == 80


def test_parquet_without_required_columns_is_a_fault(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "stack.parquet"
    pq.write_table(pa.table({"content": ["x"], "max_stars_repo_name": ["a/b"]}), path)
    items = list(gi.read_file(open_local, str(path), gi.THE_STACK))
    assert len(items) == 1 and "lacks column(s) max_stars_repo_path" in items[0].error
    rows = [r for r, _ in MAKE.STACK_ROWS]
    table = MAKE.stack_table(rows).to_pylist()
    table[1]["content"] = None
    pq.write_table(pa.Table.from_pylist(table), path)
    items = list(gi.read_file(open_local, str(path), gi.THE_STACK))
    assert [type(i).__name__ for i in items] == ["Document", "Fault", "Document", "Document", "Document"]
    assert items[1].offset > 0 and items[1].error == "row group 0, row 1: key 'content' is not a string (NoneType)"


# --- rules and recipe ---


def test_licence_prefixes_follow_like_semantics():
    allowed = gh.DEFAULT_LICENSES
    for licence in ("mit", "MIT", "bsd-2-clause", "bsd-3-clause", "bsd-4-clause", "apache-2.0", "Apache-2.0"):
        assert gh.license_allowed(licence, allowed)
    for licence in ("gpl-3.0", "lgpl-2.1", "0bsd", "isc", "", "cc0-1.0"):
        assert not gh.license_allowed(licence, allowed)
    assert gh.license_allowed("GPL-3.0-only,MIT", allowed) and not gh.license_allowed("GPL-3.0-only,ISC", allowed)
    assert not gh.license_allowed("apache-2.0", ("mit",))
    with pytest.raises(checks.ConfigError, match="--licenses"):
        gh.GithubConfig(licenses=())
    with pytest.raises(checks.ConfigError, match="--licenses: 'MIT%'"):
        gh.GithubConfig(licenses=("MIT%",))


def test_whitelist_is_a_case_sensitive_suffix_match():
    def kept(path: str) -> bool:
        return path.endswith(gh.EXTENSIONS_WHITELIST)
    assert kept("tools/foo.Makefile") and kept("Makefile") and kept("x.Dockerfile") and kept("src/Main.C")
    assert not kept("web/main.JS") and not kept("README") and not kept("src/LICENSE") and not kept("a.PY")
    assert gh.prog_lang("src/Main.C") == "C++" and gh.prog_lang("a.c") == "C"
    assert gh.prog_lang("foo.Makefile") == "Makefile"
    assert gh.prog_lang("x.cpp") == "C++" and gh.prog_lang("x.cmake") == "CMake" and gh.prog_lang("x.JS") is None


def _unit_keys(files: list[tuple[str, str]], cfg: gh.GithubConfig) -> list:
    keys = []
    for part, (path, fmt) in enumerate(files):
        rows = read_rows(gi.read_file(open_local, path, fmt), path, False, None, LOG)
        keys += list(gh.dedup_keys(run_steps(rows, gh.before_dedup(cfg), Counters()), part))
    return keys


def test_every_planted_row_meets_its_fate_and_counts_add_up():
    cfg = gh.GithubConfig()
    files = [(str(BQ), gi.BIGQUERY), (str(STACK), gi.THE_STACK)]
    decisions = dict(gh.decide(_unit_keys(files, cfg)))
    fates: dict[tuple[str, str], str] = {}
    total = Counters()
    kept = []
    for part, (path, fmt) in enumerate(files):
        docs, counters = run_file(gi.read_file(open_local, path, fmt), path, False,
                                  gh.recipe(cfg, decisions.get(part, gh.UnitDedup())), LOG)
        total = total + counters
        kept += docs
        for d in docs:
            fates[(d.meta["repo_name"], d.meta["path"])] = "kept"
    stats = total.to_stats()
    assert not check_accounting(stats)
    expected: dict[str, int] = {}
    for what in MAKE.EXPECT.values():
        expected[what] = expected.get(what, 0) + 1
    assert stats["documents"]["written"] == expected.pop("kept")
    assert {r: n for r, n in stats["documents"]["dropped"].items() if n} == expected
    assert set(fates) == {k for k, v in MAKE.EXPECT.items() if v == "kept"}
    alice = next(d for d in kept if d.meta["repo_name"] == "alice/util")
    assert alice.meta["copies"] == 3 and alice.meta["other_repos"] == ["bob/fork", "carol/vendor"]
    assert alice.meta["header_removed_chars"] == len(MAKE.STRINGS_C) - len(rp_clean(MAKE.STRINGS_C))
    assert alice.text == rp_clean(MAKE.STRINGS_C)
    before_clean = {"license_not_allowed", "binary", "symlink", "crt_file", "root_license_file", "duplicate_content"}
    cleaned = [r["content"] for r, what in MAKE.BIGQUERY_ROWS + MAKE.STACK_ROWS if what not in before_clean]
    assert stats["chars"]["dropped"]["copyright_header"] == sum(len(c) - len(rp_clean(c)) for c in cleaned)
    for d in kept:
        assert d.meta.keys() >= {"repo_name", "path", "license", "prog_lang", "content_hash", "copies", "other_repos",
                                 "max_line_length", "avg_line_length", "alnum_prop", "alpha_token_ratio",
                                 "num_tokens", "line_count", "header_removed_chars"}
        assert "binary" not in d.meta and d.meta["alpha_token_ratio"] >= 1.5
        assert d.meta["num_tokens"] == gh.regex_token_count(d.text)
        assert {k: d.meta[k] for k in rp_stats(d.text)} == rp_stats(d.text)
    erin = next(d for d in kept if d.meta["repo_name"] == "erin/scripts")
    assert erin.meta["copies"] == 1  # its GPL twin (aaa/gpl-copy, a smaller name) was dropped before the dedup


def test_thresholds_are_flags_of_the_config():
    cfg = gh.GithubConfig(max_line_length=2000, max_avg_line_length=2000, min_alnum=0.0, min_alpha_token_ratio=0.0)
    docs, counters = run_file(gi.read_file(open_local, str(BQ), gi.BIGQUERY), str(BQ), False, gh.recipe(cfg), LOG)
    paths = {d.meta["path"] for d in docs}
    assert {"dist/app.min.js", "src/icon.js", "assets/art.md", "font8x8.h"} <= paths
    with pytest.raises(checks.ConfigError, match="--min-alnum"):
        gh.GithubConfig(min_alnum=1.5)


def test_dedup_winner_is_content_derived():
    digest = "ab" * 16
    keys = [(digest, repo, path, "mit", unit, row) for repo, path, unit, row in
            [("zed/z", "a.c", 0, 0), ("bob/b", "b.c", 1, 5), ("bob/b", "a.c", 2, 1), ("amy/a", "z.c", 3, 2),
             ("cat/c", "c.c", 0, 7), ("dan/d", "d.c", 1, 1), ("eve/e", "e.c", 2, 9)]]
    keys.append(("cd" * 16, "solo/s", "s.c", "mit", 0, 3))
    expected = {3: gh.UnitDedup(wins=((2, 7, ("bob/b", "cat/c", "dan/d", "eve/e", "zed/z")),)),
                0: gh.UnitDedup(drops=(0, 7)), 1: gh.UnitDedup(drops=(1, 5)), 2: gh.UnitDedup(drops=(1, 9))}
    for seed in range(5):
        random.Random(seed).shuffle(keys)
        assert dict(gh.decide(keys)) == expected
    assert gh.merge([gh.UnitDedup(drops=(4,)), gh.UnitDedup(drops=(1,), wins=((2, 2, ("x",)),))]) == gh.UnitDedup(
        drops=(1, 4), wins=((2, 2, ("x",)),))


def test_sentencepiece_token_count(tmp_path):
    import sentencepiece as spm
    text = "\n".join(c for c in _fixture_contents() for _ in range(20))
    (tmp_path / "train.txt").write_text(text)
    spm.SentencePieceTrainer.train(input=str(tmp_path / "train.txt"), model_prefix=str(tmp_path / "tok"),
                                   vocab_size=200, model_type="bpe", num_threads=1, minloglevel=2)
    model = str(tmp_path / "tok.model")
    cfg = gh.GithubConfig(tokenizer=model, min_alpha_token_ratio=0.0)
    assert cfg.run_info()["token_count"] == "sentencepiece"
    docs, _ = run_file(gi.read_file(open_local, str(BQ), gi.BIGQUERY), str(BQ), False, gh.recipe(cfg), LOG)
    sp = spm.SentencePieceProcessor(model_file=model)
    assert docs and all(d.meta["num_tokens"] == len(sp.encode(d.text)) for d in docs)
    import pickle
    assert pickle.loads(pickle.dumps(gh.SentencePieceCount(model)))(["int x;"]) == [len(sp.encode("int x;"))]


def test_reader_reads_a_unit_by_its_file_index():
    unit = Unit(1, str(STACK))
    docs = list(gi.read_unit(open_local, (gi.BIGQUERY, gi.THE_STACK), unit))
    assert len(docs) == len(MAKE.STACK_ROWS)
    assert list(gi.gunzip_chunks(io.BytesIO(b""))) == []
