"""`python -m train --config CONFIG.yaml [key=value ...]`: train a LLaMA model on token shards."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from train.config import ConfigError, load_config
from train.errors import CorruptCheckpoint, Interrupted


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train", description=__doc__.splitlines()[0] + (
        " Runs on one CPU, one GPU, or many under torchrun (FSDP2); rerun with the same out_dir to resume."
        " Exit status: 0 finished, 2 refused (one line naming the key or file), 130/143 stopped by SIGINT/SIGTERM"
        " after saving a checkpoint."))
    ap.add_argument("--config", default=None, help="YAML file of config keys (see train/config.py)")
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="config keys, overriding the file")
    args = ap.parse_args(argv)
    from tokenizer.shards import IncompleteInput, ShardError

    try:
        cfg = load_config(args.config, args.overrides)
        from train.trainer import train

        train(cfg)
    except Interrupted as exc:  # the checkpoint is saved; rerun to resume
        return exc.exit_code
    except (ConfigError, ShardError, IncompleteInput, CorruptCheckpoint, FileNotFoundError) as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
