#!/usr/bin/env bash
# Runs the Hugging Face tests (export, import, tokenizer, lm-eval) against transformers 4.57 instead of
# the 5.x the test extra pins: the 4.x packages go to a separate folder put first on PYTHONPATH, and the
# project's venv (torch, lm-eval, sentencepiece...) supplies the rest. Needs PyPI once.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TARGET=${TARGET:-${TMPDIR:-/tmp}/llamapipe-transformers-4.57}
if [ ! -f "$TARGET/.installed" ]; then
  "$PY" -m pip install -q --no-deps --target "$TARGET" 'transformers==4.57.6' 'tokenizers==0.22.2' \
    'huggingface-hub==0.36.2' 'datasets==4.4.2'
  "$PY" -m pip install -q --target "$TARGET" 'httpx==0.28.1'
  touch "$TARGET/.installed"
fi
PYTHONPATH="$TARGET" "$PY" -c 'import transformers; print("transformers", transformers.__version__, "from", transformers.__file__)'
PYTHONPATH="$TARGET" "$PY" -m pytest -q tests/test_hf_tokenizer.py tests/test_hf_export.py "$@"
