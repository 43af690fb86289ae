"""Write the arXiv test fixtures: two bulk source tars laid out as arXiv's `arXiv_src_YYMM_NNN.tar`.

Each tar holds a `YYMM/` folder entry, then `YYMM/<id>.gz` members (a gzipped tar of a LaTeX
project, or one gzipped file) and `YYMM/<id>.pdf` members (PDF-only submissions). Every mtime is
fixed and gzip headers carry no name or time, so the bytes are the same on every run. Run from the
repository root:
    .venv/bin/python tests/data/make_arxiv.py
`write_tar`, `gz` and `project` are also used by tests to make large synthetic tars at test time.
"""
from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path
from typing import Sequence

OUT = Path(__file__).parent / "arxiv"
MTIME = 1672628645  # 2023-01-02T03:04:05Z

MAIN_TEX = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
% Macros used throughout the paper.
\newcommand{\R}{\mathbb{R}}
\def\eps{\varepsilon}
\newcommand{\norm}[1]{\lVert #1\rVert}
\title{A Small Study of Norms}
\begin{document}
\maketitle
\begin{abstract}
We study norms on $\R^n$. % abstract note
\end{abstract}
% This whole line is a comment.
\section{Introduction}
Let $x \in \R$ and $\eps > 0$. % a trailing comment
We use 50\% of the data.%
The norm $\norm{x}$ is finite.
\input{method}
\bibliographystyle{plain}
\bibliography{refs}
\appendix
\section{Proofs}
The proofs are routine.
\end{document}
"""
METHOD_TEX = r"""\section{Method}
% TODO: say more about the method.
Our method uses $\R^n$.
"""
REFS_BIB = "@article{a, title={A}, author={Author, A.}, year={2020}}\n"
FIG_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

SINGLE_TEX = r"""\documentclass[11pt]{article}
\newcommand\N{\mathbb{N}}
\renewcommand{\vec}[1]{\mathbf{#1}}
\begin{document}
\section*{Overview}
Counting in $\N$ with vectors $\vec{v}$ and $\vec w$.
\begin{comment}
A draft paragraph that was never published.
\end{comment}
A line break then a comment: a\\% gone
Verbatim keeps its percent sign: \verb|50%|.
\subsection[Short]{A longer title}
Done.
\begin{thebibliography}{9}
\bibitem{a} A. Author, \emph{A}, 2020.
\end{thebibliography}
\end{document}
"""
LATIN1_TEX = "\\documentclass{article}\n\\begin{document}\n\\section{R\u00e9sum\u00e9}\nCaf\u00e9 cr\u00e8me.\n" \
             "\\end{document}\n"
PARAGRAPH_TEX = r"""\documentclass{article}
\begin{document}
\paragraph{Setup} We fix a field $k$.
\paragraph{Result} Every vector space over $k$ has a basis.
\end{document}
"""
NO_SECTION_TEX = r"""\documentclass{article}
\begin{document}
A note without any sectioning command.
\end{document}
"""
POSTSCRIPT = b"%!PS-Adobe-2.0\n%%Title: paper.dvi\n/Times-Roman findfont 12 scalefont setfont\nshowpage\n"
OLD_STYLE_TEX = r"""\documentclass{aa}
\begin{document}
\title{Galaxies}
\section{Observations}
We observed 12 galaxies.
\end{document}
"""
# A gzip header (magic, deflate, no flags, mtime 0, OS unix) followed by a deflate block of the
# reserved type 3: "invalid block type" as soon as it is read.
CORRUPT_GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 48


def gz(data: bytes) -> bytes:
    """`data` gzipped with no file name and mtime 0, so the bytes are stable."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def tar_bytes(members: Sequence[tuple[str, bytes]], mtime: int = MTIME, folders: Sequence[str] = ()) -> bytes:
    """An uncompressed ustar archive of (name, bytes), after entries for `folders`, fixed owner and mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for i, (name, data) in enumerate(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime + 60 * i
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def project(files: Sequence[tuple[str, bytes]]) -> bytes:
    """A paper's `.gz` member holding a LaTeX project: a gzipped tar of its files."""
    return gz(tar_bytes(files))


def write_tar(path: Path, members: Sequence[tuple[str, bytes]], folders: Sequence[str] = ()) -> None:
    """A bulk source tar at `path`: folder entries, then the members (mtimes a minute apart)."""
    path.write_bytes(tar_bytes(members, folders=folders))


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_tar(out / "arXiv_src_2301_001.tar", [
        ("2301/2301.00001.gz", project([("main.tex", MAIN_TEX.encode()), ("method.tex", METHOD_TEX.encode()),
                                        ("fig.pdf", FIG_PDF), ("refs.bib", REFS_BIB.encode())])),
        ("2301/2301.00002.gz", gz(SINGLE_TEX.encode())),
        ("2301/2301.00003.pdf", FIG_PDF),
        ("2301/2301.00004.gz", gz(LATIN1_TEX.encode("latin-1"))),
        ("2301/2301.00005.gz", gz(PARAGRAPH_TEX.encode())),
        ("2301/2301.00006.gz", CORRUPT_GZIP),
        ("2301/2301.00007.gz", project([("README", b"figures only\n"), ("fig1.eps", POSTSCRIPT)])),
        ("2301/2301.00008.gz", gz(NO_SECTION_TEX.encode())),
        ("2301/2301.00009.gz", gz(POSTSCRIPT)),
    ], folders=["2301"])
    write_tar(out / "arXiv_src_0001_001.tar", [("0001/astro-ph0001001.gz", gz(OLD_STYLE_TEX.encode()))],
              folders=["0001"])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
