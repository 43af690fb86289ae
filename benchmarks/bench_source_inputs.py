"""Benchmark inputs in the real formats of the dump sources, built from the bundled real text:
a Wikipedia multistream dump with its index, Stack Exchange site archives (.7z with Posts.xml) and
arXiv bulk source tars. Seeded, so the same size gives the same files.

The prose is real (tests/data/reference: en/de/fr text); the markup around it (wiki links,
templates, tables, HTML paragraphs and code, LaTeX preambles, macros and sections) follows the
formats of the real dumps, so readers and cleaners do the work they do on real data.
"""
from __future__ import annotations

import bz2
import gzip
import io
import random
import tarfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "reference"
MB = 1_000_000


def sentences(lang: str = "en") -> list[str]:
    """Real sentences of the bundled reference text of `lang`."""
    text = gzip.decompress((REFERENCE / f"{lang}.txt.gz").read_bytes()).decode("utf-8")
    out = []
    for line in text.splitlines():
        out.extend(s.strip() + "." for s in line.split(". ") if len(s.split()) >= 4)
    return out


def _paragraph(rng: random.Random, pool: list[str], n: int) -> str:
    return " ".join(rng.choice(pool) for _ in range(n))


# --- Wikipedia -------------------------------------------------------------------------------

SITEINFO = ("<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\" xml:lang=\"{lang}\">\n"
            "  <siteinfo>\n    <sitename>Wikipedia</sitename>\n    <dbname>{lang}wiki</dbname>\n"
            "    <namespaces>\n      <namespace key=\"0\" case=\"first-letter\" />\n"
            "      <namespace key=\"1\" case=\"first-letter\">Talk</namespace>\n"
            "      <namespace key=\"6\" case=\"first-letter\">File</namespace>\n"
            "      <namespace key=\"14\" case=\"first-letter\">Category</namespace>\n"
            "    </namespaces>\n  </siteinfo>\n")


def _wikitext(rng: random.Random, pool: list[str], title: str) -> str:
    words = [w.strip(".,;:()\"'") for w in rng.choice(pool).split() if w.isalpha()]
    link = lambda: f"[[{rng.choice(words or ['Main'])}|{rng.choice(words or ['main'])}]]"
    lead = _paragraph(rng, pool, 4)
    parts = [f"{{{{Short description|{rng.choice(pool)[:60]}}}}}",
             "{{Infobox topic\n| name = " + title + "\n| image = Example.jpg\n| founded = {{start date|1912|6|23}}\n}}",
             f"'''{title}''' {lead} {link()} <ref>{{{{cite web|url=https://example.org/{rng.randrange(10**6)}"
             f"|title={rng.choice(pool)[:40]}}}}}</ref>",
             f"<!-- {rng.choice(pool)[:50]} -->"]
    for s in range(rng.randint(2, 5)):
        parts.append(f"== {rng.choice(words or ['Section'])} {s} ==")
        parts.append(f"[[File:Picture{s}.jpg|thumb|{rng.choice(pool)[:50]}]]")
        for _ in range(rng.randint(1, 3)):
            parts.append(f"{_paragraph(rng, pool, rng.randint(3, 7))} {link()}<ref name=\"r{s}\">"
                         f"{rng.choice(pool)[:60]}</ref>")
        if s == 1:
            parts.append("{| class=\"wikitable\"\n|-\n! Year !! Value\n|-\n| 1936 || "
                         f"{rng.randrange(1000)}\n|-\n| 1950 || {rng.randrange(1000)}\n|}}")
    parts += ["== References ==", "{{Reflist}}", "__NOTOC__",
              f"[[Category:{rng.choice(words or ['Topic'])}]]", f"[[Category:{title} topics]]"]
    return "\n".join(parts)


def _page(page_id: int, title: str, ns: int, text: str, redirect: str | None) -> str:
    red = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{red}"
            f"    <revision>\n      <id>{page_id * 10 + 1}</id>\n      <timestamp>2022-07-01T12:00:00Z</timestamp>\n"
            f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f"      <text bytes=\"{len(text.encode())}\" xml:space=\"preserve\">{escape(text)}</text>\n"
            f"    </revision>\n  </page>\n")


def make_wikipedia(folder: Path, mb: float, lang: str = "en", seed: int = 0, date: str = "20220701") -> dict:
    """`{lang}wiki-{date}-pages-articles-multistream.xml.bz2` (100 pages a stream, header and footer
    streams) and its `-index.txt.bz2` with real offsets; about `mb` MB of wikitext."""
    rng = random.Random(seed)
    pool = sentences(lang if (REFERENCE / f"{lang}.txt.gz").exists() else "en")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{lang}wiki-{date}-pages-articles-multistream"
    dump, index_lines = io.BytesIO(), []
    dump.write(bz2.compress(SITEINFO.format(lang=lang).encode()))
    text_bytes, page_id = 0, 0
    while text_bytes < mb * MB:
        offset = dump.tell()
        pages = []
        for _ in range(100):
            page_id += 1
            title = f"{rng.choice(pool).split()[0].strip('.,;:')} {page_id}"
            kind = rng.random()
            if kind < 0.05:
                text, ns, redirect = f"#REDIRECT [[{title} main]]", 0, f"{title} main"
            elif kind < 0.08:
                text, ns, redirect = _paragraph(rng, pool, 3), 1, None
                title = f"Talk:{title}"
            else:
                text, ns, redirect = _wikitext(rng, pool, title), 0, None
            text_bytes += len(text.encode())
            pages.append(_page(page_id, title, ns, text, redirect))
            index_lines.append(f"{offset}:{page_id}:{title}")
        dump.write(bz2.compress("".join(pages).encode()))
    dump.write(bz2.compress(b"</mediawiki>\n"))
    path = folder / f"{name}.xml.bz2"
    path.write_bytes(dump.getvalue())
    (folder / f"{name}-index.txt.bz2").write_bytes(bz2.compress(("\n".join(index_lines) + "\n").encode()))
    return {"files": [path], "text_bytes": text_bytes, "records": page_id}


# --- Stack Exchange --------------------------------------------------------------------------

def _html_body(rng: random.Random, pool: list[str]) -> str:
    parts = [f"<p>{escape(_paragraph(rng, pool, rng.randint(2, 5)))}</p>"]
    if rng.random() < 0.5:
        code = "\n".join(f"    $ cmd --flag {rng.randrange(100)} &amp;&amp; echo {i}" for i in range(rng.randint(2, 6)))
        parts.append(f"<pre><code>{code}\n</code></pre>")
    if rng.random() < 0.4:
        parts.append("<ul>\n" + "\n".join(f"<li>{escape(rng.choice(pool))}</li>" for _ in range(3)) + "\n</ul>")
    parts.append(f"<p>{escape(_paragraph(rng, pool, rng.randint(1, 4)))} <code>x &lt; y</code></p>")
    return "\n".join(parts) + "\n"


def _row(attrs: dict) -> str:
    return "  <row " + " ".join(f"{k}={quoteattr(str(v), {chr(10): '&#xA;', chr(13): '&#xD;'})}"
                                for k, v in attrs.items()) + " />"


def posts_xml(rng: random.Random, pool: list[str], mb: float) -> tuple[bytes, int, int]:
    """A Posts.xml in the dump's one-row-per-line layout: questions with 0-4 answers, tag wikis."""
    rows, text_bytes, post_id = [], 0, 0
    while text_bytes < mb * MB:
        post_id += 1
        qid = post_id
        answers = rng.randint(0, 4)
        body = _html_body(rng, pool)
        text_bytes += len(body.encode())
        rows.append(_row({"Id": qid, "PostTypeId": 1, "CreationDate": f"2015-0{1 + qid % 9}-1{qid % 10}T10:00:00.000",
                          "Score": rng.randint(-3, 50), "ViewCount": rng.randint(10, 9999), "Body": body,
                          "OwnerUserId": rng.randint(1, 999), "Title": rng.choice(pool)[:120],
                          "Tags": f"|tag{rng.randrange(30)}|tag{rng.randrange(30)}|", "AnswerCount": answers,
                          "CommentCount": 0, "ContentLicense": "CC BY-SA 4.0"}))
        for _ in range(answers):
            post_id += 1
            body = _html_body(rng, pool)
            text_bytes += len(body.encode())
            rows.append(_row({"Id": post_id, "PostTypeId": 2, "ParentId": qid,
                              "CreationDate": "2016-01-01T10:00:00.000", "Score": rng.randint(-3, 50), "Body": body,
                              "OwnerUserId": rng.randint(1, 999), "CommentCount": 0, "ContentLicense": "CC BY-SA 4.0"}))
        if rng.random() < 0.02:
            post_id += 1
            rows.append(_row({"Id": post_id, "PostTypeId": 5, "CreationDate": "2016-01-01T10:00:00.000",
                              "Score": 0, "Body": "<p>tag wiki</p>", "CommentCount": 0}))
    data = ('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n").encode()
    return data, text_bytes, post_id


def make_stackexchange(folder: Path, mb: float, seed: int = 0) -> dict:
    """Two site archives, `<site>.7z` with Posts.xml (and Tags.xml), sized 3:1, about `mb` MB of bodies."""
    import py7zr

    rng = random.Random(seed)
    pool = sentences("en")
    folder.mkdir(parents=True, exist_ok=True)
    files, text_bytes, records = [], 0, 0
    for site, share in (("unix.stackexchange.com", 0.75), ("math.stackexchange.com", 0.25)):
        data, n_bytes, n_rows = posts_xml(rng, pool, mb * share)
        path = folder / f"{site}.7z"
        with py7zr.SevenZipFile(path, "w") as archive:
            archive.writestr(data, "Posts.xml")
            archive.writestr(b'<?xml version="1.0" encoding="utf-8"?>\n<tags>\n</tags>\n', "Tags.xml")
        files.append(path)
        text_bytes += n_bytes
        records += n_rows
    return {"files": files, "text_bytes": text_bytes, "records": records}


# --- arXiv -----------------------------------------------------------------------------------

def _latex_section(rng: random.Random, pool: list[str], n: int) -> str:
    body = []
    for s in range(n):
        body.append(f"\\section{{{rng.choice(pool)[:40].rstrip('.')}}}\\label{{sec:{s}}}")
        for _ in range(rng.randint(2, 4)):
            body.append(f"{_paragraph(rng, pool, rng.randint(3, 6))} % {rng.choice(pool)[:30]}")
            body.append(f"We have $\\R^{rng.randint(2, 9)}$ and $\\eps < {rng.random():.2f}$, "
                        f"so \\norm{{x_{s}}} is bounded (50\\% of cases).")
        body.append("\\begin{equation}\n  f(x) = \\sum_{i=1}^n x_i^2\n\\end{equation}")
    return "\n".join(body) + "\n"


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


TAR_TEXT = 12.5 * MB  # LaTeX per generated tar


def make_arxiv(folder: Path, mb: float, seed: int = 0, yymm: str = "2301") -> dict:
    """`arXiv_src_{yymm}_NNN.tar` files of about 12.5 MB of LaTeX each (real tars hold about 500 MB; smaller
    ones give a 100 MB benchmark several units to spread over workers): multi-file projects (gzipped
    tars with \\input), single gzipped .tex papers and PDF-only members; about `mb` MB of LaTeX."""
    rng = random.Random(seed)
    pool = sentences("en")
    folder.mkdir(parents=True, exist_ok=True)
    preamble = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\newcommand{\\R}{\\mathbb{R}}\n"
                "\\def\\eps{\\varepsilon}\n\\newcommand{\\norm}[1]{\\lVert #1\\rVert}\n"
                "\\begin{document}\n\\title{T}\n\\maketitle\n\\begin{abstract}\n{abstract}\n\\end{abstract}\n")
    files, text_bytes, papers, number = [], 0, 0, 0
    while text_bytes < mb * MB:
        path = folder / f"arXiv_src_{yymm}_{len(files) + 1:03d}.tar"
        tar_start = text_bytes
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            while text_bytes - tar_start < TAR_TEXT and text_bytes < mb * MB:
                number += 1
                arxiv_id = f"{yymm}.{number:05d}"
                kind = rng.random()
                if kind < 0.05:
                    member, data = f"{yymm}/{arxiv_id}.pdf", b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(2000))
                else:
                    head = preamble.replace("{abstract}", _paragraph(rng, pool, 3))
                    tail = "\\bibliographystyle{plain}\n\\bibliography{refs}\n\\appendix\n\\section{Proofs}\nQED.\n\\end{document}\n"
                    if kind < 0.55:
                        method = _latex_section(rng, pool, rng.randint(2, 4))
                        main = head + _latex_section(rng, pool, 2) + "\\input{method}\n" + tail
                        inner = io.BytesIO()
                        with tarfile.open(fileobj=inner, mode="w", format=tarfile.USTAR_FORMAT) as project:
                            for name, blob in (("main.tex", main.encode()), ("method.tex", method.encode()),
                                               ("refs.bib", b"@article{a, title={A}}\n")):
                                info = tarfile.TarInfo(name)
                                info.size, info.mtime = len(blob), 1672531200
                                project.addfile(info, io.BytesIO(blob))
                        raw = inner.getvalue()
                        text_bytes += len(main.encode()) + len(method.encode())
                    else:
                        main = head + _latex_section(rng, pool, rng.randint(3, 6)) + tail
                        raw = main.encode()
                        text_bytes += len(main.encode())
                    member, data = f"{yymm}/{arxiv_id}.gz", _gz(raw)
                    papers += 1
                info = tarfile.TarInfo(member)
                info.size, info.mtime = len(data), 1672531200 + number
                tar.addfile(info, io.BytesIO(data))
        files.append(path)
    return {"files": files, "text_bytes": text_bytes, "records": papers}
