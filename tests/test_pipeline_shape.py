"""The shape every pipeline shares: Counters, named steps over batches, complete validated configs."""
from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.counters import Counters, Units, check_accounting
from corpus.document import Document, address, file_of, row_of
from corpus.wet import Fault
from filters.lid import LanguageIdentifier, default_lid_model
from pipelines.steps import checks
from pipelines.steps.ccnet import CCNetConfig, LanguageId, process_file, recipe, wet_documents
from pipelines.steps.chain import Filter, read_rows, run_steps
from pipelines.steps.dedup import DedupConfig

SAMPLE = sorted((Path(__file__).parent / "data" / "sample" / "wet").glob("*.warc.wet.gz"))
REPO = Path(__file__).resolve().parents[1]


def _counters(seed: int) -> Counters:
    rnd = random.Random(seed)
    c = Counters()
    for i in range(rnd.randint(1, 30)):
        text = "x" * rnd.randint(0, 50) + "\n" * rnd.randint(0, 3)
        c.read(text)
        reason = rnd.choice(["keep", "too_short", "lid_below_threshold"])
        if reason == "keep":
            c.write(text)
        else:
            c.drop(reason, text)
    for _ in range(rnd.randint(0, 3)):
        c.malformed(f"f{rnd.randint(0, 3)}", rnd.randint(0, 999), "bad")
    c.tally("tokens", "by_source", rnd.choice(["cc", "wiki"]), rnd.randint(0, 9))
    return c


def test_counters_merge_in_any_order_to_the_same_stats():
    parts = [_counters(s) for s in range(12)]
    forward = sum(parts, Counters()).to_stats()
    backward = sum(reversed(parts), Counters()).to_stats()
    assert forward == backward
    assert not check_accounting(forward)
    assert Counters.from_stats(forward).to_stats() == forward
    assert forward["documents"]["read"] == sum(p.reads.docs for p in parts)
    assert forward["tokens"]["by_source"] == {
        s: sum(p.tallies["tokens"]["by_source"].get(s, 0) for p in parts) for s in forward["tokens"]["by_source"]}


def test_counters_stats_shape_and_fault_limit():
    c = Counters()
    c.read("a\nb")
    c.drop("duplicate_line", Units(0, 1, 2))  # a line cut from a document that goes on
    c.write(Units(1, 1, 1))
    for i in range(150):
        c.malformed("z.wet", 150 - i, "broken")
    stats = c.to_stats()
    assert stats["lines"] == {"read": 152 - 150, "written": 1, "dropped": {"duplicate_line": 1, "malformed": 0}}
    assert stats["documents"]["dropped"] == {"duplicate_line": 0, "malformed": 150}
    assert stats["malformed_total"] == 150 and len(stats["malformed"]) == 100
    assert [m["offset"] for m in stats["malformed"]][:3] == [1, 2, 3]
    assert not check_accounting(stats)


def test_a_new_filter_is_one_line_in_a_recipe():
    """Appending a step to the CCNet recipe drops under its own name, and the accounting holds."""
    lid = LanguageIdentifier(default_lid_model())

    class NoScorer:
        def has(self, lang):
            return False

    cfg = CCNetConfig(min_length=0, lid_threshold=0.0)
    path = str(SAMPLE[0])
    base = process_file(wet_documents(path, "cc"), path, cfg, recipe(cfg, lid, NoScorer(), {}))
    no_digits = Filter("has_digits", lambda b: [not any(ch.isdigit() for ch in d.text) for d in b.docs])
    extra = process_file(wet_documents(path, "cc"), path, cfg,
                         recipe(cfg, lid, NoScorer(), {}) + [no_digits])
    stats = extra.counters.to_stats()
    assert not check_accounting(stats)
    with_digits = [d for d in base.documents if any(ch.isdigit() for ch in d.text)]
    assert with_digits and stats["documents"]["dropped"]["has_digits"] == len(with_digits)
    assert [d.id for d in extra.documents] == [d.id for d in base.documents if d not in with_digits]


def test_batch_size_does_not_change_results():
    lid = LanguageIdentifier(default_lid_model())
    path = str(SAMPLE[1])
    cfg = CCNetConfig(min_length=100)
    steps = [Filter("too_short", lambda b: [u.chars >= cfg.min_length for u in b.units]), LanguageId(lid, 0.5)]
    runs = []
    for size in (1, 7, 256):
        c = Counters()
        rows = read_rows(wet_documents(path, "cc"), path, False, c, None)
        docs = [(r, d.id, d.lang, d.lang_score) for b in run_steps(rows, steps, c, batch_size=size)
                for r, d in zip(b.rows, b.docs)]
        assert c.drops["lid_below_threshold"].docs > 0
        runs.append((docs, c.to_stats()))
    assert runs[0] == runs[1] == runs[2]


def test_batch_apis_equal_one_at_a_time(models_dir):
    from filters.perplexity import MultiLanguageScorer

    lid = LanguageIdentifier(default_lid_model())
    texts = [d.text for d in wet_documents(str(SAMPLE[2]), "cc") if hasattr(d, "text")]
    texts += ["", "\n\n", "1234"]
    assert lid.predict(texts) == [lid.predict_one(t) for t in texts]
    scorer = MultiLanguageScorer(models_dir)
    for lang in ("de", "en", "fr"):
        assert scorer.perplexities(lang, texts) == [scorer.perplexity(lang, t) for t in texts]


def test_read_rows_numbers_documents_and_counts_faults():
    items = [Document(id="a", source="t", text="x"), Fault(10, "bad"), Document(id="b", source="t", text="y")]
    c = Counters()
    import logging

    rows = list(read_rows(items, "f.jsonl", False, c, logging.getLogger("t")))
    assert [(r, d.id) for r, d in rows] == [(0, "a"), (1, "b")]
    assert c.faults == [{"file": "f.jsonl", "offset": 10, "error": "bad"}]
    with pytest.raises(Exception, match="f.jsonl at byte 10: bad"):
        list(read_rows(items, "f.jsonl", True, c, logging.getLogger("t")))


def test_one_document_address():
    a = address(3, 17)
    assert (file_of(a), row_of(a)) == (3, 17)
    assert address(2, 2 ** 32 - 1) < address(3, 0)


def test_book_defaults_live_in_the_config():
    """DedupConfig(granularity="book") from Python is what `--granularity book` runs."""
    book = DedupConfig(granularity="book")
    assert (book.threshold, book.candidate_threshold) == (0.9, 0.2)
    doc = DedupConfig()
    assert (doc.threshold, doc.candidate_threshold) == (0.8, 0.6)
    assert DedupConfig(granularity="book", threshold=0.7).threshold == 0.7


@pytest.mark.parametrize("make, message", [
    (lambda: CCNetConfig(lid_threshold=1.5), "--lid-threshold must be within [0, 1]"),
    (lambda: CCNetConfig(min_length=-1), "--min-length must be >= 0"),
    (lambda: CCNetConfig(dedup_shards=0), "--dedup-shards must be >= 1"),
    (lambda: CCNetConfig(langs=("en", "../x")), "is not a language code"),
    (lambda: CCNetConfig(line_dedup="all"), "--line-dedup must be one of"),
    (lambda: DedupConfig(threshold=0.5, candidate_threshold=0.6), "banding would miss pairs"),
    (lambda: DedupConfig(seed=-1), "--seed must be within"),
    (lambda: DedupConfig(keep="oldest"), "--keep must be one of"),
    (lambda: DedupConfig(num_perm=0), "--num-perm must be >= 1"),
])
def test_configs_refuse_bad_values_naming_the_flag(make, message):
    with pytest.raises(checks.ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_configs_are_frozen_and_complete():
    cfg = CCNetConfig(files=("a.wet.gz",), out="/o", models="/m", bucket_cutoffs=(("en", (1.0, 2.0)),))
    with pytest.raises(Exception):
        cfg.out = "/elsewhere"
    assert cfg.cutoffs() == {"en": [1.0, 2.0]}
    assert cfg.run_info()["bucket_cutoffs"] == "file"


def _project_imports() -> dict[str, set[str]]:
    """module -> project modules it imports (at any depth in the file), from the source."""
    packages = ("corpus", "dedup", "filters", "tokenizer", "train", "pipelines")
    files = {}
    for pkg in packages:
        for path in (REPO / pkg).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            else:
                continue
            deps |= {n for n in names if n in files and n != module}
        graph[module] = deps
    return graph


def test_no_import_cycle():
    graph = _project_imports()
    state: dict[str, int] = {}

    def visit(m, trail):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1 and not m.startswith(d + "."):  # a submodule importing its own package is fine
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(d):] + [d]))
            if d not in state:
                visit(d, trail + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_steps_and_reports_import_no_beam():
    code = ("import sys, pipelines.steps.ccnet, pipelines.steps.dedup, pipelines.steps.chain, corpus.counters, "
            "pipelines.report.stats, pipelines.report.svg_charts; print('apache_beam' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
