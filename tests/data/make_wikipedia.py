"""Write the Wikipedia test fixtures: real multistream dump pairs (dump + bz2 index) for en and de.

Each file is laid out as Wikimedia's `pages-articles-multistream` dumps are: a bz2 stream holding
`<mediawiki …><siteinfo>…</siteinfo>`, then one bz2 stream per run of `<page>` elements (no root),
then a stream holding `</mediawiki>`; the index has one `offset:page_id:title` line per page, the
offset being that of the page's stream. Run from the repository root:
    .venv/bin/python tests/data/make_wikipedia.py
`write_dump` is also used by tests to make large synthetic dumps at test time.
"""
from __future__ import annotations

import bz2
import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Optional, Sequence
from xml.sax.saxutils import escape, quoteattr

OUT = Path(__file__).parent / "wikipedia"
DATE = "20220701"
SITEINFO = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="0.10" xml:lang="{lang}">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>{lang}wiki</dbname>
    <base>https://{lang}.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.39.0-wmf.18</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Talk</namespace>
      <namespace key="6" case="first-letter">File</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""
FOOTER = "</mediawiki>\n"


@dataclasses.dataclass(frozen=True)
class Page:
    title: str
    ns: int
    page_id: int
    text: Optional[str]
    redirect: Optional[str] = None
    rev_id: int = 0
    timestamp: str = "2022-06-30T12:00:00Z"


def page_xml(p: Page) -> str:
    """One `<page>` element as the dumps write it (two-space indent)."""
    redirect = f"    <redirect title={quoteattr(p.redirect)} />\n" if p.redirect else ""
    text = p.text or ""
    sha1 = hashlib.sha1(text.encode("utf-8")).hexdigest()
    text_el = (f'      <text bytes="{len(text.encode("utf-8"))}" xml:space="preserve">{escape(text)}</text>\n'
               if p.text is not None else '      <text bytes="0" />\n')
    return (f"  <page>\n    <title>{escape(p.title)}</title>\n    <ns>{p.ns}</ns>\n    <id>{p.page_id}</id>\n"
            f"{redirect}    <revision>\n      <id>{p.rev_id or p.page_id * 7 + 1000}</id>\n"
            f"      <timestamp>{p.timestamp}</timestamp>\n"
            f"      <contributor>\n        <username>Fixture</username>\n        <id>1</id>\n      </contributor>\n"
            f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n{text_el}"
            f"      <sha1>{sha1}</sha1>\n    </revision>\n  </page>\n")


def write_dump(folder: Path, lang: str, streams: Sequence[Sequence[Page]], date: str = DATE,
               index: bool = True) -> tuple[Path, list[int]]:
    """Write `{lang}wiki-{date}-pages-articles-multistream.xml.bz2` (header stream, one bz2 stream per
    entry of `streams`, footer stream) and, with `index`, its bz2 index beside it; return the dump's
    path and the page streams' offsets."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"{lang}wiki-{date}-pages-articles-multistream.xml.bz2"
    offsets, lines = [], []
    with open(dump, "wb") as f:
        f.write(bz2.compress(SITEINFO.format(lang=lang).encode("utf-8"), 9))
        for pages in streams:
            offset = f.tell()
            offsets.append(offset)
            f.write(bz2.compress("".join(page_xml(p) for p in pages).encode("utf-8"), 9))
            lines += [f"{offset}:{p.page_id}:{p.title}\n" for p in pages]
        f.write(bz2.compress(FOOTER.encode("utf-8"), 9))
    if index:
        path = folder / f"{lang}wiki-{date}-pages-articles-multistream-index.txt.bz2"
        path.write_bytes(bz2.compress("".join(lines).encode("utf-8"), 9))
    return dump, offsets


TURING = """{{Short description|English computer scientist (1912–1954)}}
{{Infobox scientist
| name = Alan Turing
| birth_date = {{birth date|1912|6|23|df=y}}
| fields = [[Logic]], [[Mathematics]]
}}
'''Alan Mathison Turing''' (23 June 1912 – 7 June 1954) was an English [[mathematician]] and [[computer science|computer scientist]].<ref>{{cite web|url=https://www.turing.org.uk/|title=Alan Turing Home Page}}</ref> He is widely considered the father of theoretical computer science.<ref name="hodges">Hodges, Andrew (1983). ''Alan Turing: The Enigma''.</ref>
<!-- Please do not change the birth date without a source -->
[[File:Alan Turing Aged 16.jpg|thumb|Turing aged 16, with a [[school]] cap]]

== Early life ==
Turing was born in [[Maida Vale]], London.{{sfn|Hodges|1983|p=5}} See [https://www.example.org/turing the archive] or https://www.example.org/bare for more.

=== Education ===
{| class="wikitable"
|-
! Year !! School
|-
| 1926 || Sherborne School
|}
He studied at [[King's College, Cambridge]] &amp; Princeton.

== References ==
{{Reflist}}

[[Category:1912 births]]
[[Category:English mathematicians]]
__NOTOC__
"""

ZURICH = """'''Zürich''' is the largest city in [[Switzerland]].<ref>{{cite book|title=Swiss cities}}</ref>
[[Image:Zurich skyline.jpg|thumb|left|The skyline]]
It lies at the north-western tip of [[Lake Zurich]].
[[Category:Cities in Switzerland]]
"""

LOVELACE = """'''Ada Lovelace''' was an English mathematician.
== Notes ==
<references />
"""

BERLIN = """{{Infobox Ort in Deutschland
| Name = Berlin
| Einwohner = {{Metadaten Einwohnerzahl DE-BE}}
}}
'''Berlin''' ist die [[Hauptstadt]] der [[Deutschland|Bundesrepublik Deutschland]].<ref>Statistisches Amt.</ref>
[[Datei:Berlin Skyline.jpg|mini|Die Skyline]]
[[Bild:Brandenburger Tor.jpg|links|Das Tor]]

== Geschichte ==
Die erste urkundliche Erwähnung stammt von 1237.
{| class="wikitable"
| 1237 || Cölln
|}

== Weblinks ==
{{Commons|Berlin}}

[[Kategorie:Berlin]]
[[Kategorie:Hauptstadt in Europa]]
__KEIN_INHALTSVERZEICHNIS__
"""

MUENCHEN = """'''München''' ist die Landeshauptstadt des [[Freistaat Bayern|Freistaates Bayern]].
[[Medium:Muenchen.ogg]]
[[Category:Stadt in Bayern]]
"""

EN_STREAMS = [
    [Page("Alan Turing", 0, 10, TURING), Page("Turing", 0, 11, "#REDIRECT [[Alan Turing]]", redirect="Alan Turing")],
    [Page("Talk:Alan Turing", 1, 12, "== Birth date ==\nIs the date right? ~~~~"), Page("Zürich", 0, 13, ZURICH)],
    [Page("Empty page", 0, 14, None), Page("Ada Lovelace", 0, 15, LOVELACE),
     Page("Only markup", 0, 16, "{{Infobox}}\n[[Category:Stubs]]\n<!-- nothing -->")],
]
DE_STREAMS = [
    [Page("Berlin", 0, 20, BERLIN), Page("Diskussion:Berlin", 1, 21, "Eine Frage.")],
    [Page("München", 0, 22, MUENCHEN), Page("Munich", 0, 23, "#WEITERLEITUNG [[München]]", redirect="München")],
]


def main(out: Path = OUT) -> None:
    write_dump(out, "en", EN_STREAMS)
    write_dump(out, "de", DE_STREAMS)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
