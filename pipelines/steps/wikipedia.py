"""The Wikipedia pipeline's config, wikitext cleaner, named steps and recipe (no Beam).

Recipe: not_article (namespace other than 0), redirect, empty_text, the cleaner (a page that
mwparserfromhell cannot handle drops as parser_error; the markup it removes is counted under
`markup`), empty_after_clean. The cleaner follows the Hugging Face `wikipedia.py` script that
RedPajama used (mwparserfromhell `strip_code`, media links and <ref>/table tags removed, magic
words removed) with the changes llamapipe's issue asks for: category links are removed too, bare
URLs are removed, headings are their own line without the trailing space HF leaves, and a heading
whose section ends up empty (e.g. "References") is dropped.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

import mwparserfromhell
from mwparserfromhell.definitions import is_visible
from mwparserfromhell.nodes import Comment, ExternalLink, Heading, Tag, Template, Text, Wikilink
from mwparserfromhell.smart_list import SmartList
from mwparserfromhell.wikicode import Wikicode

from corpus.counters import Counters, Units
from pipelines.steps import checks
from pipelines.steps.chain import Batch, Filter, Step, drop_where_not

# The 20 languages of LLaMA's Wikipedia (Touvron et al. 2023, section 2.1).
LLAMA_LANGS = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu", "it", "nl", "pl", "pt", "ro", "ru",
               "sl", "sr", "sv", "uk")
DEFAULT_STREAMS_PER_UNIT = 50

# Namespace names every wiki accepts, then each language's own names and aliases for the File (6)
# and Media (-2) namespaces, and for Category (14). Data: the 20 entries of MEDIA_ALIASES and
# CAT_ALIASES in the Hugging Face datasets `wikipedia.py` script, which collected them from each
# wiki's siteinfo API (siprop=namespacealiases|namespaces, 21 December 2021).
MEDIA_PREFIXES = ("File", "Image", "Media")
CATEGORY_PREFIXES = ("Category",)
MEDIA_ALIASES = {
    "bg": ["Медия", "Файл", "Картинка"],
    "ca": ["Fitxer", "Imatge"],
    "cs": ["Soubor", "Média", "Obrázok"],
    "da": ["Billede", "Fil"],
    "de": ["Medium", "Datei", "Bild"],
    "en": [],
    "es": ["Medio", "Archivo", "Imagen"],
    "fr": ["Média", "Fichier"],
    "hr": ["Mediji", "DT", "Slika", "F", "Datoteka"],
    "hu": ["Kép", "Fájl", "Média"],
    "it": ["Immagine"],
    "nl": ["Bestand", "Afbeelding"],
    "pl": ["Plik", "Grafika"],
    "pt": ["Multimédia", "Ficheiro", "Arquivo", "Imagem"],
    "ro": ["Fişier", "Imagine", "Fișier"],
    "ru": ["Медиа", "Файл", "Изображение"],
    "sl": ["Slika", "Datoteka"],
    "sr": ["Датотека", "Medij", "Slika", "Медија", "Datoteka", "Медиј", "Medija", "Слика"],
    "sv": ["Fil", "Bild"],
    "uk": ["Медіа", "Медиа", "Файл", "Изображение", "Зображення"],
}
CATEGORY_ALIASES = {
    "bg": ["Категория"],
    "ca": ["Categoria"],
    "cs": ["Kategorie"],
    "da": ["Kategori"],
    "de": ["Kategorie"],
    "en": [],
    "es": ["CAT", "Categoría"],
    "fr": ["Catégorie"],
    "hr": ["CT", "KT", "Kategorija"],
    "hu": ["Kategória"],
    "it": ["CAT", "Categoria"],
    "nl": ["Categorie"],
    "pl": ["Kategoria"],
    "pt": ["Categoria"],
    "ro": ["Categorie"],
    "ru": ["Категория", "К"],
    "sl": ["Kategorija"],
    "sr": ["Kategorija", "Категорија"],
    "sv": ["Kategori"],
    "uk": ["Категория", "Категорія"],
}
REMOVED_TAGS = frozenset({"ref", "table"})
MAGIC_WORD = re.compile(r"__([^\W\d_]+(?:_[^\W\d_]+)*)__")
SPACES = re.compile(r"[ \t]+")
# What a removed node leaves behind until the text is tidied (a private-use character; any in the
# page itself are dropped first).
REMOVED = "\ue000"


def has_alias_table(lang: str) -> bool:
    """Whether the cleaner knows this language's own media and category namespace names."""
    return lang in MEDIA_ALIASES


def _prefix_pattern(names) -> re.Pattern:
    alternatives = "|".join(re.escape(n) for n in sorted(set(names), key=lambda n: (-len(n), n)))
    return re.compile(rf"^\s*(?:{alternatives})\s*:", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Namespaces:
    """Link-title patterns of the media and category namespaces of one language's wiki."""

    media: re.Pattern
    category: re.Pattern

    @classmethod
    def of(cls, lang: str) -> "Namespaces":
        """English names plus `lang`'s aliases (English names only for a language without a table)."""
        return cls(_prefix_pattern(MEDIA_PREFIXES + tuple(MEDIA_ALIASES.get(lang, ()))),
                   _prefix_pattern(CATEGORY_PREFIXES + tuple(CATEGORY_ALIASES.get(lang, ()))))

    def removes(self, node) -> bool:
        """Whether the cleaner deletes this node outright: media and category links, <ref> and table
        tags, bare URLs (bracketed links keep their text), and what strip_code drops anyway (templates,
        comments, tags whose content is not shown, such as <gallery> and <math>) so that a line holding
        only these goes too."""
        if isinstance(node, Wikilink):
            title = str(node.title)
            return bool(self.media.match(title) or self.category.match(title))
        if isinstance(node, Tag):
            tag = str(node.tag).strip().lower()
            return tag in REMOVED_TAGS or not is_visible(tag)
        if isinstance(node, ExternalLink):
            return not node.brackets
        return isinstance(node, (Template, Comment))


def _drop_magic(match: re.Match) -> str:
    return REMOVED if match.group(1).isupper() else match.group(0)


def _tidy(text: str) -> str:
    """Magic words removed, lines that held only removed markup deleted, each line stripped with inner
    runs of spaces made one, runs of blank lines made one, no blank line at either end."""
    out: list[str] = []
    for line in text.split("\n"):
        line = MAGIC_WORD.sub(_drop_magic, line)
        if REMOVED in line and not line.replace(REMOVED, "").strip():
            continue
        line = SPACES.sub(" ", line.replace(REMOVED, "")).strip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _plain(nodes: list) -> str:
    return _tidy(Wikicode(SmartList(nodes)).strip_code())


def _mark_removed(code: Wikicode, namespaces: Namespaces) -> None:
    """Replace every node the cleaner removes, at any depth, by the REMOVED marker, in one walk of the
    tree (Wikicode.replace searches the whole tree on each call: quadratic on long pages)."""
    nodes = code.nodes
    for i, node in enumerate(nodes):
        if namespaces.removes(node):
            nodes[i] = Text(REMOVED)
        else:
            for child in node.__children__():
                _mark_removed(child, namespaces)


def clean_wikitext(raw: str, namespaces: Namespaces) -> str:
    """Plain text of a page's wikitext: link text kept; templates, comments, <ref>, tables, media and
    category links, bare URLs and magic words removed (a line that held only these goes, leaving no
    blank line); each heading its own line (text only), a blank line between sections, headings of
    sections left empty dropped. Raises mwparserfromhell's ParserError where it cannot parse."""
    code = mwparserfromhell.parse(raw.replace(REMOVED, ""))
    _mark_removed(code, namespaces)
    sections: list[tuple[int, str]] = []
    body: list = []
    for node in code.nodes:
        if isinstance(node, Heading):
            sections.append((0, _plain(body)))
            sections.append((node.level, _tidy(node.title.strip_code()).replace("\n", " ")))
            body = []
        else:
            body.append(node)
    sections.append((0, _plain(body)))
    return _join_sections(sections)


def _join_sections(items: list[tuple[int, str]]) -> str:
    """Headings (level > 0) and bodies (level 0) as text: a heading is kept when some text follows it
    before the next heading of its level or higher; each heading starts a block after a blank line."""
    blocks: list[str] = []
    for i, (level, text) in enumerate(items):
        if not text:
            continue
        if level == 0:
            if blocks and blocks[-1].endswith("\n"):
                blocks[-1] += text
            else:
                blocks.append(text)
            continue
        for later_level, later_text in items[i + 1:]:
            if later_level and later_level <= level:
                break
            if not later_level and later_text:
                blocks.append(text + "\n")
                break
    return "\n\n".join(b.rstrip("\n") for b in blocks)


@dataclasses.dataclass
class CleanWikitext:
    """Replaces each page's raw wikitext with its plain text (clean_wikitext): the characters and
    lines removed count under `name`; a page the parser fails on is dropped as `failed`. The page's
    ns and redirect flags (read by the filters before) leave its meta here."""

    name: str = "markup"
    failed: str = "parser_error"

    def __post_init__(self):
        self.namespaces: dict[str, Namespaces] = {}

    def __call__(self, batch: Batch, counters: Counters) -> Batch:
        keep = []
        for i, doc in enumerate(batch.docs):
            lang = doc.lang or "en"
            if lang not in self.namespaces:
                self.namespaces[lang] = Namespaces.of(lang)
            try:
                text = clean_wikitext(doc.text, self.namespaces[lang])
            except (mwparserfromhell.parser.ParserError, RecursionError):
                keep.append(False)
                continue
            keep.append(True)
            before, after = batch.units[i], Units.of(text)
            counters.drop(self.name, Units(0, before.lines - after.lines, before.chars - after.chars))
            doc.text = text
            doc.meta.pop("ns", None)
            doc.meta.pop("redirect", None)
            batch.units[i] = after
        return drop_where_not(self.failed, batch, keep, counters)


@dataclasses.dataclass(frozen=True)
class WikipediaConfig:
    """Everything that decides a wikipedia run's output: the same config gives the same bytes.

    `files` are the expanded, sorted dump files; `unreadable` those (by index) that cannot be opened,
    counted as malformed; `units` the plan, (file index, start, end) byte ranges in output order;
    `dump_langs` each file's language (from its name), checked against `langs`.
    """

    files: tuple[str, ...] = ()
    out: str = ""
    langs: tuple[str, ...] = LLAMA_LANGS
    streams_per_unit: int = DEFAULT_STREAMS_PER_UNIT
    strict: bool = False
    unreadable: tuple[tuple[int, str], ...] = ()
    units: tuple[tuple[int, int, int], ...] = ()
    dump_langs: tuple[str, ...] = ()
    unindexed: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "langs", checks.languages("--langs", self.langs))
        checks.at_least("--streams-per-unit", self.streams_per_unit, 1)
        if self.dump_langs and len(self.dump_langs) != len(self.files):
            raise checks.ConfigError(f"dump_langs gives {len(self.dump_langs)} languages for {len(self.files)} files")
        for path, lang in zip(self.files, self.dump_langs):
            if lang not in self.langs:
                raise checks.ConfigError(f"{path} is a '{lang}' Wikipedia dump, and '{lang}' is not in --langs "
                                         f"({','.join(self.langs)}); add it or leave the file out")
        for file_idx, start, end in self.units:
            if not (0 <= file_idx < len(self.files) and 0 <= start <= end):
                raise checks.ConfigError(f"unit ({file_idx}, {start}, {end}) is not a byte range of an input file")

    def run_info(self) -> dict:
        """The run section of `_stats.json`."""
        return {"files": len(self.files), "langs": list(self.langs), "streams_per_unit": self.streams_per_unit,
                "units": len(self.units), "files_without_index": len(self.unindexed)}


def recipe(cfg: Optional[WikipediaConfig] = None) -> list[Step]:
    """The Wikipedia chain: not_article, redirect, empty_text, the cleaner (markup / parser_error),
    empty_after_clean. `cfg` is taken for the shape every recipe shares; no step depends on it yet."""
    return [Filter("not_article", lambda b: [d.meta.get("ns") == 0 for d in b.docs]),
            Filter("redirect", lambda b: [not d.meta.get("redirect") for d in b.docs]),
            Filter("empty_text", lambda b: [bool(d.text.strip()) for d in b.docs]),
            CleanWikitext(),
            Filter("empty_after_clean", lambda b: [bool(d.text.strip()) for d in b.docs])]
