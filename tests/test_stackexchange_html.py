"""The Stack Exchange body cleaner (`html_text`, lxml parse events) gives exactly the text of
BeautifulSoup(html, "lxml").get_text() (`soup_text`, RedPajama's cleaning and the reference) on
every body of the fixture, on a few MB of generated varied HTML read back through a real Posts.xml,
and on hand-written hard cases; it is safe across threads and at least 3x faster."""
from __future__ import annotations

import importlib.util
import random
import threading
import time
from pathlib import Path

from corpus.stackexchange_dump import Post, read_posts
from pipelines.steps import stackexchange
from pipelines.steps.stackexchange import _LI_OPEN, clean_html, html_text, soup_text

DATA = Path(__file__).parent / "data" / "stackexchange"


def _maker():
    spec = importlib.util.spec_from_file_location("make_stackexchange", Path(__file__).parent / "data" /
                                                  "make_stackexchange.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _maker()

HARD_CASES = [
    "", " ", "\n", "\n\n \t\n", "\r\n", "\ufeff", "\ufeff<p>bom</p>", "x\ufeffy", "only text, no markup",
    "README.md", "https://unix.stackexchange.com/q/1",
    # entities, and newlines written as &#xA; (the dump's escape, once more inside the HTML)
    "<p>a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39; &nbsp;g&#160;h</p>", "a&#xA;b&#10;c&#xD;d&#13;e",
    "a\nb", "&bogus; &amp &#; &#x; &#0; &#xD800; &#x110000; &#128512; &copy &copy; &", "&lt;b&gt;bold?&lt;/b&gt;",
    # comments, CDATA, processing instructions, doctypes, declarations
    "<p>a</p>  <!-- c -->  <p>b</p>", "a<!---->b", "<!-- unclosed comment", "<![CDATA[ a<b ]]>z",
    "<?php echo 1 ?>x", "<?xml version=\"1.0\"?><p>x</p>", "<!DOCTYPE html><p>x</p>", "<!ELEMENT x>y",
    # tags whose strings BeautifulSoup does not count as text, and those keeping whitespace
    "<script>var a = '<b>';</script>t", "<style>p { color: red }</style> <p> </p>", "<template><p>x</p></template>y",
    "<ruby>漢<rt>kan</rt><rp>(</rp>字</ruby>", "<rt> </rt>a", "<noscript> x </noscript>",
    "<pre>  \n  </pre>", "<pre> </pre><p> </p>", "<textarea>  </textarea>", "<pre>a<script>x</script> </pre>",
    "<pre><code>a &lt; b &amp;&amp; c\n\n\n  d\n</code></pre>\n\n<p>after</p>",
    "<pre><code>\n<b>x</b>  \n\n</code></pre>", "<xmp><b></xmp>", "<plaintext><b>x", "<title> t </title><p>x",
    # line breaks and rules, lists, tables, block quotes
    "<br>a<br/>b<br />c<hr>d", "<ul><li><ul><li>x</li> <li>y</li></ul></li>\n<li>z</li></ul>",
    "<ol start=\"3\">\n<li value=\"7\">one</li>\n<li>two\n</ol>", "<li>outside a list", "<table><tr><td>1</td> "
    "<td>2</td></tr>\n<tr><th>h</th></tr></table>", "<blockquote>\n<p>q</p>\n</blockquote>",
    # malformed markup
    "<b><i>x</b></i>", "<p>a<p>b<p>", "</p>", "</div>x</span>", "<div", "<a href='x", "<a href=\"x\">l",
    "a < b > c", "1 <2 and 3> 2", "<3 <<>> <<<", "< p>not a tag</ p>", "<p/>x<p />y", "<html><body> </body></html>",
    "<head> <meta charset=\"latin-1\"> </head> <body> y", "<frameset> <frame> </frameset>z",
    "<select><option>a</option> <option>b</option></select>", "<svg:rect>x</svg:rect>",
    "<math><mi>x</mi> <mo>+</mo></math>", "<iframe><b>x</b></iframe>", "<body><body>x", "</body>after",
    # scripts, symbols and control characters
    "😀 👍🏽 🇺🇸", "<p>مرحبا بالعالم</p> <p>שלום עולם</p>", "\u202ertl override\u202c", "日本語<b>テキスト</b>",
    "a\x00b", "\x00\x00<p>a</p>", "a\x0bb\x0cc\x7fd\x85e\u2028f\u2029g", "\t<p>\t</p>\t", "\xa0<p>\xa0</p>\xa0",
    "a\u200bb\u200d", "<p>\r\n  x\r\n</p>\r\n",
]

# Pieces of generated bodies: the tags Stack Exchange allows in posts and many it does not.
TAGS = ["p", "b", "i", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "h1", "h2", "h3",
        "div", "span", "sup", "sub", "kbd", "del", "strike", "s", "table", "tr", "td", "th", "dl", "dt", "dd",
        "script", "style", "template", "textarea", "rt", "rp", "ruby", "noscript", "title", "head", "body",
        "html", "select", "option", "svg", "math", "font", "center", "details", "summary"]
VOID = ["br", "hr", "img src=\"a.png\" alt=\"x\"", "br/", "input", "meta charset=\"utf-8\"", "wbr"]
WORDS = ["find", "ls -la", "x < y", "a > b", "tom & jerry", "Как", "отсортировать", "مرحبا", "שלום", "日本語", "😀",
         "naïve", "Größe", "\u202e", "\x0b", "\x7f", "\u2028", "\xa0"]
SPACE = [" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "\x0c", ""]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;", "&#xA;", "&#10;", "&#x1F600;", "&copy;",
            "&bogus;", "&", "&#;", "&amp;amp;"]
ODD = ["<!-- comment -->", "<!---->", "<![CDATA[c<d]]>", "<?pi x?>", "<!DOCTYPE html>", "<", ">", "<3", "</>",
       "</p>", "</li>", "</pre>", "</script>", "<li>", "<p", "<a href=\"x>y\">"]
NOT_IN_XML = {0x0b: " ", 0x0c: " "}  # characters a real Posts.xml cannot hold (XML 1.0)
LI_ATTRS = ["", " class=\"x\"", " value='2'"]


def _fragment(rng: random.Random, depth: int) -> str:
    """Random HTML: nested elements (some left open, some closed twice), text, entities, odd markup."""
    out = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.3 and depth < 5:
            tag = rng.choice(TAGS)
            attrs = rng.choice(["", " class=\"x\"", " href=\"https://e.com/?a=1&amp;b=2\"", " title='&lt;t&gt;'"])
            close = rng.choice([f"</{tag}>"] * 6 + ["", f"</{tag}></{tag}>", f"</{rng.choice(TAGS)}>"])
            out.append(f"<{tag}{attrs}>{_fragment(rng, depth + 1)}{close}")
        elif r < 0.4:
            out.append(f"<{rng.choice(VOID)}>")
        elif r < 0.5:
            out.append(rng.choice(ENTITIES))
        elif r < 0.58:
            out.append(rng.choice(ODD))
        elif r < 0.75:
            out.append(rng.choice(SPACE))
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))))
        out.append(rng.choice(SPACE))
    return "".join(out)


def _generated_bodies(seed: int, total_chars: int) -> list[str]:
    """Post-like bodies (paragraphs, code blocks, lists) mixed with random markup, about `total_chars`."""
    rng = random.Random(seed)
    bodies, size = [], 0
    while size < total_chars:
        parts = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.3:
                parts.append(f"<p>{_fragment(rng, 3)}</p>")
            elif kind < 0.45:
                code = "\n".join(f"    $ cmd --flag {rng.randrange(100)} &amp;&amp; echo &lt;{i}&gt;"
                                 for i in range(rng.randint(1, 6)))
                parts.append(f"<pre><code>{code}{rng.choice(['', chr(10), chr(10) * 3])}</code></pre>")
            elif kind < 0.6:
                items = "\n".join(f"<li{rng.choice(LI_ATTRS)}>{_fragment(rng, 4)}</li>"
                                  for _ in range(rng.randint(1, 4)))
                parts.append(f"<{rng.choice(['ul', 'ol'])}>\n{items}\n</{rng.choice(['ul', 'ol'])}>")
            else:
                parts.append(_fragment(rng, 0))
        body = rng.choice(["", "\ufeff", " ", "\n"]) + "\n".join(parts) + rng.choice(["", "\n", "\n\n"])
        bodies.append(body)
        size += len(body)
    return bodies


def _fixture_texts() -> list[str]:
    """Every body (and title + body, as redpajama cleans it) of the fixture's Posts.xml files."""
    texts = []
    for path in sorted((DATA / "xml").glob("*/Posts.xml")):
        for post in read_posts(str(path)):
            assert isinstance(post, Post), post
            texts += [post.body, post.raw_text()]
    return texts


def _same_as_soup(texts: list[str], monkeypatch) -> None:
    """html_text and clean_html of each text equal BeautifulSoup's, on lxml's events alone: with the
    fallback to BeautifulSoup (for markup lxml rejects) made to fail, so it cannot hide a difference."""
    expected = [soup_text(t) for t in texts]
    listed = [soup_text(_LI_OPEN.sub("\n*", t).replace("</li>", "")) for t in texts]

    def no_fallback(html: str) -> str:
        raise AssertionError(f"html_text fell back to BeautifulSoup on {html!r}")

    with monkeypatch.context() as patch:
        patch.setattr(stackexchange, "soup_text", no_fallback)
        for text, want, want_listed in zip(texts, expected, listed):
            assert html_text(text) == want, text
            assert clean_html(text) == want_listed, text


def test_every_fixture_body_cleans_exactly_as_beautifulsoup(monkeypatch):
    texts = _fixture_texts()
    assert len(texts) >= 30 and any("<pre><code>" in t for t in texts) and any("Как" in t for t in texts)
    _same_as_soup(texts, monkeypatch)


def test_hard_cases_clean_exactly_as_beautifulsoup(monkeypatch):
    _same_as_soup(HARD_CASES, monkeypatch)
    assert html_text("\ufeff<p>bom</p>") == "bom" and html_text("<script>x</script>t") == "t"
    assert html_text("<p>a</p>  <!-- c -->  <p>b</p>") == "a  b"  # two strings of spaces, each one " "
    assert html_text("<pre><code>a &lt; b\n\n\nc</code></pre>") == "a < b\n\n\nc"


def test_generated_bodies_through_a_real_posts_xml_clean_exactly_as_beautifulsoup(tmp_path, monkeypatch):
    bodies = _generated_bodies(seed=14, total_chars=3_000_000)
    _same_as_soup(bodies[:500], monkeypatch)  # with the control characters XML 1.0 cannot hold
    bodies = [b.translate(NOT_IN_XML) for b in bodies]
    rows = [MAKE.answer(i + 2, 1, body, 0, "2020-01-01T00:00:00.000") for i, body in enumerate(bodies)]
    xml = tmp_path / "gen.stackexchange.com" / "Posts.xml"
    xml.parent.mkdir()
    xml.write_bytes(MAKE.posts_xml(rows, "\n"))
    read = [p.body for p in read_posts(str(xml))]
    assert read == [b.replace("\t", " ") for b in bodies]  # XML normalizes a raw tab in an attribute
    assert sum(map(len, read)) > 2_500_000
    assert "&#xA;" in xml.read_text(encoding="utf-8") and any("\n" in b for b in read)
    _same_as_soup(read, monkeypatch)


def test_threads_each_get_the_same_text():
    bodies = _generated_bodies(seed=3, total_chars=200_000) + HARD_CASES
    expected = [soup_text(b) for b in bodies]
    results: dict[int, list[str]] = {}

    def work(k: int) -> None:
        results[k] = [html_text(b) for b in (bodies if k % 2 else bodies[::-1])]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, got in results.items():
        assert got == (expected if k % 2 else expected[::-1])
    assert len(results) == 4


def test_a_body_lxml_cannot_take_raises_as_beautifulsoup_does_and_the_next_body_is_fine():
    for cleaner in (html_text, soup_text):
        try:
            cleaner("a\ud800b")
        except UnicodeEncodeError:
            pass
        else:
            raise AssertionError(f"{cleaner.__name__} took a lone surrogate")
    assert html_text("<p>a</p>") == "a"


def test_html_text_is_at_least_three_times_faster_than_beautifulsoup():
    bodies = _fixture_texts() + _generated_bodies(seed=5, total_chars=300_000)

    def best(clean) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for b in bodies:
                clean(b)
            times.append(time.perf_counter() - start)
        return min(times)

    soup, fast = best(soup_text), best(html_text)
    assert fast * 3 < soup, (soup, fast)


def test_an_end_tag_closes_up_to_its_latest_open_tag_as_beautifulsoup_pops_its_stack():
    target = stackexchange._TextTarget()
    for event, *args in [("start", "pre", {}), ("start", "b", {}), ("data", "  "), ("end", "i"), ("data", "\t"),
                         ("end", "pre"), ("data", "  "), ("start", "script", {}), ("data", "x"), ("end", "b"),
                         ("data", "y"), ("end", "script"), ("data", " z ")]:
        getattr(target, event)(*args)
    # "  \t" kept inside <pre>; </i> closes nothing; </pre> closes <b> too, so "  " after it is one " ";
    # </b> inside <script> closes nothing, so "y" is still script
    assert target.close() == "  \t  z "
