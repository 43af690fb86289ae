"""The GitHub pipeline's config, named steps, dedup decisions and recipe (no Beam), as LLaMA §2.1 and
RedPajama v1 (github_clean_dedup_local.py, github_run_filter.py) built their code data.

Recipe, in order, each step its own drop reason: license_not_allowed (the licence starts with one of
--licenses, case-insensitive: BigQuery's `LIKE 'mit%'`; for The Stack any of the repo's SPDX ids),
binary, symlink, crt_file (path ends with .crt), root_license_file (path == "LICENSE" exactly), then
duplicate_content (exact dedup of the raw content's md5 across all inputs, decided in the graph's first
pass: the smallest (repo_name, path) wins), the copyright header cleaning (characters cut counted under
copyright_header), then empty, extension_not_whitelisted, max_line_length, avg_line_length, alnum_prop
and alpha_token_ratio with RedPajama's definitions. Every measured value goes to meta, so a user can
re-threshold from the output.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from corpus.counters import Counters, Units
from corpus.github_input import FORMATS
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, drop_where_not

DEFAULT_LICENSES = ("mit", "bsd", "apache")
REGEX, SENTENCEPIECE = "regex", "sentencepiece"
DEFAULT_DEDUP_SHARDS = 16
DUPLICATE = "duplicate_content"
OTHER_REPOS = 5

# RedPajama's github_run_filter.py whitelist, verbatim and in its order; matched with str.endswith, so
# it is case-sensitive and "Makefile" / "Dockerfile" also match foo.Makefile.
EXTENSIONS_WHITELIST = (
    ".asm", ".bat", ".cmd", ".c", ".h", ".cs", ".cpp", ".hpp", ".c++", ".h++", ".cc", ".hh", ".C", ".H",
    ".cmake", ".css", ".dockerfile", ".f90", ".f", ".f03", ".f08", ".f77", ".f95", ".for", ".fpp", ".go",
    ".hs", ".html", ".java", ".js", ".jl", ".lua", ".md", ".markdown", ".php", ".php3", ".php4", ".php5",
    ".phps", ".phpt", ".pl", ".pm", ".pod", ".perl", ".ps1", ".psd1", ".psm1", ".py", ".rb", ".rs", ".sql",
    ".scala", ".sh", ".bash", ".command", ".zsh", ".ts", ".tsx", ".tex", ".vb", "Dockerfile", "Makefile",
    ".xml", ".rst", ".m", ".smali")

# Our own table: the language of each whitelisted suffix (meta.prog_lang); the longest suffix wins.
PROG_LANG = {
    ".asm": "Assembly", ".bat": "Batchfile", ".cmd": "Batchfile", ".c": "C", ".h": "C", ".cs": "C#",
    ".cpp": "C++", ".hpp": "C++", ".c++": "C++", ".h++": "C++", ".cc": "C++", ".hh": "C++", ".C": "C++",
    ".H": "C++", ".cmake": "CMake", ".css": "CSS", ".dockerfile": "Dockerfile", "Dockerfile": "Dockerfile",
    ".f90": "Fortran", ".f": "Fortran", ".f03": "Fortran", ".f08": "Fortran", ".f77": "Fortran",
    ".f95": "Fortran", ".for": "Fortran", ".fpp": "Fortran", ".go": "Go", ".hs": "Haskell", ".html": "HTML",
    ".java": "Java", ".js": "JavaScript", ".jl": "Julia", ".lua": "Lua", ".md": "Markdown",
    ".markdown": "Markdown", ".php": "PHP", ".php3": "PHP", ".php4": "PHP", ".php5": "PHP", ".phps": "PHP",
    ".phpt": "PHP", ".pl": "Perl", ".pm": "Perl", ".pod": "Perl", ".perl": "Perl", ".ps1": "PowerShell",
    ".psd1": "PowerShell", ".psm1": "PowerShell", ".py": "Python", ".rb": "Ruby", ".rs": "Rust", ".sql": "SQL",
    ".scala": "Scala", ".sh": "Shell", ".bash": "Shell", ".command": "Shell", ".zsh": "Shell",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".tex": "TeX", ".vb": "Visual Basic", "Makefile": "Makefile",
    ".xml": "XML", ".rst": "reStructuredText", ".m": "Objective-C", ".smali": "Smali"}
_BY_LENGTH = sorted(PROG_LANG, key=len, reverse=True)

# RedPajama's header rule: the first C block comment anywhere in the file, and "copyright" in any case.
BLOCK_COMMENT = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/")
COPYRIGHT = re.compile("copyright", re.IGNORECASE)
HEADER_LINE_STARTS = ("//", "#", "--")
TOKEN = re.compile(r"\w+|[^\w\s]+")
"""dolma's offline stand-in for the Pythia tokenizer (code_redpajama_taggers_v1). We count its matches;
dolma counts the pieces `regex.split` leaves between them (one more than the matches) and uses the
`regex` package's \\w (which also takes combining marks); `re`'s Unicode \\w is used here."""
_ASCII_ALNUM = bytes(c for c in range(128) if chr(c).isalnum())
_ASCII_ALPHA = bytes(c for c in range(128) if chr(c).isalpha())


@dataclasses.dataclass(frozen=True)
class GithubConfig:
    """Everything that decides a github run's output: the same config gives the same bytes.

    `files` are the expanded, sorted inputs (part number = index) and `formats` the row schema of each
    (corpus.github_input.detect_format); `unreadable` those (by index) that cannot be opened.
    `licenses` are licence prefixes; `tokenizer` a SentencePiece model for the token count (empty:
    the regex count); the thresholds are RedPajama's; `dedup_shards` splits the dedup keys so one
    worker holds about 1/dedup_shards of them.
    """

    files: tuple[str, ...] = ()
    out: str = ""
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    formats: tuple[str, ...] = ()
    licenses: tuple[str, ...] = DEFAULT_LICENSES
    tokenizer: str = ""
    max_line_length: int = 1000
    max_avg_line_length: float = 100.0
    min_alnum: float = 0.25
    min_alpha_token_ratio: float = 1.5
    dedup_shards: int = DEFAULT_DEDUP_SHARDS

    def __post_init__(self):
        if len(self.formats) != len(self.files):
            raise checks.ConfigError(f"{len(self.formats)} input formats for {len(self.files)} input files")
        for path, fmt in zip(self.files, self.formats):
            checks.one_of(f"--format of {path}", fmt, FORMATS)
        check_licenses(self.licenses)
        checks.at_least("--max-line-length", self.max_line_length, 1)
        if not self.max_avg_line_length > 0:
            raise checks.ConfigError(f"--max-avg-line-length must be > 0, got {self.max_avg_line_length}")
        checks.fraction("--min-alnum", self.min_alnum)
        if not self.min_alpha_token_ratio >= 0:
            raise checks.ConfigError(f"--min-alpha-token-ratio must be >= 0, got {self.min_alpha_token_ratio}")
        checks.at_least("--dedup-shards", self.dedup_shards, 1)
        for idx, _ in self.unreadable:
            if not 0 <= idx < len(self.files):
                raise checks.ConfigError(f"unreadable file index {idx} is not one of the {len(self.files)} inputs")

    @property
    def token_count(self) -> str:
        """How tokens are counted: REGEX, or SENTENCEPIECE with `tokenizer`."""
        return SENTENCEPIECE if self.tokenizer else REGEX

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "formats": sorted(set(self.formats)), "licenses": list(self.licenses),
                "token_count": self.token_count, "tokenizer": self.tokenizer or None,
                "max_line_length": self.max_line_length, "max_avg_line_length": self.max_avg_line_length,
                "min_alnum": self.min_alnum, "min_alpha_token_ratio": self.min_alpha_token_ratio,
                "dedup_shards": self.dedup_shards}


def check_licenses(licenses: Sequence[str]) -> tuple[str, ...]:
    """Lowercase licence prefixes (letters, digits, '-', '.'), at least one."""
    if not licenses:
        raise checks.ConfigError("--licenses needs at least one licence prefix (e.g. mit,bsd,apache)")
    for name in licenses:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
            raise checks.ConfigError(f"--licenses: {name!r} is not a lowercase licence prefix (e.g. mit, bsd, apache)")
    return tuple(licenses)


def license_allowed(licence: str, prefixes: Sequence[str]) -> bool:
    """BigQuery's `license LIKE 'mit%' OR ...` made case-insensitive; a comma list (The Stack's SPDX
    ids) passes when any of its ids does."""
    return any(part.strip().lower().startswith(tuple(prefixes)) for part in licence.split(","))


def prog_lang(path: str) -> Optional[str]:
    """The programming language of a path by our suffix table (case-sensitive, as the whitelist), or None."""
    for suffix in _BY_LENGTH:
        if path.endswith(suffix):
            return PROG_LANG[suffix]
    return None


def clean_copyright_comments(content: str) -> str:
    """RedPajama's header rule, quirks included: if the file has a C block comment anywhere, only the
    first one is looked at: it is cut when it says "copyright" (any case), and either way nothing else
    is done (a later copyright block and leading `//` lines stay). Without one, the leading lines
    that start with //, # or -- or are empty are dropped (so #!/bin/sh, #include and Python comments
    at the top go too), lines split on "\\n" only."""
    block = BLOCK_COMMENT.search(content)
    if block:
        start, end = block.span()
        return content[:start] + content[end:] if COPYRIGHT.search(content, start, end) else content
    at = 0
    while True:
        nl = content.find("\n", at)
        line_end = len(content) if nl < 0 else nl
        if at < line_end and not content.startswith(HEADER_LINE_STARTS, at, line_end):
            return content[at:]
        if nl < 0:
            return ""
        at = nl + 1


@functools.lru_cache(maxsize=1)
def _class_tables() -> tuple[np.ndarray, np.ndarray]:
    """isalnum and isalpha of every code point (surrogates included), computed once per process."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    alnum = np.fromiter(map(str.isalnum, every), dtype=np.bool_, count=0x110000)
    alpha = np.fromiter(map(str.isalpha, every), dtype=np.bool_, count=0x110000)
    return alnum, alpha


def count_alnum_alpha(text: str) -> tuple[int, int]:
    """(characters with str.isalnum(), characters with str.isalpha()) without a Python loop per
    character: bytes.translate for ASCII text, a code point table over the UTF-32 buffer otherwise."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw) - len(raw.translate(None, _ASCII_ALNUM)), len(raw) - len(raw.translate(None, _ASCII_ALPHA))
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    alnum, alpha = _class_tables()
    return int(np.count_nonzero(alnum[codes])), int(np.count_nonzero(alpha[codes]))


@dataclasses.dataclass(frozen=True)
class FileStats:
    """RedPajama's get_filecontent_stats: lines by str.splitlines, avg = len(text) / lines (newlines
    included), alnum_prop over all characters; all zero for a text without lines."""

    line_count: int
    max_line_length: int
    avg_line_length: float
    alnum_prop: float
    num_alpha: int

    def meta(self) -> dict:
        return {"line_count": self.line_count, "max_line_length": self.max_line_length,
                "avg_line_length": self.avg_line_length, "alnum_prop": self.alnum_prop}


def file_stats(text: str) -> FileStats:
    """The stats of one (cleaned) file."""
    lengths = list(map(len, text.splitlines()))
    if not lengths:
        return FileStats(0, 0, 0, 0, 0)
    alnum, alpha = count_alnum_alpha(text)
    return FileStats(len(lengths), max(lengths), len(text) / len(lengths), alnum / len(text), alpha)


def regex_token_count(text: str) -> int:
    """Tokens as runs of word characters or of other non-space characters (dolma's offline count; subn
    counts the matches without making a string of each)."""
    return TOKEN.subn("", text)[1]


# --- steps -------------------------------------------------------------------------------------------


def _meta_filter(name: str, keep) -> Filter:
    return Filter(name, lambda b: [bool(keep(d.meta)) for d in b.docs])


@dataclasses.dataclass(frozen=True)
class UnitDedup:
    """The dedup decisions of one unit: rows that lose (`drops`), and for rows that win a group of
    more than one, (row, copies, other_repos). Rows in neither are unique: copies 1."""

    drops: tuple[int, ...] = ()
    wins: tuple[tuple[int, int, tuple[str, ...]], ...] = ()


class Dedup:
    """Drops the rows the first pass found to be copies of a smaller (repo_name, path) under `name`;
    meta gains copies and other_repos. The unit's decisions are indexed once, not per batch."""

    name = DUPLICATE

    def __init__(self, decisions: UnitDedup = UnitDedup()):
        self.decisions = decisions
        self.drops = frozenset(decisions.drops)
        self.wins = {row: (copies, list(others)) for row, copies, others in decisions.wins}

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for row, doc in zip(batch.rows, batch.docs):
            copies, others = self.wins.get(row, (1, []))
            doc.meta["copies"], doc.meta["other_repos"] = copies, list(others)
        return drop_where_not(self.name, batch, [r not in self.drops for r in batch.rows], counters)


@dataclasses.dataclass(frozen=True)
class CleanHeader:
    """clean_copyright_comments on each file: what it cuts counts under `name` (a text change) and in
    meta.header_removed_chars."""

    name: str = "copyright_header"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for i, doc in enumerate(batch.docs):
            cleaned = clean_copyright_comments(doc.text)
            before, after = batch.units[i], Units.of(cleaned)
            doc.meta["header_removed_chars"] = before.chars - after.chars
            if cleaned != doc.text:
                counters.drop(self.name, Units(0, before.lines - after.lines, before.chars - after.chars))
                doc.text, batch.units[i] = cleaned, after
        return batch


@dataclasses.dataclass(frozen=True)
class Measure:
    """The per-file stats into meta (with prog_lang); drops nothing."""

    name: str = "measure"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            stats = file_stats(doc.text)
            doc.meta.update(stats.meta(), num_alpha=stats.num_alpha, prog_lang=prog_lang(doc.meta["path"]))
        return batch


class SentencePieceCount:
    """Token counts from a SentencePiece model, a batch at a time; pickles as its model path."""

    def __init__(self, model: str):
        import sentencepiece as spm

        self.model = model
        self.sp = spm.SentencePieceProcessor(model_file=model)

    def __call__(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.sp.encode(texts)]

    def __reduce__(self):
        return SentencePieceCount, (self.model,)


def regex_counts(texts: list[str]) -> list[int]:
    """regex_token_count of each text."""
    return [regex_token_count(t) for t in texts]


@dataclasses.dataclass(frozen=True)
class AlphaTokenRatio:
    """Alphabetic characters per token, from `count` (texts -> token counts); below `minimum` drops as
    `name`. A file without tokens has ratio 0."""

    count: object
    minimum: float
    name: str = "alpha_token_ratio"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        keep = []
        for doc, tokens in zip(batch.docs, self.count([d.text for d in batch.docs])):
            ratio = doc.meta["num_alpha"] / tokens if tokens else 0.0
            doc.meta["num_tokens"], doc.meta["alpha_token_ratio"] = tokens, ratio
            keep.append(ratio >= self.minimum)
        return drop_where_not(self.name, batch, keep, counters)


@dataclasses.dataclass(frozen=True)
class Finish:
    """Drops the reader's flags that every written row has the same (binary, symlink_target) from meta."""

    name: str = "finish"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            doc.meta.pop("binary", None)
            doc.meta.pop("symlink_target", None)
        return batch


def before_dedup(cfg: GithubConfig) -> list[Step]:
    """The row rules of RedPajama's query and preprocess_source, before the dedup."""
    licences = cfg.licenses
    return [_meta_filter("license_not_allowed", lambda m: license_allowed(m["license"], licences)),
            _meta_filter("binary", lambda m: not m["binary"]),
            _meta_filter("symlink", lambda m: not m["symlink_target"]),
            _meta_filter("crt_file", lambda m: not m["path"].endswith(".crt")),
            _meta_filter("root_license_file", lambda m: m["path"] != "LICENSE")]


def after_dedup(cfg: GithubConfig) -> list[Step]:
    """Cleaning, stats and RedPajama's filters, in its order (the SentencePiece model loads here)."""
    count = SentencePieceCount(cfg.tokenizer) if cfg.tokenizer else regex_counts
    return [CleanHeader(),
            Filter("empty", lambda b: [len(d.text) > 0 for d in b.docs]),
            _meta_filter("extension_not_whitelisted", lambda m: m["path"].endswith(EXTENSIONS_WHITELIST)),
            Measure(),
            _meta_filter("max_line_length", lambda m: m["max_line_length"] <= cfg.max_line_length),
            _meta_filter("avg_line_length", lambda m: m["avg_line_length"] <= cfg.max_avg_line_length),
            _meta_filter("alnum_prop", lambda m: m["alnum_prop"] >= cfg.min_alnum),
            AlphaTokenRatio(count, cfg.min_alpha_token_ratio),
            Finish()]


def recipe(cfg: GithubConfig, decisions: UnitDedup = UnitDedup(), tail: Optional[list[Step]] = None) -> list[Step]:
    """The whole chain for one unit with its dedup decisions; `tail` reuses after_dedup(cfg) built once."""
    return before_dedup(cfg) + [Dedup(decisions)] + (after_dedup(cfg) if tail is None else tail)


# --- dedup decisions (the graph's first pass and its per-shard decision) -----------------------------

DedupKey = tuple[str, str, str, str, int, int]
"""(content md5, repo_name, path, license, unit, row): sorting orders a group by its winner rule."""


def shard_of(md5_hex: str, shards: int) -> int:
    """The hash shard of a content digest."""
    return int(md5_hex[:8], 16) % shards


def dedup_keys(batches: Iterable[Batch], part: int) -> Iterator[DedupKey]:
    """The dedup key of every row of a unit that passed the rules before the dedup."""
    for batch in batches:
        for row, doc in zip(batch.rows, batch.docs):
            m = doc.meta
            yield m["content_hash"], m["repo_name"], m["path"], m["license"], part, row


def decide(keys: Iterable[DedupKey], other_repos: int = OTHER_REPOS) -> Iterator[tuple[int, UnitDedup]]:
    """(unit, its decisions) from every key of a shard: in each group of one content, the smallest
    (repo_name, path) wins (licence, unit and row only break ties between the same file), its copies
    are the group's size and other_repos the first `other_repos` distinct repos of the others, sorted."""
    drops: dict[int, list[int]] = {}
    wins: dict[int, list[tuple[int, int, tuple[str, ...]]]] = {}
    ordered = sorted(keys)
    start = 0
    while start < len(ordered):
        end = start + 1
        while end < len(ordered) and ordered[end][0] == ordered[start][0]:
            end += 1
        if end - start > 1:
            winner, others = ordered[start], ordered[start + 1:end]
            repos = tuple(sorted({k[1] for k in others})[:other_repos])
            wins.setdefault(winner[4], []).append((winner[5], end - start, repos))
            for k in others:
                drops.setdefault(k[4], []).append(k[5])
        start = end
    for unit in sorted(set(drops) | set(wins)):
        yield unit, UnitDedup(tuple(sorted(drops.get(unit, []))), tuple(sorted(wins.get(unit, []))))


def merge(decisions: Iterable[UnitDedup]) -> UnitDedup:
    """One unit's decisions from every shard."""
    drops: list[int] = []
    wins: list[tuple[int, int, tuple[str, ...]]] = []
    for d in decisions:
        drops.extend(d.drops)
        wins.extend(d.wins)
    return UnitDedup(tuple(sorted(drops)), tuple(sorted(wins)))
