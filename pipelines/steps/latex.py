"""The LaTeX cleaner of the arXiv pipeline (no Beam): a paper's .tex files -> the body of its main file.

What LLaMA describes (Touvron et al. 2023, 2.1, after Lewkowycz et al. 2022): comments removed,
user macros inline-expanded, everything before the first section and the bibliography removed.
Unlike RedPajama's arxiv_cleaner (SOURCES.md 6(a)), the main file is found and its \\input /
\\include / \\subfile files are inlined in place, `%` is a comment only when not escaped (and not
inside verbatim), \\paragraph and \\subparagraph start a body too, \\bibliographystyle and
\\printbibliography end it, and braceless, \\renewcommand and simple argument macros expand.
The text stays LaTeX.
"""
from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Optional, Sequence

SECTIONING = ("part", "chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph")
# Commands the cleaner itself looks for: a user redefinition of one is never expanded.
STRUCTURAL = frozenset(SECTIONING + ("appendix", "bibliography", "bibliographystyle", "printbibliography",
                                     "input", "include", "subfile", "begin", "end", "def", "newcommand",
                                     "renewcommand", "documentclass"))
MAX_EXPANSION_DEPTH = 10

_COMMENTS = re.compile(
    r"(?P<keep>\\begin\{(?P<env>verbatim\*?|Verbatim|lstlisting|minted)\}.*?\\end\{(?P=env)\}"
    r"|\\verb\*?(?P<d>[^A-Za-z\s*])[^\n]*?(?P=d)|\\\\|\\%)"
    r"|(?P<line>^[ \t]*%[^\n]*(?:\n|\Z))"
    r"|(?P<trail>[ \t]*%[^\n]*)", re.M | re.S)
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}[ \t]*\n?", re.S)
_INPUT = re.compile(r"\\(?:input|include|subfile)(?![A-Za-z])\s*(?:\{\s*([^{}\n]*?)\s*\}|([^\s{}\\%]+))")
_MAIN_MARK = re.compile(r"\\documentclass(?![A-Za-z])|\\begin\{document\}")
_PART_CLASS = re.compile(r"\\documentclass\s*(?:\[[^\]]*\]\s*)?\{\s*(?:subfiles|standalone)\s*\}")
_BEGIN_DOC = re.compile(r"\\begin\{document\}")
_END_DOC = re.compile(r"\\end\{document\}")
_SECTION = re.compile(r"\\(?:%s)(?![A-Za-z])\s*\*?\s*(?:\[[^\]]*\]\s*)?\{" % "|".join(SECTIONING))
_BODY_END = re.compile(
    r"\\appendix(?![A-Za-z])|\\begin\{(?:thebibliography|(?i:references)|appendix|appendices)\}"
    r"|\\bibliography\s*\{|\\bibliographystyle\s*\{|\\printbibliography(?![A-Za-z])|\\end\{document\}")
_DEFINITION = re.compile(r"\\(?:(?P<new>(?:re)?newcommand|providecommand|DeclareRobustCommand)"
                         r"|(?P<op>DeclareMathOperator)|(?P<def>g?def))(?![A-Za-z])(?P<star>\*?)")
_PARAMS = re.compile(r"(?:#\d)*")
_N_ARGS = re.compile(r"\[\s*(\d)\s*\]\s*")
_CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
_SPACES = re.compile(r"\s*")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


@dataclasses.dataclass(frozen=True)
class Macro:
    """A user macro: `\\name` with `n_args` arguments expands to `body` (#1..#n substituted)."""

    name: str
    n_args: int
    body: str


@dataclasses.dataclass(frozen=True)
class Cleaned:
    """The cleaner's result: `text` ("" when there is no body), the main file, macro uses expanded, and
    whether a sectioning command was found (False: the paper has no body to keep)."""

    text: str
    main_file: Optional[str]
    macros_expanded: int
    has_section: bool


def strip_comments(tex: str) -> str:
    """`tex` without %-comments (a `%` after an even run of backslashes, outside verbatim and \\verb):
    a comment-only line goes with its newline, a trailing comment keeps the newline; then without
    \\begin{comment}...\\end{comment}."""
    def replace(m: re.Match) -> str:
        return m.group(0) if m.group("keep") is not None else ""

    return _COMMENT_ENV.sub("", _COMMENTS.sub(replace, tex))


def find_main(files: Sequence[tuple[str, str]]) -> Optional[str]:
    """The main file of (name, text) files with comments removed: of those with \\documentclass or
    \\begin{document}, the largest (name order breaks ties), a subfiles or standalone part only when
    there is nothing else; without one, the largest file; None for no files."""
    marked = [(n, t) for n, t in files if _MAIN_MARK.search(t)]
    pool = [(n, t) for n, t in marked if not _PART_CLASS.search(t)] or marked or list(files)
    if not pool:
        return None
    return min(pool, key=lambda nt: (-len(nt[1]), nt[0]))[0]


def resolve(target: str, files: dict[str, str], folders: Sequence[str]) -> Optional[str]:
    """The project file an \\input{target} names, looked up from each of `folders` in turn, with or
    without the .tex suffix; None when the project has no such .tex file."""
    for folder in folders:
        base = posixpath.normpath(posixpath.join(folder, target)).lstrip("/")
        for name in (base, base + ".tex"):
            if name in files:
                return name
    return None


def inline_inputs(main: str, files: dict[str, str], max_depth: int) -> str:
    """The main file with \\input / \\include / \\subfile of project files replaced by their text, in
    place and recursively up to `max_depth` levels; an included file keeps only its document body if
    it has one (subfiles). A missing file, a cycle or one level too deep leaves the command as it is."""
    return _inline(main, (main,), files, posixpath.dirname(main), max_depth)


def _inline(name: str, stack: tuple[str, ...], files: dict[str, str], main_folder: str, max_depth: int) -> str:
    """files[name] with its inputs inlined; `stack` holds the files being inlined (cycles stay as they are).
    A plain function rather than a recursive closure, so no reference cycle keeps a paper's files alive."""
    def replace(m: re.Match) -> str:
        target = resolve((m.group(1) if m.group(1) is not None else m.group(2)), files,
                         (main_folder, posixpath.dirname(name)))
        if target is None or target in stack or len(stack) > max_depth:
            return m.group(0)
        return _document_body(_inline(target, stack + (target,), files, main_folder, max_depth)).strip("\n")
    return _INPUT.sub(replace, files[name])


def _document_body(tex: str) -> str:
    begin = _BEGIN_DOC.search(tex)
    if begin is None:
        return tex
    end = _END_DOC.search(tex, begin.end())
    return tex[begin.end():end.start() if end else len(tex)]


def _group_end(tex: str, start: int) -> Optional[int]:
    """The index after the `}` closing the group that opens at tex[start] == "{" (escaped braces
    skipped); None when it never closes."""
    depth, i = 0, start
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _skip_spaces(tex: str, i: int) -> int:
    return _SPACES.match(tex, i).end()


def _parse_definition(tex: str, m: re.Match) -> Optional[tuple[Macro, int]]:
    """(macro, end index) of the definition starting at match `m`, or None when it is not of a form
    the cleaner expands (optional first argument, delimited parameters, unbalanced braces)."""
    i = _skip_spaces(tex, m.end())
    if tex.startswith("{", i):
        end = _group_end(tex, i)
        if end is None:
            return None
        name_text, i = tex[i + 1:end - 1].strip(), end
    else:
        word = _CONTROL_WORD.match(tex, i)
        if word is None:
            return None
        name_text, i = word.group(0), word.end()
    name = _CONTROL_WORD.fullmatch(name_text)
    if name is None:
        return None
    n_args = 0
    i = _skip_spaces(tex, i)
    if m.group("def"):
        params = _PARAMS.match(tex, i).group(0)
        if params != "".join(f"#{k}" for k in range(1, len(params) // 2 + 1)):
            return None
        n_args, i = len(params) // 2, _skip_spaces(tex, i + len(params))
    elif m.group("new"):
        opt = _N_ARGS.match(tex, i)
        if opt:
            n_args, i = int(opt.group(1)), opt.end()
            if tex.startswith("[", i):
                return None
    if not tex.startswith("{", i):
        return None
    end = _group_end(tex, i)
    if end is None:
        return None
    body = tex[i + 1:end - 1]
    if m.group("op"):
        body = f"\\operatorname{m.group('star')}{{{body}}}"
    return Macro(name.group(1), n_args, body), end


def _expandable(macro: Macro, expand_args: bool) -> bool:
    if macro.name in STRUCTURAL or (macro.n_args and not expand_args) or macro.n_args > 9:
        return False
    if re.search(r"\\%s(?![A-Za-z])" % macro.name, macro.body):
        return False  # recursive
    uses = re.findall(r"#(.)", macro.body, re.S)
    return all(u.isdigit() and 1 <= int(u) <= macro.n_args for u in uses)


def take_definitions(tex: str, expand_args: bool = True) -> tuple[dict[str, Macro], str]:
    """The user macros the cleaner expands, and `tex` without their definitions (a line left blank by
    a removed definition goes too). A name is expanded only when every definition of it is the same
    and of a simple form: no argument, or (with `expand_args`) [n] arguments and a balanced body."""
    found: dict[str, list[tuple[Macro, int, int]]] = {}
    for m in _DEFINITION.finditer(tex):
        parsed = _parse_definition(tex, m)
        if parsed is not None:
            macro, end = parsed
            found.setdefault(macro.name, []).append((macro, m.start(), end))
        else:
            name = _defined_name(tex, m)
            if name:
                found.setdefault(name, []).append((Macro(name, -1, ""), m.start(), m.start()))
    macros, spans = {}, []
    for name, defs in found.items():
        if len({d[0] for d in defs}) == 1 and defs[0][0].n_args >= 0 and _expandable(defs[0][0], expand_args):
            macros[name] = defs[0][0]
            spans += [(start, end) for _, start, end in defs]
    return macros, _cut_spans(tex, sorted(spans))


def _defined_name(tex: str, m: re.Match) -> Optional[str]:
    """The name a definition the cleaner cannot parse defines (so that name is never expanded)."""
    i = _skip_spaces(tex, m.end())
    word = _CONTROL_WORD.match(tex, i + 1 if tex.startswith("{", i) else i)
    return word.group(1) if word else None


def _cut_spans(tex: str, spans: list[tuple[int, int]]) -> str:
    """`tex` without the spans; a line that held only a removed span (and spaces) goes with its newline."""
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        line_start = tex.rfind("\n", 0, start) + 1
        line_end = tex.find("\n", end)
        line_end = len(tex) if line_end < 0 else line_end
        if not tex[line_start:start].strip() and not tex[end:line_end].strip() and line_start >= at:
            start, end = line_start, min(line_end + 1, len(tex))
        out.append(tex[at:start])
        at = end
    out.append(tex[at:])
    return "".join(out)


def _argument(tex: str, i: int) -> Optional[tuple[str, int]]:
    """(argument text, end index) of one macro argument at `i`: a braced group (braces dropped), a
    control sequence or one character; None at the end of the text."""
    i = _skip_spaces(tex, i)
    if i >= len(tex):
        return None
    if tex[i] == "{":
        end = _group_end(tex, i)
        return None if end is None else (tex[i + 1:end - 1], end)
    if tex[i] == "}":
        return None
    word = _CONTROL_WORD.match(tex, i)
    if word:
        return word.group(0), word.end()
    if tex[i] == "\\":
        return tex[i:i + 2], i + 2
    return tex[i], i + 1


def expand_macros(tex: str, macros: dict[str, Macro], max_growth: Optional[int] = None) -> tuple[str, int]:
    """`tex` with each use of a macro replaced by its body (arguments substituted), the replacement
    expanded again up to MAX_EXPANSION_DEPTH levels; and the number of uses replaced. Once the
    expansions have added `max_growth` characters (default 4x the text + 64 KiB) the remaining uses
    stay as written, so nested macros cannot blow a paper up."""
    budget = [4 * len(tex) + (64 << 10) if max_growth is None else max_growth]
    return _expand(tex, macros, 0, budget)


def _expand(tex: str, macros: dict[str, Macro], depth: int, budget: list[int]) -> tuple[str, int]:
    if not macros or depth > MAX_EXPANSION_DEPTH:
        return tex, 0
    out, at, count = [], 0, 0
    for m in _CONTROL_WORD.finditer(tex):
        if m.start() < at or m.group(1) not in macros or budget[0] <= 0:
            continue
        if m.start() > 0 and _odd_backslashes_before(tex, m.start()):
            continue
        macro, end, args = macros[m.group(1)], m.end(), []
        for _ in range(macro.n_args):
            arg = _argument(tex, end)
            if arg is None:
                break
            args.append(arg[0])
            end = arg[1]
        if len(args) < macro.n_args:
            continue
        body = re.sub(r"#(\d)", lambda a: args[int(a.group(1)) - 1], macro.body) if args else macro.body
        budget[0] -= len(body) - (end - m.start())
        body, inner = _expand(body, macros, depth + 1, budget)
        out += [tex[at:m.start()], body]
        at, count = end, count + 1 + inner
    out.append(tex[at:])
    return "".join(out), count


def _odd_backslashes_before(tex: str, i: int) -> bool:
    """True when tex[i] (a backslash) is itself escaped, as in `\\\\R` (a line break, then R)."""
    n = 0
    while i - n - 1 >= 0 and tex[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def body_span(tex: str) -> Optional[tuple[int, int]]:
    """[start, end) of the part kept: from the first sectioning command (after \\begin{document} when
    there is one) to the first of \\appendix, the bibliography or \\end{document}; None without a
    sectioning command."""
    begin = _BEGIN_DOC.search(tex)
    start = _SECTION.search(tex, begin.end() if begin else 0)
    if start is None:
        return None
    end = _BODY_END.search(tex, start.end())
    return start.start(), end.start() if end else len(tex)


def tidy(tex: str) -> str:
    """Trailing spaces of each line removed, runs of blank lines made one, no blank lines at the ends."""
    lines = "\n".join(line.rstrip() for line in tex.split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", lines).strip("\n")


def clean_project(files: Sequence[tuple[str, str]], expand_args: bool = True, max_depth: int = 10) -> Cleaned:
    """A paper's (name, text) .tex files -> its cleaned main body: comments removed per file, the
    main file found and its inputs inlined, user macros taken out and expanded (before the body is
    looked for, so a macro that makes a \\section counts), then the body kept."""
    stripped = {name: strip_comments(text) for name, text in files}
    main = find_main(list(stripped.items()))
    if main is None:
        return Cleaned("", None, 0, False)
    flat = inline_inputs(main, stripped, max_depth)
    macros, flat = take_definitions(flat, expand_args)
    flat, count = expand_macros(flat, macros)
    span = body_span(flat)
    if span is None:
        return Cleaned("", main, count, False)
    return Cleaned(tidy(flat[span[0]:span[1]]), main, count, True)
