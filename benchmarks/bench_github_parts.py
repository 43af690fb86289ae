"""The GitHub parts of the source benchmarks: a BigQuery export in the real format (RedPajama's
`github_*.json.gz`: gzip JSON lines of contents joined with files, licenses and languages), and the
same reader and rules as one plain single-process loop.

`make` writes source files in ten languages whose comments are real English sentences
(tests/data/reference) and whose code follows each language's shape, with what the GitHub rules act
on: licence headers (block and line comments), the same file vendored into other repositories
(about one file in five is a copy), GPL and other non-permissive repos, binary rows, symlinks,
LICENSE files, minified one-line bundles, base64 blobs and hex tables. `plain` reads every file once
for the dedup keys (a dict in memory), decides the winners, then reads each file again through the
whole recipe and writes the same Parquet shards as `llamapipe github`.
"""
from __future__ import annotations

import base64
import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too: benchmarks.* from the root
from benchmarks.bench_source_inputs import MB, sentences  # noqa: E402
from corpus import github_input
from corpus.counters import Counters
from pipelines import fileio
from pipelines.github import source_run
from pipelines.source import write_unit
from pipelines.steps import github as gh
from pipelines.steps.chain import read_rows, run_steps

FILE_MB = 16
LICENCES = ["mit"] * 5 + ["apache-2.0"] * 3 + ["bsd-3-clause", "bsd-2-clause", "gpl-3.0", "gpl-2.0", "lgpl-2.1"]
HEADER = ("/*\n * Copyright (c) {year} {owner}\n *\n * Permission is hereby granted, free of charge, to any person\n"
          " * obtaining a copy of this software, to deal in the Software without restriction.\n */\n")
LINE_HEADER = "{c} Copyright {year} {owner}\n{c} Licensed under the Apache License, Version 2.0\n\n"


def _ident(rng: random.Random, words: list[str]) -> str:
    return "_".join(rng.choice(words) for _ in range(rng.randint(1, 3)))


def _code(rng: random.Random, pool: list[str], words: list[str], ext: str) -> str:
    """A source file of language `ext`: functions with comment lines from real prose."""
    comment = {"py": "#", "sh": "#", "rb": "#", "sql": "--", "lua": "--"}.get(ext, "//")
    parts = []
    for _ in range(rng.randint(2, 8)):
        name, arg = _ident(rng, words), _ident(rng, words)
        doc = f"{comment} {rng.choice(pool)}"
        body = [f"{_ident(rng, words)} = {arg} + {rng.randint(0, 99)}" for _ in range(rng.randint(2, 8))]
        if ext == "py":
            parts.append(f"def {name}({arg}):\n    {doc}\n" + "".join(f"    {b}\n" for b in body)
                         + f"    return {arg}\n")
        elif ext in ("sh", "rb", "sql", "lua"):
            parts.append(f"{doc}\n" + "".join(f"{b}\n" for b in body))
        else:
            parts.append(f"{doc}\nint {name}(int {arg})\n{{\n" + "".join(f"    int {b};\n" for b in body)
                         + f"    return {arg};\n}}\n")
    return "\n".join(parts)


def _file(rng: random.Random, pool: list[str], words: list[str], owner: str) -> tuple[str, str]:
    """(path, content) of one file, with a planted phenomenon now and then."""
    kind = rng.random()
    ext = rng.choice(["c", "h", "cpp", "py", "js", "go", "java", "rs", "sh", "rb", "sql", "ts", "md"])
    stem = _ident(rng, words)
    year = rng.randint(2005, 2022)
    if kind < 0.03:
        return f"dist/{stem}.min.js", "var a=function(){" + "".join(
            f"function f{i}(x){{return x*{i};}}" for i in range(rng.randint(60, 200))) + "}();\n"
    if kind < 0.05:
        blob = base64.b64encode(rng.randbytes(rng.randint(600, 3000))).decode()
        return f"assets/{stem}.js", f"export default \"data:image/png;base64,{blob}\";\n"
    if kind < 0.07:
        return f"{stem}_table.h", "static const unsigned char t[] = {\n" + "".join(
            "  " + ", ".join(f"0x{rng.randrange(256):02x}" for _ in range(12)) + ",\n"
            for _ in range(rng.randint(20, 200))) + "};\n"
    if kind < 0.09:
        return "README", "\n".join(rng.choice(pool) for _ in range(rng.randint(3, 12))) + "\n"
    code = _code(rng, pool, words, ext)
    if ext == "md":
        code = "# " + stem + "\n\n" + "\n\n".join(rng.choice(pool) for _ in range(rng.randint(3, 15))) + "\n"
    elif kind < 0.45 and ext in ("c", "h", "cpp", "java", "js", "go", "rs", "ts"):
        code = HEADER.format(year=year, owner=owner) + code
    elif kind < 0.6 and ext in ("py", "sh", "rb"):
        code = "#!/usr/bin/env " + ("python3" if ext == "py" else "sh") + "\n" + LINE_HEADER.format(
            c="#", year=year, owner=owner) + code
    return f"src/{stem}.{ext}", code


def make(folder: Path, mb: float, seed: int = 0) -> dict:
    """BigQuery export files (github_NNN.json.gz, FILE_MB MB of content each) with about `mb` MB of
    file content in all."""
    rng = random.Random(seed)
    pool = sentences("en")
    words = sorted({w.lower() for s in pool[:3000] for w in s.split() if w.isalpha() and 3 <= len(w) <= 10})
    folder.mkdir(parents=True, exist_ok=True)
    files, text_bytes, records, index = [], 0, 0, 0
    seen: list[tuple[str, str]] = []
    while text_bytes < mb * MB:
        path = folder / f"github_{index:03d}.json.gz"
        file_bytes = 0
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
            while file_bytes < FILE_MB * MB and text_bytes < mb * MB:
                repo = f"{rng.choice(words)}{rng.randrange(1000)}/{rng.choice(words)}"
                licence = rng.choice(LICENCES)
                roll = rng.random()
                if roll < 0.2 and seen:
                    file_path, content = rng.choice(seen)  # vendored copy
                    file_path = f"third_party/{file_path}"
                else:
                    file_path, content = _file(rng, pool, words, repo.split("/")[0])
                    if len(seen) < 5000:
                        seen.append((file_path, content))
                binary = roll > 0.995
                row = {"id": f"{rng.getrandbits(160):040x}", "size": len(content.encode()),
                       "content": None if binary else content, "binary": binary, "copies": 1, "repo_name": repo,
                       "ref": "refs/heads/master", "path": "LICENSE" if 0.99 < roll <= 0.992 else file_path,
                       "mode": 33188, "symlink_target": "../README.md" if 0.992 < roll <= 0.995 else None,
                       "license": licence, "language": [{"name": "C", "bytes": 1000}]}
                line = json.dumps(row)
                out.write(line + "\n")
                size = 0 if binary else len(content.encode())
                file_bytes += size
                text_bytes += size
                records += 1
        files.append(str(path))
        index += 1
    return {"files": files, "text_mb": text_bytes / MB, "text_bytes": text_bytes, "records": records}


def plain(files: list[str], out: str, cfg: gh.GithubConfig | None = None) -> Counters:
    """The reader and rules of `llamapipe github` as one plain loop: every file's dedup keys into one
    list, the decisions, then each file through the whole recipe into its Parquet shards."""
    files = sorted(files)
    cfg = cfg or gh.GithubConfig(files=tuple(files), out=out,
                                 formats=tuple(github_input.detect_format(fileio.open_raw, f) for f in files))
    run = source_run(cfg)
    keys = []
    for part, unit in enumerate(run.plan()):
        rows = read_rows(run.read(unit), unit.path, False, None, None)
        keys.extend(gh.dedup_keys(run_steps(rows, gh.before_dedup(cfg), Counters()), part))
    decisions = dict(gh.decide(keys))
    del keys
    total = Counters()
    tail = gh.after_dedup(cfg)
    for part, unit in enumerate(run.plan()):
        _, counters = write_unit(run, gh.recipe(cfg, decisions.get(part, gh.UnitDedup()), tail), part, unit)
        total += counters
    return total
