"""Write the books test fixtures under tests/data/books/, from the real prose of tests/data/reference/.

- gutenberg/pg1001.txt: a modern file (UTF-8 with a BOM, CRLF line breaks, `*** START OF THE
  PROJECT GUTENBERG EBOOK ... ***` / `*** END OF ...`);
- gutenberg/1002.txt: an old-style Latin-1 file (`*END*THE SMALL PRINT! ...` header, `End of the
  Project Gutenberg Etext of ...` footer, "café" in its body);
- gutenberg/1003-0.txt: a book without any Gutenberg marker;
- gutenberg/1004-0.txt: a modern file the catalog says is copyrighted;
- rdf-files.tar.bz2: the catalog records of 1001-1004 (cache/epub/N/pgN.rdf, real RDF/XML shape);
- pg19/train/2001.txt, pg19/train/2002.txt (with a <DW> placeholder) and pg19/metadata.csv;
- txt/Notes on Disks.txt: a plain book;
- books3.jsonl: two {title, text, meta} books (the second in French) around one broken line.
Bodies are paragraphs of reference prose wrapped at 72 columns (BODIES, so tests know each stripped
body exactly). Bytes are the same on every run. Run from the repository root:
    .venv/bin/python tests/data/make_books.py
`prose_paragraphs` and `book_text` are also used by tests to build larger books at test time.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import sys
import tarfile
import textwrap
from pathlib import Path

OUT = Path(__file__).parent / "books"
REFERENCE = Path(__file__).parent / "reference"
MTIME = 1700000000
WORDS = 1200
CAFE = "At the corner stood a small caf\u00e9 where the na\u00efve clerk ordered cr\u00e8me br\u00fbl\u00e9e."
LATIN1_SAFE = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "--",
                             "\u2013": "-", "\u2026": "..."})


def prose_paragraphs(lang: str = "en") -> list[str]:
    """The reference text's lines that are paragraphs (over 150 characters), in file order."""
    with gzip.open(REFERENCE / f"{lang}.txt.gz", "rt", encoding="utf-8") as f:
        return [line.strip() for line in f if len(line.strip()) > 150]


def book_text(paragraphs: list[str], words: int) -> list[str]:
    """Consecutive paragraphs from the start of `paragraphs` until they hold `words` words."""
    out, count = [], 0
    for p in paragraphs:
        out.append(p)
        count += len(p.split())
        if count >= words:
            break
    return out


def wrap(paragraphs: list[str]) -> str:
    """Paragraphs wrapped at 72 columns, a blank line between them (a Gutenberg body)."""
    return "\n\n".join(textwrap.fill(p, 72) for p in paragraphs)


PARAS = prose_paragraphs()
BODIES = {
    "pg1001": "CHAPTER I.\n\n" + wrap(book_text(PARAS[0:], WORDS)),
    "1002": "THE QUIET CAF\u00c9\n\n" + wrap([CAFE] + [p.translate(LATIN1_SAFE)
                                                    for p in book_text(PARAS[120:], WORDS)]),
    "1003": wrap(book_text(PARAS[240:], WORDS)),
    "1004": wrap(book_text(PARAS[360:], WORDS)),
    "2001": wrap(book_text(PARAS[480:], WORDS)),
    "2002": wrap(book_text(PARAS[600:], WORDS)).replace("the ", "the <DW> ", 1),
    "txt": wrap(book_text(PARAS[720:], WORDS)),
    "jsonl": wrap(book_text(PARAS[840:], WORDS)),
    "jsonl_fr": wrap(book_text(prose_paragraphs("fr")[100:], WORDS)),
}
for _name, _body in BODIES.items():
    assert "\r" not in _body and "Gutenberg" not in _body, _name
    if _name == "1002":
        _body.encode("latin-1")

LICENSE_HEAD = """This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever. You may copy it, give it away or re-use it under the terms
of the Project Gutenberg License included with this eBook or online
at www.gutenberg.org. If you are not located in the United States,
you will have to check the laws of the country where you are located
before using this eBook."""
LICENSE_TAIL = """Updated editions will replace the previous one--the old editions will
be renamed.

Creating the works from print editions not protected by U.S. copyright
law means that no one owns a United States copyright in these works,
so the Foundation (and you!) can copy and distribute it in the United
States without permission and without paying copyright royalties.

START: FULL LICENSE

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK

To protect the Project Gutenberg mission of promoting the free
distribution of electronic works, by using or distributing this work
(or any other work associated in any way with the phrase "Project
Gutenberg"), you agree to comply with all the terms of the Full
Project Gutenberg License available with this file or online at
www.gutenberg.org/license.

Most people start at our website which has the main PG search
facility: www.gutenberg.org

This website includes information about Project Gutenberg,
including how to make donations to the Project Gutenberg Literary
Archive Foundation, how to help produce our new eBooks, and how to
subscribe to our email newsletter to hear about new eBooks."""


def modern(number: int, title: str, author: str, body: str, end_line: bool = False) -> str:
    """A modern Gutenberg file's text: licence header, START marker, body, END marker, licence."""
    upper = title.upper()
    tail = f"\n\nEnd of the Project Gutenberg EBook of {title}, by {author}\n" if end_line else "\n\n\n\n"
    return (f"The Project Gutenberg eBook of {title}, by {author}\n\n{LICENSE_HEAD}\n\n"
            f"Title: {title}\n\nAuthor: {author}\n\nRelease Date: March 3, 2004 [eBook #{number}]\n"
            f"[Most recently updated: June 1, 2021]\n\nLanguage: English\n\nCharacter set encoding: UTF-8\n\n"
            f"*** START OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n\n\n{body}{tail}"
            f"*** END OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n{LICENSE_TAIL}\n")


def old_style(number: int, title: str, author: str, body: str) -> str:
    """A 1990s Gutenberg file's text: Etext header with the small print, body, `End of` footer."""
    return (f"The Project Gutenberg Etext of {title}, by {author}\n\n"
            "Copyright laws are changing all over the world, be sure to check\n"
            "the copyright laws for your country before posting these files!!\n\n"
            "Please take a look at the important information in this header.\n"
            "We encourage you to keep this file on your own disk, keeping an\n"
            "electronic path open for the next readers.\n\n"
            "**Welcome To The World of Free Plain Vanilla Electronic Texts**\n\n"
            "**Etexts Readable By Both Humans and By Computers, Since 1971**\n\n"
            f"Title: {title}\n\nAuthor: {author}\n\n"
            f"[Etext #{number}]\n[Date last updated: May 7, 1997]\n\n"
            "The Project Gutenberg Etext of this book is in the public domain.\n\n"
            "*START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START*\n"
            "Why is this \"Small Print!\" statement here?  You know: lawyers.\n"
            "They tell us you might sue us if there is something wrong with\n"
            "your copy of this etext, even if you got it for free.\n\n"
            "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n\n\n\n"
            f"{body}\n\n\n\nEnd of the Project Gutenberg Etext of {title}\n")


RDF_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xml:base="http://www.gutenberg.org/"
  xmlns:cc="http://web.resource.org/cc/"
  xmlns:dcam="http://purl.org/dc/dcam/"
  xmlns:dcterms="http://purl.org/dc/terms/"
  xmlns:marcrel="http://id.loc.gov/vocabulary/relators/"
  xmlns:pgterms="http://www.gutenberg.org/2009/pgterms/"
  xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
>
  <cc:Work rdf:about="">
    <cc:license rdf:resource="https://creativecommons.org/publicdomain/zero/1.0/"/>
    <rdfs:comment>Archives containing the RDF files for *all* our books can be downloaded at
            https://www.gutenberg.org/wiki/Gutenberg:Feeds#The_Complete_Project_Gutenberg_Catalog</rdfs:comment>
  </cc:Work>
"""
PUBLIC_DOMAIN = "Public domain in the USA."
COPYRIGHTED = "Copyrighted. Read the copyright notice inside this book for details."


def rdf(number: int, title: str, authors: list[tuple[int, str]], lang: str, issued: str, rights: str) -> str:
    """One catalog record (cache/epub/N/pgN.rdf) in the shape of the real feed."""
    creators = "".join(f"""    <dcterms:creator>
      <pgterms:agent rdf:about="2009/agents/{aid}">
        <pgterms:name>{name}</pgterms:name>
        <pgterms:birthdate rdf:datatype="http://www.w3.org/2001/XMLSchema#integer">1801</pgterms:birthdate>
        <pgterms:webpage rdf:resource="https://en.wikipedia.org/wiki/Example"/>
      </pgterms:agent>
    </dcterms:creator>
""" for aid, name in authors)
    return RDF_HEAD + f"""  <pgterms:ebook rdf:about="ebooks/{number}">
{creators}    <marcrel:ill rdf:resource="2009/agents/99999"/>
    <dcterms:title>{title}</dcterms:title>
    <pgterms:downloads rdf:datatype="http://www.w3.org/2001/XMLSchema#integer">1234</pgterms:downloads>
    <dcterms:issued rdf:datatype="http://www.w3.org/2001/XMLSchema#date">{issued}</dcterms:issued>
    <dcterms:language>
      <rdf:Description rdf:nodeID="N{number}lang">
        <rdf:value rdf:datatype="http://purl.org/dc/terms/RFC4646">{lang}</rdf:value>
      </rdf:Description>
    </dcterms:language>
    <dcterms:rights>{rights}</dcterms:rights>
    <dcterms:publisher>Project Gutenberg</dcterms:publisher>
    <dcterms:license rdf:resource="license"/>
    <dcterms:type>
      <rdf:Description rdf:nodeID="N{number}type">
        <dcam:memberOf rdf:resource="http://purl.org/dc/terms/DCMIType"/>
        <rdf:value>Text</rdf:value>
      </rdf:Description>
    </dcterms:type>
  </pgterms:ebook>
</rdf:RDF>
"""


CATALOG = [
    (1001, rdf(1001, "Disks and\n      Their Keepers", [(101, "Shelley, Mary Wollstonecraft")], "en", "2004-03-03",
               PUBLIC_DOMAIN)),
    (1002, rdf(1002, "The Quiet Caf\u00e9", [(102, "Writer, A."), (103, "Helper, B.")], "en", "1997-05-07",
               PUBLIC_DOMAIN)),
    (1003, rdf(1003, "Unmarked", [(104, "Nobody, N.")], "en", "2001-01-01", PUBLIC_DOMAIN)),
    (1004, rdf(1004, "Still Protected", [(105, "Living, L.")], "en", "2020-02-02", COPYRIGHTED)),
]


def catalog_tar(records: list[tuple[int, bytes]], mtime: int = MTIME) -> bytes:
    """rdf-files.tar.bz2 bytes: cache/epub/N/pgN.rdf per record, ustar, fixed owner and mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for number, data in records:
            info = tarfile.TarInfo(f"cache/epub/{number}/pg{number}.rdf")
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    return bz2.compress(buf.getvalue(), 9)


PG19_METADATA = ("2001,The Disk Keeper's Almanac,1899,http://www.gutenberg.org/ebooks/2001\n"
                 "2002,\"Arrays, Mirrors and Stripes\",1905,http://www.gutenberg.org/ebooks/2002\n")


def jsonl_lines() -> bytes:
    """Two Books3-shaped books around a line cut short (a Fault)."""
    good = json.dumps({"title": "Mirrors of Memory", "text": BODIES["jsonl"], "meta": {"isbn": "none"}},
                      ensure_ascii=False)
    french = json.dumps({"title": "Les Disques", "text": BODIES["jsonl_fr"]}, ensure_ascii=False)
    return (good + "\n" + '{"title": "Broken", "text": "cut sho\n' + french + "\n").encode("utf-8")


def files() -> dict[str, bytes]:
    """Every fixture file, by path under OUT."""
    return {
        "gutenberg/pg1001.txt": b"\xef\xbb\xbf" + modern(1001, "Disks and Their Keepers", "Mary Shelley",
                                                         BODIES["pg1001"]).replace("\n", "\r\n").encode("utf-8"),
        "gutenberg/1002.txt": old_style(1002, "The Quiet Caf\u00e9", "A. Writer", BODIES["1002"]).encode("latin-1"),
        "gutenberg/1003-0.txt": ("UNMARKED BOOK\n\n" + BODIES["1003"] + "\n").encode("utf-8"),
        "gutenberg/1004-0.txt": modern(1004, "Still Protected", "L. Living", BODIES["1004"], end_line=True
                                       ).encode("utf-8"),
        "rdf-files.tar.bz2": catalog_tar([(n, r.encode("utf-8")) for n, r in CATALOG]),
        "pg19/metadata.csv": PG19_METADATA.encode("utf-8"),
        "pg19/train/2001.txt": BODIES["2001"].encode("utf-8"),
        "pg19/train/2002.txt": BODIES["2002"].encode("utf-8"),
        "txt/Notes on Disks.txt": BODIES["txt"].encode("utf-8"),
        "books3.jsonl": jsonl_lines(),
    }


def main(out: Path = OUT) -> None:
    for rel, data in files().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
