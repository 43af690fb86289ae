"""`llamapipe export-hf` / `import-hf`: transformers computes our logits, sharding, round trip, Meta layout, init_from."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from pipelines import cli
from train import __main__ as train_main
from train.hf_export import checkpoint_folder, load_checkpoint_model
from train.hf_layout import to_adjacent_pairs, to_half_rotation
from train.init_from import sha256_file

HF_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def _train(tmp_path: Path, tokens: Path, out: Path, steps: int, **extra) -> int:
    values = {"tokens": str(tokens), "out_dir": str(out), "model": "tiny", "seq_len": 64, "batch_tokens": 1024,
              "micro_batch": 8, "max_steps": steps, "warmup_steps": 5, "log_every": 1, "eval_every": 1000,
              "eval_windows": 0, "checkpoint_every": 1000, "threads": 1, "tensorboard": False, "rope_theta": 5e5,
              **extra}
    cfg = tmp_path / f"{out.name}.yaml"
    cfg.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return train_main.main(["--config", str(cfg)])


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines() if '"loss"' in line]


@pytest.fixture(scope="module")
def run(token_run, tmp_path_factory) -> Path:
    """A tiny model trained 40 steps (RoPE theta 5e5, not the default, so config.json must carry it)."""
    work = tmp_path_factory.mktemp("hf_run")
    assert _train(work, token_run, work / "run", 40) == 0
    return work / "run"


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hf_out") / "fp32"
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(out), "--dtype", "fp32"]) == 0
    return out


def _ids() -> torch.Tensor:
    return torch.randint(3, 4000, (2, 64), generator=torch.Generator().manual_seed(0))


def _hf_logits(folder: Path, model=None) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = model or AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(_ids()).logits


def test_transformers_logits_equal_ours(run, exported):
    from transformers import AutoModelForCausalLM

    ours = load_checkpoint_model(checkpoint_folder(run), 4000)
    with torch.no_grad():
        expected = ours(_ids())
    hf = AutoModelForCausalLM.from_pretrained(str(exported), dtype=torch.float32).eval()
    got = _hf_logits(exported, hf)
    assert (got - expected).abs().max() < 1e-4
    assert torch.equal(got.argmax(-1), expected.argmax(-1))
    # negative control: the same weights without the q/k reordering are measurably wrong
    with torch.no_grad():
        for layer in hf.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                proj.weight.copy_(to_adjacent_pairs(proj.weight, 4))
    assert (_hf_logits(exported, hf) - expected).abs().max() > 1e-3


def test_config_carries_the_models_own_values(exported):
    config = json.loads((exported / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (64, 2, 4)
    assert (config["intermediate_size"], config["vocab_size"], config["max_position_embeddings"]) == (192, 4000, 64)
    assert config["rms_norm_eps"] == 1e-6 and config["rope_theta"] == 5e5 and config["torch_dtype"] == "float32"
    assert json.loads((exported / "generation_config.json").read_text()) == {"bos_token_id": 1, "eos_token_id": 2}
    assert {p.name for p in exported.iterdir()} == set(HF_FILES) | {"model.safetensors", "llamapipe_export.json"}
    marker = json.loads((exported / "llamapipe_export.json").read_text())
    assert marker["step"] == 40 and marker["tokenizer"]["sha256"] == sha256_file(exported / "tokenizer.model")
    assert not list(exported.parent.glob(".*"))  # no temporary sibling left behind


def test_permutation_round_trips():
    w = torch.arange(64 * 3, dtype=torch.float32).reshape(64, 3)
    assert torch.equal(to_adjacent_pairs(to_half_rotation(w, 4), 4), w)
    assert not torch.equal(to_half_rotation(w, 4), w)


def test_sharded_export_loads_like_the_unsharded_one(run, exported, tmp_path):
    out = tmp_path / "sharded"
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(out), "--dtype", "fp32",
                     "--shard-size", "300KB"]) == 0
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(out.glob("model-*-of-*.safetensors"))
    assert len(shards) > 2 and not (out / "model.safetensors").exists()
    assert set(index["weight_map"].values()) == {p.name for p in shards}
    assert all(p.stat().st_size < 300_000 + 4000 * 64 * 4 for p in shards)
    assert torch.equal(_hf_logits(out), _hf_logits(exported))


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "llamapipe_export.json"}


@pytest.fixture(scope="module")
def imported(run, tmp_path_factory) -> tuple[Path, Path]:
    """The run exported in bf16 (the default), imported back as RUN/checkpoints/step-00000000."""
    work = tmp_path_factory.mktemp("hf_import")
    assert cli.main(["export-hf", "--checkpoint", str(run / "checkpoints" / "step-00000040"),
                     "--out", str(work / "bf16")]) == 0
    assert cli.main(["import-hf", "--model", str(work / "bf16"), "--out", str(work / "imported")]) == 0
    return work / "bf16", work / "imported"


def test_export_import_export_is_byte_identical(imported, tmp_path):
    first, run = imported
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(tmp_path / "again")]) == 0
    again = _tree(tmp_path / "again")
    assert set(again) == set(HF_FILES) | {"model.safetensors"} and again == _tree(first)
    assert json.loads((first / "config.json").read_text())["torch_dtype"] == "bfloat16"


def test_import_of_an_fp32_export_restores_every_weight(run, exported, tmp_path):
    assert cli.main(["import-hf", "--model", str(exported), "--out", str(tmp_path / "back")]) == 0
    original = load_checkpoint_model(checkpoint_folder(run), 4000).state_dict()
    back = load_checkpoint_model(tmp_path / "back" / "checkpoints" / "step-00000000", 4000).state_dict()
    assert original.keys() == back.keys() and all(torch.equal(original[k], back[k]) for k in original)


def _meta_layout(run: Path, folder: Path, shards: int) -> dict[str, torch.Tensor]:
    """Meta's consolidated.NN.pth (model-parallel over `shards`) + params.json of the run's model."""
    state = load_checkpoint_model(checkpoint_folder(run), 4000).state_dict()
    meta = {}
    for name, t in state.items():
        if name.endswith("wqkv.weight"):
            for part, w in zip(("wq", "wk", "wv"), t.chunk(3)):
                meta[name.replace("wqkv", part)] = w
        else:
            meta[name] = t
    meta["rope.freqs"] = torch.ones(8)
    split = {"tok_embeddings": 1, "output": 0, "wq": 0, "wk": 0, "wv": 0, "wo": 1, "w1": 0, "w3": 0, "w2": 1}
    folder.mkdir(parents=True)
    for s in range(shards):
        part = {}
        for name, t in meta.items():
            axis = split.get(name.split(".")[-2])
            part[name] = t.chunk(shards, dim=axis)[s].clone() if axis is not None else t
        torch.save(part, folder / f"consolidated.{s:02d}.pth")
    (folder / "params.json").write_text(json.dumps({"dim": 64, "multiple_of": 32, "n_heads": 4, "n_layers": 2,
                                                    "norm_eps": 1e-6, "rope_theta": 5e5, "vocab_size": -1}))
    return state


@pytest.mark.parametrize("shards", [1, 2])
def test_meta_consolidated_layout_imports(run, exported, tmp_path, shards):
    state = _meta_layout(run, tmp_path / "llama" / "tiny", shards)
    shutil.copyfile(exported / "tokenizer.model", tmp_path / "llama" / "tokenizer.model")  # Meta's download layout
    assert cli.main(["import-hf", "--model", str(tmp_path / "llama" / "tiny"), "--out", str(tmp_path / "run"),
                     "--max-seq-len", "64"]) == 0
    back = load_checkpoint_model(tmp_path / "run" / "checkpoints" / "step-00000000", 4000).state_dict()
    assert all(torch.equal(state[k], back[k]) for k in state)
    trainer = json.loads((tmp_path / "run" / "checkpoints" / "step-00000000" / "trainer.json").read_text())
    assert trainer["imported_from"]["layout"] == "meta" and trainer["config"]["rope_theta"] == 5e5


def test_a_run_starts_from_imported_weights_at_step_zero(run, imported, token_run, tmp_path, capsys):
    step0 = imported[1] / "checkpoints" / "step-00000000"
    assert _train(tmp_path, token_run, tmp_path / "fresh", 3) == 0
    assert _train(tmp_path, token_run, tmp_path / "cont", 3, init_from=str(step0)) == 0
    fresh, cont, trained = _losses(tmp_path / "fresh"), _losses(tmp_path / "cont"), _losses(run)
    assert len(cont) == 3 and cont[0] < fresh[0] - 1.0 and cont[0] < trained[0] - 1.0  # the imported weights
    assert cont[0] == pytest.approx(trained[-1], abs=0.5)
    assert "resumed" not in capsys.readouterr().out
    capsys.readouterr()
    assert _train(tmp_path, token_run, tmp_path / "wrong", 1, init_from=str(step0), rope_theta=None) == 2
    assert "rope_theta=500000.0" in capsys.readouterr().err
    assert _train(tmp_path, token_run, imported[1], 1) == 2  # the import's own folder is no run to resume
    assert "init_from=" in capsys.readouterr().err


def test_init_from_on_two_gloo_ranks_matches_one_rank(imported, token_run, tmp_path):
    """The imported weights load into the FSDP-sharded model too: the same losses as on one rank."""
    import os
    import subprocess
    import sys

    step0 = imported[1] / "checkpoints" / "step-00000000"
    assert _train(tmp_path, token_run, tmp_path / "one", 2, init_from=str(step0)) == 0
    values = {"tokens": str(token_run), "out_dir": str(tmp_path / "two"), "model": "tiny", "seq_len": 64,
              "batch_tokens": 1024, "micro_batch": 8, "max_steps": 2, "warmup_steps": 5, "log_every": 1,
              "eval_windows": 0, "checkpoint_every": 1000, "threads": 1, "tensorboard": False, "rope_theta": 5e5,
              "init_from": str(step0)}
    cfg = tmp_path / "two.yaml"
    cfg.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    rc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                         "-m", "train", "--config", str(cfg)], cwd=root, env=env, timeout=300).returncode
    assert rc == 0
    assert _losses(tmp_path / "two") == pytest.approx(_losses(tmp_path / "one"), rel=1e-4)


def test_another_tokenizer_is_refused_and_an_identical_vocabulary_accepted(imported, token_run, tmp_path, capsys):
    src = imported[1] / "checkpoints" / "step-00000000"
    step0 = tmp_path / "copy" / "step-00000000"
    shutil.copytree(src, step0)
    model = step0 / "tokenizer.model"
    model.write_bytes(model.read_bytes() + b"\x22\x00")  # an empty self_test_data field: other bytes, same pieces
    state = json.loads((step0 / "trainer.json").read_text())
    state["tokenizer"]["sha256"] = sha256_file(model)
    (step0 / "trainer.json").write_text(json.dumps(state))
    assert _train(tmp_path, token_run, tmp_path / "same_vocab", 1, init_from=str(step0)) == 0
    from tokenizer.train import train_tokenizer

    text = tmp_path / "t.txt"
    text.write_text("other words entirely\n" * 50 + "".join(f"w{i} x{i * 7}\n" for i in range(3000)))
    train_tokenizer([text], 4000, model, threads=1, hard_vocab_limit=False)
    state["tokenizer"]["sha256"] = sha256_file(model)
    (step0 / "trainer.json").write_text(json.dumps(state))
    capsys.readouterr()
    assert _train(tmp_path, token_run, tmp_path / "other_vocab", 1, init_from=str(step0)) == 2
    err = capsys.readouterr().err
    assert str(model) in err and "vocabulary differs" in err


def test_refusals_name_the_path(run, imported, tmp_path, capsys):
    first, imp = imported
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(out)]) == 2
    assert f"--out {out} exists; pass --overwrite" in capsys.readouterr().err
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(out), "--overwrite"]) == 2
    assert str(out / "notes.txt") in capsys.readouterr().err and (out / "notes.txt").read_text() == "mine"
    assert cli.main(["import-hf", "--model", str(first), "--out", str(out)]) == 2
    assert f"--out {out} exists" in capsys.readouterr().err
    # an earlier export is replaced with --overwrite
    again = tmp_path / "again"
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(again)]) == 0
    assert cli.main(["export-hf", "--checkpoint", str(run), "--out", str(again), "--overwrite", "--dtype", "fp16"]) == 0
    assert json.loads((again / "config.json").read_text())["torch_dtype"] == "float16"
    # the tokenizer: missing, or one that normalises text
    broken = tmp_path / "broken"
    shutil.copytree(imp, broken)
    step0 = broken / "checkpoints" / "step-00000000"
    (step0 / "tokenizer.model").unlink()
    assert cli.main(["export-hf", "--checkpoint", str(broken), "--out", str(tmp_path / "x")]) == 2
    assert f"({step0 / 'tokenizer.model'}) does not exist" in capsys.readouterr().err
    from tokenizer.train import train_tokenizer

    text = tmp_path / "t.txt"
    text.write_text("".join(f"word{i} Ｆｕｌｌ   spaces\n" for i in range(2000)))
    train_tokenizer([text], 300, step0 / "tokenizer.model", threads=1, normalization_rule_name="nfkc")
    state = json.loads((step0 / "trainer.json").read_text())
    state["tokenizer"]["sha256"] = sha256_file(step0 / "tokenizer.model")
    (step0 / "trainer.json").write_text(json.dumps(state))
    assert cli.main(["export-hf", "--checkpoint", str(broken), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert str(step0 / "tokenizer.model") in err and "normalizer_name='nfkc'" in err
    assert not (tmp_path / "x").exists()


def test_models_train_model_cannot_compute_are_refused(exported, tmp_path, capsys):
    gqa = tmp_path / "gqa"
    shutil.copytree(exported, gqa)
    config = json.loads((gqa / "config.json").read_text())
    (gqa / "config.json").write_text(json.dumps(dict(config, num_key_value_heads=2)))
    assert cli.main(["import-hf", "--model", str(gqa), "--out", str(tmp_path / "r")]) == 2
    assert f"{gqa / 'config.json'}: num_key_value_heads = 2" in capsys.readouterr().err
    assert cli.main(["import-hf", "--model", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "is neither a transformers folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_eval_runs_lm_eval_offline_on_local_tasks(run, capsys):
    """`llamapipe eval`: four real-format tasks (two multiple choice, generation, rolling log-likelihood)
    through lm-eval's hf model; the log-likelihood it reports equals our own model's."""
    import sentencepiece as spm

    tasks = Path(__file__).parent / "data" / "eval_tasks"
    names = "piqa_local,arc_easy_local,triviaqa_local,pages_local"
    assert cli.main(["eval", "--checkpoint", str(run), "--tasks", names, "--include-path", str(tasks),
                     "--log-samples", "--batch-size", "4"]) == 0
    assert "piqa_local" in capsys.readouterr().out
    result = json.loads((run / "eval" / "step-00000040.json").read_text())
    assert result["step"] == 40 and set(result["results"]) == set(names.split(","))
    assert 0 <= result["results"]["piqa_local"]["acc,none"] <= 1
    assert result["results"]["pages_local"]["bits_per_byte,none"] > 0
    assert "exact_match,remove_whitespace" in result["results"]["triviaqa_local"]
    samples = [json.loads(line) for line in (run / "eval" / "step-00000040.samples.jsonl").read_text().splitlines()]
    first = next(s for s in samples if s["task"] == "piqa_local" and s["doc_id"] == 0)
    context, continuation = first["arguments"][0]
    logged = first["resps"][0][0][0]  # [[(log-likelihood, is_greedy)]] per choice, as JSON lists
    sp = spm.SentencePieceProcessor(model_file=str(run / "eval" / "hf-step-00000040" / "tokenizer.model"))
    whole, prefix = [1] + sp.encode(context + continuation), [1] + sp.encode(context)
    model = load_checkpoint_model(checkpoint_folder(run), 4000)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([whole[:-1]]))[0].double(), -1)
    ours = sum(float(logp[i - 1, whole[i]]) for i in range(len(prefix), len(whole)))
    assert abs(ours - logged) < 1e-4
    assert cli.main(["eval", "--checkpoint", str(run), "--tasks", "no_such_task", "--include-path", str(tasks)]) == 2
    assert "no_such_task not found in" in capsys.readouterr().err
    report = run.parent / "report.html"
    assert cli.main(["stats", str(run), "--html", str(report)]) == 0
    printed, html = capsys.readouterr().out, report.read_text()
    acc = f"{result['results']['piqa_local']['acc,none']:.4f}"
    assert "eval piqa_local acc (step 40)" in printed and acc in printed
    assert "Evaluation (llamapipe eval)" in html and "pages_local" in html and acc in html
