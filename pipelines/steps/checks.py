"""The rules config values follow, one function per rule, shared by the configs and the CLI's flag types.

A broken rule raises ConfigError with a message that names the flag, so the same text reaches a
user of the command line and a user of the Python config.
"""
from __future__ import annotations

from typing import Iterable

from corpus.shards import IDENTIFIER


class ConfigError(ValueError):
    """A config value outside its rule."""


def at_least(flag: str, value: int, low: int) -> int:
    if value < low:
        raise ConfigError(f"{flag} must be >= {low}, got {value}")
    return value


def fraction(flag: str, value: float, include_zero: bool = True, include_one: bool = True) -> float:
    """A value within [0, 1], with either end excluded on request."""
    low_ok = value >= 0.0 if include_zero else value > 0.0
    high_ok = value <= 1.0 if include_one else value < 1.0
    if not (low_ok and high_ok):
        raise ConfigError(f"{flag} must be within {'[' if include_zero else '('}0, 1{']' if include_one else ')'}, "
                          f"got {value}")
    return value


def char_count(flag: str, value: int) -> int:
    """A positive number of characters."""
    if value < 1:
        raise ConfigError(f"{flag} takes a positive number of characters, got {value!r}")
    return value


def languages(flag: str, values: Iterable[str]) -> tuple[str, ...]:
    """Sorted, distinct language codes (letters, digits, _ or -), at least one."""
    langs = tuple(sorted(set(values)))
    if not langs:
        raise ConfigError(f"{flag} needs at least one language code")
    for lang in langs:
        if not IDENTIFIER.match(lang):
            raise ConfigError(f"{flag}: {lang!r} is not a language code (letters, digits, _ or -)")
    return langs


def one_of(flag: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
    return value
