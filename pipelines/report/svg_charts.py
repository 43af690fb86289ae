"""Small inline-SVG charts (histograms and grouped bars) for the self-contained HTML report.

No JavaScript and no external files: the page opens anywhere, offline, and prints.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_W, _H = 560, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 40, 44


def _fmt(v: float) -> str:
    if v >= 1e9:
        return f"{v / 1e9:.1f}G"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{_W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
        *body,
        f'<text x="{(_LEFT + _W - _RIGHT) / 2}" y="{_H - 6}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="12" y="{(_TOP + _H - _BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(_TOP + _H - _BOTTOM) / 2})">{escape(y_label)}</text>',
        "</svg>"])


def nice_top(value: float, ticks: int = 4, integer: bool = False) -> tuple[float, float]:
    """(axis top, tick step): a round step (1, 2, 2.5 or 5 x 10^k; whole numbers for counts)
    with about `ticks` steps covering value."""
    raw = max(value, 1e-12) / ticks
    if integer:
        raw = max(raw, 1.0)
    mag = 10 ** math.floor(math.log10(raw))
    multipliers = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in multipliers if m * mag >= raw - 1e-12)
    return step * math.ceil(value / step - 1e-9) if value > 0 else step * ticks, step


def _y_axis(top_value: float, step: float, percent: bool = False) -> list[str]:
    out = []
    plot_h = _H - _TOP - _BOTTOM
    n = int(round(top_value / step))
    for i in range(n + 1):
        v = step * i
        y = _H - _BOTTOM - plot_h * v / top_value
        label = f"{100 * v:.0f}%" if percent else _fmt(v)
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return out


def log_histogram(edges: Sequence[float], counts: Sequence[int], title: str, x_label: str,
                  markers: Sequence[tuple[float, str, str]] = (), color: str = PALETTE[0]) -> str:
    """Histogram whose bin `edges` are log10 values; `markers`: (value, label, colour) lines."""
    return _histogram(edges, counts, title, x_label, markers, color, log=True)


def linear_histogram(edges: Sequence[float], counts: Sequence[int], title: str, x_label: str,
                     markers: Sequence[tuple[float, str, str]] = (), color: str = PALETTE[0]) -> str:
    """Histogram over linear bin `edges` (e.g. a probability in [0, 1]); `markers`: (value, label, colour)."""
    return _histogram(edges, counts, title, x_label, markers, color, log=False)


def _histogram(edges: Sequence[float], counts: Sequence[int], title: str, x_label: str,
               markers: Sequence[tuple[float, str, str]], color: str, log: bool) -> str:
    """Bars over `edges` (log10 values when `log`), x ticks, and dashed marker lines with a legend."""
    if not counts:
        return _frame(title, [f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no data</text>'], x_label, "documents")
    lo, hi = edges[0], edges[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    top, step = nice_top(max(max(counts), 1), integer=True)
    shown = (lambda v: _fmt(10 ** v)) if log else (lambda v: f"{v:.3g}")

    def x_of(v: float) -> float:
        return _LEFT + plot_w * (v - lo) / (hi - lo)

    body = _y_axis(top, step)
    for left, right, c in zip(edges[:-1], edges[1:], counts):
        h = plot_h * c / top
        body.append(f'<rect x="{x_of(left):.1f}" y="{_H - _BOTTOM - h:.1f}" width="{max(x_of(right) - x_of(left) - 1, 0.5):.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{shown(left)}–{shown(right)}: {c:,}</title></rect>')
    if log:
        ticks = [p + math.log10(m) for p in range(int(lo) - 1, int(hi) + 2) for m in (1, 2, 5)]
    else:
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    for v in (t for t in ticks if lo <= t <= hi):
        x = x_of(v)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 4}" stroke="#333"/>')
        body.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 15}" text-anchor="middle">{shown(v)}</text>')
    body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}" stroke="#333"/>')
    legend = 0
    for value, label, mcolor in markers:
        if value is None or (log and not value > 0):
            continue
        v = math.log10(value) if log else value
        if not lo <= v <= hi:
            continue
        x = x_of(v)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}" stroke="{mcolor}" '
                    f'stroke-width="2" stroke-dasharray="5,3"/>')
        y = _TOP + 2 + 15 * legend
        body.append(f'<rect x="{_LEFT + 4}" y="{y}" width="92" height="13" fill="#fff" opacity="0.85"/>')
        body.append(f'<line x1="{_LEFT + 6}" x2="{_LEFT + 20}" y1="{y + 7}" y2="{y + 7}" stroke="{mcolor}" '
                    f'stroke-width="2" stroke-dasharray="5,3"/>')
        body.append(f'<text x="{_LEFT + 24}" y="{y + 10}" fill="{mcolor}">{escape(label)} {_fmt(value) if log else f"{value:g}"}</text>')
        legend += 1
    return _frame(title, body, x_label, "documents")


def grouped_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str,
                 x_label: str, percent: bool = True) -> str:
    """Bars per category, one per series (name, values), with a legend."""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    top, step = nice_top(max([v for _, vals in series for v in vals] + [1e-9]))
    body = _y_axis(top, step, percent)
    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    slot = plot_w / n_cat
    bar = min(slot * 0.8 / n_ser, 60.0)
    pad = (slot - bar * n_ser) / 2
    for ci, cat in enumerate(categories):
        for si, (name, vals) in enumerate(series):
            v = vals[ci]
            h = plot_h * min(v / top, 1.0)
            x = _LEFT + slot * ci + pad + bar * si
            label = f"{100 * v:.1f}%" if percent else _fmt(v)
            body.append(f'<rect x="{x:.1f}" y="{_H - _BOTTOM - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(cat)} · {escape(name)}: {label}</title></rect>')
        body.append(f'<text x="{_LEFT + slot * (ci + 0.5):.1f}" y="{_H - _BOTTOM + 15}" text-anchor="middle">'
                    f'{escape(cat)}</text>')
    body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}" stroke="#333"/>')
    if len(series) > 1:
        x = _W - _RIGHT - 95 * len(series)
        for si, (name, _) in enumerate(series):
            body.append(f'<rect x="{x + 95 * si}" y="{_TOP - 15}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
            body.append(f'<text x="{x + 95 * si + 14}" y="{_TOP - 6}">{escape(name)}</text>')
    return _frame(title, body, x_label, "share" if percent else "")


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str, x_label: str,
               y_label: str) -> str:
    """Lines (name, xs, ys) on shared axes; the y axis spans the data (it need not start at 0)."""
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys) if y is not None]
    if not points:
        return _frame(title, [f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no data</text>'], x_label, y_label)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    x_top, x_step = nice_top(max(x for x, _ in points), integer=True)
    y_min, y_max = min(y for _, y in points), max(y for _, y in points)
    _, y_step = nice_top(max(y_max - y_min, abs(y_max) * 1e-3, 1e-12))
    y_lo, y_hi = math.floor(y_min / y_step) * y_step, math.ceil(y_max / y_step) * y_step
    if y_hi <= y_lo:
        y_hi = y_lo + y_step

    def xy(x: float, y: float) -> tuple[float, float]:
        return _LEFT + plot_w * x / x_top, _H - _BOTTOM - plot_h * (y - y_lo) / (y_hi - y_lo)

    body = []
    for i in range(int(round((y_hi - y_lo) / y_step)) + 1):
        v = y_lo + i * y_step
        _, y = xy(0, v)
        body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        body.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    for i in range(int(round(x_top / x_step)) + 1):
        x, _ = xy(i * x_step, y_lo)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 4}" stroke="#333"/>')
        body.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 15}" text-anchor="middle">{_fmt(i * x_step)}</text>')
    body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}" stroke="#333"/>')
    for si, (name, xs, ys) in enumerate(series):
        color = PALETTE[si % len(PALETTE)]
        coords = [xy(x, y) for x, y in zip(xs, ys) if y is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        for (x, y), xv, yv in zip(coords, xs, ys):
            if len(coords) <= 40:
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{escape(name)} '
                            f'step {xv:,}: {_fmt(yv)}</title></circle>')
        if len(series) > 1:
            lx = _W - _RIGHT - 95 * (len(series) - si)
            body.append(f'<rect x="{lx}" y="{_TOP - 15}" width="10" height="10" fill="{color}"/>')
            body.append(f'<text x="{lx + 14}" y="{_TOP - 6}">{escape(name)}</text>')
    return _frame(title, body, x_label, y_label)
