"""Reference URLs of a Wikipedia page, and the normalised URL that joins them with crawled pages.

Two extractors over one page's wikitext:
- `parser_urls`: mwparserfromhell; every `<ref …>…</ref>` tag whatever its attributes, taking its
  external links and the `url=` / `archive-url=` parameters of templates inside it.
- `redpajama_urls`: RedPajama v1's `data_prep/cc/classifier/extract_urls.py` exactly: its two regexes
  on the page text as the dump file spells it (XML-escaped, `"` as `&quot;`), one line at a time.
  That script's bugs come along on purpose: one greedy match per line, a named `<ref name=…>` never
  matches, and a URL right before `</ref>` keeps a trailing `&lt` (the regex allows `&`, `l`, `t`).
"""
from __future__ import annotations

import re
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Tag, Template

# RedPajama v1 extract_urls.py: the ref pattern and the URL pattern, unchanged.
RP_REF = re.compile("&lt;ref&gt(.*)&lt;/ref&gt;")
RP_URL = re.compile(r"\b(?:https?|telnet|gopher|file|wais|ftp):[\w/#~:.?+=&%@!\-.:?\\-]+?"
                    r"(?=[.:?\-]*(?:[^\w/#~:.?+=&%@!\-.:?\-]|$))")
URL_PARAMS = ("url", "archive-url", "archiveurl")
WEB_SCHEMES = ("http://", "https://", "ftp://", "//")
# Query parameters that name the referrer or campaign, not the page (C4's normalize_url drops
# utm_*; `ref` and `feed` are the other two SOURCES.md 1(c) names).
TRACKING = re.compile(r"^(utm_[a-z_]*|ref|feed)$", re.IGNORECASE)


def dump_escape(text: str) -> str:
    """Wikitext as a pages-articles dump file writes it inside <text>: &, <, > and " escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def redpajama_urls(text: str) -> list[str]:
    """RedPajama's URLs of one page, in order (duplicates kept): per escaped line, the first greedy
    `&lt;ref&gt…&lt;/ref&gt;` match, then every URL the second regex finds in the whole match."""
    urls: list[str] = []
    for line in dump_escape(text).split("\n"):
        m = RP_REF.search(line)
        if m:
            urls.extend(RP_URL.findall(m.group(0)))
    return urls


def _ref_urls(ref: Tag) -> Iterator[str]:
    if ref.contents is None:
        return
    for node in ref.contents.ifilter(recursive=True):
        if isinstance(node, ExternalLink):
            yield str(node.url).strip()
        elif isinstance(node, Template):
            for param in node.params:
                if str(param.name).strip().lower() in URL_PARAMS:
                    yield str(param.value).strip()


def parser_urls(text: str) -> list[str]:
    """Distinct web URLs cited inside the page's <ref> tags, in order of appearance."""
    seen: dict[str, None] = {}
    code = mwparserfromhell.parse(text)
    for tag in code.ifilter_tags(recursive=True):
        if str(tag.tag).strip().lower() != "ref":
            continue
        for url in _ref_urls(tag):
            if url.lower().startswith(WEB_SCHEMES) and url not in seen:
                seen[url] = None
    return list(seen)


def url_norm(url: str) -> str:
    """The join key of a URL: scheme and host lowercased, `www.` and the fragment dropped, utm_*/ref/
    feed query parameters dropped, no trailing `/`; "" for what is not a URL with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    if host.startswith("www."):
        host = host[4:]
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)])
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, query, "")).rstrip("/")
