"""The trainer never loses or silently misreads a user's data (issue 9): token ids outside the
vocabulary are named, a corrupt latest checkpoint falls back to an intact one, a signal exits
130/143 on every rank, the TOKENS folder must be finished and unaltered (sha256 shared over
ranks), and out_dir may not overlap it. Each test fails on the trainer before the fix."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from train import __main__ as train_main

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, tokens: Path, name: str = "config.yaml", **extra) -> Path:
    values = {"tokens": str(tokens), "out_dir": str(tmp_path / "run"), "model": "tiny", "seq_len": 64,
              "batch_tokens": 1024, "micro_batch": 8, "max_steps": 4, "warmup_steps": 2, "log_every": 1,
              "eval_every": 1000, "checkpoint_every": 1000, "threads": 1, "tensorboard": False, **extra}
    path = tmp_path / name
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return path


def _records(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines() if '"loss"' in line]


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra)


def _run(cfg: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "train", "--config", str(cfg)], cwd=ROOT, env=_env(), **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ranks(cfg: Path, world: int = 2) -> list[subprocess.Popen]:
    """The ranks of a torchrun job started by hand, so each rank's own exit status can be seen."""
    port = str(_free_port())
    return [subprocess.Popen([sys.executable, "-m", "train", "--config", str(cfg)], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
            for r in range(world)]


def _wait_for_log(out_dir: Path, lines: int) -> None:
    log = out_dir / "log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= lines):
        time.sleep(0.05)


def _copy(token_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tokens"
    shutil.copytree(token_run, copy)
    return copy


def _reseal(tokens: Path, *changed: Path) -> None:
    """Rewrite the manifest's sha256 of changed files: a folder made consistently by a foreign tool."""
    manifest = json.loads((tokens / "_manifest.json").read_text())
    for entry in manifest["files"]:
        if tokens / entry["path"] in changed:
            entry["sha256"] = hashlib.sha256((tokens / entry["path"]).read_bytes()).hexdigest()
    (tokens / "_manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# 1. token ids at or above the vocabulary size

def test_token_ids_outside_the_vocabulary_name_the_file(token_run, tmp_path, capsys):
    tokens = _copy(token_run, tmp_path)
    vocab = json.loads((tokens / "mixture.json").read_text())["tokenizer"]["vocab_size"]
    victims = sorted((tokens / "cc").glob("*.bin"))
    for victim in victims:  # every 50th token of every cc shard: the first window drawn holds one
        data = np.fromfile(victim, dtype="<u2")
        data[25::50] = vocab + 7
        data.tofile(victim)
    _reseal(tokens, *victims)
    assert train_main.main(["--config", str(_config(tmp_path, tokens))]) == 2  # at start-up, verifying
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("train: error:")
    assert f"{victims[0]}: token id {vocab + 7} is outside the vocabulary of {vocab}" in err
    assert train_main.main(["--config", str(_config(tmp_path, tokens)), "verify_shards=size"]) == 2  # when drawn
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(rf"{re.escape(str(tokens))}/cc/part-\d{{5}}\.bin: token id {vocab + 7} is outside the "
                     rf"vocabulary of {vocab}", err), err
    assert not (tmp_path / "run" / "checkpoints").exists()


# 2. a corrupt latest checkpoint

def test_corrupt_latest_checkpoint_falls_back_to_the_previous_intact_one(token_run, tmp_path, capsys):
    cfg = _config(tmp_path, token_run, max_steps=30, checkpoint_every=10, keep_checkpoints=3, verify_shards="size")
    assert train_main.main(["--config", str(cfg)]) == 0
    expected = {r["step"]: r["loss"] for r in _records(tmp_path / "run")}
    ckpts = tmp_path / "run" / "checkpoints"
    shutil.rmtree(ckpts / "step-00000030")  # as if the run had been killed at step 25
    distcp = ckpts / "step-00000020" / "__0_0.distcp"
    distcp.write_bytes(distcp.read_bytes()[:distcp.stat().st_size // 2])
    damaged = _tree(ckpts / "step-00000020")
    capsys.readouterr()
    assert train_main.main(["--config", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert f"train: warning: corrupt checkpoint: {ckpts / 'step-00000020'} cannot be read back" in err
    assert "resuming from step-00000010" in err and str(ckpts / "step-00000020.corrupt") in err
    assert _tree(ckpts / "step-00000020.corrupt") == damaged  # kept, byte for byte
    records = _records(tmp_path / "run")
    assert [r["step"] for r in records] == list(range(1, 31)) + list(range(11, 31))
    for r in records:
        assert r["loss"] == expected[r["step"]]  # the resumed steps are exactly the uninterrupted ones
    for step in ("step-00000010", "step-00000020", "step-00000030"):
        (ckpts / step / "trainer.json").write_text('{"step": 1')
    before = _tree(ckpts)
    assert train_main.main(["--config", str(cfg), "max_steps=40"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"train: error: no intact checkpoint in {ckpts}:")
    assert "step-00000010/trainer.json is unreadable" in err and "step-00000030/trainer.json" in err
    assert _tree(ckpts) == before  # nothing renamed, nothing removed


# 3. interrupted runs exit 130 (SIGINT) or 143 (SIGTERM), on every rank

def test_signals_exit_130_and_143_after_saving(token_run, tmp_path):
    cfg = _config(tmp_path, token_run, max_steps=200, verify_shards="size")
    log = tmp_path / "run" / "log.jsonl"
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        lines = len(log.read_text().splitlines()) if log.exists() else 0
        proc = _run(cfg, stdout=subprocess.PIPE, text=True)
        _wait_for_log(tmp_path / "run", lines + 3)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == code and f"stopped by signal {int(sig)}" in out, out[-2000:]
        step = max(r["step"] for r in _records(tmp_path / "run"))
        assert (tmp_path / "run" / "checkpoints" / f"step-{step:08d}" / "trainer.json").is_file()
    assert _run(_config(tmp_path, token_run, max_steps=step + 2, verify_shards="size")).wait(timeout=300) == 0


def test_every_rank_exits_143_when_one_rank_is_terminated(token_run, tmp_path):
    cfg = _config(tmp_path, token_run, max_steps=60, log_every=4, verify_shards="size")
    procs = _ranks(cfg)
    _wait_for_log(tmp_path / "run", 2)
    procs[1].send_signal(signal.SIGTERM)  # rank 0 gets no signal: the ranks agree at the next log step
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [143, 143], outs
    step = max(r["step"] for r in _records(tmp_path / "run"))
    assert step % 4 == 0 and step < 60 and "stopped by signal 15" in outs[0][0]
    assert (tmp_path / "run" / "checkpoints" / f"step-{step:08d}" / "trainer.json").is_file()


# 4. unfinished or altered token folders are refused at start-up

def test_unfinished_or_altered_tokens_are_refused(token_run, tmp_path, capsys):
    tokens = _copy(token_run, tmp_path)
    cfg = _config(tmp_path, tokens, max_steps=1)

    def refused(*overrides: str) -> str:
        assert train_main.main(["--config", str(cfg), *overrides]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("train: error:"), err
        return err

    (tokens / "_SUCCESS").unlink()
    err = refused()
    assert str(tokens) in err and "no _SUCCESS" in err and "allow_incomplete=true" in err
    assert train_main.main(["--config", str(cfg), "allow_incomplete=true", f"out_dir={tmp_path / 'allowed'}"]) == 0
    (tokens / "_SUCCESS").write_text("")
    idx = tokens / "wikipedia" / "part-00001.idx"
    idx.unlink()
    assert f"{idx} is listed in _manifest.json but missing" in refused("verify_shards=size")
    shutil.copy(token_run / "wikipedia" / "part-00001.idx", idx)
    victim = tokens / "cc" / "part-00002.bin"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x01  # same size, still a valid token id: only the sha256 sees it
    victim.write_bytes(bytes(data))
    assert f"{victim} does not match its sha256 in _manifest.json" in refused()
    shutil.copy(token_run / "cc" / "part-00002.bin", victim)
    mixture = tokens / "mixture.json"
    text = mixture.read_text()
    total = json.loads(text)["sources"]["cc"]["tokens"]
    edited = total + 1 if total % 10 != 9 else total - 1
    mixture.write_text(re.sub(rf'"tokens": {total}\b', f'"tokens": {edited}', text, count=1))  # same size
    assert f"source cc says tokens = {edited} but its files hold {total}" in refused("verify_shards=size")
    share = f'"realised_share": {json.loads(text)["sources"]["wikipedia"]["realised_share"]}'
    mixture.write_text(text.replace(share, share[:-1] + ("1" if share[-1] != "1" else "2"), 1))  # same size
    assert f"{mixture} does not match its sha256 in _manifest.json" in refused()
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ranks_share_the_sha256_pass_and_stop_with_the_same_error(token_run, tmp_path):
    tokens = _copy(token_run, tmp_path)
    listed = sorted(e["path"] for e in json.loads((tokens / "_manifest.json").read_text())["files"])
    victim = tokens / next(p for i, p in enumerate(listed) if i % 2 == 1 and p.endswith(".bin"))  # rank 1's
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x01
    victim.write_bytes(bytes(data))
    procs = _ranks(_config(tmp_path, tokens))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [2, 2], outs
    errors = [err.strip().splitlines()[-1] for _, err in outs]
    assert errors[0] == errors[1] == (f"train: error: tokens {tokens}: {victim} does not match its sha256 in "
                                      f"_manifest.json (changed since it was written)")
    assert not (tmp_path / "run" / "checkpoints").exists()


# 5. out_dir may not overlap the tokens folder

def test_out_dir_overlapping_the_tokens_folder_is_refused(token_run, tmp_path, capsys):
    tokens = _copy(token_run, tmp_path)
    before = _tree(tokens)
    link = tmp_path / "link"
    link.symlink_to(tokens, target_is_directory=True)
    for out_dir, relation in ((tokens, "is"), (tokens / "run", "is inside"), (tmp_path, "contains"),
                              (link / "run", "is inside"), (link, "is")):
        cfg = _config(tmp_path, tokens, out_dir=str(out_dir), max_steps=1)
        assert train_main.main(["--config", str(cfg)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"config keys 'out_dir' ({out_dir}) and 'tokens' ({tokens}) overlap: out_dir {relation}" in err
    assert _tree(tokens) == before
