"""`llamapipe c4 --gopher`: the Gopher quality and repetition rules (pipelines/steps/gopher.py), each page
built to break exactly one rule dropped under it, the values in meta, and the flag through the command."""
from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest

from corpus.counters import check_accounting
from corpus.document import Document
from pipelines import cli
from pipelines.steps import c4, gopher
from pipelines.steps.chain import run_file

DATA = Path(__file__).parent / "data" / "c4"
LOG = logging.getLogger("test_c4_gopher")


def _maker():
    spec = importlib.util.spec_from_file_location("make_c4", Path(__file__).parent / "data" / "make_c4.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EN = _maker().sentences("en")
BASE = EN[:10]  # ten real sentences: about 150 words of ordinary English prose


def _pages() -> dict[str, str]:
    """Rule -> a page that passes every rule before it and breaks that one."""
    base = "\n".join(BASE)
    return {
        "pass": base,
        "gopher:word_count": "\n".join(BASE[:2]),
        "gopher:mean_word_length": " ".join(["to be or not a go"] * 12),
        "gopher:symbol_ratio": base + "\n" + " ".join(["#tag"] * 25),
        "gopher:bullet_lines": "\n".join("- " + s for s in BASE),
        "gopher:ellipsis_lines": "\n".join(s[:-1] + "\u2026" if i < 4 else s for i, s in enumerate(BASE)),
        "gopher:alpha_words": base + "\n" + " ".join(str(1000 + i) for i in range(60)),
        "gopher:stop_words": " ".join(w for s in BASE for w in s.split() if w.lower() not in gopher.STOP_WORDS),
        "gopher:dup_lines": base + "\n" + "\n".join(BASE[:5]),
        "gopher:dup_paragraphs": "\n\n".join(["\n".join(EN[20 + 3 * i:23 + 3 * i]) for i in range(6)]
                                             + ["Short repeated note."] * 5),
        "gopher:top_2gram": base + "\n" + " ".join(["data pipeline"] * 30),
        "gopher:dup_5gram": base + "\n" + " ".join(BASE[:3]).replace("\n", " ") + " " + EN[40],
    }


def test_each_page_is_dropped_by_exactly_its_rule_and_the_rest_pass():
    pages = _pages()
    for reason, text in pages.items():
        kept, counters = run_file([Document(id=reason, source="c4", text=text)], "mem", False, gopher.recipe(), LOG)
        dropped = {r for r, u in counters.drops.items() if u.docs}
        if reason == "pass":
            assert len(kept) == 1 and not dropped, kept and kept[0].meta["gopher"]
        else:
            assert dropped == {reason} and not kept, (reason, dropped)


def test_values_go_to_meta_and_match_their_definitions():
    kept, _ = run_file([Document(id="p", source="c4", text="\n".join(BASE))], "mem", False, gopher.recipe(), LOG)
    values = kept[0].meta["gopher"]
    words = "\n".join(BASE).split()
    assert values["words"] == len(words)
    assert values["mean_word_length"] == round(sum(map(len, words)) / len(words), 4)
    assert values["stop_words"] == sum(w.lower() in gopher.STOP_WORDS for w in words)
    assert values["dup_lines"] == 0.0 and values["dup_5gram"] == 0.0
    doubled = gopher.measure("one two three four five\none two three four five")
    assert doubled["dup_lines"] == 0.5 and doubled["dup_line_chars"] == 0.5 and doubled["dup_5gram"] == 0.5
    assert gopher.measure("a b a b a b")["top_2gram"] == 1.0  # "a b" three times: every character


def test_gopher_flag_through_the_command(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["c4", "--gopher", "--input", str(DATA / "c4-train.00000-of-01024.json.gz"),
                     "--output", str(out), "--workers", "1"]) == 0
    stats = json.loads((out / "_stats.json").read_text())
    assert not check_accounting(stats) and stats["config"]["gopher"] is True
    assert stats["documents"]["dropped"]["gopher:word_count"] == 3  # the three short allenai records
    assert not list(out.rglob("part-*.parquet"))


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_empty_texts_measure_without_error(text):
    assert gopher.measure(text)["words"] == 0


def test_the_rules_come_after_c4s_in_both_modes_and_only_with_the_flag():
    names = lambda steps: [s.name for s in steps]  # noqa: E731
    on, off = c4.C4Config(gopher=True), c4.C4Config()
    assert names(c4.import_recipe(on)) == ["empty_text"] + names(gopher.recipe())
    assert names(c4.import_recipe(off)) == ["empty_text"]
    final = names(c4.final_recipe(on, [], sentences=len))
    assert final[final.index("badwords") + 1:] == names(gopher.recipe()) + ["finish"]
    assert not any(n.startswith("gopher:") for n in names(c4.final_recipe(off, [], sentences=len)))
