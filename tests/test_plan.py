"""`llamapipe plan` against the LLaMA paper's own numbers (Touvron et al., 2023)."""
from __future__ import annotations

import json

import pytest

from pipelines import cli
from train import plan as P


def _plan(capsys, *argv: str) -> dict:
    assert cli.main(["plan", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_65b_run_takes_about_21_days_at_about_380_tokens_per_gpu_second(capsys):
    """§2.4: 65.2B on 1.4T tokens, 2048 A100-80GB, ~380 tokens/s/GPU, ~21 days; Table 15: 1,022,362
    GPU-hours. At MFU 0.5 the planner lands within 10% of each."""
    r = _plan(capsys, "--model", "65.2B", "--tokens", "1.4T", "--gpus", "2048", "--gpu", "a100-80gb", "--mfu", "0.5")
    assert r["tokens_per_gpu_s"] == pytest.approx(380, rel=0.10)
    assert r["days"] == pytest.approx(21, rel=0.10)
    assert r["gpu_hours"] == pytest.approx(1_022_362, rel=0.10)


def test_the_papers_throughput_implies_its_time_and_an_mfu_near_one_half(capsys):
    r = _plan(capsys, "--model", "65B", "--tokens", "1.4T", "--gpus", "2048", "--tokens-per-gpu-s", "380")
    assert r["days"] == pytest.approx(1.4e12 / (380 * 2048) / 86400, rel=1e-9)
    assert r["days"] == pytest.approx(21, rel=0.05)
    assert 0.45 < r["mfu"] < 0.55 and r["mfu_source"].startswith("implied")


@pytest.mark.parametrize("name,params,tokens", [("6.7B", 6.7e9, 1.0e12), ("13B", 13.0e9, 1.0e12),
                                                ("32.5B", 32.5e9, 1.4e12), ("65.2B", 65.2e9, 1.4e12)])
def test_table_2_models_have_their_sizes_and_flops_close_to_6nt(name, params, tokens):
    shape = P.model_shape(name)
    assert shape.params == pytest.approx(params, rel=0.01)  # the paper rounds to 3 digits
    r = P.plan(P.PlanConfig(shape, tokens, 2048))
    six_nt = 6 * shape.non_embedding_params * tokens
    assert r["flops_6nt"] == six_nt
    # attention adds 12·L·d·S per token: a few percent at these widths, more for the narrow 6.7B
    assert six_nt < r["flops"] < 1.10 * six_nt


def test_shapes_match_the_trainers_models():
    torch = pytest.importorskip("torch")
    from train.model import PRESETS, Transformer, count_parameters

    for name in ("tiny", "1b"):
        args = PRESETS[name].args
        shape = P.model_shape(name)
        with torch.device("meta"):
            model = Transformer(args)
        assert shape.params == count_parameters(model)
        assert shape.non_embedding_params == count_parameters(model, non_embedding=True)


def test_checkpointing_modes_are_the_trainers():
    pytest.importorskip("torch")
    from train.config import CHECKPOINTING

    assert P.CHECKPOINTING == CHECKPOINTING


def test_checkpointing_and_more_gpus_lower_memory_per_gpu():
    shape = P.model_shape("65.2B")
    mem = {c: P.memory_per_gpu(P.PlanConfig(shape, 1e12, 64, checkpointing=c))["total"] for c in P.CHECKPOINTING}
    assert mem["full"] < mem["selective"] < mem["none"]
    assert mem["full"] < mem["matmul"] < mem["none"]
    few, many = (P.memory_per_gpu(P.PlanConfig(shape, 1e12, g))["total"] for g in (64, 2048))
    assert many < few


def test_a_training_runs_mfu_is_used(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    from train.run_log import CONFIG_FILE, LOG_FILE

    (run / CONFIG_FILE).write_text(json.dumps({"model": "1b"}))
    (run / LOG_FILE).write_text("\n".join(json.dumps({"step": s, "loss": 3.0, "lr": 1e-4, "tokens_per_s": 1.0,
                                                      "mfu": m}) for s, m in enumerate([0.1, 0.41, 0.43, 0.42])))
    r = _plan(capsys, "--model", "1b", "--tokens", "20B", "--gpus", "8", "--gpu", "h200", "--run", str(run))
    assert r["mfu"] == pytest.approx(0.42)  # the median after the first (warm-up) step


@pytest.mark.parametrize("argv,flag", [
    (["--model", "99B", "--tokens", "1T", "--gpus", "8"], "--model"),
    (["--model", "1b", "--tokens", "lots", "--gpus", "8"], "--tokens"),
    (["--model", "1b", "--tokens", "1T", "--gpus", "8", "--mfu", "1.5"], "--mfu"),
    (["--model", "1b", "--dim", "512", "--tokens", "1T", "--gpus", "8"], "--model"),
    (["--tokens", "1T", "--gpus", "8"], "--model"),
])
def test_bad_flags_are_named(argv, flag, capsys):
    assert cli.main(["plan", *argv]) == 2
    assert flag in capsys.readouterr().err


def test_the_table_reads(capsys):
    assert cli.main(["plan", "--model", "65.2B", "--tokens", "1.4T", "--gpus", "2048"]) == 0
    out = capsys.readouterr().out
    assert "tokens/s/GPU" in out and "days" in out and "fits" in out
