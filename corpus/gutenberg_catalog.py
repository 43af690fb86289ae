"""The Project Gutenberg RDF catalog (`rdf-files.tar.bz2`, members `cache/epub/N/pgN.rdf`), streamed.

The tarball is read once as a stream (tarfile "r|*"), one member at a time; each member is one
book's small RDF/XML record, parsed alone. Only the books asked for are parsed and kept, as compact
`CatalogEntry` values (number, language, title, authors, rights, issued), so what a run holds is
the size of its inputs' entries, not of the catalog. A member that does not parse is a Fault at its
header offset in the (decompressed) tar; the rest of the catalog is still read.
"""
from __future__ import annotations

import dataclasses
import re
import tarfile
import xml.etree.ElementTree as ET
import zlib
from typing import BinaryIO, Collection, Iterator, Optional, Union

from corpus.faults import Fault

PUBLIC_DOMAIN = "Public domain in the USA."
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DCTERMS = "{http://purl.org/dc/terms/}"
PGTERMS = "{http://www.gutenberg.org/2009/pgterms/}"
MEMBER = re.compile(r"(?:^|/)pg(\d+)\.rdf$")
MAX_MEMBER_BYTES = 16 << 20
"""A catalog record is a few KB; a member past this is a Fault, never read into memory."""
READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """What the catalog says of one book: its number, first language (dcterms:language), title,
    authors (dcterms:creator names, in order), rights and issued date (ISO 8601)."""

    gutenberg_id: int
    lang: Optional[str]
    title: Optional[str]
    authors: tuple[str, ...]
    rights: Optional[str]
    issued: Optional[str]

    @property
    def public_domain(self) -> bool:
        """True when the rights are exactly "Public domain in the USA."."""
        return self.rights == PUBLIC_DOMAIN


def member_book(name: str) -> Optional[int]:
    """The book number of a catalog member name (`cache/epub/11/pg11.rdf` -> 11), None for others."""
    m = MEMBER.search(name)
    return int(m.group(1)) if m else None


def read_catalog(f: BinaryIO, wanted: Optional[Collection[int]] = None) -> Iterator[Union[CatalogEntry, Fault]]:
    """The entries of the books in `wanted` (all when None) and the Faults of a catalog tar read from
    `f` (plain or compressed), in tar order; other members are skipped unread."""
    try:
        tar = tarfile.open(fileobj=f, mode="r|*")
    except READ_ERRORS as exc:
        yield Fault(0, f"not a readable catalog tar: {exc}")
        return
    at = 0
    while True:
        try:
            member = tar.next()
        except READ_ERRORS as exc:
            yield Fault(at, f"unreadable catalog after the member at byte {at}: {exc}")
            return
        if member is None:
            return
        tar.members = []  # stream mode keeps every header otherwise
        at = member.offset
        number = member_book(member.name) if member.isfile() else None
        if number is None or (wanted is not None and number not in wanted):
            continue
        if member.size > MAX_MEMBER_BYTES:
            yield Fault(member.offset, f"member {member.name}: {member.size} bytes, more than a catalog record")
            continue
        try:
            data = tar.extractfile(member).read()
        except READ_ERRORS as exc:
            yield Fault(member.offset, f"member {member.name}: unreadable: {exc}")
            return
        try:
            yield parse_record(data, number)
        except (ET.ParseError, ValueError) as exc:
            yield Fault(member.offset, f"member {member.name}: not an RDF record: {exc}")


def parse_record(data: bytes, number: int) -> CatalogEntry:
    """The CatalogEntry of one pgN.rdf record; ValueError when it has no pgterms:ebook element."""
    root = ET.fromstring(data)
    book = root.find(f"{PGTERMS}ebook")
    if book is None:
        raise ValueError("no pgterms:ebook element")
    langs = [v.text.strip() for lang in book.findall(f"{DCTERMS}language")
             for v in lang.iter(f"{RDF}value") if v.text and v.text.strip()]
    authors = tuple(n.text.strip() for c in book.findall(f"{DCTERMS}creator")
                    for n in c.iter(f"{PGTERMS}name") if n.text and n.text.strip())
    return CatalogEntry(gutenberg_id=number, lang=langs[0] if langs else None,
                        title=_text(book.find(f"{DCTERMS}title")), authors=authors,
                        rights=_text(book.find(f"{DCTERMS}rights")), issued=_text(book.find(f"{DCTERMS}issued")))


def _text(el: Optional[ET.Element]) -> Optional[str]:
    """An element's text with line breaks folded to one space (long titles wrap), None when empty."""
    if el is None or not el.text or not el.text.strip():
        return None
    return " ".join(el.text.split())
