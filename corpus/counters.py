"""Run counters: what every step read, wrote and dropped (and why), mergeable with `+` in any order.

Every document, line and character read is either written or dropped under a snake_case reason,
so `read == written + sum(dropped)` holds for each unit; `check_accounting` says where it does
not. `Counters.to_stats()` is the `_stats.json` shape of DESIGN.md, byte-stable once dumped with
sorted keys.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Union

UNITS = ("documents", "lines", "chars")
MAX_MALFORMED = 100


@dataclasses.dataclass(frozen=True)
class Units:
    """Documents, lines and characters of something read, written or dropped."""

    docs: int = 0
    lines: int = 0
    chars: int = 0

    @classmethod
    def of(cls, text: str) -> "Units":
        """One document of `text`: lines counted as `text.split("\\n")` does."""
        return cls(1, text.count("\n") + 1, len(text))

    def __add__(self, other: "Units") -> "Units":
        return Units(self.docs + other.docs, self.lines + other.lines, self.chars + other.chars)

    def __sub__(self, other: "Units") -> "Units":
        return Units(self.docs - other.docs, self.lines - other.lines, self.chars - other.chars)

    def values(self) -> tuple[int, int, int]:
        return self.docs, self.lines, self.chars


Measured = Union[Units, str, Any]  # Units, a text, or anything with a `text` (a Document)


def _units(what: Measured) -> Units:
    if isinstance(what, Units):
        return what
    return Units.of(what if isinstance(what, str) else what.text)


def _add_nested(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict):
            out[k] = _add_nested(out.get(k, {}), v)
        else:
            out[k] = out.get(k, 0) + v
    return out


@dataclasses.dataclass
class Counters:
    """read(doc) / drop(reason, doc) / write(doc), faults, and named tallies; `a + b` merges."""

    reads: Units = Units()
    writes: Units = Units()
    drops: dict[str, Units] = dataclasses.field(default_factory=dict)
    faults: list[dict] = dataclasses.field(default_factory=list)
    faults_total: int = 0
    tallies: dict[str, Any] = dataclasses.field(default_factory=dict)

    def read(self, what: Measured) -> None:
        self.reads += _units(what)

    def write(self, what: Measured) -> None:
        self.writes += _units(what)

    def drop(self, reason: str, what: Measured) -> None:
        """Count `what` as dropped for `reason`; Units with docs=0 are lines or characters cut from a
        document that goes on (the reason is listed even when every count is 0)."""
        self.drops[reason] = self.drops.get(reason, Units()) + _units(what)

    def malformed(self, file: str, offset: int, error: str) -> None:
        """One unreadable record: read and dropped as `malformed`, listed with its file and offset."""
        self.read(Units(1, 0, 0))
        self.drop("malformed", Units(1, 0, 0))
        self.faults_total += 1
        self.faults.append({"file": file, "offset": offset, "error": error})

    def tally(self, *path_and_n: Any) -> None:
        """Add n to a named count outside the accounting, e.g. tally("tokens", "by_source", "cc", 120)."""
        *path, n = path_and_n
        self.tallies = _add_nested(self.tallies, _nest(path, n))

    def __add__(self, other: "Counters") -> "Counters":
        drops = dict(self.drops)
        for reason, u in other.drops.items():
            drops[reason] = drops.get(reason, Units()) + u
        return Counters(self.reads + other.reads, self.writes + other.writes, drops,
                        _first_faults(self.faults + other.faults), self.faults_total + other.faults_total,
                        _add_nested(self.tallies, other.tallies))

    def to_stats(self) -> dict[str, Any]:
        """The `_stats.json` counters: per unit read/written/dropped, the first MAX_MALFORMED faults in
        (file, offset) order, their total, and the tallies; keys sorted."""
        out: dict[str, Any] = dict(self.tallies)
        for i, unit in enumerate(UNITS):
            out[unit] = {"read": self.reads.values()[i], "written": self.writes.values()[i],
                         "dropped": {r: u.values()[i] for r, u in self.drops.items()}}
        out["malformed"] = _first_faults(self.faults)
        out["malformed_total"] = self.faults_total
        return sort_keys(out)

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> "Counters":
        """Counters back from their `to_stats()` form (a worker's output, or a `_stats.json`)."""
        reasons = stats["documents"]["dropped"]
        drops = {r: Units(*(stats[u]["dropped"][r] for u in UNITS)) for r in reasons}
        tallies = {k: v for k, v in stats.items() if k not in UNITS and k not in ("malformed", "malformed_total")}
        return cls(Units(*(stats[u]["read"] for u in UNITS)), Units(*(stats[u]["written"] for u in UNITS)),
                   drops, list(stats["malformed"]), stats["malformed_total"], tallies)


def _nest(path: list[str], n: int) -> dict:
    out: Any = n
    for key in reversed(path):
        out = {key: out}
    return out


def _first_faults(faults: list[dict]) -> list[dict]:
    return sorted(faults, key=lambda m: (m["file"], m["offset"], m["error"]))[:MAX_MALFORMED]


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
