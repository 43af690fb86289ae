"""The data mixture: each source's share of the training tokens and how often it may be repeated.

A mixture file (YAML) names, per source, its sampling `proportion` and `epochs` (LLaMA Table 1
ships as corpus/mixtures/llama.yaml). `plan_budget` turns a mixture plus the tokens each source
actually has into what training will draw: tokens per source, epochs needed, realised shares.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Optional

import yaml

from corpus.shards import IDENTIFIER

LLAMA_MIXTURE = Path(__file__).parent / "mixtures" / "llama.yaml"
_TOLERANCE = 1e-6


class MixtureError(ValueError):
    """A mixture that cannot be used as written; the message names the file and the source."""


def check_source_name(name: object) -> None:
    """Refuse a source name that is not an identifier (letters, digits, _, -; not first): it becomes a folder name."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise MixtureError(f"source name {name!r} is not an identifier (letters, digits, _ or -, starting with a "
                           f"letter or digit): it becomes a folder name")


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping naming the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges keys that explicit ones may override
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class raises its own error
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep)


def _number(value: object, what: str, name: str, path: str) -> float:
    """`value` as a float when it is a YAML number (not a string, not a boolean); else MixtureError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MixtureError(f"{path}: source {name!r}: proportion and epochs must be numbers, got {what} {value!r} "
                           f"({type(value).__name__})")
    return float(value)


@dataclasses.dataclass(frozen=True)
class SourceWeight:
    proportion: float
    epochs: float


@dataclasses.dataclass(frozen=True)
class Mixture:
    sources: dict[str, SourceWeight]
    path: str = "<mixture>"

    def restrict(self, present: list[str], renormalize: bool) -> tuple["Mixture", list[str]]:
        """The mixture over the `present` sources only.

        A mixture source absent from `present` is an error naming it, unless `renormalize`, which
        drops it and rescales the others to sum to 1 (the warnings say which were dropped).
        A present source the mixture does not name is always an error.
        """
        unknown = sorted(set(present) - set(self.sources))
        if unknown:
            raise MixtureError(f"{self.path}: no proportion for source(s) {', '.join(unknown)} "
                               f"(sources in the mixture: {', '.join(self.sources)})")
        missing = [s for s in self.sources if s not in present]
        if not missing:
            return self, []
        if not renormalize:
            raise MixtureError(f"{self.path}: source(s) {', '.join(missing)} are in the mixture but have no "
                               f"--corpus; give them, or pass --renormalize to share their proportion out "
                               f"among the others")
        kept = {s: w for s, w in self.sources.items() if s in present}
        total = sum(w.proportion for w in kept.values())
        if total <= 0:
            raise MixtureError(f"{self.path}: the given sources ({', '.join(present)}) all have proportion 0")
        scaled = {s: SourceWeight(w.proportion / total, w.epochs) for s, w in kept.items()}
        warning = (f"mixture {self.path}: source(s) {', '.join(missing)} missing from --corpus; proportions of "
                   f"{', '.join(present)} rescaled by 1/{total:.4f}")
        return Mixture(scaled, self.path), [warning]


def parse_mixture(doc: object, path: str = "<mixture>") -> Mixture:
    """Validate a loaded mixture document: `{sources: {name: {proportion: p, epochs: e}}}`.

    Names must be identifiers (check_source_name); proportion and epochs must be numbers:
    "0.5" or true are refused rather than converted, since they are likely typos.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict) or not doc["sources"]:
        raise MixtureError(f"{path}: expected a mapping with a non-empty 'sources' mapping")
    sources: dict[str, SourceWeight] = {}
    for name, spec in doc["sources"].items():
        try:
            check_source_name(name)
        except MixtureError as exc:
            raise MixtureError(f"{path}: {exc}") from None
        if not isinstance(spec, dict):
            raise MixtureError(f"{path}: source {name!r} must map to {{proportion: P, epochs: E}}")
        extra = set(spec) - {"proportion", "epochs"}
        if extra:
            raise MixtureError(f"{path}: source {name!r} has unknown key(s) {', '.join(sorted(map(str, extra)))}")
        if "proportion" not in spec:
            raise MixtureError(f"{path}: source {name!r} has no 'proportion'")
        proportion = _number(spec["proportion"], "proportion", name, path)
        epochs = _number(spec.get("epochs", 1.0), "epochs", name, path)
        if not math.isfinite(proportion) or proportion < 0:
            raise MixtureError(f"{path}: source {name!r}: proportion must be >= 0, got {spec['proportion']}")
        if not math.isfinite(epochs) or epochs <= 0:
            raise MixtureError(f"{path}: source {name!r}: epochs must be > 0, got {spec.get('epochs')}")
        sources[name] = SourceWeight(proportion, epochs)
    total = sum(w.proportion for w in sources.values())
    if abs(total - 1.0) > _TOLERANCE:
        listing = ", ".join(f"{s} {w.proportion:g}" for s, w in sources.items())
        raise MixtureError(f"{path}: proportions sum to {total:.6g}, not 1 ({listing})")
    return Mixture(sources, path)


def load_mixture(path: str | Path) -> Mixture:
    """Read and validate a mixture YAML file; a key given twice (e.g. two `cc:`) is refused, naming it."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise MixtureError(f"mixture file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise MixtureError(f"{path}: not valid YAML: {exc}") from None
    return parse_mixture(doc, str(path))


def plan_budget(mixture: Mixture, tokens: dict[str, int], budget: Optional[int] = None
                ) -> tuple[dict[str, dict], int, list[str]]:
    """What each source supplies for a training budget of `budget` tokens.

    Without a budget: the largest one no source needs more than its configured epochs for.
    A source whose share would need more epochs than configured supplies only epochs x tokens
    (a warning names it) and the realised shares move accordingly.
    Returns (per source plan, budget, warnings).
    """
    active = {s: w for s, w in mixture.sources.items() if w.proportion > 0}
    empty = sorted(s for s in active if tokens.get(s, 0) <= 0)
    if empty:
        raise MixtureError(f"{mixture.path}: source(s) {', '.join(empty)} have a proportion but no tokens")
    if budget is None:
        budget = int(min(w.epochs * tokens[s] / w.proportion for s, w in active.items())) if active else 0
    if budget < 0:
        raise MixtureError(f"token budget must be >= 0, got {budget}")
    plan: dict[str, dict] = {}
    warnings: list[str] = []
    for s, w in mixture.sources.items():
        have = tokens.get(s, 0)
        wanted = budget * w.proportion
        needed = wanted / have if have else 0.0
        supplied = wanted
        if needed > w.epochs * (1 + _TOLERANCE):
            supplied = w.epochs * have
            warnings.append(f"source {s}: a budget of {budget:,} tokens needs {needed:.2f} epochs of its {have:,} "
                            f"tokens, more than the {w.epochs:g} the mixture allows; it supplies {int(supplied):,} "
                            f"tokens instead of {int(wanted):,}")
        plan[s] = {"proportion": w.proportion, "epochs": w.epochs, "tokens": have,
                   "required_epochs": round(needed, 6), "supplied_tokens": int(round(supplied)),
                   "epochs_used": round(supplied / have, 6) if have else 0.0}
    total = sum(p["supplied_tokens"] for p in plan.values())
    for p in plan.values():
        p["realised_share"] = round(p["supplied_tokens"] / total, 6) if total else 0.0
    return plan, budget, warnings
