"""Charts as server-rendered SVG: no script, no build step, readable in any
browser. Each chart is an image with a title for assistive technology; the
page puts the same numbers in a table beside it. Values are Decimals or
ints; they are scaled to pixels here, never rounded as money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Distinguishable colours, each at least 3:1 against the white background.
PALETTE = ("#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f")
TEXT = "#1f2937"
GRID = "#d1d5db"


@dataclass(frozen=True)
class Series:
    name: str
    values: list[Decimal | int]


def _num(value) -> Decimal:
    return Decimal(value or 0)


def _fmt(value: Decimal) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value.normalize():f}"


def _nice_max(value: Decimal) -> Decimal:
    """The axis top: 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        top = Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)


def _svg(chart_id: str, title: str, description: str, width: int, height: int, body: str):
    return mark_safe(  # noqa: S308 - every text in body went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    labels: list[str],
    series: list[Series],
    description: str = "The numbers are in the table beside the chart.",
    width: int = 720,
    height: int = 300,
) -> SafeString:
    """One bar per label (a day), its series stacked; a legend below."""
    left, right, top, bottom = 64, 12, 12, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum((_num(s.values[i]) for s in series), Decimal(0)) for i in range(len(labels))]
    axis_top = _nice_max(max(totals, default=Decimal(0)))
    parts = []
    for step in range(5):
        value = axis_top * step / 4
        y = top + plot_h - float(value / axis_top) * plot_h
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{TEXT}">{escape(_fmt(value))}</text>'
        )
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1.0)
    every = max(1, -(-len(labels) // 10))  # at most ten axis labels
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for k, s in enumerate(series):
            value = _num(s.values[i])
            if value <= 0:
                continue
            h = float(value / axis_top) * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[k % len(PALETTE)]}" data-series="{escape(s.name)}" '
                f'data-label="{escape(label)}" data-value="{escape(str(value))}"/>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle" font-size="11" fill="{TEXT}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{TEXT}" stroke-width="1"/>'
    )
    x = left
    for k, s in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="{height - 22}" width="12" height="12" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="{height - 12}" font-size="12" fill="{TEXT}">'
            f"{escape(s.name)}</text>"
        )
        x += 24 + 7 * len(s.name)
    return _svg(chart_id, title, description, width, height, "".join(parts))


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    rows: list[tuple[str, Decimal | int | float, str]],
    maximum: Decimal | int | float | None = None,
    limits: list[Decimal | int | float | None] | None = None,
    description: str = "The numbers are in the table beside the chart.",
    width: int = 720,
) -> SafeString:
    """One bar per row ``(label, value, text shown at the bar's end)``;
    ``limits`` (optional, per row) draws a mark where the row's threshold is."""
    left, right, row_h = 170, 90, 30
    height = max(len(rows), 1) * row_h + 16
    values = [Decimal(str(v)) for _, v, _ in rows]
    marks = [Decimal(str(m)) if m is not None else None for m in (limits or [None] * len(rows))]
    top_value = Decimal(str(maximum)) if maximum is not None else None
    top_value = top_value or _nice_max(max([*values, *(m for m in marks if m)], default=0))
    plot_w = width - left - right
    parts = []
    if not rows:
        parts.append(f'<text x="8" y="24" font-size="13" fill="{TEXT}">No data.</text>')
    for i, ((label, _, shown), value, mark) in enumerate(zip(rows, values, marks, strict=True)):
        y = 8 + i * row_h
        w = float(min(value, top_value) / top_value) * plot_w if top_value else 0.0
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
            f'fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{plot_w}" height="18" fill="#f3f4f6"/>'
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="18" '
            f'fill="{PALETTE[0]}" data-label="{escape(label)}" data-value="{escape(str(value))}"/>'
            f'<text x="{left + plot_w + 6}" y="{y + 17}" font-size="12" fill="{TEXT}">'
            f"{escape(shown)}</text>"
        )
        if mark is not None and top_value:
            mx = left + float(min(mark, top_value) / top_value) * plot_w
            parts.append(
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{y + 1}" y2="{y + 25}" '
                f'stroke="{PALETTE[4]}" stroke-width="2"/>'
            )
    return _svg(chart_id, title, description, width, height, "".join(parts))
