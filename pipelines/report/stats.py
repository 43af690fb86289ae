"""`llamapipe stats`: summarise a corpus or token shard folder as terminal tables, JSON or HTML."""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from html import escape

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from corpus import shards
from corpus.integrity import CheckedFolder, check_complete, find_root
from corpus.paths import is_url
from corpus.shards import local_parquet_files, write_local_atomic
from corpus.summary import summarise_corpus
from pipelines.report import svg_charts
from pipelines.report.quality import wiki_prob_summary
from tokenizer.shards import MIXTURE_FILE, summarise_tokens
from train.run_log import is_run_dir, summarise_run

BUCKET_ORDER = {"head": 0, "middle": 1, "tail": 2, "all": 3}


def summarise(path: str, progress: bool = False, verify: bool = False, allow_incomplete: bool = False) -> dict:
    """Summary of a training run (log.jsonl), a token shard folder (mixture.json) or a corpus shard folder.

    Shard folders must be finished llamapipe outputs whose files match their manifest (sizes;
    sha256 too with `verify`), unless `allow_incomplete`."""
    if is_url(path):
        raise ValueError(f"stats reads local folders; copy {path} here first")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder")
    if is_run_dir(path):
        return summarise_run(path)
    path = path.rstrip("/") or "/"
    if (find_root(path) is None and not os.path.isfile(os.path.join(path, MIXTURE_FILE))
            and not local_parquet_files(path)):
        raise FileNotFoundError(f"{path}: neither corpus shards (*.parquet) nor token shards ({MIXTURE_FILE})")
    checked = _checked(path, verify, allow_incomplete, progress)
    if os.path.isfile(os.path.join(path, MIXTURE_FILE)):
        return summarise_tokens(path)
    listed = checked.files(".parquet")
    files = [p for p, _ in local_parquet_files(path)] if listed is None else [os.path.join(path, r) for r in listed]
    stats_file = os.path.join(path, shards.STATS_FILE)
    if not files and not (checked.entries is not None and os.path.isfile(stats_file)):
        raise FileNotFoundError(f"{path}: neither corpus shards (*.parquet) nor token shards ({MIXTURE_FILE})")
    if not progress:
        return _with_wiki_prob(summarise_corpus(files, path, stats_file), files, stats_file)
    with _bar("scanning shards", len(files)) as (bar, task):
        summary = summarise_corpus(files, path, stats_file, on_file=lambda _: bar.advance(task))
    return _with_wiki_prob(summary, files, stats_file)


def _with_wiki_prob(summary: dict, files: list[str], stats_file: str) -> dict:
    """The corpus summary plus its quality classifier scores (key `wiki_prob`) when documents carry them."""
    found = wiki_prob_summary(files, stats_file)
    if found is not None:
        summary["wiki_prob"] = found
    return summary


def summarise_many(paths: list[str], progress: bool = False, verify: bool = False,
                   allow_incomplete: bool = False) -> dict:
    """Several corpus folders side by side (one per source, as `tokenize --corpus` takes them): each
    folder's summary, and per folder its sources, documents, characters and drop reasons."""
    corpora = [summarise(p, progress, verify, allow_incomplete) for p in paths]
    for path, c in zip(paths, corpora):
        if c["kind"] != "corpus":
            raise ValueError(f"{path}: several folders are compared only when each holds corpus shards "
                             f"(this one holds {c['kind']})")
    rows = [{"path": c["path"], "sources": sorted(c["shares"]["source"]) or ["(none)"],
             "documents": c["documents"], "chars": c["chars"], "read": c["read"],
             "dropped": {r: n for r, n in c["dropped"].items() if n}} for c in corpora]
    return {"kind": "corpora", "path": ", ".join(c["path"] for c in corpora), "corpora": corpora,
            "overview": rows, "reasons": sorted({r for row in rows for r in row["dropped"]})}


def _checked(path: str, verify: bool, allow_incomplete: bool, progress: bool) -> CheckedFolder:
    """corpus.integrity's check of a shard folder, with a bar while sha256s are computed."""
    if not verify or not progress:
        return check_complete(path, allow_incomplete, sha256=verify, what="folder")
    with _bar("verifying sha256", None) as (bar, task):
        return check_complete(path, allow_incomplete, sha256=True, what="folder", on_file=lambda _: bar.advance(task))


@contextlib.contextmanager
def _bar(label: str, total):
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        yield bar, bar.add_task(label, total=total)


def _group_order(g: dict) -> tuple:
    return g["source"], g["lang"], BUCKET_ORDER.get(g["bucket"], 9), g["bucket"]


def print_summary(summary: dict, console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 140)
    if summary["kind"] == "tokens":
        _print_tokens(summary, console)
    elif summary["kind"] == "run":
        _print_run(summary, console)
    elif summary["kind"] == "corpora":
        _print_corpora(summary, console)
    else:
        _print_corpus(summary, console)


def _print_corpus(s: dict, console: Console) -> None:
    t = Table(title=f"{s['path']}: {s['documents']:,} documents, {s['chars']:,} characters in {s['files']} files")
    for col in ("source", "lang", "bucket"):
        t.add_column(col)
    for col in ("documents", "share", "characters", "mean chars", "median chars"):
        t.add_column(col, justify="right")
    for g in sorted(s["groups"], key=_group_order):
        t.add_row(g["source"], g["lang"], g["bucket"], f"{g['documents']:,}",
                  f"{100 * g['documents'] / max(s['documents'], 1):.1f}%", f"{g['chars']:,}",
                  f"{g['mean_chars']:,.0f}", f"{g['median_chars']:,.0f}")
    console.print(t)
    if s["perplexity"]:
        qs = list(next(iter(s["perplexity"].values()))["percentiles"])
        p = Table(title="perplexity percentiles per language")
        p.add_column("lang")
        p.add_column("documents", justify="right")
        for q in qs:
            p.add_column(f"p{q}", justify="right")
        for lang, v in sorted(s["perplexity"].items()):
            p.add_row(lang, f"{v['documents']:,}", *(f"{v['percentiles'][q]:,.0f}" for q in qs))
        console.print(p)
    if s["dropped"]:
        d = Table(title=f"drop reasons (_stats.json): {s['read']:,} documents read")
        d.add_column("reason")
        d.add_column("documents", justify="right")
        d.add_column("of read", justify="right")
        for reason, n in sorted(s["dropped"].items(), key=lambda kv: -kv[1]):
            if n:
                d.add_row(reason, f"{n:,}", f"{100 * n / max(s['read'] or 1, 1):.1f}%")
        console.print(d)


def _print_corpora(s: dict, console: Console) -> None:
    for c in s["corpora"]:
        _print_corpus(c, console)
    names = [", ".join(r["sources"]) for r in s["overview"]]
    t = Table(title="sources side by side")
    for col in ("source", "folder"):
        t.add_column(col)
    for col in ("documents", "characters", "read", "dropped"):
        t.add_column(col, justify="right")
    for name, row in zip(names, s["overview"]):
        t.add_row(name, row["path"], f"{row['documents']:,}", f"{row['chars']:,}",
                  "?" if row["read"] is None else f"{row['read']:,}",
                  _share(sum(row["dropped"].values()), row["read"] or 0))
    console.print(t)
    if s["reasons"]:
        d = Table(title="drop reasons by source: documents (% of the source's read)")
        d.add_column("reason")
        for name in names:
            d.add_column(name, justify="right")
        for reason in s["reasons"]:
            d.add_row(reason, *(_share(row["dropped"].get(reason, 0), row["read"] or 0) for row in s["overview"]))
        console.print(d)


def _share(n: int, read: int) -> str:
    return f"{n:,} ({100 * n / read:.1f}%)" if n and read else ("0" if not n else f"{n:,}")


def _print_tokens(s: dict, console: Console) -> None:
    t = Table(title=f"{s['path']}: {s['tokens']:,} tokens in {s['documents']:,} documents "
                    f"({s['dtype']}, vocabulary {s['tokenizer']['vocab_size']:,})")
    for col in ("source", "docs", "tokens", "tok/doc", "configured", "realised", "max ep", "epochs", "supplies"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for name, v in s["sources"].items():
        t.add_row(name, f"{v['documents']:,}", f"{v['tokens']:,}", f"{v['mean_doc_tokens']:,.0f}",
                  f"{100 * v['proportion']:.1f}%", f"{100 * v['realised_share']:.1f}%", f"{v['epochs']:g}",
                  f"{v['epochs_used']:.2f}", f"{v['supplied_tokens']:,}")
    console.print(t)
    console.print(f"token budget {s['token_budget']:,}; training draws {s['total_tokens']:,} tokens")
    for w in s["warnings"]:
        console.print(f"[yellow]warning: {w}[/yellow]")


def _print_run(s: dict, console: Console) -> None:
    cfg, last = s["config"], s["last"]
    t = Table(title=f"training run {s['path']}")
    t.add_column("")
    t.add_column("value", justify="right")
    t.add_row("model", f"{cfg['model']} (seq {cfg['seq_len']}, {cfg['batch_tokens']:,} tokens per step)")
    t.add_row("steps", f"{last.get('step', 0):,} of {cfg['max_steps']:,}")
    t.add_row("tokens seen", f"{last.get('tokens_seen', 0):,}")
    if s["loss"]:
        t.add_row("loss (first → last logged)", f"{s['loss'][0]:.4f} → {s['loss'][-1]:.4f}")
    if s["median_tokens_per_s"]:
        t.add_row("tokens/s (median)", f"{s['median_tokens_per_s']:,.0f}")
    if s["median_mfu"] is not None:
        t.add_row("MFU (median)", f"{100 * s['median_mfu']:.1f}%")
    for source, points in s["eval"].items():
        t.add_row(f"held-out perplexity, {source}", f"{points[-1][1]:,.2f} (step {points[-1][0]:,})")
    for source, epochs in last.get("epochs", {}).items():
        t.add_row(f"epochs of {source}", f"{epochs:.3f}")
    t.add_row("checkpoints", ", ".join(s["checkpoints"]) or "none")
    for r in s.get("benchmarks", []):
        t.add_row(f"eval {r['task']} {r['metric']} (step {r['step']:,})", f"{r['value']:.4f}")
    console.print(t)


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px} td,th{padding:3px 10px;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f6f6} td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px} .charts svg{border:1px solid #eee;background:#fff}
.warn{color:#9a5b00} .meta{color:#666;font-size:13px}
"""


def _table(headers: list[str], rows: list[list], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{escape(str(c))}</td>' if i >= numeric_from else f"<td>{escape(str(c))}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _corpus_html(s: dict) -> list[str]:
    parts = [f"<p>{s['documents']:,} documents, {s['chars']:,} characters, {s['files']} Parquet files.</p>"]
    parts.append("<h2>Documents by source × language × bucket</h2>")
    parts.append(_table(["source", "lang", "bucket", "documents", "characters", "mean chars", "median chars"],
                        [[g["source"], g["lang"], g["bucket"], f"{g['documents']:,}", f"{g['chars']:,}",
                          f"{g['mean_chars']:,.0f}", f"{g['median_chars']:,.0f}"]
                         for g in sorted(s["groups"], key=_group_order)], numeric_from=3))
    charts = []
    for lang, v in sorted(s["perplexity"].items()):
        cut = s["bucket_cutoffs"].get(lang, {})
        markers = [(cut.get("head_below"), "head <", "#2a7d2a"), (cut.get("tail_from"), "tail ≥", "#c0392b")]
        h = v["histogram_log10"]
        charts.append(svg_charts.log_histogram(h["edges"], h["counts"], f"perplexity, {lang} ({v['documents']:,} docs)",
                                               "perplexity (log scale)", markers))
    if charts:
        parts.append("<h2>Perplexity per language, with the bucket cutoffs</h2>")
        parts.append('<div class="charts">' + "".join(charts) + "</div>")
        qs = list(next(iter(s["perplexity"].values()))["percentiles"])
        parts.append(_table(["lang", "documents", *(f"p{q}" for q in qs)],
                            [[lang, f"{v['documents']:,}", *(f"{v['percentiles'][q]:,.0f}" for q in qs)]
                             for lang, v in sorted(s["perplexity"].items())]))
    if s.get("wiki_prob"):
        w = s["wiki_prob"]
        markers = [(w["threshold"], "keep ≥", "#c0392b")] if w["threshold"] is not None else []
        parts.append("<h2>Quality classifier: wiki_prob, with the threshold</h2>")
        parts.append('<div class="charts">' + svg_charts.linear_histogram(
            w["histogram"]["edges"], w["histogram"]["counts"], f"wiki_prob ({w['documents']:,} docs)",
            "probability of a Wikipedia reference", markers) + "</div>")
    h = s["length_histogram_log10"]
    shares = s["shares"]
    langs = list(shares["lang"])
    buckets = sorted(shares["bucket"], key=lambda b: BUCKET_ORDER.get(b, 9))
    parts.append("<h2>Lengths and shares</h2>")
    parts.append('<div class="charts">' + "".join([
        svg_charts.log_histogram(h["edges"], h["counts"], "document length", "characters (log scale)"),
        svg_charts.grouped_bars(langs, [("documents", [shares["lang"][l]["doc_share"] for l in langs]),
                                        ("characters", [shares["lang"][l]["char_share"] for l in langs])],
                                "language share", "language"),
        svg_charts.grouped_bars(buckets, [("documents", [shares["bucket"][b]["doc_share"] for b in buckets]),
                                          ("characters", [shares["bucket"][b]["char_share"] for b in buckets])],
                                "bucket share", "bucket"),
    ]) + "</div>")
    if s["dropped"]:
        parts.append(f"<h2>Drop reasons ({s['read']:,} documents read)</h2>")
        parts.append(_table(["reason", "documents", "of read"],
                            [[r, f"{n:,}", f"{100 * n / max(s['read'] or 1, 1):.1f}%"]
                             for r, n in sorted(s["dropped"].items(), key=lambda kv: -kv[1]) if n]))
    return parts


def _corpora_html(s: dict) -> list[str]:
    rows = s["overview"]
    names = [", ".join(r["sources"]) for r in rows]
    docs, chars = sum(r["documents"] for r in rows) or 1, sum(r["chars"] for r in rows) or 1
    parts = ["<h2>Sources side by side</h2>",
             '<div class="charts">' + svg_charts.grouped_bars(
                 names, [("documents", [r["documents"] / docs for r in rows]),
                         ("characters", [r["chars"] / chars for r in rows])], "share of what was written",
                 "source") + "</div>",
             _table(["source", "folder", "documents", "characters", "read", "dropped"],
                    [[n, r["path"], f"{r['documents']:,}", f"{r['chars']:,}",
                      "?" if r["read"] is None else f"{r['read']:,}",
                      _share(sum(r["dropped"].values()), r["read"] or 0)] for n, r in zip(names, rows)],
                    numeric_from=2)]
    if s["reasons"]:
        parts.append("<h2>Drop reasons by source (documents, % of the source's read)</h2>")
        parts.append(_table(["reason", *names], [[x, *(_share(r["dropped"].get(x, 0), r["read"] or 0) for r in rows)]
                                                for x in s["reasons"]]))
    for n, c in zip(names, s["corpora"]):
        parts.append(f"<h2>{escape(n)}: {escape(c['path'])}</h2>")
        parts.extend(_corpus_html(c))
    return parts


def _tokens_html(s: dict) -> list[str]:
    names = list(s["sources"])
    parts = [f"<p>{s['tokens']:,} tokens in {s['documents']:,} documents; {s['dtype']}, vocabulary "
             f"{s['tokenizer']['vocab_size']:,} (tokenizer sha256 {escape(s['tokenizer']['sha256'][:16])}…). "
             f"Token budget {s['token_budget']:,}; training draws {s['total_tokens']:,} tokens.</p>"]
    parts += [f'<p class="warn">warning: {escape(w)}</p>' for w in s["warnings"]]
    parts.append("<h2>Mixture: configured vs realised</h2>")
    charts = [svg_charts.grouped_bars(names, [("configured", [s["sources"][n]["proportion"] for n in names]),
                                              ("realised", [s["sources"][n]["realised_share"] for n in names])],
                                      "share of training tokens", "source")]
    for n in names:
        h = s["sources"][n]["doc_tokens_histogram_log10"]
        charts.append(svg_charts.log_histogram(h["edges"], h["counts"], f"document length, {n}", "tokens (log scale)"))
    parts.append('<div class="charts">' + "".join(charts) + "</div>")
    parts.append(_table(["source", "files", "documents", "tokens", "mean doc tokens", "configured", "realised",
                         "epochs (max)", "epochs used", "supplies"],
                        [[n, v["files"], f"{v['documents']:,}", f"{v['tokens']:,}", f"{v['mean_doc_tokens']:,.0f}",
                          f"{100 * v['proportion']:.1f}%", f"{100 * v['realised_share']:.1f}%", f"{v['epochs']:g}",
                          f"{v['epochs_used']:.2f}", f"{v['supplied_tokens']:,}"] for n, v in s["sources"].items()]))
    return parts


def _run_html(s: dict) -> list[str]:
    cfg, last = s["config"], s["last"]
    parts = [f"<p>{escape(cfg['model'])} model, sequence {cfg['seq_len']}, {cfg['batch_tokens']:,} tokens per step; "
             f"{last.get('step', 0):,} of {cfg['max_steps']:,} steps, {last.get('tokens_seen', 0):,} tokens seen; "
             f"checkpoints: {escape(', '.join(s['checkpoints']) or 'none')}.</p>", "<h2>Curves</h2>"]
    steps = s["steps"]
    charts = [svg_charts.line_chart([("loss", steps, s["loss"])], "training loss", "step", "loss"),
              svg_charts.line_chart([("learning rate", steps, s["lr"])], "learning rate", "step", "lr")]
    if s["eval"]:
        charts.append(svg_charts.line_chart([(src, [p[0] for p in pts], [p[1] for p in pts])
                                             for src, pts in s["eval"].items()],
                                            "held-out perplexity per source", "step", "perplexity"))
    charts.append(svg_charts.line_chart([("tokens/s", steps, s["tokens_per_s"])], "throughput", "step", "tokens/s"))
    if s["median_mfu"] is not None:
        charts.append(svg_charts.line_chart([("MFU", steps, s["mfu"])], "model FLOPs utilisation", "step", "MFU"))
    parts.append('<div class="charts">' + "".join(charts) + "</div>")
    if s.get("benchmarks"):
        parts.append("<h2>Evaluation (llamapipe eval)</h2>")
        parts.append(_table(["step", "task", "metric", "value", "few-shot", "limit"],
                            [[r["step"], r["task"], r["metric"], f"{r['value']:.4f}",
                              "default" if r["fewshot"] is None else r["fewshot"],
                              "all" if r["limit"] is None else r["limit"]] for r in s["benchmarks"]]))
    parts.append("<h2>Configuration</h2>")
    parts.append(_table(["key", "value"], [[k, json.dumps(v)] for k, v in sorted(cfg.items())]))
    return parts


def write_html(summary: dict, path: str) -> None:
    """One self-contained page (inline CSS and SVG), written atomically."""
    kind, render = {"tokens": ("token shards", _tokens_html), "run": ("training run", _run_html),
                    "corpus": ("corpus shards", _corpus_html),
                    "corpora": ("corpus shards by source", _corpora_html)}[summary["kind"]]
    body = render(summary)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>llamapipe stats: "
            f"{escape(summary['path'])}</title><style>{_CSS}</style></head><body>"
            f"<h1>llamapipe stats — {kind}</h1><p class=\"meta\">{escape(os.path.abspath(summary['path']))} · {stamp}</p>"
            + "\n".join(body) + "</body></html>\n")
    write_local_atomic(path, page.encode("utf-8"))
