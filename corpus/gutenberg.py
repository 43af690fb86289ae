"""Project Gutenberg plain-text books: decoding, the book number, and the licence header and footer
stripped from the body.

Stripping tries the modern markers first (`*** START OF THE PROJECT GUTENBERG EBOOK ... ***` and the
matching END line, in nearly every file since about 2010), then the old marker lists that Johannes
Krugel's gutenberg tool and its Python port c-w/gutenberg use (the lists are data, taken from
c-w/gutenberg gutenberg/_domain_model/text.py, Apache-2.0; the walk over them is written here):
within the first 600 kept lines, a line starting with a start marker drops everything before it and
itself; from the 100th kept line on, the first line starting with an end marker ends the body; lines
between a legalese start and end marker are left out.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

MODERN_START = re.compile(r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT)\b.*$",
                          re.IGNORECASE | re.MULTILINE)
MODERN_END = re.compile(r"^[ \t]*\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT)\b.*$",
                        re.IGNORECASE | re.MULTILINE)
# The "End of the Project Gutenberg EBook of ..." line many modern files put just before the END marker.
TRAILING_END_LINE = re.compile(r"\n?[ \t]*End of (?:the |this )?Project Gutenberg\b[^\n]*\s*$", re.IGNORECASE)

LEGACY_START_MARKERS = (
    "*END*THE SMALL PRINT", "*** START OF THE PROJECT GUTENBERG", "*** START OF THIS PROJECT GUTENBERG",
    "This etext was prepared by", "E-text prepared by", "Produced by", "Distributed Proofreading Team",
    "Proofreading Team at http://www.pgdp.net", "http://gallica.bnf.fr)", "      http://archive.org/details/",
    "http://www.pgdp.net", "by The Internet Archive)", "by The Internet Archive/Canadian Libraries",
    "by The Internet Archive/American Libraries", "public domain material from the Internet Archive",
    "Internet Archive)", "Internet Archive/Canadian Libraries", "Internet Archive/American Libraries",
    "material from the Google Print project", "*END THE SMALL PRINT", "***START OF THE PROJECT GUTENBERG",
    "This etext was produced by", "*** START OF THE COPYRIGHTED", "The Project Gutenberg",
    "http://gutenberg.spiegel.de/ erreichbar.", "Project Runeberg publishes", "Beginning of this Project Gutenberg",
    "Project Gutenberg Online Distributed", "Gutenberg Online Distributed",
    "the Project Gutenberg Online Distributed", "Project Gutenberg TEI", "This eBook was prepared by",
    "http://gutenberg2000.de erreichbar.", "This Etext was prepared by",
    "This Project Gutenberg Etext was prepared by", "Gutenberg Distributed Proofreaders",
    "Project Gutenberg Distributed Proofreaders", "the Project Gutenberg Online Distributed Proofreading Team",
    "**The Project Gutenberg", "*SMALL PRINT!", "More information about this book is at the top of this file.",
    "tells you about restrictions in how the file may be used.",
    "l'authorization \u00e0 les utilizer pour preparer ce texte.", "of the etext through OCR.",
    "*****These eBooks Were Prepared By Thousands of Volunteers!*****", "We need your donations more than ever!",
    " *** START OF THIS PROJECT GUTENBERG", "****     SMALL PRINT!", '["Small Print" V.',
    "      (http://www.ibiblio.org/gutenberg/", "and the Project Gutenberg Online Distributed Proofreading Team",
    "Mary Meehan, and the Project Gutenberg Online Distributed Proofreading",
    "                this Project Gutenberg edition.",
)
LEGACY_END_MARKERS = (
    "*** END OF THE PROJECT GUTENBERG", "*** END OF THIS PROJECT GUTENBERG", "***END OF THE PROJECT GUTENBERG",
    "End of the Project Gutenberg", "End of The Project Gutenberg", "Ende dieses Project Gutenberg",
    "by Project Gutenberg", "End of Project Gutenberg", "End of this Project Gutenberg",
    "Ende dieses Projekt Gutenberg", "        ***END OF THE PROJECT GUTENBERG", "*** END OF THE COPYRIGHTED",
    "End of this is COPYRIGHTED", "Ende dieses Etextes ", "Ende dieses Project Gutenber",
    "Ende diese Project Gutenberg", "**This is a COPYRIGHTED Project Gutenberg Etext, Details Above**",
    "Fin de Project Gutenberg", "The Project Gutenberg Etext of ", "Ce document fut presente en lecture",
    "Ce document fut pr\u00e9sent\u00e9 en lecture", "More information about this book is at the top of this file.",
    "We need your donations more than ever!", "END OF PROJECT GUTENBERG", " End of the Project Gutenberg",
    " *** END OF THIS PROJECT GUTENBERG",
)
LEGALESE_START_MARKERS = ("<<THIS ELECTRONIC VERSION OF",)
LEGALESE_END_MARKERS = ("SERVICE THAT CHARGES FOR DOWNLOAD",)
LEGACY_START_WITHIN = 600
LEGACY_END_FROM = 100

MODERN, LEGACY, UNMARKED = "modern", "legacy", "none"
FILE_NAME = re.compile(r"^(?:pg)?(\d+)(?:-[08])?\.txt$", re.IGNORECASE)
HEADER_NUMBER = re.compile(r"\[(?:E-?Book|E-?text)\s*#\s*(\d+)\]", re.IGNORECASE)
HEADER_FIELD = re.compile(r"^(Title|Author):[ \t]*(.+?)[ \t]*$", re.MULTILINE)
UTF8_BOM = b"\xef\xbb\xbf"
# Bytes that are control characters when read as Latin-1 (tab, newlines and form feed are text).
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
C1_BYTES = re.compile(rb"[\x80-\x9f]")
MAX_CONTROL_SHARE = 0.001
"""A non-UTF-8 file is Latin-1 (or cp1252) text when at most this share of its bytes are control
characters in that reading and none is NUL; otherwise it is not a text file."""


@dataclasses.dataclass(frozen=True)
class Stripped:
    """A book's body between its licence header and footer, `how` it was found (modern, legacy or
    none: no start marker, body = the whole text), and the header text (for Title:/Author: lines)."""

    body: str
    how: str
    header: str = ""


class NotText(ValueError):
    """Bytes that are neither UTF-8 nor plausibly Latin-1 text; `offset` is the first byte that is not
    UTF-8."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


def decode_book(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a book file's bytes: UTF-8 (a BOM dropped), else cp1252 when it uses the
    bytes 0x80-0x9f as printable characters, else Latin-1; NotText for anything else (a binary file)."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    if b"\x00" in data:
        raise NotText(data.index(b"\x00"), "not text: a NUL byte in a file that is not UTF-8")
    if C1_BYTES.search(data):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = None
        if text is not None and _control_share(data, text) <= MAX_CONTROL_SHARE:
            return text, "cp1252"
    share = len(CONTROL_BYTES.findall(data)) / max(1, len(data))
    if share > MAX_CONTROL_SHARE:
        raise NotText(bad_at, f"not text: invalid UTF-8 at byte {bad_at} and {share:.1%} control bytes as Latin-1")
    return data.decode("latin-1"), "latin-1"


def _control_share(data: bytes, text: str) -> float:
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f" or "\x7f" <= ch <= "\x9f")
    return controls / max(1, len(data))


def normalize_newlines(text: str) -> str:
    """\\r\\n and lone \\r as \\n."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def book_number(file_name: str, head: str = "") -> Optional[int]:
    """The Gutenberg number of a book from its file name (pgNNNN.txt, NNNN-0.txt, NNNN-8.txt, NNNN.txt),
    else from an `[EBook #NNNN]` line in `head`; None when neither says."""
    m = FILE_NAME.match(file_name)
    if m:
        return int(m.group(1))
    m = HEADER_NUMBER.search(head)
    return int(m.group(1)) if m else None


def header_fields(header: str) -> dict[str, str]:
    """The `Title:` and `Author:` lines of a licence header, as {"title": ..., "author": ...}."""
    fields: dict[str, str] = {}
    for m in HEADER_FIELD.finditer(header):
        fields.setdefault(m.group(1).lower(), m.group(2))
    return fields


def strip_book(text: str) -> Stripped:
    """The body of a Gutenberg book (text with \\n line breaks): modern markers first, then the old
    marker lists (module docstring); `how` says which, "none" when no start marker was found."""
    start = MODERN_START.search(text)
    if start:
        end = MODERN_END.search(text, start.end())
        body = text[start.end():end.start()] if end else _legacy_end(text[start.end():])
        body = TRAILING_END_LINE.sub("", _trim_blank_lines(body))
        return Stripped(_trim_blank_lines(body), MODERN, text[:start.start()])
    found, body, header = _legacy(text.split("\n"))
    if found:
        return Stripped(_trim_blank_lines("\n".join(body)), LEGACY, header)
    return Stripped(text, UNMARKED, "")


def _legacy(lines: list[str]) -> tuple[bool, list[str], str]:
    """(a start marker was seen, body lines, header text) by the old marker walk."""
    kept: list[str] = []
    found, in_legalese, header_end = False, False, 0
    for n, line in enumerate(lines):
        if len(kept) <= LEGACY_START_WITHIN and line.startswith(LEGACY_START_MARKERS):
            kept, found, header_end = [], True, n
            continue
        if len(kept) >= LEGACY_END_FROM and line.startswith(LEGACY_END_MARKERS):
            break
        if line.startswith(LEGALESE_START_MARKERS):
            in_legalese = True
            continue
        if line.startswith(LEGALESE_END_MARKERS):
            in_legalese = False
            continue
        if not in_legalese:
            kept.append(line)
    return found, kept, "\n".join(lines[:header_end])


def _legacy_end(body: str) -> str:
    """A modern body without an END marker: cut at the first old end marker line, if any."""
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if line.startswith(LEGACY_END_MARKERS):
            return "\n".join(lines[:n])
    return body


def _trim_blank_lines(text: str) -> str:
    """`text` without its leading blank lines and its trailing whitespace."""
    lines = text.split("\n")
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    return "\n".join(lines[first:]).rstrip()
