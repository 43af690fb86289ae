"""The quality classifier's configs and Beam-free pieces: reference URLs of one dump unit, the sampling
keys of the training data, the training line of a chosen document, and the `not_wiki_reference` step.

- wiki-refs: every page of a dump is read; articles (namespace 0, not redirects; every page in redpajama
  mode) with at least one reference URL are written as (url, url_norm, page_id, title) rows; the others
  drop as not_article, redirect or no_reference_urls.
- quality-data: positives are corpus documents whose url_norm a reference has (one per url_norm, the
  smallest id; at least --min-chars), negatives as many documents of other URLs with the smallest
  seeded id-hash (corpus/sampling.py), lines ordered by another seeded hash, valid.txt by a third.
- quality-filter / ccnet --quality-model: `WikiReference` scores a batch and keeps wiki_prob >= threshold.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterable, Iterator, Optional, Union

from corpus.counters import Counters, Units
from corpus.document import Document
from corpus.faults import Fault
from corpus.sampling import sample_key
from corpus.wiki_refs import parser_urls, redpajama_urls, url_norm
from filters import quality
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Step, drop_where_not, read_rows

LOG = logging.getLogger("llamapipe.quality")
MODES = ("parser", "redpajama")
BUCKETS = ("head", "middle", "tail", "all")
DEFAULT_BUCKETS = ("head", "middle")
DEFAULT_THRESHOLD = 0.25
NOT_WIKI_REFERENCE = "not_wiki_reference"
HASH_SPACE = 1 << 64


def bucket_list(flag: str, values: Iterable[str]) -> tuple[str, ...]:
    """Sorted distinct bucket names out of BUCKETS, at least one."""
    buckets = tuple(sorted(set(values)))
    if not buckets:
        raise checks.ConfigError(f"{flag} needs at least one bucket")
    for b in buckets:
        checks.one_of(flag, b, BUCKETS)
    return buckets


@dataclasses.dataclass(frozen=True)
class WikiRefsConfig:
    """Everything that decides a wiki-refs run's output: dumps, planned units (file index, start, end),
    the extraction mode."""

    files: tuple[str, ...] = ()
    out: str = ""
    mode: str = "parser"
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    units: tuple[tuple[int, int, int], ...] = ()
    streams_per_unit: int = 50

    def __post_init__(self):
        checks.one_of("--mode", self.mode, MODES)
        checks.at_least("--streams-per-unit", self.streams_per_unit, 1)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "mode": self.mode, "streams_per_unit": self.streams_per_unit}


def extractor(mode: str):
    """The URL extractor of a mode: parser (mwparserfromhell) or redpajama (its regexes)."""
    return parser_urls if mode == "parser" else redpajama_urls


def unit_refs(items: Iterable[Union[Document, Fault]], path: str, cfg: WikiRefsConfig,
              counters: Counters) -> Iterator[dict[str, Any]]:
    """Reference rows of one dump unit's pages in page order; every page counted as read and as written
    (it cites at least one URL) or dropped under not_article, redirect or no_reference_urls. The
    redpajama mode reads every page as its script scans the whole file (talk pages too)."""
    extract = extractor(cfg.mode)
    articles_only = cfg.mode == "parser"
    for _, page in read_rows(items, path, cfg.strict, counters, LOG):
        counters.read(page)
        if articles_only and page.meta.get("ns") != 0:
            counters.drop("not_article", page)
            continue
        if articles_only and page.meta.get("redirect"):
            counters.drop("redirect", page)
            continue
        urls = extract(page.text)
        if not urls:
            counters.drop("no_reference_urls", page)
            continue
        counters.write(page)
        for url in urls:
            yield {"url": url, "url_norm": url_norm(url), "page_id": page.meta["page_id"], "title": page.meta["title"]}


@dataclasses.dataclass(frozen=True)
class QualityDataConfig:
    """Everything that decides a quality-data run: the reference and corpus folders, the buckets read,
    the positive length floor, the class cap, the seed of every hash, the share held out, and the WET
    files of the positives' own crawl (`positives`, empty: positives come from the corpus)."""

    refs: str = ""
    corpus: str = ""
    out: str = ""
    min_chars: int = 1000
    buckets: tuple[str, ...] = DEFAULT_BUCKETS
    max_per_class: Optional[int] = None
    seed: int = 0
    valid_share: float = 0.05
    strict: bool = False
    positives: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "buckets", bucket_list("--buckets", self.buckets))
        checks.at_least("--min-chars", self.min_chars, 0)
        if self.max_per_class is not None:
            checks.at_least("--max-per-class", self.max_per_class, 1)
        checks.at_least("--seed", self.seed, 0)
        checks.fraction("--valid-share", self.valid_share, include_one=False)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"min_chars": self.min_chars, "buckets": list(self.buckets), "max_per_class": self.max_per_class,
                "seed": self.seed, "valid_share": self.valid_share, "positives_files": len(self.positives)}


def negative_key(seed: int, doc_id: str) -> int:
    """Sampling key of a document: the smallest keys are a uniform sample (corpus/sampling.py)."""
    return sample_key(seed, doc_id)


def order_key(seed: int, doc_id: str) -> str:
    """Where a chosen document's line goes in train.txt/valid.txt: a seeded hash, as 16 hex digits + id."""
    return f"{sample_key(seed, 'order' + chr(9) + doc_id):016x}{doc_id}"


def is_valid(seed: int, doc_id: str, share: float) -> bool:
    """Whether a chosen document goes to valid.txt: a third seeded hash below `share` of its range."""
    return sample_key(seed, "valid" + chr(9) + doc_id) < share * HASH_SPACE


def choose_for_url(key: str, docs: list[tuple[int, str, int, int, int]], cited: bool, min_chars: int,
                   crawled: Optional[list[tuple[int, str, int, int, int]]] = None
                   ) -> Iterator[tuple[str, Any]]:
    """The decision for one url_norm: ("positive", doc) for the smallest-id document of a cited URL with
    at least `min_chars` characters, ("negative", doc) for every corpus document of an uncited URL, and
    ("tally", reason) for the rest. With `crawled` (the documents of --positives), positives come from
    there only and the corpus's documents of a cited URL are neither class. A doc is (sample key, id,
    file index, row, chars)."""
    if not cited or not key:
        for d in docs:
            yield "negative", d[:4]
        for _ in crawled or ():
            yield "tally", "crawled_not_cited"
        return
    pool = docs if crawled is None else crawled
    long_enough = sorted((d for d in pool if d[4] >= min_chars), key=lambda d: d[1])
    if long_enough:
        yield "positive", long_enough[0][:4]
    for _ in long_enough[1:]:
        yield "tally", "reference_duplicate_url"
    for d in pool:
        if d[4] < min_chars:
            yield "tally", "reference_too_short"
    if crawled is not None:
        for _ in docs:
            yield "tally", "cited_corpus_document"


def chosen_line(doc: Document, label: str, counters: Counters) -> str:
    """The training line of a chosen document; what joining its lines and blanking `__label__` changes
    is counted under `sanitised` (the document goes on)."""
    line = quality.training_line(label, doc.text)
    text = line[len(label) + 1:]
    before = Units.of(doc.text)
    counters.drop("sanitised", Units(0, before.lines - 1, before.chars - len(text)))
    counters.write(Units(1, 1, len(text)))
    return line


@dataclasses.dataclass(frozen=True)
class QualityFilterConfig:
    """Everything that decides a quality-filter run: corpus, model (and its sha256), threshold, buckets."""

    corpus: str = ""
    model: str = ""
    out: str = ""
    threshold: float = DEFAULT_THRESHOLD
    buckets: tuple[str, ...] = DEFAULT_BUCKETS
    strict: bool = False
    model_sha256: str = ""

    def __post_init__(self):
        object.__setattr__(self, "buckets", bucket_list("--buckets", self.buckets))
        checks.fraction("--threshold", self.threshold)

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"model_sha256": self.model_sha256, "threshold": self.threshold, "buckets": list(self.buckets)}


@dataclasses.dataclass
class WikiReference:
    """The quality classifier on a batch: wiki_prob (4 decimals) into meta; a document below
    `threshold` drops as not_wiki_reference (one exactly at it is kept)."""

    scorer: Any
    threshold: float
    name: str = NOT_WIKI_REFERENCE

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        probs = self.scorer.wiki_probs([d.text for d in batch.docs])
        for doc, p in zip(batch.docs, probs):
            doc.meta["wiki_prob"] = p
        return drop_where_not(self.name, batch, [p >= self.threshold for p in probs], counters)


def filter_recipe(cfg: QualityFilterConfig) -> list[Step]:
    """quality-filter's recipe: the classifier step alone (the model loads once per worker)."""
    return [WikiReference(quality.QualityScorer(cfg.model), cfg.threshold)]


@dataclasses.dataclass(frozen=True)
class QualityTrainConfig:
    """Everything that decides a quality-train run; the defaults are fastText's `supervised` defaults
    except threads (1: the only setting whose model bytes repeat)."""

    data: str = ""
    out: str = ""
    epoch: int = 5
    lr: float = 0.1
    dim: int = 100
    word_ngrams: int = 1
    min_count: int = 1
    threads: int = 1
    seed: int = 0

    def __post_init__(self):
        checks.at_least("--epoch", self.epoch, 1)
        checks.at_least("--dim", self.dim, 1)
        checks.at_least("--word-ngrams", self.word_ngrams, 1)
        checks.at_least("--min-count", self.min_count, 1)
        checks.at_least("--threads", self.threads, 1)
        checks.at_least("--seed", self.seed, 0)
        if not self.lr > 0:
            raise checks.ConfigError(f"--lr must be > 0, got {self.lr}")

    def run_info(self) -> dict:
        """The training settings as model.json records them."""
        return {"epoch": self.epoch, "lr": self.lr, "dim": self.dim, "word_ngrams": self.word_ngrams,
                "min_count": self.min_count, "threads": self.threads, "seed": self.seed}
