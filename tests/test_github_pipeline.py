"""`llamapipe github` end to end on the local Beam runner: byte-identical output for 1 and 2 workers,
the same dedup winner whichever input file comes first, bad input counted and the rest written,
--strict exit 2, and clear refusals of inputs that are not GitHub exports."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from corpus.counters import check_accounting
from pipelines import cli

DATA = Path(__file__).parent / "data" / "github"


def _maker():
    spec = importlib.util.spec_from_file_location("make_github", Path(__file__).parent / "data" / "make_github.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()
ALICE = ("alice/util", "src/strings.c")
BOB = ("bob/fork", "src/strings.c")


def _inputs(folder: Path, alice_first: bool) -> Path:
    """The fixture's BigQuery rows split in two files, alice's copy of strings.c in the first file
    (alice_first) or in the second, plus The Stack file and a bad export."""
    folder.mkdir()
    rows = [r for r, _ in MAKE.BIGQUERY_ROWS]
    with_alice = [r for r in rows if (r["repo_name"], r["path"]) != BOB]
    with_bob = [r for r in rows if (r["repo_name"], r["path"]) == BOB]
    first, second = (with_alice, with_bob) if alice_first else (with_bob, with_alice)
    MAKE.write_jsonl_gz(folder / "github_000.json.gz", first)
    MAKE.write_jsonl_gz(folder / "github_001.json.gz", second)
    shutil.copy(DATA / "the-stack-000.parquet", folder / "the-stack-000.parquet")
    bad = [MAKE.bigquery_row(f"zz{i}/r", f"ok{i}.py", f"total_value_{i} = compute_the_total({i})\n") for i in range(3)]
    missing = dict(bad[0], repo_name="zz/missing")
    del missing["content"]
    MAKE.write_jsonl_gz(folder / "github_002.json.gz", bad[:2], ("{not json", json.dumps(missing), json.dumps(bad[2])))
    return folder


def _run(inputs: Path, out: Path, *flags: str) -> int:
    return cli.main(["github", "--input", str(inputs / "github_*.json.gz"), "--input", str(inputs / "*.parquet"),
                     "--output", str(out), *flags])


def _rows(out: Path) -> list[dict]:
    return [r for f in sorted(out.rglob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_workers_and_input_order_do_not_change_the_output(tmp_path):
    inputs = _inputs(tmp_path / "in", alice_first=True)
    assert _run(inputs, tmp_path / "one", "--workers", "1") == 0
    assert _run(inputs, tmp_path / "two", "--workers", "2") == 0
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert one == [Path(f"lang=code/bucket=all/part-0000{i}.parquet") for i in (0, 2, 3)]
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    stats = json.loads((tmp_path / "one" / "_stats.json").read_text())
    assert stats == json.loads((tmp_path / "two" / "_stats.json").read_text())
    assert not check_accounting(stats)

    # bad input: counted with file and offset, every good row around it written
    assert stats["malformed_total"] == 2
    assert [(m["file"].endswith("github_002.json.gz"), m["error"].split(":")[0]) for m in stats["malformed"]] == [
        (True, "line 3"), (True, "line 4")]
    rows = _rows(tmp_path / "one")
    metas = {(m["repo_name"], m["path"]): m for m in (json.loads(r["meta"]) for r in rows)}
    assert {("zz0/r", "ok0.py"), ("zz1/r", "ok1.py"), ("zz2/r", "ok2.py")} <= set(metas)

    # every planted row's fate, across files
    kept = {k for k, v in MAKE.EXPECT.items() if v == "kept"}
    assert set(metas) - {("zz0/r", "ok0.py"), ("zz1/r", "ok1.py"), ("zz2/r", "ok2.py")} == kept
    dropped = {r: n for r, n in stats["documents"]["dropped"].items() if n}
    want: dict[str, int] = {"malformed": 2}
    for what in MAKE.EXPECT.values():
        if what != "kept":
            want[what] = want.get(what, 0) + 1
    assert dropped == want
    assert metas[ALICE]["copies"] == 3 and metas[ALICE]["other_repos"] == ["bob/fork", "carol/vendor"]
    assert all(r["source"] == "github" and r["lang"] == "code" and r["bucket"] == "all" and r["perplexity"] is None
               and r["date"] is None for r in rows)
    assert stats["config"]["formats"] == ["bigquery", "the-stack"]

    # alice's copy in the later file this time: the same winner, the same documents
    swapped = _inputs(tmp_path / "swapped", alice_first=False)
    assert _run(swapped, tmp_path / "three", "--workers", "2") == 0
    again = _rows(tmp_path / "three")
    assert sorted(json.dumps(r, sort_keys=True) for r in again) == sorted(json.dumps(r, sort_keys=True) for r in rows)
    stats3 = json.loads((tmp_path / "three" / "_stats.json").read_text())
    assert stats3["documents"] == stats["documents"] and stats3["chars"] == stats["chars"]


def test_strict_stops_at_the_first_fault_with_status_2(tmp_path, capsys):
    inputs = _inputs(tmp_path / "in", alice_first=True)
    assert _run(inputs, tmp_path / "out", "--strict", "--workers", "1") == 2
    err = capsys.readouterr().err
    assert "github_002.json.gz at byte" in err and "line 3: not JSON" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_inputs_that_are_not_github_exports_are_refused(tmp_path, capsys):
    other = tmp_path / "github_x.json.gz"
    MAKE.write_jsonl_gz(other, [{"text": "a web page", "url": "https://example.org"}])
    assert cli.main(["github", "--input", str(other), "--output", str(tmp_path / "out")]) == 2
    assert f"{other}: neither BigQuery rows" in capsys.readouterr().err
    assert cli.main(["github", "--input", str(DATA / "github_000.json.gz"), "--output", str(tmp_path / "out"),
                     "--format", "the-stack"]) == 2
    assert "--format the-stack was given, but its rows are bigquery rows" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert cli.main(["github", "--input", str(notes), "--output", str(tmp_path / "out")]) == 2
    assert "notes.txt: not a GitHub export by its name" in capsys.readouterr().err
    assert cli.main(["github", "--input", str(DATA / "*"), "--output", str(tmp_path / "out"),
                     "--tokenizer", str(tmp_path / "none.model")]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_first_pass_sends_keys_in_bounded_chunks(monkeypatch):
    from corpus import github_input as gi
    from pipelines import github
    from pipelines.source import Unit
    from pipelines.steps.github import GithubConfig

    monkeypatch.setattr(github, "KEY_CHUNK", 3)
    files = (str(DATA / "github_000.json.gz"), str(DATA / "the-stack-000.parquet"))
    cfg = GithubConfig(files=files, formats=(gi.BIGQUERY, gi.THE_STACK), dedup_shards=2)
    fn = github.KeysFn(cfg, github.source_run(cfg))
    fn.setup()
    out = list(fn.process((0, Unit(0, files[0]))))
    assert all(len(keys) <= 3 and shard in (0, 1) for shard, keys in out)
    keys = [k for _, chunk in out for k in chunk]
    before_dedup = {"license_not_allowed", "binary", "symlink", "crt_file", "root_license_file"}
    assert sorted((k[1], k[2]) for k in keys) == sorted(
        (r["repo_name"], r["path"]) for r, what in MAKE.BIGQUERY_ROWS if what not in before_dedup)
    assert all(shard == int(k[0][:8], 16) % 2 for shard, chunk in out for k in chunk)
