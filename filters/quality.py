"""The CommonCrawl quality classifier: training lines, the fastText CLI that trains and tests it, and
the scorer that applies it (fasttext-predict), scoring exactly as RedPajama v1's classify.py.

Labels are `__label__wiki` (pages cited as references by Wikipedia) and `__label__cc` (random pages);
`wiki_prob` is the probability of `wiki` (1 - p when the top label is `cc`), rounded to 4 decimals so
the stored value and the threshold decision agree byte for byte.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Optional, Sequence

LABEL_PREFIX = "__label__"
WIKI = "__label__wiki"
CC = "__label__cc"
LABELS = (WIKI, CC)
DECIMALS = 4
METRIC = re.compile(r"^(N|P@1|R@1)\s+(\S+)\s*$")


def scoring_text(text: str) -> str:
    """One line of a document as RedPajama scores it: stripped, its lines joined by spaces."""
    return " ".join(text.strip().splitlines())


def training_line(label: str, text: str) -> str:
    """`label text` on one line; `__label__` inside the text is blanked so that it cannot make a label."""
    return f"{label} {scoring_text(text).replace(LABEL_PREFIX, ' ')}"


def wiki_probability(label: str, prob: float, decimals: Optional[int] = DECIMALS) -> float:
    """RedPajama's wiki_prob from the top-1 prediction (fastText's probability clipped to [0, 1]: it
    can print 1.00001), rounded to `decimals` (None: not rounded)."""
    p = min(max(float(prob), 0.0), 1.0)
    value = p if label == WIKI else 1.0 - p
    return value if decimals is None else round(value, decimals)


def check_model(path: str) -> str:
    """`path` when it is a readable file, else FileNotFoundError naming it (before any pipeline starts)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"quality model {path} not found (train one with `llamapipe quality-train`)")
    return path


class QualityScorer:
    """A fastText quality model loaded once (fasttext-predict); `wiki_probs` scores a batch of texts."""

    def __init__(self, model_path: os.PathLike | str):
        import fasttext

        self.model_path = check_model(str(model_path))
        self._model = fasttext.load_model(self.model_path)

    def top(self, text: str) -> tuple[str, float]:
        """(label, probability) of the top prediction for one document's text (k=1)."""
        preds = self._model.f.predict(scoring_text(text) + "\n", 1, 0.0, "replace")
        if not preds:
            return CC, 1.0
        prob, label = preds[0]
        return label, float(prob)

    def wiki_probs(self, texts: Sequence[str]) -> list[float]:
        """wiki_prob of each text. A loop over single predictions: fasttext-predict's batch call
        (multilinePredict) returns labels without their probabilities."""
        return [wiki_probability(*self.top(t)) for t in texts]


def run_cli(binary: Path, args: Sequence[str], what: str, stdin: str | None = None) -> str:
    """Run the fastText CLI with `args`; its stdout, or RuntimeError with the command and its output."""
    res = subprocess.run([str(binary), *args], input=stdin, capture_output=True, text=True)
    if res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).splitlines()[-20:])
        raise RuntimeError(f"fastText {what} failed ({binary} {' '.join(args)}, exit {res.returncode}):\n{tail}")
    return res.stdout


def train_args(train_file: str, model_prefix: str, epoch: int, lr: float, dim: int, word_ngrams: int,
               min_count: int, threads: int, seed: int) -> list[str]:
    """`fasttext supervised` arguments; the other options keep the CLI defaults RedPajama used."""
    return ["supervised", "-input", train_file, "-output", model_prefix, "-epoch", str(epoch), "-lr", repr(lr),
            "-dim", str(dim), "-wordNgrams", str(word_ngrams), "-minCount", str(min_count),
            "-thread", str(threads), "-seed", str(seed), "-verbose", "0"]


def parse_test(output: str) -> dict[str, float]:
    """N, P@1 and R@1 from `fasttext test` output."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        m = METRIC.match(line.strip())
        if m:
            found[m.group(1)] = float(m.group(2)) if m.group(1) != "N" else int(m.group(2))
    if set(found) != {"N", "P@1", "R@1"}:
        raise RuntimeError(f"unexpected `fasttext test` output: {output[:300]!r}")
    return found


def model_labels(binary: Path, model: str) -> list[str]:
    """The labels a model knows, from `fasttext dump MODEL dict` (entries whose type is `label`)."""
    out = run_cli(binary, ["dump", model, "dict"], "dump")
    return sorted(line.split()[0] for line in out.splitlines()[1:] if line.split()[-1:] == ["label"])


def label_metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall and support of each label, from gold and predicted labels."""
    out = {}
    for label in sorted(set(gold) | set(predicted)):
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        n_pred = sum(1 for p in predicted if p == label)
        n_gold = sum(1 for g in gold if g == label)
        out[label] = {"precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_gold if n_gold else 0.0,
                      "support": n_gold}
    return out
