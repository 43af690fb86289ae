"""Write the Stack Exchange fixture under tests/data/stackexchange/ (run from the repository root).

Three sites in the data dump's real layout (one `<row .../>` per line, entity-escaped attributes,
newlines inside them as `&#xA;`), each as `7z/<site>.7z` (Posts.xml plus one other table, written by
py7zr) and as `xml/<site>/Posts.xml`:
- unix.stackexchange.com (6 questions + answers): a question with three answers scored 9, 10 and -1
  (lists, inline code, a code block), an unanswered question with an escaped `&lt;b&gt;`, a tag wiki
  excerpt (PostTypeId 4) and its tag wiki (5), and an answer whose question is not in the dump;
- ru.stackoverflow.com (3), in Russian, with CRLF line ends and a byte order mark;
- unix.meta.stackexchange.com (8), larger than both but a meta site.
"""
from __future__ import annotations

import sys
from pathlib import Path

import py7zr

HERE = Path(__file__).resolve().parent / "stackexchange"
HEADER = '<?xml version="1.0" encoding="utf-8"?>'
LICENSE = "CC BY-SA 4.0"


def attr(value) -> str:
    """An attribute value escaped as the dump writes it."""
    text = str(value)
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#xD;"),
                         ("\n", "&#xA;")):
        text = text.replace(raw, escaped)
    return text


def row(**fields) -> str:
    return "  <row " + " ".join(f'{k}="{attr(v)}"' for k, v in fields.items() if v is not None) + " />"


def question(id, title, body, score, date, tags, accepted=None, answers=0):
    return row(Id=id, PostTypeId=1, AcceptedAnswerId=accepted, CreationDate=date, Score=score, ViewCount=100,
               Body=body, OwnerUserId=7, LastActivityDate=date, Title=title, Tags=tags, AnswerCount=answers,
               CommentCount=0, ContentLicense=LICENSE)


def answer(id, parent, body, score, date):
    return row(Id=id, PostTypeId=2, ParentId=parent, CreationDate=date, Score=score, Body=body, OwnerUserId=8,
               LastActivityDate=date, CommentCount=0, ContentLicense=LICENSE)


UNIX = [
    question(1, "Listing files & directories",
             "<p>How do I list files?</p>\n<ul>\n<li>in bash</li>\n<li>in zsh</li>\n</ul>\n", 5,
             "2010-08-10T15:43:21.437", "<bash><ls>", accepted=3, answers=3),
    answer(2, 1, "<p>Use <code>ls -la</code>.</p>\n", 9, "2010-08-10T15:50:00.000"),
    answer(3, 1, "<p>Use <code>find . -maxdepth 1</code>.</p>\n"
                 "<pre><code>find . -maxdepth 1 -type f\nfind . -maxdepth 1 -type d\n</code></pre>\n",
           10, "2010-08-10T16:02:11.120"),
    answer(4, 1, "<p>Just guess.</p>\n", -1, "2010-08-11T09:00:00.000"),
    question(5, "Bold tags in my terminal", "<p>Why does &lt;b&gt; show up literally in my prompt?</p>\n", 2,
             "2011-02-03T04:05:06.789", "<terminal>"),
    row(Id=6, PostTypeId=4, CreationDate="2011-03-01T00:00:00.000", Score=0,
        Body="<p>The Bourne Again SHell.</p>\n", CommentCount=0, ContentLicense=LICENSE),
    row(Id=7, PostTypeId=5, CreationDate="2011-03-01T00:00:00.000", Score=0,
        Body="<p><strong>Bash</strong> is a shell.</p>\n<ol>\n<li>interactive</li>\n</ol>\n", CommentCount=0,
        ContentLicense=LICENSE),
    answer(8, 99, "<p>An answer to a deleted question.</p>\n", 1, "2012-01-01T00:00:00.000"),
]

RU = [
    question(10, "Как отсортировать список?", "<p>Есть список <code>[3, 1, 2]</code>.</p>\n", 4,
             "2015-05-05T10:00:00.000", "<python><список>", answers=1),
    answer(11, 10, "<p>Используйте <code>sorted()</code>:</p>\n<pre><code>sorted([3, 1, 2])\n</code></pre>\n", 6,
           "2015-05-05T10:10:00.000"),
    question(12, "Что такое &?", "<p>Что значит <em>амперсанд</em>?</p>\n", 0, "2016-06-06T06:06:06.000",
             "<c++>"),
]

META = [question(20 + 2 * i, f"Feature request {i}", f"<p>Please add feature {i}.</p>\n", i,
                 f"2013-0{i + 1}-01T00:00:00.000", "<feature-request>", answers=1) for i in range(4)] + \
       [answer(21 + 2 * i, 20 + 2 * i, f"<p>Declined {i}.</p>\n", -i, f"2013-0{i + 1}-02T00:00:00.000")
        for i in range(4)]

SITES = {"unix.stackexchange.com": (UNIX, "\n", False), "ru.stackoverflow.com": (RU, "\r\n", True),
         "unix.meta.stackexchange.com": (META, "\n", False)}


def posts_xml(rows: list[str], newline: str, bom: bool = False) -> bytes:
    data = newline.join([HEADER, "<posts>", *rows, "</posts>"]).encode("utf-8") + newline.encode()
    return b"\xef\xbb\xbf" + data if bom else data


def tags_xml(newline: str) -> bytes:
    rows = ['  <row Id="1" TagName="bash" Count="1" />', '  <row Id="2" TagName="ls" Count="1" />']
    return newline.join([HEADER, "<tags>", *rows, "</tags>"]).encode("utf-8") + newline.encode()


def write_7z(path: Path, members: dict[str, bytes]) -> None:
    """A 7z archive of in-memory members, in the order given (one solid LZMA2 block)."""
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 6}]) as archive:
        for name, data in members.items():
            archive.writestr(data, name)


def main(out: Path = HERE) -> None:
    for site, (rows, newline, bom) in SITES.items():
        data = posts_xml(rows, newline, bom)
        folder = out / "xml" / site
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Posts.xml").write_bytes(data)
        (out / "7z").mkdir(parents=True, exist_ok=True)
        write_7z(out / "7z" / f"{site}.7z", {"Tags.xml": tags_xml(newline), "Posts.xml": data})
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
