"""The trainer on CPU: it learns, resumes exactly after a kill, matches on 2 gloo ranks, refuses bad configs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train import __main__ as train_main
from train.config import TrainConfig, load_config
from train.generate import generate, load_model
from train.trainer import lr_at, param_groups

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, token_run: Path, **extra) -> Path:
    values = {"tokens": str(token_run), "out_dir": str(tmp_path / "run"), "model": "tiny", "seq_len": 64,
              "batch_tokens": 1024, "micro_batch": 8, "max_steps": 40, "warmup_steps": 10, "log_every": 1,
              "eval_every": 1000, "checkpoint_every": 1000, "threads": 1, "tensorboard": False, **extra}
    path = tmp_path / "config.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return path


def _losses(out_dir: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def _run(args: list[str], **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "train", *args], cwd=ROOT, env=env, **kw)


def test_tiny_model_learns(token_run, tmp_path):
    cfg = _config(tmp_path, token_run, max_steps=200, warmup_steps=20, log_every=10, eval_every=100,
                  tensorboard=True)
    assert train_main.main(["--config", str(cfg)]) == 0
    losses = _losses(tmp_path / "run")
    assert losses[200] < losses[10] - 1.5 and losses[200] < 6.6, losses  # ln(4000) = 8.29 at the start
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    evals = [r["eval_perplexity"] for r in records if "eval_perplexity" in r]
    assert len(evals) == 2 and set(evals[0]) == {"cc", "wikipedia"}
    assert records[-2]["epochs"]["cc"] > 0 and "tokens_per_s" in records[-2]
    assert list((tmp_path / "run" / "tensorboard").iterdir())
    from pipelines import cli

    assert cli.main(["stats", str(tmp_path / "run"), "--html", str(tmp_path / "run.html")]) == 0
    page = (tmp_path / "run.html").read_text()
    assert page.count("<svg") == 4 and "held-out perplexity per source" in page  # loss, lr, eval, tokens/s
    from train.run_log import summarise_run

    summary = summarise_run(tmp_path / "run")
    assert summary["steps"] == list(range(10, 201, 10)) and summary["loss"][-1] == losses[200]
    assert [p[0] for p in summary["eval"]["cc"]] == [100, 200]
    model, sp, _ = load_model(tmp_path / "run")
    text = generate(model, sp, "The", max_new_tokens=8, seed=1)
    assert isinstance(text, str) and text == generate(model, sp, "The", max_new_tokens=8, seed=1)


def test_kill_and_resume_reproduces_the_uninterrupted_losses(token_run, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    cfg = _config(full, token_run)
    assert _run(["--config", str(cfg)]).wait(timeout=300) == 0
    expected = _losses(full / "run")
    killed = tmp_path / "killed"
    killed.mkdir()
    cfg = _config(killed, token_run)
    proc = _run(["--config", str(cfg)], stdout=subprocess.PIPE, text=True)
    log = killed / "run" / "log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 12):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by signal" in out  # 128 + SIGTERM: interrupted, not finished
    stopped_at = max(_losses(killed / "run"))
    assert 12 <= stopped_at < 40
    assert _run(["--config", str(cfg)]).wait(timeout=300) == 0
    resumed = _losses(killed / "run")
    assert sorted(resumed) == list(range(1, 41))
    assert resumed == expected  # exactly, step for step


def test_sigkill_resumes_from_the_last_periodic_checkpoint(token_run, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    assert _run(["--config", str(_config(full, token_run, max_steps=30))]).wait(timeout=300) == 0
    expected = _losses(full / "run")
    killed = tmp_path / "killed"
    killed.mkdir()
    cfg = _config(killed, token_run, max_steps=30, checkpoint_every=10)
    proc = _run(["--config", str(cfg)])
    log = killed / "run" / "log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 15):
        time.sleep(0.05)
    proc.kill()  # no chance to save: the run restarts from step 10 (or 20)
    proc.wait(timeout=60)
    assert max(_losses(killed / "run")) < 30
    assert _run(["--config", str(cfg)]).wait(timeout=300) == 0
    records = [json.loads(line) for line in log.read_text().splitlines() if '"loss"' in line]
    assert len(records) > 30  # the steps after the last checkpoint ran twice
    for r in records:
        assert r["loss"] == expected[r["step"]]


def test_two_gloo_ranks_match_one_rank(token_run, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    # grad_clip 0.1 is below the gradient norms here, so clipping over sharded gradients is exercised
    assert _run(["--config", str(_config(one, token_run, max_steps=8, grad_clip=0.1))]).wait(timeout=300) == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    rc = subprocess.run([*torchrun, "-m", "train", "--config", str(_config(two, token_run, max_steps=8, grad_clip=0.1))],
                        cwd=ROOT, env=env, timeout=300).returncode
    assert rc == 0
    a, b = _losses(one / "run"), _losses(two / "run")
    assert sorted(a) == sorted(b) == list(range(1, 9))
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-4)
    norms = [[json.loads(line)["grad_norm"] for line in (d / "run" / "log.jsonl").read_text().splitlines()
              if "grad_norm" in line] for d in (one, two)]
    assert min(norms[0]) > 0.1 and norms[1] == pytest.approx(norms[0], rel=1e-4)
    # the 2-rank checkpoint resumes on 1 rank
    assert _run(["--config", str(_config(two, token_run, max_steps=10))]).wait(timeout=300) == 0
    assert max(_losses(two / "run")) == 10


def test_sigterm_under_torchrun_saves_and_resumes_on_one_rank(token_run, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert _run(["--config", str(_config(one, token_run, max_steps=30))]).wait(timeout=300) == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cfg = _config(two, token_run, max_steps=30, log_every=4)
    proc = subprocess.Popen([*torchrun, "-m", "train", "--config", str(cfg)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    log = two / "run" / "log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it on to both ranks
    out, _ = proc.communicate(timeout=120)
    assert "stopped by signal" in out, out[-2000:]
    stopped_at = max(_losses(two / "run"))
    assert stopped_at % 4 == 0 and stopped_at < 30
    assert _run(["--config", str(cfg)]).wait(timeout=300) == 0  # one rank from a 2-rank checkpoint
    a, b = _losses(one / "run"), _losses(two / "run")
    assert max(b) == 30
    for step in b:
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-4)


def test_meta_device_init_shards_before_materialising(token_run, tmp_path):
    full, meta = tmp_path / "full", tmp_path / "meta"
    full.mkdir()
    meta.mkdir()
    assert train_main.main(["--config", str(_config(full, token_run, max_steps=3, checkpoint_every=0))]) == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cfg = _config(meta, token_run, max_steps=3, init="meta")
    assert subprocess.run([*torchrun, "-m", "train", "--config", str(cfg)], cwd=ROOT, env=env, timeout=300).returncode == 0
    a, b = _losses(full / "run"), _losses(meta / "run")
    assert sorted(b) == [1, 2, 3] and abs(a[1] - b[1]) < 0.05  # other random weights, same scale
    assert (meta / "run" / "checkpoints" / "step-00000003" / "trainer.json").is_file()


@pytest.mark.parametrize("override,message", [
    ("colour=red", "unknown config key(s) 'colour'"),
    ("lr=-0.1", "'lr' must be positive"),
    ("tokens=/nonexistent", "has no mixture.json"),
    ("attention=flash", "'attention' must be one of"),
    ("model=7b", "'model' must be one of"),
    ("batch_tokens=1000", "must be a multiple of seq_len"),
    ("max_steps=ten", "'max_steps' must be int"),
    ("doc_mask=1", "'doc_mask' must be true or false"),
])
def test_bad_config_values_are_refused(token_run, tmp_path, capsys, override, message):
    cfg = _config(tmp_path, token_run)
    assert train_main.main(["--config", str(cfg), override]) == 2
    assert message in capsys.readouterr().err


def test_truncated_token_file_is_named_by_the_trainer(token_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "tokens"
    shutil.copytree(token_run, copy)
    victim = copy / "cc" / "part-00003.bin"
    victim.write_bytes(victim.read_bytes()[:-6])
    assert train_main.main(["--config", str(_config(tmp_path, copy))]) == 2
    err = capsys.readouterr().err
    assert "train: error:" in err and "cc/part-00003" in err


def test_resuming_another_model_is_refused(token_run, tmp_path, capsys):
    cfg = _config(tmp_path, token_run, max_steps=2)
    assert train_main.main(["--config", str(cfg)]) == 0
    assert train_main.main(["--config", str(cfg), "max_steps=4", "dim=96", "n_heads=6"]) == 2
    assert "holds a checkpoint of another model" in capsys.readouterr().err


def test_missing_config_and_missing_tokens(tmp_path, capsys):
    assert train_main.main(["--config", str(tmp_path / "none.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert train_main.main(["model=tiny"]) == 2
    assert "'tokens' is required" in capsys.readouterr().err


def test_schedule_and_weight_decay_groups(token_run):
    cfg = load_config(None, [f"tokens={token_run}", "lr=1.0", "warmup_steps=10", "max_steps=110"])
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(60, cfg) == pytest.approx(0.55) and lr_at(110, cfg) == pytest.approx(0.1)
    assert TrainConfig().beta1 == 0.9 and TrainConfig().beta2 == 0.95 and TrainConfig().weight_decay == 0.1
    assert TrainConfig().grad_clip == 1.0 and TrainConfig().min_lr_ratio == 0.1
    from train.build import build_model

    model = build_model(cfg, 50, "sdpa")
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.ndim == 1 for p in no_decay["params"]) and len(no_decay["params"]) == 2 * 2 + 1
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1


def test_activation_checkpointing_gives_the_same_losses(token_run, tmp_path):
    losses = {}
    for mode in ("none", "full", "selective", "matmul"):
        (tmp_path / mode).mkdir()
        cfg = _config(tmp_path / mode, token_run, max_steps=3, activation_checkpointing=mode)
        assert train_main.main(["--config", str(cfg)]) == 0
        losses[mode] = _losses(tmp_path / mode / "run")
    assert losses["full"] == pytest.approx(losses["none"], abs=1e-6)
    assert losses["selective"] == pytest.approx(losses["none"], abs=1e-6)
    assert losses["matmul"] == pytest.approx(losses["none"], abs=1e-6)


def test_compiled_blocks_match_eager(token_run, tmp_path):
    losses = {}
    for compiled in (False, True):
        (tmp_path / str(compiled)).mkdir()
        cfg = _config(tmp_path / str(compiled), token_run, max_steps=2, compile=compiled, checkpoint_every=0,
                      eval_windows=0)
        assert train_main.main(["--config", str(cfg)]) == 0
        losses[compiled] = _losses(tmp_path / str(compiled) / "run")
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_mfu_benchmark_smoke_runs_on_cpu():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "benchmarks/bench_train_mfu.py", "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| sdpa, document mask |" in done.stdout and "| sdpa, causal |" in done.stdout


def test_max_steps_zero_trains_for_the_mixture_budget(token_run):
    from train.trainer import resolve_max_steps

    mixture = json.loads((token_run / "mixture.json").read_text())
    cfg = load_config(None, [f"tokens={token_run}", "seq_len=64", "batch_tokens=65536"])
    assert cfg.max_steps == 0
    assert resolve_max_steps(cfg, mixture).max_steps == mixture["total_tokens"] // 65536
    assert resolve_max_steps(load_config(None, [f"tokens={token_run}", "max_steps=7"]), mixture).max_steps == 7
