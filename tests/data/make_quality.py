"""Write the quality classifier fixtures under tests/data/quality/.

- enwiki-20230401-pages-articles-multistream.xml.bz2 (+ index), by make_wikipedia.write_dump: the three
  reference kinds of SOURCES.md 1(d) (`{{cite web |url=…}}`, a named ref with a bracketed link, a bare
  URL), an article citing PLANTED_MORE URLs (one a `www.` host with a utm_ parameter, one a page too
  short to be a positive), a redirect, a talk page with a ref and an article without refs.
- wet/CC-MAIN-quality-00000.warc.wet.gz, by the WET writer make_sample.py's tool uses: one record per
  cited URL holding consecutive lines of tests/data/reference/en.txt.gz (each at least 1,000 characters,
  the short one 400), the encyclopaedic side; the random side is tests/data/sample/wet.
Run from the repository root: .venv/bin/python tests/data/make_quality.py
"""
from __future__ import annotations

import gzip
import importlib.util
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_wikipedia import Page, write_dump  # noqa: E402

OUT = HERE / "quality"
WRITER = HERE.parents[2] / "shared" / "bench" / "make_wet_corpus.py"
WET_NAME = "CC-MAIN-quality-00000.warc.wet.gz"
DATE = "20230401"
PLANTED_MORE = 30
SHORT_URL = "https://short.example.net/stub"
# The three kinds of SOURCES.md 1(d), as cited and as crawled.
KINDS = {"https://a.example/x": "{{cite web |url=https://a.example/x |title=Alpha source}}",
         "https://b.example/y": None, "https://c.example/z": "https://c.example/z"}


def more_urls() -> list[tuple[str, str]]:
    """(cited URL, crawled URL) of the Delta article's references; the crawled one differs in form only
    for one of them (www., upper-case host, utm_source, trailing slash)."""
    pairs = [(f"https://ref{i}.example.org/page/{i}", f"https://ref{i}.example.org/page/{i}")
             for i in range(PLANTED_MORE)]
    pairs[3] = ("https://www.Ref3.example.org/page/3?utm_source=wiki", "https://ref3.example.org/page/3/")
    return pairs


def pages() -> list[Page]:
    """The dump's pages, in one stream."""
    delta = "'''Delta''' is cited a lot.\n" + "".join(
        f"Fact {i}.<ref>{{{{cite web|url={cited}|title=Fact {i}}}}}</ref>\n" for i, (cited, _) in enumerate(more_urls()))
    delta += f"A stub.<ref>{SHORT_URL}</ref>\n"
    return [
        Page("Alpha", 0, 101, f"'''Alpha''' is a thing.<ref>{KINDS['https://a.example/x']}</ref>\nMore text.\n"),
        Page("Beta", 0, 102, "'''Beta''' is another.<ref name=\"n\">[https://b.example/y B]</ref>\n"),
        Page("Gamma", 0, 103, "'''Gamma''' too.\nSee <ref>https://c.example/z</ref>\n"),
        Page("Delta", 0, 104, delta),
        Page("Epsilon", 0, 105, None, redirect="Alpha"),
        Page("Talk:Alpha", 1, 106, "Source?<ref>https://talk.example/t</ref>\n"),
        Page("Zeta", 0, 107, "'''Zeta''' cites nothing.\n"),
    ]


def reference_docs(n: int, min_chars: int) -> list[str]:
    """`n` texts of consecutive distinct lines of the bundled English reference text, each >= min_chars."""
    lines = gzip.decompress((HERE / "reference" / "en.txt.gz").read_bytes()).decode("utf-8").splitlines()
    seen, docs, cur = set(), [], []
    for line in lines:
        line = line.strip()
        if len(line) < 80 or line in seen:
            continue
        seen.add(line)
        cur.append(line)
        if sum(len(x) + 1 for x in cur) >= min_chars:
            docs.append("\n".join(cur))
            cur = []
            if len(docs) == n:
                return docs
    raise SystemExit("reference text too short for the fixture")


def crawled() -> list[tuple[str, str]]:
    """(URL, text) of the planted WET records: every cited URL, the short one last."""
    urls = list(KINDS) + [c for _, c in more_urls()]
    texts = reference_docs(len(urls) + 1, 1200)
    short = texts[-1][:400].rsplit(" ", 1)[0] + "."
    return list(zip(urls, texts)) + [(SHORT_URL, short)]


def _writer():
    spec = importlib.util.spec_from_file_location("make_wet_corpus", WRITER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_wet_corpus"] = module
    spec.loader.exec_module(module)
    return module


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_dump(out, "en", [pages()], date=DATE)
    (out / "wet").mkdir(exist_ok=True)
    records = [{"url": url, "date": "2023-03-20T10:00:00Z", "text": text, "id": f"<urn:uuid:quality-{i:04d}>",
                "refers_to": f"<urn:uuid:quality-response-{i:04d}>"} for i, (url, text) in enumerate(crawled())]
    _writer().write_wet(str(out / "wet" / WET_NAME), WET_NAME, records, random.Random(12), "CC-MAIN-quality")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
