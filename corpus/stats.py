"""Run counters in the `_stats.json` shape of DESIGN.md, mergeable in any order with the same result.

Every document, line and character read is either written or dropped under a snake_case
reason, so `read == written + sum(dropped)` holds for each unit; `check_accounting` says
where it does not.
"""
from __future__ import annotations

import copy
from typing import Any

UNITS = ("documents", "lines", "chars")
MAX_MALFORMED = 100


def empty_stats() -> dict[str, Any]:
    """Counters of a run that has read nothing."""
    stats: dict[str, Any] = {u: {"read": 0, "written": 0, "dropped": {}} for u in UNITS}
    stats["malformed"] = []
    stats["malformed_total"] = 0
    return stats


def count_read(stats: dict, docs: int, lines: int, chars: int) -> None:
    for unit, n in zip(UNITS, (docs, lines, chars)):
        stats[unit]["read"] += n


def count_written(stats: dict, docs: int, lines: int, chars: int) -> None:
    for unit, n in zip(UNITS, (docs, lines, chars)):
        stats[unit]["written"] += n


def count_dropped(stats: dict, reason: str, docs: int, lines: int, chars: int) -> None:
    for unit, n in zip(UNITS, (docs, lines, chars)):
        dropped = stats[unit]["dropped"]
        dropped[reason] = dropped.get(reason, 0) + n


def add_malformed(stats: dict, file: str, offset: int, error: str) -> None:
    """Record a fault: one unreadable document, dropped as `malformed`, listed with file and offset."""
    count_read(stats, 1, 0, 0)
    count_dropped(stats, "malformed", 1, 0, 0)
    stats["malformed_total"] += 1
    stats["malformed"].append({"file": file, "offset": offset, "error": error})


def text_units(text: str) -> tuple[int, int]:
    """(lines, characters) of a text; lines counted as `text.split("\n")` does."""
    return text.count("\n") + 1, len(text)


def _merge_values(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge_values(out[k], v) if k in out else copy.deepcopy(v)
        return out
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a + b
    raise TypeError(f"cannot merge counters {a!r} and {b!r}")


def merge_stats(parts: list[dict]) -> dict[str, Any]:
    """Sum counters; keep the first MAX_MALFORMED faults in (file, offset) order."""
    out = empty_stats()
    for p in parts:
        out = _merge_values(out, p)
    out["malformed"] = sorted(out["malformed"], key=lambda m: (m["file"], m["offset"], m["error"]))[:MAX_MALFORMED]
    return sort_keys(out)


def sort_keys(obj: Any) -> Any:
    """Dicts with sorted keys, recursively, so the JSON is byte-stable."""
    if isinstance(obj, dict):
        return {k: sort_keys(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [sort_keys(v) for v in obj]
    return obj


def check_accounting(stats: dict) -> list[str]:
    """Violations of read == written + sum(dropped), one message per unit; empty when it holds."""
    problems = []
    for unit in UNITS:
        c = stats[unit]
        total = c["written"] + sum(c["dropped"].values())
        if c["read"] != total:
            problems.append(f"{unit}: read {c['read']} != written {c['written']} + dropped "
                            f"{sum(c['dropped'].values())} {c['dropped']}")
    return problems
