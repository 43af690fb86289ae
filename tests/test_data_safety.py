"""Never lose a user's data: output ownership, overlap refusal, run locks, confined paths, complete
inputs, inputs reached twice, and the one-line errors of issue 9. Each test fails on the code
before the fix (rc 0 with files gone, or a Beam traceback)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.document import PARQUET_SCHEMA
from corpus.shards import partition_dir
from corpus.counters import check_accounting
from pipelines import cli, fileio, outdir
from pipelines.commit import check_written
from tests.conftest import SAMPLE_GLOB, SAMPLE_WET, read_stats, run_ccnet, run_dedup, run_tokenize

ONE_WET = str(sorted(SAMPLE_WET.glob("*.warc.wet.gz"))[0])
CC_ONLY = "sources:\n  cc: {proportion: 1.0, epochs: 1.0}\n"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _mix(tmp_path: Path) -> Path:
    mix = tmp_path / "cc.yaml"
    mix.write_text(CC_ONLY)
    return mix


# 1. only what a llamapipe run provably wrote is ever removed

def test_user_entries_with_equals_signs_are_never_deleted(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "my=notes").mkdir(parents=True)
    (out / "my=notes" / "thesis.txt").write_text("years of work")
    (out / "a=b.txt").write_text("keep")
    assert run_ccnet(out, [ONE_WET], None, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "a=b.txt" in err and "my=notes/thesis.txt" in err
    assert (out / "my=notes" / "thesis.txt").read_text() == "years of work" and (out / "a=b.txt").read_text() == "keep"


def test_tokenize_keeps_a_users_source_folder_and_mixture_json(sample_run, tokenizer_model, tmp_path, capsys):
    out = tmp_path / "tokens"
    (out / "cc").mkdir(parents=True)
    (out / "cc" / "notes.txt").write_text("mine")
    (out / "mixture.json").write_text('{"mine": true}')
    before = _tree(out)
    assert run_tokenize(out, [f"cc={sample_run}"], tokenizer_model, _mix(tmp_path), "--overwrite") == 2
    assert "cc/notes.txt" in capsys.readouterr().err
    assert _tree(out) == before


def test_overwrite_keeps_a_file_added_to_a_finished_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_ccnet(out, [ONE_WET], None, "--workers", "1") == 0
    (out / "lang=en" / "README.txt").write_text("my notes on this partition")
    before = _tree(out)
    assert run_ccnet(out, [ONE_WET], None, "--overwrite", "--workers", "1") == 2
    assert "lang=en/README.txt" in capsys.readouterr().err
    assert _tree(out) == before


def test_a_killed_runs_leftovers_are_cleared_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    claim = outdir.claim_output(str(out), "ccnet", ["lang=*/bucket=*/part-*.parquet", "_temporary/docs/*.parquet"],
                                overwrite=False)
    (out / "lang=en" / "bucket=head").mkdir(parents=True)
    (out / "lang=en" / "bucket=head" / "part-00007.parquet").write_bytes(b"half written")
    (out / "_temporary" / "docs").mkdir(parents=True)
    (out / "_temporary" / "docs" / "00000.parquet.tmp-0123456789ab").write_bytes(b"x")
    (out / "_manifest.json.tmp-0123456789ab").write_bytes(b"{")
    (out / "lang=xx").mkdir()
    claim._fd and os.close(claim._fd)  # the process died: the kernel drops its lock, the files stay
    assert run_ccnet(out, [ONE_WET], None, "--workers", "1", "--lid-threshold", "0") == 0
    files = set(_tree(out))
    assert not any("tmp-" in f or "part-00007" in f or f.startswith("_temporary") for f in files)
    assert not (out / "lang=xx").exists() and not (out / outdir.RUN_FILE).exists()
    assert {"_SUCCESS", "_manifest.json", "_stats.json"} <= files


# 2. an output overlapping an input is refused before anything is touched

def test_output_equal_to_inside_or_containing_an_input_is_refused(sample_run, tokenizer_model, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_run, corpus)
    before = _tree(corpus)
    link = tmp_path / "link"
    link.symlink_to(corpus)
    mix = _mix(tmp_path)
    cases = [
        lambda: run_tokenize(corpus, [f"cc={corpus}"], tokenizer_model, mix, "--overwrite"),
        lambda: run_tokenize(link, [f"cc={corpus}"], tokenizer_model, mix, "--overwrite"),
        lambda: run_tokenize(corpus / "tokens", [f"cc={corpus}"], tokenizer_model, mix),
        lambda: run_dedup(corpus, [str(corpus)], "--overwrite"),
        lambda: run_dedup(tmp_path, [str(corpus)], "--overwrite"),
        lambda: run_dedup(link / "lang=en", [str(corpus)]),
        lambda: run_ccnet(corpus, [ONE_WET], corpus, "--overwrite"),
    ]
    for case in cases:
        assert case() == 2
        err = capsys.readouterr().err
        assert "input" in err and ("is the input" in err or "inside" in err or "contains" in err), err
        assert _tree(corpus) == before
    wet = tmp_path / "wet"
    wet.mkdir()
    shutil.copy(ONE_WET, wet)
    assert run_ccnet(wet, [str(wet / "*.gz")], None, "--overwrite") == 2
    assert "contains the input file" in capsys.readouterr().err
    assert len(list(wet.iterdir())) == 1


def test_tokenizer_train_refuses_a_model_inside_its_corpus(sample_run, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_run, corpus)
    rc = cli.main(["tokenizer-train", "--corpus", f"cc={corpus}", "--mixture", str(_mix(tmp_path)),
                   "--vocab-size", "400", "--sample-docs", "50", "--out", str(corpus / "tok.model")])
    assert rc == 2 and "inside the input" in capsys.readouterr().err


# 3. one run at a time per output; _SUCCESS only after the manifest is checked

def test_a_second_run_on_a_locked_output_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pipelines import outdir
        outdir.claim_output({str(out)!r}, "ccnet", ["lang=*/bucket=*/part-*.parquet"], overwrite=False)
        print("locked", flush=True)
        time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_ccnet(out, [ONE_WET], None, "--workers", "1") == 2
        err = capsys.readouterr().err
        assert "in use by another llamapipe run" in err and f"pid {holder.pid}" in err
        assert not (out / "_SUCCESS").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run_ccnet(out, [ONE_WET], None, "--workers", "1") == 0  # the lock died with its process


def test_success_needs_every_manifest_file_and_the_run_still_owning_the_folder(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"12345")
    entry = {"path": "a.bin", "rows": 1, "bytes": 5,
             "sha256": "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"}
    check_written(str(tmp_path), [entry])
    with pytest.raises(RuntimeError, match="changed after"):
        (tmp_path / "a.bin").write_bytes(b"12346")
        check_written(str(tmp_path), [entry])
    with pytest.raises(RuntimeError, match="missing"):
        check_written(str(tmp_path), [{**entry, "path": "gone.bin"}])
    claim = outdir.claim_output(str(tmp_path / "o"), "ccnet", [], overwrite=False)
    outdir.check_run(claim.out, claim.run_id)
    with pytest.raises(RuntimeError, match="taken over"):
        outdir.check_run(claim.out, "someone-else")
    claim.release()


# 4. every path a run writes stays inside its output

def test_source_names_and_path_parts_are_identifiers(sample_run, tokenizer_model, tmp_path, capsys):
    mix = tmp_path / "m.yaml"
    for name in ("../../escaped", str(tmp_path / "abs")):
        with pytest.raises(SystemExit) as exc:
            run_tokenize(tmp_path / "t", [f"{name}={sample_run}"], tokenizer_model, _mix(tmp_path))
        assert exc.value.code == 2
        assert "identifier" in capsys.readouterr().err
        mix.write_text(f"sources:\n  {json.dumps(name)}: {{proportion: 1.0}}\n")
        assert run_tokenize(tmp_path / "t", [f"cc={sample_run}"], tokenizer_model, mix) == 2
        assert "identifier" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "abs").exists()
    for lang in ("../x", "/etc", "a/b"):
        with pytest.raises(ValueError, match="identifier"):
            partition_dir(lang, "head")
    for rel in ("../x.parquet", "/abs.parquet", "a/../../b", "a//b"):
        with pytest.raises(ValueError, match="inside its output"):
            fileio.under(str(tmp_path), rel)
    assert cli.main(["lm-train", "--lang", "../en", "--text", "x.txt", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        cli.main(["ccnet", "--input", ONE_WET, "--output", str(tmp_path / "c"), "--langs", "../en"])


# 5. consumers refuse unfinished or altered inputs

def test_unfinished_corpus_is_refused_by_every_consumer(sample_run, tokenizer_model, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_run, corpus)
    (corpus / "_SUCCESS").unlink()
    shutil.rmtree(corpus / "lang=de")
    for run in (lambda: run_tokenize(tmp_path / "t", [f"cc={corpus}"], tokenizer_model, _mix(tmp_path)),
                lambda: run_dedup(tmp_path / "d", [str(corpus)]),
                lambda: cli.main(["stats", str(corpus)])):
        assert run() == 2
        err = capsys.readouterr().err
        assert str(corpus) in err and "--allow-incomplete" in err
    assert cli.main(["stats", str(corpus), "--allow-incomplete", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == len(list(corpus.rglob("*.parquet")))


def test_missing_or_changed_shards_of_a_finished_corpus_are_named(sample_run, tokenizer_model, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_run, corpus)
    gone = sorted(corpus.rglob("*.parquet"))[3]
    gone.unlink()
    assert run_tokenize(tmp_path / "t", [f"cc={corpus}"], tokenizer_model, _mix(tmp_path)) == 2
    assert f"{gone} is listed in _manifest.json but missing" in capsys.readouterr().err
    shutil.rmtree(corpus)
    shutil.copytree(sample_run, corpus)
    victim = sorted(corpus.rglob("*.parquet"))[0]
    data = bytearray(victim.read_bytes())
    text = pq.ParquetFile(victim).metadata.row_group(0).column(PARQUET_SCHEMA.get_field_index("text"))
    start = min(o for o in (text.dictionary_page_offset, text.data_page_offset) if o)
    data[start + text.total_compressed_size // 2] ^= 0xFF   # in the text column, which stats does not read
    victim.write_bytes(bytes(data))
    assert cli.main(["stats", str(corpus), "--json"]) == 0  # same size: only --verify reads every byte
    capsys.readouterr()
    assert cli.main(["stats", str(corpus), "--verify"]) == 2
    assert f"{victim} does not match its sha256" in capsys.readouterr().err


def test_stats_verify_catches_flipped_token_bytes_and_edited_mixture(token_run, tmp_path, capsys):
    copy = tmp_path / "tokens"
    shutil.copytree(token_run, copy)
    assert cli.main(["stats", str(copy), "--verify", "--json"]) == 0
    capsys.readouterr()
    victim = sorted(copy.rglob("*.bin"))[0]
    data = bytearray(victim.read_bytes())
    data[10] ^= 0x01
    data[11] ^= 0x01
    victim.write_bytes(bytes(data))
    assert cli.main(["stats", str(copy), "--verify"]) == 2
    assert str(victim) in capsys.readouterr().err
    shutil.rmtree(copy)
    shutil.copytree(token_run, copy)
    mixture = json.loads((copy / "mixture.json").read_text())
    mixture["sources"]["cc"]["tokens"] += 1
    (copy / "mixture.json").write_text(json.dumps(mixture, indent=1, sort_keys=True) + "\n")
    assert cli.main(["stats", str(copy)]) == 2
    assert "mixture.json" in capsys.readouterr().err


# 6. the same files reached twice are read once

def test_inputs_through_a_symlinked_folder_are_read_once(tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(SAMPLE_WET)
    out = tmp_path / "out"
    assert run_ccnet(out, [SAMPLE_GLOB, str(link / "*.warc.wet.gz")], None, "--workers", "1") == 0
    assert "same file" in capsys.readouterr().err
    stats = read_stats(out)
    assert stats["documents"]["read"] == 843 and stats["documents"]["written"] > 600
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy(ONE_WET, copies / "a.warc.wet.gz")
    shutil.copy(ONE_WET, copies / "b.warc.wet.gz")
    assert fileio.expand_globs([str(copies / "*.gz")], warn=lambda m: None) == [str(copies / "a.warc.wet.gz")]


# 7. small ones

def test_stats_shows_a_finished_empty_corpus(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_ccnet(out, [ONE_WET], None, "--min-length", "100000000", "--workers", "1") == 0
    assert read_stats(out)["documents"]["written"] == 0
    capsys.readouterr()
    assert cli.main(["stats", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["documents"] == 0 and summary["dropped"]["too_short"] == summary["read"] > 0
    assert cli.main(["stats", str(out)]) == 0
    assert "too_short" in capsys.readouterr().out


def test_globs_matching_folders_or_symlink_loops_are_named(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(ONE_WET, inputs)
    (inputs / "sub.warc.wet.gz").mkdir()
    assert run_ccnet(tmp_path / "o", [str(inputs / "*")], None) == 2
    assert "sub.warc.wet.gz" in capsys.readouterr().err
    (inputs / "sub.warc.wet.gz").rmdir()
    (inputs / "loop.warc.wet.gz").symlink_to(inputs / "loop.warc.wet.gz")
    assert run_ccnet(tmp_path / "o", [str(inputs / "*")], None) == 2
    assert "loop.warc.wet.gz" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_unreadable_input_is_counted_and_the_run_goes_on(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(ONE_WET, inputs / "a.warc.wet.gz")
    (inputs / "b.warc.wet.gz").symlink_to("/proc/self/mem")  # a file whose reads fail, even for root
    if fileio.unreadable(str(inputs / "b.warc.wet.gz")) is None:
        pytest.skip("no unreadable file available on this system")
    out = tmp_path / "out"
    assert run_ccnet(out, [str(inputs / "*.gz")], None, "--workers", "1", "--lid-threshold", "0") == 0
    stats = read_stats(out)
    assert check_accounting(stats) == []
    assert [Path(m["file"]).name for m in stats["malformed"]] == ["b.warc.wet.gz"]
    assert "cannot read" in stats["malformed"][0]["error"]
    assert run_ccnet(tmp_path / "o2", [str(inputs / "*.gz")], None, "--strict") == 2
    assert "b.warc.wet.gz" in capsys.readouterr().err


def test_bad_arguments_are_one_line_errors_before_any_pipeline(sample_run, tmp_path, capsys):
    bad_model = tmp_path / "tok.model"
    bad_model.write_bytes(b"not a sentencepiece model")
    regular = tmp_path / "a-file"
    regular.write_text("x")
    cases = [
        (lambda: run_tokenize(tmp_path / "t", [f"cc={sample_run}"], bad_model, _mix(tmp_path)), "tok.model"),
        (lambda: run_dedup(tmp_path / "d", [ONE_WET], "--seed", "-1"), "--seed"),
        (lambda: run_ccnet(regular, [ONE_WET], None), "not a folder"),
        (lambda: run_dedup(regular, [ONE_WET]), "not a folder"),
    ]
    for case, expected in cases:
        assert case() == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert regular.read_text() == "x"


def test_stats_html_on_a_full_disk_leaves_no_temporary_file(sample_run, tmp_path, capsys):
    report = tmp_path / "report.html"
    tmp = tmp_path / f".report.html.tmp-{os.getpid()}"
    tmp.symlink_to("/dev/full")  # the atomic write's temporary name: every write fails with ENOSPC
    assert cli.main(["stats", str(sample_run), "--html", str(report)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not report.exists() and not os.path.lexists(tmp)
