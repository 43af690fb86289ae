"""Small inline-SVG charts (histograms and grouped bars) for the self-contained HTML report.

No JavaScript and no external files: the page opens anywhere, offline, and prints.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_W, _H = 560, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 30, 44


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


def _y_axis(top_value: float, percent: bool = False) -> list[str]:
    out = []
    plot_h = _H - _TOP - _BOTTOM
    for i in range(5):
        v = top_value * i / 4
        y = _H - _BOTTOM - plot_h * i / 4
        label = f"{100 * v:.0f}%" if percent else _fmt(v)
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return out


def log_histogram(edges: Sequence[float], counts: Sequence[int], title: str, x_label: str,
                  markers: Sequence[tuple[float, str, str]] = (), color: str = PALETTE[0]) -> str:
    """Histogram whose bin `edges` are log10 values; `markers`: (value, label, colour) lines."""
    if not counts:
        return _frame(title, [f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no data</text>'], x_label, "documents")
    lo, hi = edges[0], edges[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    top = max(counts) or 1

    def x_of(v: float) -> float:
        return _LEFT + plot_w * (v - lo) / (hi - lo)

    body = _y_axis(top)
    for left, right, c in zip(edges[:-1], edges[1:], counts):
        h = plot_h * c / top
        body.append(f'<rect x="{x_of(left):.1f}" y="{_H - _BOTTOM - h:.1f}" width="{max(x_of(right) - x_of(left) - 1, 0.5):.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{_fmt(10 ** left)}–{_fmt(10 ** right)}: {c:,}</title></rect>')
    for p in range(int(lo) - 1, int(hi) + 2):
        for m in (1, 2, 5):
            v = p + math.log10(m)
            if lo <= v <= hi:
                x = x_of(v)
                body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 4}" stroke="#333"/>')
                body.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 15}" text-anchor="middle">{_fmt(10 ** v)}</text>')
    body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}" stroke="#333"/>')
    for i, (value, label, mcolor) in enumerate(markers):
        if value and value > 0:
            lv = math.log10(value)
            if lo <= lv <= hi:
                x = x_of(lv)
                body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}" stroke="{mcolor}" '
                            f'stroke-width="2" stroke-dasharray="5,3"/>')
                body.append(f'<text x="{x + 4:.1f}" y="{_TOP + 12 + 13 * i}" fill="{mcolor}">{escape(label)} '
                            f'{_fmt(value)}</text>')
    return _frame(title, body, x_label, "documents")


def grouped_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str,
                 x_label: str, percent: bool = True) -> str:
    """Bars per category, one per series (name, values), with a legend."""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    top = max([v for _, vals in series for v in vals] + [1e-9])
    if percent:
        top = min(1.0, top * 1.1) if top <= 0.9 else 1.0
    else:
        top *= 1.1
    body = _y_axis(top, percent)
    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    slot = plot_w / n_cat
    bar = slot * 0.8 / n_ser
    for ci, cat in enumerate(categories):
        for si, (name, vals) in enumerate(series):
            v = vals[ci]
            h = plot_h * min(v / top, 1.0)
            x = _LEFT + slot * ci + slot * 0.1 + bar * si
            label = f"{100 * v:.1f}%" if percent else _fmt(v)
            body.append(f'<rect x="{x:.1f}" y="{_H - _BOTTOM - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(cat)} · {escape(name)}: {label}</title></rect>')
        body.append(f'<text x="{_LEFT + slot * (ci + 0.5):.1f}" y="{_H - _BOTTOM + 15}" text-anchor="middle">'
                    f'{escape(cat)}</text>')
    body.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM}" stroke="#333"/>')
    if len(series) > 1:
        for si, (name, _) in enumerate(series):
            x = _W - _RIGHT - 150
            y = _TOP + 4 + 14 * si
            body.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
            body.append(f'<text x="{x + 14}" y="{y + 9}">{escape(name)}</text>')
    return _frame(title, body, x_label, "share" if percent else "")
