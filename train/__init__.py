"""LLaMA pre-training on token shards: `python -m train --config CONFIG.yaml` (see train/trainer.py)."""
