"""Write the GitHub test fixtures: `github/github_000.json.gz`, rows as RedPajama's BigQuery export has
them (contents joined with files, licenses and languages), and `github/the-stack-000.parquet`, five
rows in The Stack v1 layout. Each row is planted for one rule; EXPECT says what happens to it (kept,
or the drop reason), keyed by (repo_name, path). gzip headers carry no name or time, so the bytes are
the same on every run. Run from the repository root:
    .venv/bin/python tests/data/make_github.py
`bigquery_row`, `write_jsonl_gz` and `stack_table` are also used by tests to build inputs at test time.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).parent / "github"

STRINGS_C = """/*
 * strings.c - small string helpers
 *
 * Copyright (c) 2020 Alice Example
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software, to deal in the Software without restriction.
 */
#include <stddef.h>
#include "strings.h"

/* Count how many times the character appears in the string. */
size_t count_character(const char *string, char wanted)
{
    size_t count = 0;
    for (; *string; string++)
        if (*string == wanted)
            count++;
    return count;
}

/* Reverse the first length characters of the string in place. */
void reverse_string(char *string, size_t length)
{
    for (size_t index = 0; index < length / 2; index++) {
        char saved = string[index];
        string[index] = string[length - 1 - index];
        string[length - 1 - index] = saved;
    }
}
"""

LIST_C = """/**
 * Singly linked list helpers used by the parser.
 */
#include <stdlib.h>

/* Copyright (c) 2018 Dave Example. All rights reserved.
 * Redistribution and use in source and binary forms are permitted. */

struct node { int value; struct node *next; };

struct node *list_push(struct node *head, int value)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        return head;
    n->value = value;
    n->next = head;
    return n;
}
"""

TOOL_PY = """#!/usr/bin/env python
# Copyright 2019 Erin Example
# Licensed under the Apache License, Version 2.0

\"\"\"Count the words of the files given on the command line.\"\"\"
import sys


def count_words(path):
    with open(path, encoding="utf-8") as handle:
        return sum(len(line.split()) for line in handle)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name, count_words(name))
"""

MIT_LICENSE = """MIT License

Copyright (c) 2020 Alice Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.
"""

MINIFIED_JS = "var app=function(){" + "".join(
    f"function f{i}(a,b){{return a*{i}+b-{i % 7};}}" for i in range(40)) + "return {f0:f0,f1:f1};}();\n"

ICON_JS = ("export default \"data:image/png;base64,"
           + "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAABHNCSVQICAgIfAhkiAAAAAlwSFlz" * 11 + "\";\n")

FONT_H = "static const unsigned char font8x8[] = {\n" + "".join(
    "    " + ", ".join(f"0x{(i * 37 + j * 11) % 256:02x}" for j in range(8)) + ",\n" for i in range(24)) + "};\n"

ART_MD = "\n".join(["+------+------+------+", "|  ::  |  ..  |  ==  |", "+------+------+------+"] * 4) + "\n"

MAIN_C_UPPER = """// main program of the legacy tool
#include <iostream>

int main()
{
    std::cout << "legacy build" << std::endl;
    return 0;
}
"""

MAKEFILE = """CC ?= cc
CFLAGS ?= -O2 -Wall

all: tool

tool: main.o strings.o
\t$(CC) $(CFLAGS) -o $@ $^

clean:
\trm -f tool *.o
"""

FOO_MAKEFILE = """# included by the top-level Makefile
install: tool
\tinstall -m 755 tool $(DESTDIR)/usr/bin/tool
"""

MAIN_JS = """function main() {
    console.log("hello from main");
}
main();
"""

CONFIG_SH = """# settings for the deploy script
# (none yet)

"""

APP_TS = """export interface Item {
    name: string;
    count: number;
}

export function total(items: Item[]): number {
    return items.reduce((sum, item) => sum + item.count, 0);
}
"""

LIB_RS = """/// Adds two numbers and returns their sum; the caller checks for overflow.
pub fn add_numbers(first: i64, second: i64) -> i64 {
    first + second
}

#[cfg(test)]
mod tests {
    /// The sum of two small numbers is what arithmetic says.
    #[test]
    fn adds_small_numbers() {
        assert_eq!(super::add_numbers(2, 3), 5);
    }
}
"""

MAIN_GO = """package main

import "fmt"

func main() {
\tfmt.Println("hello")
}
"""

README_RST = """Docs
====

This library formats tables for the terminal. Install it with pip and call
``render(rows)`` to get a string you can print.
"""


def git_blob_id(content: str) -> str:
    """git's SHA-1 of a blob with this content."""
    data = content.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def bigquery_row(repo: str, path: str, content: Optional[str], license: str = "mit",
                 ref: Optional[str] = "refs/heads/master", binary: bool = False,
                 symlink_target: Optional[str] = None) -> dict:
    """One row of RedPajama's BigQuery join (contents + files + licenses + languages); `id` is the git
    blob id of the content, as in github_repos.contents."""
    return {"id": git_blob_id(content or ""), "size": len((content or "").encode()), "content": content,
            "binary": binary, "copies": 1,
            "repo_name": repo, "ref": ref, "path": path, "mode": 33188, "symlink_target": symlink_target,
            "license": license, "language": [{"name": "C", "bytes": 1024}]}


# (row, what happens to it): "kept" or the drop reason.
BIGQUERY_ROWS = [
    (bigquery_row("bob/fork", "src/strings.c", STRINGS_C), "duplicate_content"),
    (bigquery_row("aaa/gpl-copy", "tool.py", TOOL_PY, "gpl-2.0"), "license_not_allowed"),
    (bigquery_row("alice/util", "src/strings.c", STRINGS_C), "kept"),
    (bigquery_row("gpl/tool", "main.c", MAIN_C_UPPER.replace("legacy", "gpl"), "gpl-3.0"), "license_not_allowed"),
    (bigquery_row("alice/util", "LICENSE", MIT_LICENSE), "root_license_file"),
    (bigquery_row("alice/util", "src/LICENSE", MIT_LICENSE.replace("2020", "2021")), "extension_not_whitelisted"),
    (bigquery_row("alice/util", "certs/cert.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
     "crt_file"),
    (bigquery_row("dave/lists", "lib/list.c", LIST_C, "bsd-3-clause", ref="refs/heads/main"), "kept"),
    (bigquery_row("erin/scripts", "tool.py", TOOL_PY, "apache-2.0", ref=None), "kept"),
    (bigquery_row("frank/web", "dist/app.min.js", MINIFIED_JS), "max_line_length"),
    (bigquery_row("frank/web", "src/icon.js", ICON_JS), "avg_line_length"),
    (bigquery_row("frank/web", "assets/art.md", ART_MD), "alnum_prop"),
    (bigquery_row("gina/fonts", "font8x8.h", FONT_H, "bsd-2-clause"), "alpha_token_ratio"),
    (bigquery_row("gina/legacy", "src/Main.C", MAIN_C_UPPER, "bsd-4-clause"), "kept"),
    (bigquery_row("gina/legacy", "web/main.JS", MAIN_JS, "bsd-4-clause"), "extension_not_whitelisted"),
    (bigquery_row("hal/build", "Makefile", MAKEFILE, "apache-2.0"), "kept"),
    (bigquery_row("hal/build", "tools/foo.Makefile", FOO_MAKEFILE, "apache-2.0"), "kept"),
    (bigquery_row("hal/build", "logo.png", None, "apache-2.0", binary=True), "binary"),
    (bigquery_row("hal/build", "docs/README.md", "", "apache-2.0", symlink_target="../README.md"), "symlink"),
    (bigquery_row("hal/build", "deploy/config.sh", CONFIG_SH, "apache-2.0"), "empty"),
]

STACK_ROWS = [
    ({"max_stars_repo_name": "carol/vendor", "max_stars_repo_path": "third_party/strings.c", "content": STRINGS_C,
      "max_stars_repo_licenses": ["MIT"], "ext": "c", "lang": "C"}, "duplicate_content"),
    ({"max_stars_repo_name": "ivy/app", "max_stars_repo_path": "src/app.ts", "content": APP_TS,
      "max_stars_repo_licenses": ["Apache-2.0"], "ext": "ts", "lang": "TypeScript"}, "kept"),
    ({"max_stars_repo_name": "jack/lib", "max_stars_repo_path": "src/lib.rs", "content": LIB_RS,
      "max_stars_repo_licenses": ["GPL-3.0-only", "MIT"], "ext": "rs", "lang": "Rust"}, "kept"),
    ({"max_stars_repo_name": "kim/x", "max_stars_repo_path": "x.go", "content": MAIN_GO,
      "max_stars_repo_licenses": ["GPL-2.0-only"], "ext": "go", "lang": "Go"}, "license_not_allowed"),
    ({"max_stars_repo_name": "lee/docs", "max_stars_repo_path": "README.rst", "content": README_RST,
      "max_stars_repo_licenses": ["BSD-2-Clause"], "ext": "rst", "lang": "reStructuredText"}, "kept"),
]

EXPECT = {**{(r["repo_name"], r["path"]): what for r, what in BIGQUERY_ROWS},
          **{(r["max_stars_repo_name"], r["max_stars_repo_path"]): what for r, what in STACK_ROWS}}


def write_jsonl_gz(path: Path, rows: list, extra_lines: tuple[str, ...] = ()) -> None:
    """Rows as gzip JSON lines (BigQuery's export format), `extra_lines` appended verbatim."""
    lines = [json.dumps(r, sort_keys=True) for r in rows] + list(extra_lines)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))


def stack_table(rows: list[dict]) -> pa.Table:
    """Rows in The Stack v1 column layout (hexsha, size, ext, lang, max_stars_*, content and its
    precomputed stats)."""
    full = []
    for r in rows:
        content = r["content"]
        lines = content.splitlines() or [""]
        full.append({"hexsha": git_blob_id(content),
                     "size": len(content.encode()), "ext": r["ext"], "lang": r["lang"],
                     "max_stars_repo_path": r["max_stars_repo_path"], "max_stars_repo_name": r["max_stars_repo_name"],
                     "max_stars_repo_head_hexsha": "9f1c2e" + "0" * 34,
                     "max_stars_repo_licenses": r["max_stars_repo_licenses"], "max_stars_count": 3,
                     "max_stars_repo_stars_event_min_datetime": "2021-03-01T10:00:00.000Z",
                     "content": content, "avg_line_length": sum(map(len, lines)) / len(lines),
                     "max_line_length": max(map(len, lines)),
                     "alphanum_fraction": sum(c.isalnum() for c in content) / max(1, len(content))})
    return pa.Table.from_pylist(full)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write_jsonl_gz(OUT / "github_000.json.gz", [r for r, _ in BIGQUERY_ROWS])
    pq.write_table(stack_table([r for r, _ in STACK_ROWS]), OUT / "the-stack-000.parquet", compression="zstd")
    print(f"wrote {len(BIGQUERY_ROWS)} BigQuery rows and {len(STACK_ROWS)} The Stack rows under {OUT}")


if __name__ == "__main__":
    main()
