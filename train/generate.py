"""`python -m train.generate --checkpoint DIR --prompt "..."`: sample text from a trained checkpoint.

DIR is a run's out_dir (its latest checkpoint) or one checkpoints/step-NNNNNNNN folder. The
model's shape comes from the checkpoint's config, the tokenizer from the mixture.json it trained
on. Sampling is temperature + top-k, recomputing the whole prefix each token (no KV cache: meant
for looking at what a model learned, not for serving).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch

from train import checkpoint
from train.attention import resolve_backend
from train.build import build_model
from train.config import TrainConfig
from train.model import Transformer

if TYPE_CHECKING:
    from sentencepiece import SentencePieceProcessor


def _checkpoint_dir(path: Path) -> Path:
    if (path / checkpoint.TRAINER_FILE).is_file():
        return path
    found = checkpoint.checkpoints(path)
    if not found:
        raise FileNotFoundError(f"{path} holds no complete checkpoint (checkpoints/step-*/{checkpoint.TRAINER_FILE})")
    return found[-1]


def load_model(path: str | Path,
               device: str = "cpu") -> tuple[Transformer, SentencePieceProcessor, TrainConfig]:
    """(model, tokenizer, config) from a run folder or a checkpoint folder."""
    import sentencepiece as spm

    from tokenizer.shards import read_mixture_json

    folder = _checkpoint_dir(Path(path))
    cfg = TrainConfig(**checkpoint.read_state(folder)["config"])
    mixture = read_mixture_json(cfg.tokens)
    model = build_model(cfg, mixture["tokenizer"]["vocab_size"], resolve_backend("sdpa"))
    checkpoint.load(folder, model, None)
    sp = spm.SentencePieceProcessor(model_file=mixture["tokenizer"]["path"])
    return model.to(device).eval(), sp, cfg


@torch.no_grad()
def generate(model: Transformer, sp: SentencePieceProcessor, prompt: str, max_new_tokens: int = 64,
             temperature: float = 0.8, top_k: int = 50, seed: int = 0, device: str = "cpu") -> str:
    """The prompt's continuation (BOS + prompt tokens, then samples until EOS or max_new_tokens),
    decoded together with the prompt so the space between them survives."""
    gen = torch.Generator(device=device).manual_seed(seed)
    prompt_ids = sp.encode(prompt)
    ids = [sp.bos_id()] + prompt_ids
    limit = model.args.max_seq_len
    out: list[int] = []
    for _ in range(max_new_tokens):
        window = torch.tensor([(ids + out)[-limit:]], device=device)
        logits = model(window)[0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits[logits < kth] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
        if nxt == sp.eos_id():
            break
        out.append(nxt)
    return sp.decode(prompt_ids + out)[len(sp.decode(prompt_ids)):]


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.generate", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="run out_dir or checkpoints/step-NNNNNNNN folder")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    try:
        model, sp, _ = load_model(args.checkpoint, args.device)
    except (FileNotFoundError, ValueError, checkpoint.CorruptCheckpoint) as exc:
        print(f"generate: error: {exc}", file=sys.stderr)
        return 2
    text = generate(model, sp, args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.seed, args.device)
    print(args.prompt + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
