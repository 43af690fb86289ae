"""`llamapipe arxiv` on real arXiv bulk source tars (tests/data/make_arxiv.py): the streaming tar reader
and its faults, the LaTeX cleaner's exact output and rules, the recipe's drop reasons, ids and urls,
the CLI end to end with 1 and 2 workers, --strict, and flat memory as the tar grows."""
from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import logging
import os
import random
import re
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import arxiv_tar
from corpus.counters import check_accounting
from corpus.document import content_digest, document_id
from corpus.faults import Fault
from corpus.readers import open_local
from pipelines import cli
from pipelines.source import Unit
from pipelines.steps import checks, latex
from pipelines.steps.arxiv import ArxivConfig, recipe
from pipelines.steps.chain import run_file

DATA = Path(__file__).parent / "data" / "arxiv"
REPO = Path(__file__).resolve().parents[1]
TAR_2301 = DATA / "arXiv_src_2301_001.tar"
TAR_0001 = DATA / "arXiv_src_0001_001.tar"
LOG = logging.getLogger("test_arxiv")


def _maker():
    spec = importlib.util.spec_from_file_location("make_arxiv", Path(__file__).parent / "data" / "make_arxiv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()

GOLDEN = {
    "2301.00001": "\\section{Introduction}\n"
                  "Let $x \\in \\mathbb{R}$ and $\\varepsilon > 0$.\n"
                  "We use 50\\% of the data.\n"
                  "The norm $\\lVert x\\rVert$ is finite.\n"
                  "\\section{Method}\n"
                  "Our method uses $\\mathbb{R}^n$.",
    "2301.00002": "\\section*{Overview}\n"
                  "Counting in $\\mathbb{N}$ with vectors $\\mathbf{v}$ and $\\mathbf{w}$.\n"
                  "A line break then a comment: a\\\\\n"
                  "Verbatim keeps its percent sign: \\verb|50%|.\n"
                  "\\subsection[Short]{A longer title}\n"
                  "Done.",
    "2301.00005": "\\paragraph{Setup} We fix a field $k$.\n"
                  "\\paragraph{Result} Every vector space over $k$ has a basis.",
    "astro-ph/0001001": "\\section{Observations}\nWe observed 12 galaxies.",
}
UNESCAPED_PERCENT = re.compile(r"(?<!\\)(?:\\\\)*%")


def _read(path: Path) -> list:
    return list(arxiv_tar.read_unit(open_local, Unit(0, str(path))))


def _run(path: Path, cfg: ArxivConfig = ArxivConfig()):
    return run_file(iter(_read(path)), str(path), False, recipe(cfg), LOG)


def _members(path: Path) -> list[tuple[str, int, bytes]]:
    """(name, mtime, payload) of each member, gzip members unpacked (their compressed bytes may differ
    between zlib builds), a corrupt one as it is."""
    out = []
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            data = tar.extractfile(m).read() if m.isfile() else b""
            try:
                data = gzip.decompress(data) if m.name.endswith(".gz") else data
            except (OSError, EOFError, zlib.error):
                pass
            out.append((m.name, m.mtime, data))
    return out


def test_fixture_script_writes_the_committed_files(tmp_path):
    MAKE.main(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in DATA.iterdir())
    for f in sorted(DATA.iterdir()):
        assert _members(tmp_path / f.name) == _members(f), f.name


def test_cleaned_text_of_every_fixture_paper_is_exact():
    docs = _run(TAR_2301)[0] + _run(TAR_0001)[0]
    assert {d.meta["arxiv_id"]: d.text for d in docs} == GOLDEN
    paper = docs[0]
    assert paper.meta["main_file"] == "main.tex" and paper.meta["n_tex_files"] == 2
    assert paper.meta["macros_expanded"] == 5  # \R in the abstract, intro and method, \eps, \norm{x}
    intro, method = paper.text.index("\\section{Introduction}"), paper.text.index("\\section{Method}")
    assert intro < paper.text.index("The norm") < method  # \input{method} inlined in place
    for gone in ("\\input", "\\bibliographystyle", "\\bibliography", "\\appendix", "Proofs", "\\end{document}",
                 "\\newcommand", "\\R", "\\eps", "\\norm", "abstract", "comment"):
        assert gone not in paper.text, gone
    assert "50\\% of the data" in paper.text
    for d in docs:
        assert not UNESCAPED_PERCENT.search(d.text.replace("\\verb|50%|", "")), d.meta["arxiv_id"]


def test_each_planted_failure_is_counted_under_its_reason_and_names_its_member(caplog):
    caplog.set_level(logging.INFO, logger="llamapipe.arxiv")
    items = _read(TAR_2301)
    faults = [i for i in items if isinstance(i, Fault)]
    with tarfile.open(TAR_2301) as tar:
        corrupt = tar.getmember("2301/2301.00006.gz")
    assert len(faults) == 1 and faults[0].offset == corrupt.offset
    assert "2301/2301.00006.gz" in faults[0].error and "corrupt gzip" in faults[0].error
    # one bad member loses nothing else: every member after it is read too
    assert [d.meta["member"] for d in items if not isinstance(d, Fault)][-3:] == [
        "2301/2301.00007.gz", "2301/2301.00008.gz", "2301/2301.00009.gz"]
    docs, counters = _run(TAR_2301)
    stats = counters.to_stats()
    assert not check_accounting(stats)
    assert stats["documents"]["read"] == 9 and stats["documents"]["written"] == 3
    assert stats["documents"]["dropped"] == {"pdf_only": 1, "not_utf8": 1, "no_tex": 2, "no_section": 1,
                                             "malformed": 1, "latex_cleanup": 0}
    assert stats["chars"]["dropped"]["latex_cleanup"] > 0 and stats["lines"]["dropped"]["latex_cleanup"] > 0
    assert stats["malformed"] == [{"file": str(TAR_2301), "offset": corrupt.offset, "error": faults[0].error}]
    logged = {(r.args[1], r.args[2]) for r in caplog.records if r.name == "llamapipe.arxiv"}
    assert logged == {("2301/2301.00003.pdf", "pdf_only"), ("2301/2301.00004.gz", "not_utf8"),
                      ("2301/2301.00007.gz", "no_tex"), ("2301/2301.00009.gz", "no_tex"),
                      ("2301/2301.00008.gz", "no_section")}


def test_ids_urls_dates_and_meta():
    docs = {d.meta["arxiv_id"]: d for d in _run(TAR_2301)[0] + _run(TAR_0001)[0]}
    assert docs["astro-ph/0001001"].url == "https://arxiv.org/abs/astro-ph/0001001"
    assert docs["2301.00001"].url == "https://arxiv.org/abs/2301.00001"
    assert arxiv_tar.format_arxiv_id("hep-th9901001") == "hep-th/9901001"
    assert arxiv_tar.format_arxiv_id("solv-int9901001") == "solv-int/9901001"
    assert arxiv_tar.format_arxiv_id("0704.0001") == "0704.0001"
    assert arxiv_tar.format_arxiv_id("2301.00001") == "2301.00001"
    raw = MAKE.MAIN_TEX + MAKE.METHOD_TEX  # the .tex files read, in tar order
    assert docs["2301.00001"].id == document_id("arxiv", docs["2301.00001"].url, content_digest(raw))
    assert len({d.id for d in docs.values()}) == len(docs)
    assert docs["2301.00001"].date == "2023-01-02T03:04:05Z"  # member mtime, UTC
    assert docs["2301.00002"].date == "2023-01-02T03:05:05Z"
    assert docs["astro-ph/0001001"].meta == {
        "arxiv_id": "astro-ph/0001001", "yymm": "0001", "tar": "arXiv_src_0001_001.tar",
        "member": "0001/astro-ph0001001.gz", "n_tex_files": 1, "main_file": "astro-ph0001001.tex",
        "macros_expanded": 0}
    assert all(d.source == "arxiv" and d.lang == "en" and d.bucket == "all" and d.perplexity is None
               for d in docs.values())


def test_a_truncated_or_foreign_tar_is_a_fault_and_keeps_what_came_before(tmp_path):
    data = TAR_2301.read_bytes()
    with tarfile.open(TAR_2301) as tar:
        cut_in = tar.getmember("2301/2301.00002.gz")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[:cut_in.offset_data + 20])
    items = _read(cut)
    assert [d.meta["member"] for d in items if not isinstance(d, Fault)] == ["2301/2301.00001.gz"]
    assert [f.offset for f in items if isinstance(f, Fault)] == [cut_in.offset]
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all\n" * 100)
    [fault] = _read(junk)
    assert isinstance(fault, Fault) and fault.offset == 0 and "not a readable tar" in fault.error


# --- the cleaner's rules, one at a time ---

def _clean(files, **kw) -> str:
    return latex.clean_project(files, **kw).text


def test_comments_go_but_escaped_percent_and_verbatim_stay():
    tex = ("\\section{A}\n% full line\n  % indented full line\nx % trailing\n50\\% kept\n"
           "a\\\\% after a line break\n\\begin{verbatim}\n100% verbatim\n\\end{verbatim}\n"
           "\\begin{comment}\nhidden\n\\end{comment}\nend%\n")
    assert _clean([("a.tex", tex)]) == ("\\section{A}\nx\n50\\% kept\na\\\\\n\\begin{verbatim}\n100% verbatim\n"
                                        "\\end{verbatim}\nend")


def test_inputs_resolve_relative_paths_depth_and_cycles():
    files = [("p/main.tex", "\\documentclass{article}\n\\begin{document}\n\\input{sec/a}\n\\include{sec/b.tex}\n"
                            "\\input sec/deep\n\\input{missing}\n\\end{document}\n"),
             ("p/sec/a.tex", "\\section{A}\nfrom a\n"),
             ("p/sec/b.tex", "\\documentclass[../main]{subfiles}\n\\begin{document}\nfrom b\n\\input{sec/b}\n"
                             "\\end{document}\n"),
             ("p/sec/deep.tex", "deep 1\n\\input{deeper}\n"),  # found beside the including file
             ("p/sec/deeper.tex", "deep 2\n")]
    assert _clean(files) == "\\section{A}\nfrom a\nfrom b\n\\input{sec/b}\ndeep 1\ndeep 2\n\\input{missing}"
    assert _clean(files, max_depth=1).endswith("deep 1\n\\input{deeper}\n\\input{missing}")
    assert latex.clean_project(files, max_depth=0).has_section is False  # nothing inlined: no section


def test_main_file_is_the_marked_one_ties_to_the_largest():
    def main_of(*files) -> str:
        return latex.clean_project(list(files)).main_file

    small_main = ("m.tex", "\\documentclass{article}\n\\begin{document}\n\\section{M}\n\\end{document}\n")
    big_other = ("notes.tex", "\\section{Notes}\n" + "words " * 100)
    bigger_main = ("z.tex", "\\documentclass{article}\n\\begin{document}\n\\section{Z}\nlonger\n\\end{document}\n")
    commented = ("c.tex", "% \\documentclass{article}\n\\section{C}\n" + "x " * 400)
    big_part = ("part.tex", "\\documentclass[m]{subfiles}\n\\begin{document}\n\\section{P}\n" + "y " * 200)
    assert main_of(small_main, big_other, commented, big_part) == "m.tex"
    assert main_of(small_main, bigger_main) == "z.tex"
    assert main_of(big_other, commented) == "c.tex"  # none marked: the largest
    assert main_of(big_other) == "notes.tex"


def test_user_macros_expand_in_their_simple_forms_only():
    preamble = ("\\documentclass{article}\n\\newcommand\\N{\\mathbb{N}}\n\\newcommand*{\\Z}{\\mathbb{Z}}\n"
                "\\renewcommand{\\vec}[1]{\\mathbf{#1}}\n\\def\\half#1{\\frac{#1}{2}}\n"
                "\\newcommand{\\pair}[2]{(#1, #2)}\n\\newcommand{\\NN}{\\N\\N}\n"
                "\\DeclareMathOperator{\\tr}{tr}\n\\newcommand{\\amb}{one}\n\\renewcommand{\\amb}{two}\n"
                "\\newcommand{\\opt}[2][x]{#1+#2}\n\\begin{document}\n")
    body = ("\\section{S}\n$\\N, \\Z, \\vec{v}, \\vec w, \\half{x}, \\pair{a}{\\N}, \\NN, \\tr A$\n"
            "\\amb, \\opt{a}, \\Nat, \\\\N\n\\newcommand{\\late}{L}\n\\late.\n")
    cleaned = latex.clean_project([("a.tex", preamble + body)])
    assert cleaned.text == ("\\section{S}\n$\\mathbb{N}, \\mathbb{Z}, \\mathbf{v}, \\mathbf{w}, \\frac{x}{2}, "
                            "(a, \\mathbb{N}), \\mathbb{N}\\mathbb{N}, \\operatorname{tr} A$\n"
                            "\\amb, \\opt{a}, \\Nat, \\\\N\nL.")
    assert cleaned.macros_expanded == 12
    no_args = _clean([("a.tex", preamble + body)], expand_args=False)
    assert "\\vec{v}" in no_args and "\\pair{a}{\\mathbb{N}}" in no_args and "\\mathbb{Z}" in no_args


def test_macros_expand_before_the_body_is_found_and_cannot_blow_up():
    made = latex.clean_project([("a.tex", "\\documentclass{x}\n\\newcommand{\\mysec}[1]{\\section{#1}}\n"
                                          "\\begin{document}\nfront\n\\mysec{Intro}\nHi\n\\end{document}\n")])
    assert made.text == "\\section{Intro}\nHi" and made.macros_expanded == 1
    doubling = "".join(f"\\newcommand{{\\m{chr(98 + k)}}}{{\\m{chr(97 + k)}\\m{chr(97 + k)}}}\n" for k in range(20))
    tex = "\\newcommand{\\ma}{xxxxxxxxxx}\n" + doubling + "\\section{S}\n" + "\\mu " * 50
    cleaned = latex.clean_project([("a.tex", tex)])
    assert cleaned.has_section and len(cleaned.text) < 5 * len(tex) + (64 << 10)


def test_the_cleaner_never_fails_and_ignores_the_order_of_files():
    atoms = ["\\section{A}", "\\paragraph{", "{", "}", "%", "\\%", "\\\\", "\n", " ", "x", "#1", "#", "\\newcommand",
             "\\def", "\\renewcommand*", "{\\R}", "\\R", "[1]", "[2][x]", "\\input{b}", "\\include{a}", "\\input",
             "\\begin{document}", "\\end{document}", "\\begin{verbatim}", "\\end{verbatim}", "\\verb|", "|",
             "\\begin{comment}", "\\end{comment}", "\\appendix", "\\bibliography{", "\\documentclass{article}",
             "\\DeclareMathOperator*", "{\\N}", "\\N", "\\subfile{sub/c}", "[", "]"]
    rnd = random.Random(0)
    for _ in range(1500):
        files = [(name, "".join(rnd.choice(atoms) for _ in range(rnd.randint(0, 60))))
                 for name in ("a.tex", "b.tex", "sub/c.tex")[:rnd.randint(1, 3)]]
        assert latex.clean_project(files) == latex.clean_project(files[::-1]), files


def test_body_starts_at_any_sectioning_command_and_ends_at_the_bibliography():
    def body(text: str) -> str:
        return _clean([("a.tex", "\\documentclass{article}\n\\section{Pre}\n\\begin{document}\nfront\n" + text)])

    assert body("\\subsubsection*[s]{S}\nx\n\\printbibliography\ny") == "\\subsubsection*[s]{S}\nx"
    assert body("\\subparagraph{S}\nx\n\\begin{references}\ny") == "\\subparagraph{S}\nx"
    assert body("\\chapter{C}\nx\n\\begin{thebibliography}{9}\ny") == "\\chapter{C}\nx"
    assert body("\\part{P}\nx\n\\end{document}\ny") == "\\part{P}\nx"
    assert body("\\section{S}\nx\n\\appendix\n\\section{App}") == "\\section{S}\nx"
    assert body("\\section{S}\nx\n\\bibliographystyle{plain}\n\\bibliography{r}") == "\\section{S}\nx"
    assert body("\\sectionmark{no}\nx\n") == ""
    assert latex.clean_project([("a.tex", "\\begin{document}\nno heading\n\\end{document}")]).has_section is False


def test_too_short_and_config_rules_name_the_flag():
    docs, counters = _run(TAR_2301, ArxivConfig(min_chars=150))
    assert [d.meta["arxiv_id"] for d in docs] == ["2301.00001", "2301.00002"]
    assert counters.to_stats()["documents"]["dropped"]["too_short"] == 1
    with pytest.raises(checks.ConfigError, match="--include-depth"):
        ArxivConfig(include_depth=-1)
    with pytest.raises(checks.ConfigError, match="--min-chars"):
        ArxivConfig(min_chars=-5)
    assert ArxivConfig().run_info() == {"files": 0, "expand_arg_macros": True, "include_depth": 10, "min_chars": 0,
                                        "lid": False, "max_paper_mb": 64}


def test_lid_tags_each_papers_language_and_drops_nothing(tmp_path):
    french = ("\\documentclass{article}\n\\begin{document}\n\\section{Introduction}\nNous \u00e9tudions les "
              "espaces vectoriels de dimension finie et montrons que toute application lin\u00e9aire entre deux "
              "espaces de m\u00eame dimension est injective si et seulement si elle est surjective.\n\\end{document}\n")
    path = tmp_path / "arXiv_src_2302_001.tar"
    MAKE.write_tar(path, [("2302/2302.00001.gz", MAKE.gz(french.encode())),
                          ("2302/2302.00002.gz", MAKE.gz(MAKE.OLD_STYLE_TEX.encode()))])
    docs, counters = _run(path, ArxivConfig(lid=True))
    assert [(d.lang, d.lang_score > 0.5) for d in docs] == [("fr", True), ("en", True)]
    assert counters.to_stats()["documents"]["written"] == 2
    assert all(d.lang == "en" and d.lang_score is None for d in _run(path)[0])


# --- the command, end to end ---

def _cli(out: Path, *flags: str) -> int:
    return cli.main(["arxiv", "--input", str(DATA / "arXiv_src_*.tar"), "--output", str(out), *flags])


def test_cli_end_to_end_is_the_same_for_one_and_two_workers(tmp_path):
    assert _cli(tmp_path / "one", "--workers", "1") == 0
    assert _cli(tmp_path / "two", "--workers", "2") == 0
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert one == [Path("lang=en/bucket=all/part-00000.parquet"), Path("lang=en/bucket=all/part-00001.parquet")]
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    rows = [r for rel in one for r in pq.read_table(tmp_path / "one" / rel).to_pylist()]
    assert [json.loads(r["meta"])["arxiv_id"] for r in rows] == ["astro-ph/0001001", "2301.00001", "2301.00002",
                                                                "2301.00005"]
    assert {json.loads(r["meta"])["arxiv_id"]: r["text"] for r in rows} == GOLDEN
    assert all(r["source"] == "arxiv" and r["bucket"] == "all" and r["perplexity"] is None for r in rows)
    stats = json.loads((tmp_path / "one" / "_stats.json").read_text())
    assert not check_accounting(stats)
    assert stats["config"] == {"files": 2, "expand_arg_macros": True, "include_depth": 10, "min_chars": 0,
                               "lid": False, "max_paper_mb": 64}
    assert stats["documents"]["read"] == 10 and stats["documents"]["written"] == 4
    assert stats["malformed_total"] == 1 and stats["malformed"][0]["file"].endswith("arXiv_src_2301_001.tar")
    assert (tmp_path / "one" / "_SUCCESS").exists() and (tmp_path / "one" / "_manifest.json").exists()
    assert (tmp_path / "one" / "_stats.json").read_text() == (tmp_path / "two" / "_stats.json").read_text()


def test_strict_stops_at_the_corrupt_member_with_exit_2(tmp_path, capsys):
    assert _cli(tmp_path / "out", "--strict", "--workers", "1") == 2
    err = capsys.readouterr().err
    assert "2301/2301.00006.gz" in err and "arXiv_src_2301_001.tar" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()


# --- memory ---

# Reader and recipe over a tar, nothing kept; batches of 16 (the chain holds at most two batches) so
# the quarter-size tar already reaches the steady state; no Beam import, so the baseline is small.
READ_ALL = """
import logging, sys, types
from corpus import arxiv_tar
from corpus.counters import Counters
from corpus.readers import open_local
from pipelines.steps.arxiv import recipe
from pipelines.steps.chain import read_rows, run_steps
counters = Counters()
rows = read_rows(arxiv_tar.read_unit(open_local, types.SimpleNamespace(path=sys.argv[1])), sys.argv[1], False,
                 counters, logging.getLogger("memory"))
print(sum(len(b) for b in run_steps(rows, recipe(), counters, batch_size=16)))
"""
# The reader runs as the only child of this process, so its reported peak is the reader's own
# (the test process itself may have had larger children: Beam workers).
MEASURE = """
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
print(child.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _synthetic_tar(path: Path, papers: int) -> Path:
    """A source tar of `papers` projects, each a main.tex of ~12 KB and a 16 KB incompressible figure."""
    members = []
    for i in range(papers):
        words = base64.b64encode(os.urandom(9000)).decode()
        body = "\n".join(words[j:j + 76] for j in range(0, len(words), 76))
        tex = f"\\documentclass{{article}}\n\\begin{{document}}\n\\section{{Paper {i}}}\n{body}\n\\end{{document}}\n"
        members.append((f"2301/2301.{i:05d}.gz", MAKE.project([("main.tex", tex.encode()),
                                                               ("fig.png", os.urandom(16 << 10))])))
    MAKE.write_tar(path, members, folders=["2301"])
    return path


def test_reader_memory_stays_flat_as_the_tar_grows(tmp_path):
    small = _synthetic_tar(tmp_path / "small.tar", 300)
    large = _synthetic_tar(tmp_path / "large.tar", 1200)
    assert large.stat().st_size > 30 << 20 and large.stat().st_size > 3.9 * small.stat().st_size

    def peak(path: Path, papers: int) -> int:
        done = subprocess.run([sys.executable, "-c", MEASURE, READ_ALL, str(path)], cwd=REPO, capture_output=True,
                              text=True, check=True)
        count, rss = done.stdout.split()
        assert int(count) == papers
        return int(rss)  # kB

    small_peak, large_peak = peak(small, 300), peak(large, 1200)
    assert large_peak - small_peak < 4 * 1024, (small_peak, large_peak)  # keeping the papers: +10 MB



# --- a cap on what one paper may inflate to ---

BOMB_BYTES = 200 << 20  # each bomb inflates to 200 MB; gzipped, about 200 KB
CAP = 1 << 20


def _gzip_stream(*parts) -> bytes:
    """gzip of the concatenated `parts`: bytes, or an int n for n zero bytes, fed 1 MB at a time (so a
    bomb is never whole in memory, here either)."""
    zeros = bytes(1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = []
    for part in parts:
        if isinstance(part, int):
            for start in range(0, part, len(zeros)):
                out.append(z.compress(zeros[:min(len(zeros), part - start)]))
        else:
            out.append(z.compress(part))
    out.append(z.flush())
    return b"".join(out)


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, MAKE.MTIME
    return info.tobuf(tarfile.USTAR_FORMAT)


def _paper_tex(title: str, body: str = "Some text.") -> bytes:
    return f"\\documentclass{{article}}\n\\begin{{document}}\n\\section{{{title}}}\n{body}\n\\end{{document}}\n".encode()


def _bomb_tar(path: Path) -> Path:
    """A source tar: two good papers (one with a 5 MB figure) among four over a 1 MB cap: a single .tex
    and a PDF inflating to 200 MB, a project whose 200 MB figure comes before its main.tex, and a
    project whose main.tex itself is 1.5 MB."""
    tex = _paper_tex("Bombs")
    padded = tex + bytes(-len(tex) % 512)
    project_bomb = _gzip_stream(_tar_header("fig.eps", BOMB_BYTES), BOMB_BYTES,
                                _tar_header("main.tex", len(tex)), padded, bytes(1024))
    long_tex = _paper_tex("Long", "\n".join(f"Line {i} of a paper that goes on." for i in range(50_000)))
    assert len(long_tex) > 1.5 * CAP
    members = [("2301/2301.00001.gz", MAKE.gz(_paper_tex("Good"))),
               ("2301/2301.00002.gz", _gzip_stream(b"\\documentclass{article}\n", BOMB_BYTES)),
               ("2301/2301.00003.gz", project_bomb),
               ("2301/2301.00004.gz", MAKE.project([("main.tex", long_tex)])),
               ("2301/2301.00005.gz", MAKE.project([("fig.eps", bytes(5 << 20)), ("main.tex", _paper_tex("Fig"))])),
               ("2301/2301.00006.gz", _gzip_stream(b"%PDF-1.5\n", BOMB_BYTES))]
    MAKE.write_tar(path, members, folders=["2301"])
    assert path.stat().st_size < 3 << 20
    return path


def test_a_paper_over_the_cap_drops_as_too_large_and_the_rest_of_the_tar_goes_on(tmp_path, caplog):
    path = _bomb_tar(tmp_path / "arXiv_src_2301_001.tar")
    papers = list(arxiv_tar.read_unit(open_local, Unit(0, str(path)), max_paper_bytes=CAP))
    assert [(d.meta["member"], d.meta["status"]) for d in papers] == [
        ("2301/2301.00001.gz", "ok"), ("2301/2301.00002.gz", "too_large"), ("2301/2301.00003.gz", "too_large"),
        ("2301/2301.00004.gz", "too_large"), ("2301/2301.00005.gz", "ok"), ("2301/2301.00006.gz", "too_large")]
    why = {d.meta["member"]: d.meta.get("too_large") for d in papers}
    assert why["2301/2301.00002.gz"] == f"its .tex file holds more than {CAP} bytes"
    assert why["2301/2301.00003.gz"] == why["2301/2301.00006.gz"] == f"it inflates to more than {16 * CAP} bytes"
    assert why["2301/2301.00004.gz"] == f"its .tex files hold more than {CAP} bytes (at main.tex)"
    assert all(d.text == "" for d in papers if d.meta["status"] == "too_large")
    # the default cap (64 MB) keeps the 1.5 MB paper
    assert [d.meta["status"] for d in arxiv_tar.read_unit(open_local, Unit(0, str(path)))][3] == "ok"

    caplog.set_level(logging.INFO, logger="llamapipe.arxiv")
    docs, counters = run_file(iter(papers), str(path), False, recipe(ArxivConfig(max_paper_mb=1)), LOG)
    assert [d.meta["arxiv_id"] for d in docs] == ["2301.00001", "2301.00005"]
    stats = counters.to_stats()
    assert stats["documents"]["dropped"]["too_large"] == 4 and not check_accounting(stats)
    for n in (2, 3, 4, 6):
        assert f"2301/2301.0000{n}.gz dropped as too_large" in caplog.text


def test_max_paper_mb_is_a_flag_with_a_rule_and_reaches_the_reader(tmp_path, capsys):
    with pytest.raises(checks.ConfigError, match="--max-paper-mb must be >= 1"):
        ArxivConfig(max_paper_mb=0)
    assert ArxivConfig().max_paper_bytes == arxiv_tar.DEFAULT_MAX_PAPER_BYTES == 64 << 20
    path = _bomb_tar(tmp_path / "arXiv_src_2301_001.tar")
    with pytest.raises(SystemExit) as refused:
        cli.main(["arxiv", "--input", str(path), "--output", str(tmp_path / "x"), "--max-paper-mb", "0"])
    assert refused.value.code == 2 and "--max-paper-mb must be >= 1" in capsys.readouterr().err
    assert cli.main(["arxiv", "--input", str(path), "--output", str(tmp_path / "out"), "--max-paper-mb", "1",
                     "--workers", "1"]) == 0
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    assert stats["documents"]["dropped"]["too_large"] == 4 and stats["documents"]["written"] == 2
    assert not check_accounting(stats)


READ_CAPPED = """
import sys, types
from corpus import arxiv_tar
from corpus.readers import open_local
papers = arxiv_tar.read_unit(open_local, types.SimpleNamespace(path=sys.argv[1]), max_paper_bytes=int(sys.argv[2]))
print(",".join(d.meta["status"] for d in papers))
"""


def test_memory_stays_far_below_what_a_bomb_inflates_to(tmp_path):
    bombs = _bomb_tar(tmp_path / "bombs.tar")
    good = tmp_path / "good.tar"
    MAKE.write_tar(good, [("2301/2301.00001.gz", MAKE.gz(_paper_tex("Good")))], folders=["2301"])

    def peak(path: Path) -> tuple[str, int]:
        done = subprocess.run([sys.executable, "-c", MEASURE, READ_CAPPED, str(path), str(CAP)], cwd=REPO,
                              capture_output=True, text=True, check=True)
        statuses, rss = done.stdout.split()
        return statuses, int(rss)  # kB

    (good_statuses, good_peak), (bomb_statuses, bomb_peak) = peak(good), peak(bombs)
    assert good_statuses == "ok" and bomb_statuses == "ok,too_large,too_large,too_large,ok,too_large"
    # 600 MB inflate from the bombs; reading them costs what the 5 MB figure and buffers do
    assert bomb_peak - good_peak < 32 * 1024, (good_peak, bomb_peak)
