"""SVG charts drawn on the server: sparklines, overlaid line charts, scatter plots.

Plain strings of SVG with every label escaped; colours come from CSS classes (``c0``…``c9``),
so the Content-Security-Policy needs no inline styles. The live view asks the server for the
same SVG again (``live.json``), so there is one way to draw a chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

Point = tuple[float, float]
Points = Sequence[Sequence[float]]
COLOURS = 10


def downsample(points: Points, buckets: int) -> list[Point]:
    """At most about ``2 * buckets`` points keeping each bucket's lowest and highest value."""
    n = len(points)
    if n <= 2 * buckets:
        return [(p[0], p[1]) for p in points]
    keep: list[int] = []
    size = n / buckets
    for b in range(buckets):
        start, end = int(b * size), int((b + 1) * size)
        if start >= end:
            continue
        low = min(range(start, end), key=lambda i: points[i][1])
        high = max(range(start, end), key=lambda i: points[i][1])
        keep.extend(sorted({low, high}))
    if keep[-1] != n - 1:
        keep.append(n - 1)
    return [(points[i][0], points[i][1]) for i in keep]


def _num(value: float) -> str:
    return f"{value:.4g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``…``high``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high == low:
        return [low]
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(value, 12))
        value += step
    return ticks


class _Scale:
    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        if high == low:
            low, high = low - (abs(low) * 0.1 or 1), high + (abs(high) * 0.1 or 1)
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def sparkline(points: Points, width: int = 72, height: int = 18) -> Markup:
    """A small line of one curve for a table cell, its last point marked."""
    if not points:
        return Markup("")
    shown = downsample(points, width // 2)
    xs = [p[0] for p in shown]
    ys = [p[1] for p in shown]
    sx = _Scale(min(xs), max(xs), 1, width - 3)
    sy = _Scale(min(ys), max(ys), height - 2, 2)
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in shown)
    last = shown[-1]
    values = [p[1] for p in points]
    title = (f"{len(points)} steps, min {_num(min(values))}, max {_num(max(values))}, "
             f"last {_num(values[-1])}")
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<polyline points="{line}"/><circle cx="{sx(last[0]):.1f}" cy="{sy(last[1]):.1f}" '
        f'r="1.8"/></svg>'
    )


def line_chart(title: str, series: Sequence[tuple[str, int, Points]],
               width: int = 560, height: int = 220) -> Markup:
    """One chart, one line per series ``(label, colour index, points)``, sharing axes."""
    drawn = [(label, colour, downsample(points, 300)) for label, colour, points in series
             if points]
    left, right, top, bottom = 56, 12, 24, 30
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text class="chart-title" x="{left}" y="15">{escape(title)}</text>']
    if not drawn:
        parts.append(f'<text class="empty" x="{width / 2}" y="{height / 2}">no steps yet</text>')
        return Markup("".join(parts) + "</svg>")
    xs = [p[0] for _, _, pts in drawn for p in pts]
    ys = [p[1] for _, _, pts in drawn for p in pts]
    sx = _Scale(min(xs), max(xs), left, width - right)
    sy = _Scale(min(ys), max(ys), height - bottom, top)
    parts.append(_axes(sx, sy, left, width - right, top, height - bottom))
    for label, colour, pts in drawn:
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        last = pts[-1]
        parts.append(
            f'<g class="series c{colour % COLOURS}"><title>{escape(label)}: last '
            f'{_num(last[1])} at step {_num(last[0])}</title><polyline points="{line}"/>'
            f'<circle cx="{sx(last[0]):.1f}" cy="{sy(last[1]):.1f}" r="2.5"/></g>')
    return Markup("".join(parts) + "</svg>")


def _axes(sx: _Scale, sy: _Scale, x0: float, x1: float, y0: float, y1: float,
          xticks: bool = True) -> str:
    out = [f'<g class="axes"><line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}"/>'
           f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}"/>']
    for t in nice_ticks(sy.low, sy.high, 4):
        y = sy(t)
        out.append(f'<line class="grid" x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}"/>'
                   f'<text class="ytick" x="{x0 - 4}" y="{y + 3:.1f}">{_num(t)}</text>')
    for t in nice_ticks(sx.low, sx.high, 5) if xticks else ():
        x = sx(t)
        out.append(f'<text class="xtick" x="{x:.1f}" y="{y1 + 14}">{_num(t)}</text>')
    return "".join(out) + "</g>"


def scatter(x_label: str, y_label: str, points: Sequence[dict[str, Any]],
            background: Sequence[tuple[Any, Any]] = (), width: int = 560,
            height: int = 260) -> Markup:
    """Points ``{"x", "y", "colour", "label"}`` over grey ``background`` points.

    Text x values are placed as categories, in order of first appearance.
    """
    left, right, top, bottom = 56, 16, 16, 40
    title = f"{y_label} against {x_label}"
    parts = [f'<svg class="chart scatter" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    usable = [(p["x"], p["y"]) for p in points] + list(background)
    usable = [(x, y) for x, y in usable if _is_number(y) and x is not None]
    if not usable:
        parts.append(f'<text class="empty" x="{width / 2}" y="{height / 2}">no values to '
                     'plot</text>')
        return Markup("".join(parts) + "</svg>")
    categories: dict[str, int] = {}
    numeric_x = all(_is_number(x) for x, _ in usable)
    if not numeric_x:
        for x, _ in usable:
            categories.setdefault(_category(x), len(categories))

    def xpos(x: Any) -> float:
        return float(x) if numeric_x else float(categories[_category(x)])

    xs = [xpos(x) for x, _ in usable]
    ys = [float(y) for _, y in usable]
    pad = 0.5 if not numeric_x else 0.0
    sx = _Scale(min(xs) - pad, max(xs) + pad, left, width - right)
    sy = _Scale(min(ys), max(ys), height - bottom, top)
    parts.append(_axes(sx, sy, left, width - right, top, height - bottom, numeric_x))
    if not numeric_x:
        for name, i in list(categories.items())[:30]:
            parts.append(f'<text class="xtick" x="{sx(i):.1f}" y="{height - bottom + 14}">'
                         f'{escape(name[:16])}</text>')
    for x, y in background:
        if _is_number(y) and x is not None:
            parts.append(f'<circle class="bg" cx="{sx(xpos(x)):.1f}" cy="{sy(float(y)):.1f}" '
                         'r="2"/>')
    for p in points:
        if _is_number(p["y"]) and p["x"] is not None:
            parts.append(
                f'<circle class="pt c{p["colour"] % COLOURS}" cx="{sx(xpos(p["x"])):.1f}" '
                f'cy="{sy(float(p["y"])):.1f}" r="5"><title>{escape(str(p["label"]))}: '
                f'{escape(x_label)} = {escape(_category(p["x"]))}, {escape(y_label)} = '
                f'{_num(float(p["y"]))}</title></circle>')
    parts.append(f'<text class="axis-label" x="{(left + width - right) / 2}" '
                 f'y="{height - 6}">{escape(x_label)}</text>')
    return Markup("".join(parts) + "</svg>")


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _category(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    return str(value)
