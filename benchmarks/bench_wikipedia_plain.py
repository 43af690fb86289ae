"""The way public reproductions clean a Wikipedia dump, as one process: the whole .bz2 through
ElementTree.iterparse, namespace-0 non-redirect pages, and per section (mwparserfromhell
get_sections) media links, <ref> and table tags removed, category links kept as their names, then
strip_code and magic words removed: the method of the Hugging Face `wikipedia` dataset script that
RedPajama ran (English namespace names only).

Baseline for benchmarks/bench_sources.py; prints one JSON line: pages, characters written.
"""
from __future__ import annotations

import argparse
import bz2
import json
import re

import mwparserfromhell
from xml.etree import ElementTree

MEDIA = re.compile(r"^(?:File|Image|Media):", re.IGNORECASE)
CATEGORY = re.compile(r"^(?:Category):", re.IGNORECASE)
MAGIC = re.compile(r"__[A-Z]*__")


def clean_section(section) -> str:
    """One section's text: media links, <ref> and tables removed from it, category links reduced to
    their names, then strip_code (the tree is searched per removal, as the reproductions do)."""
    for link in section.ifilter_wikilinks(recursive=True):
        title = str(link.title)
        if MEDIA.match(title):
            try:
                section.remove(link)
            except ValueError:  # already gone with an enclosing node
                pass
        elif CATEGORY.match(title):
            link.text = CATEGORY.sub("", link.__strip__())
    for tag in section.ifilter_tags(matches=lambda t: str(t.tag) in ("ref", "table"), recursive=True):
        try:
            section.remove(tag)
        except ValueError:
            pass
    return MAGIC.sub("", section.strip_code().strip())


def clean(raw: str) -> str:
    """Wikitext to text, section by section, sections joined by a blank line."""
    code = mwparserfromhell.parse(raw)
    return "\n\n".join(clean_section(s) for s in code.get_sections(flat=True, include_lead=True,
                                                                   include_headings=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", nargs="+")
    args = ap.parse_args()
    pages = chars = 0
    for path in args.dump:
        with bz2.open(path, "rb") as f:
            for _, elem in ElementTree.iterparse(f, events=("end",)):
                if not elem.tag.endswith("page"):
                    continue
                ns = elem.find("./{*}ns")
                text = elem.find("./{*}revision/{*}text")
                if (ns is not None and ns.text == "0" and elem.find("./{*}redirect") is None
                        and text is not None and text.text):
                    cleaned = clean(text.text)
                    if cleaned:
                        pages += 1
                        chars += len(cleaned)
                elem.clear()
    print(json.dumps({"pages": pages, "chars": chars}))


if __name__ == "__main__":
    main()
