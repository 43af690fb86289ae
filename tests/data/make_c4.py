"""Write the C4 test fixtures under tests/data/c4/:

- c4-train.00000-of-01024.json.gz: three records in the allenai/c4 schema (text, timestamp, url),
  one with non-ASCII text and an escaped URL, so the import can be checked byte for byte;
- CC-MAIN-c4-test.warc.wet.gz: a WET file of planted records, each triggering one TFDS C4 rule
  (PLANTED says which), written with the WET writer of ../shared/bench/make_wet_corpus.py (the one
  tests/data/make_sample.py runs); page text is real English from tests/data/reference/en.txt.gz
  (and real French from fr.txt.gz for the not-English page);
- badwords_test.txt: a five-word bad-words list for `--badwords`.
Run from the repository root:  .venv/bin/python tests/data/make_c4.py
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "c4"
WRITER = HERE.parents[2] / "shared" / "bench" / "make_wet_corpus.py"
WET_NAME = "CC-MAIN-c4-test.warc.wet.gz"
JSON_NAME = "c4-train.00000-of-01024.json.gz"
TEST_BADWORDS = ("heck", "bloody", "darn", "crikey", "blimey")
BOILERPLATE = "Subscribe to our newsletter to get the latest articles delivered to your inbox."
BAD_SUBSTRINGS = ("{", "javascript", "lorem ipsum", "terms of use", "privacy policy", "cookie", "[", "...")

JSON_RECORDS = [
    {"text": "Beginners BBQ Class Taking Place in Missoula!\nDo you want to get better at making delicious BBQ? "
             "You will have the opportunity, put this on your calendar now.",
     "timestamp": "2019-04-25T12:57:54Z", "url": "https://klyq.com/beginners-bbq-class-taking-place-in-missoula/"},
    {"text": "Caf\u00e9 cr\u00e8me \u2014 \u201cquoted\u201d text with a tab\there and trailing spaces  \n\n"
             "A second paragraph after an empty line.",
     "timestamp": "2019-04-21T10:07:13Z", "url": "https://example.org/caf%C3%A9?q=1&x=\u00e9"},
    {"text": "Foil plaid lycra and spandex shortall with metallic slinky insets.",
     "timestamp": "2019-04-25T10:40:23Z", "url": "http://www.example.com/shop/shortall"},
]

# url -> what happens to the page with the default config and --badwords badwords_test.txt
PLANTED = {
    "https://good.example.com/one": "kept",
    "https://good.example.com/two": "kept",
    "https://rules.example.com/long-word": "kept",
    "https://rules.example.com/citations": "kept",
    "https://rules.example.com/ellipsis": "kept",
    "https://rules.example.com/short-line": "kept",
    "https://rules.example.com/lorem": "lorem_ipsum",
    "https://rules.example.com/javascript": "kept",
    "https://rules.example.com/code": "curly_bracket",
    "https://rules.example.com/cookies": "kept",
    "https://rules.example.com/two-sentences": "too_few_sentences",
    "https://fr.example.com/page": "not_english",
    "https://rules.example.com/badword": "badwords",
    "http://www.x.com/a?utm_source=1": "duplicate_url",
    "https://x.com/a/": "kept",
    "https://rules.example.com/huge": "too_long_page",
    "https://rules.example.com/empty": "empty_text",
    "https://copy.example.com/mirror": "empty_after_dedup",
}
# the line each rule page cuts (line:<rule>), checked by the tests
PLANTED_LINES = {
    "https://rules.example.com/long-word": "line:too_long_word",
    "https://rules.example.com/ellipsis": "line:no_endmark",
    "https://rules.example.com/short-line": "line:too_short",
    "https://rules.example.com/javascript": "line:javascript",
    "https://rules.example.com/cookies": "line:policy",
}
SHORT_LINE = "Read the short summary."  # 4 words: cut at the default 5, kept with --min-words-per-line 3
FOUR_SENTENCE_PAGE = "https://rules.example.com/four-sentences"  # kept at 3, dropped with --min-sentences 5
PLANTED[FOUR_SENTENCE_PAGE] = "kept"


def _writer():
    spec = importlib.util.spec_from_file_location("make_wet_corpus", WRITER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_wet_corpus"] = module
    spec.loader.exec_module(module)
    return module


def sentences(lang: str) -> list[str]:
    """Real sentences of the bundled reference text (one Punkt sentence of 8 to 30 words, ending with a
    period, none of the words C4's rules look for), in file order, each once."""
    import punkt

    tokenizer = punkt.tokenizer_for("english")
    text = gzip.decompress((HERE / "reference" / f"{lang}.txt.gz").read_bytes()).decode("utf-8")
    bad = re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(TEST_BADWORDS)))
    out, seen = [], set()
    for line in text.splitlines():
        line = line.strip()
        low = line.lower()
        if (8 <= len(line.split()) <= 30 and line.endswith(".") and not any(b in low for b in BAD_SUBSTRINGS)
                and not bad.search(low) and low not in seen and len(tokenizer.tokenize(line)) == 1):
            seen.add(low)
            out.append(line)
    return out


def pages() -> list[tuple[str, str, str]]:
    """(url, date, text) of every planted WET record, in file order."""
    en = iter(sentences("en"))
    fr = iter(sentences("fr"))
    take = lambda n: [next(en) for _ in range(n)]  # noqa: E731
    one = take(4)
    out = [
        ("https://good.example.com/one", "2019-04-18T10:00:00Z",
         "\n".join([one[0], one[1], BOILERPLATE, one[2], "Content-Length hints in the body are skipped by C4.",
                    one[3], one[1]])),
        ("https://good.example.com/two", "2019-04-18T10:00:01Z", "\n".join([*take(3), BOILERPLATE])),
        ("https://rules.example.com/long-word", "2019-04-18T10:00:02Z",
         "\n".join([*take(3), "This line holds a token of " + "x" * 1001 + " characters."])),
        ("https://rules.example.com/citations", "2019-04-18T10:00:03Z",
         "\n".join([next(en)[:-1] + " [1].", next(en)[:-1] + "[edit].", next(en)])),
        ("https://rules.example.com/ellipsis", "2019-04-18T10:00:04Z",
         "\n".join([*take(3), "And then the story went on and on..."])),
        ("https://rules.example.com/short-line", "2019-04-18T10:00:05Z", "\n".join([*take(3), SHORT_LINE])),
        ("https://rules.example.com/lorem", "2019-04-18T10:00:06Z",
         "\n".join([*take(3), "Lorem ipsum dolor sit amet, consectetur adipiscing elit."])),
        ("https://rules.example.com/javascript", "2019-04-18T10:00:07Z",
         "\n".join([*take(3), "Please enable JavaScript in your browser to view this site."])),
        ("https://rules.example.com/code", "2019-04-18T10:00:08Z",
         "\n".join([*take(3), "The handler is written as function(){ return true; } in the page."])),
        ("https://rules.example.com/cookies", "2019-04-18T10:00:09Z",
         "\n".join([*take(3), "We use cookies to give you the best experience on our website."])),
        ("https://rules.example.com/two-sentences", "2019-04-18T10:00:10Z", "\n".join(take(2))),
        ("https://fr.example.com/page", "2019-04-18T10:00:11Z", "\n".join(next(fr) for _ in range(5))),
        ("https://rules.example.com/badword", "2019-04-18T10:00:12Z",
         "\n".join([*take(3), "Well, heck, that is not what the manual told us to expect."])),
        ("http://www.x.com/a?utm_source=1", "2019-04-18T10:00:13Z", "\n".join(take(3))),
        ("https://x.com/a/", "2019-04-20T08:00:00Z", "\n".join(take(3))),
        ("https://rules.example.com/huge", "2019-04-18T10:00:14Z", "\n".join([next(en)] * 2000)),
        ("https://rules.example.com/empty", "2019-04-18T10:00:15Z", ""),
        ("https://copy.example.com/mirror", "2019-04-18T10:00:16Z", "\n".join([one[0], one[2], one[3]])),
        (FOUR_SENTENCE_PAGE, "2019-04-18T10:00:17Z", "\n".join([*take(4), SHORT_LINE])),
    ]
    assert [u for u, _, _ in out] == list(PLANTED), "PLANTED and the pages disagree"
    return out


def write_json(path: Path) -> None:
    """The allenai/c4 file: one JSON object a line, as the published files hold them."""
    data = "".join(json.dumps(r) + "\n" for r in JSON_RECORDS).encode("utf-8")
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
        g.write(data)


def write_wet_file(path: Path) -> None:
    """The planted WET file, through make_wet_corpus.write_wet (seeded record ids)."""
    writer = _writer()
    rng = random.Random(4)
    records = [{"url": url, "date": date, "text": text, "id": f"<urn:uuid:c4-test-{i:04d}>",
                "refers_to": f"<urn:uuid:c4-test-response-{i:04d}>"} for i, (url, date, text) in enumerate(pages())]
    writer.write_wet(str(path), WET_NAME, records, rng, "CC-MAIN-c4-test")


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / JSON_NAME)
    write_wet_file(out / WET_NAME)
    (out / "badwords_test.txt").write_text("\n".join(TEST_BADWORDS) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
