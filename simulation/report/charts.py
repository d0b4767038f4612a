"""Charts drawn as inline SVG: one frame, axes and legends, column and ranked-bar charts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqm.domain.model import LifecycleState
from sqm.simulation.report.page import _e, _shorten

# Okabe and Ito's palette: told apart with the common colour-vision deficiencies. Stacked
# segments are also separated by a white line, so a grey printout still shows the boundaries.
STATE_COLOURS: Mapping[LifecycleState, str] = {
    LifecycleState.CANDIDATE: "#56B4E9",  # sky blue
    LifecycleState.QUALIFIED: "#009E73",  # bluish green
    LifecycleState.CONTRACTED: "#0072B2",  # blue
    LifecycleState.UNDER_REVIEW: "#E69F00",  # orange
    LifecycleState.REMEDIATION: "#CC79A7",  # reddish purple
    LifecycleState.TERMINATED: "#D55E00",  # vermillion
}
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
RECORDED_COLOUR, CANDIDATE_COLOUR = "#0072B2", "#E69F00"


# ---------------------------------------------------------------------------------------------
# SVG: geometry, axes and legends shared by every chart.


def _px(value: float) -> str:
    """A coordinate with one decimal: enough for any screen, and the same text on every run."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class _Frame:
    """A chart's canvas and the plot area inside its margins, in SVG user units."""

    width: float = 880
    height: float = 340
    left: float = 72
    right: float = 24
    top: float = 44
    bottom: float = 64

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def baseline(self) -> float:
        return self.height - self.bottom

    def y(self, value: float, scale_top: float) -> float:
        """The vertical position of ``value`` on a scale from 0 to ``scale_top``."""
        return self.baseline - value / scale_top * self.plot_height


_FRAME_WITH_LEGEND = _Frame()
_FRAME_WITHOUT_LEGEND = _Frame(top=20)


def _nice_ticks(maximum: float, *, whole: bool) -> list[float]:
    """Round axis values from 0 up to at least ``maximum``, about five steps apart."""
    if maximum <= 0:
        return [0.0, 1.0]
    rough_step = maximum / 5
    magnitude = 10.0 ** math.floor(math.log10(rough_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough_step)
    if whole:
        step = max(step, 1.0)  # no axis of 0.2 suppliers
    steps = math.ceil(maximum / step - 1e-9)
    return [index * step for index in range(steps + 1)]


def _tick_labels(ticks: Sequence[float]) -> list[str]:
    """Short axis labels in one unit for the whole axis: 0, 50k, 100k (never 800 beside 1k).

    The tables carry the exact figures; an axis only has to be read at a glance.
    """
    top = max(ticks, default=0.0)
    # (from, unit, suffix): thousands stay whole up to 10,000, where "10k" reads better.
    for start, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if top >= start:
            return [f"{tick / unit:.3g}{suffix}" if tick else "0" for tick in ticks]
    return [f"{tick:,.0f}" if tick >= 1e3 else f"{tick:.3g}" for tick in ticks]


def _svg(frame: _Frame, chart_id: str, title: str, description: str, body: Iterable[str]) -> str:
    """An inline SVG chart that screen readers announce by its title and description."""
    # No xmlns: the HTML parser puts <svg> in the SVG namespace itself, and the report holds
    # no URL at all.
    return "".join(
        [
            f'<svg class="chart" viewBox="0 0 {_px(frame.width)} {_px(frame.height)}" '
            f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
            f'<title id="{chart_id}-title">{_e(title)}</title>',
            f'<desc id="{chart_id}-desc">{_e(description)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _value_axis(frame: _Frame, ticks: Sequence[float], label: str) -> list[str]:
    """Horizontal grid lines with their values on the left, and the axis title beside them."""
    parts = []
    for tick, tick_label in zip(ticks, _tick_labels(ticks), strict=True):
        y = _px(frame.y(tick, ticks[-1]))
        parts.append(
            f'<line class="grid" x1="{_px(frame.left)}" x2="{_px(frame.plot_right)}" '
            f'y1="{y}" y2="{y}"/>'
        )
        parts.append(
            f'<text class="tick" x="{_px(frame.left - 8)}" y="{y}" dy="0.32em" '
            f'text-anchor="end">{tick_label}</text>'
        )
    middle = _px(frame.top + frame.plot_height / 2)
    parts.append(
        f'<text class="axis-title" transform="translate(16 {middle}) rotate(-90)" '
        f'text-anchor="middle">{_e(label)}</text>'
    )
    return parts


def _baseline(frame: _Frame) -> str:
    y = _px(frame.baseline)
    x1, x2 = _px(frame.left), _px(frame.plot_right)
    return f'<line class="axis" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>'


def _category_axis(frame: _Frame, categories: Sequence[str], label: str) -> list[str]:
    """Category names under their bands, thinned so neighbours never overlap, and a title."""
    band = frame.plot_width / max(len(categories), 1)
    every = max(1, math.ceil(64 / band))  # about 64 units for a label such as "2027-01"
    parts = [
        f'<text class="tick" x="{_px(frame.left + band * (index + 0.5))}" '
        f'y="{_px(frame.baseline + 18)}" text-anchor="middle">{_e(category)}</text>'
        for index, category in enumerate(categories)
        if index % every == 0
    ]
    parts.append(
        f'<text class="axis-title" x="{_px(frame.left + frame.plot_width / 2)}" '
        f'y="{_px(frame.height - 14)}" text-anchor="middle">{_e(label)}</text>'
    )
    return parts


def _legend(frame: _Frame, entries: Sequence[tuple[str, str]]) -> list[str]:
    """Swatches and names in one row above the plot, aligned with its left edge."""
    parts = []
    x = frame.left
    for name, colour in entries:
        parts.append(f'<rect x="{_px(x)}" y="12" width="12" height="12" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{_px(x + 17)}" y="22">{_e(name)}</text>')
        # SVG text cannot be measured here; 7 units a character is a safe overestimate at 11px.
        x += 17 + 7 * len(name) + 20
    return parts


# ---------------------------------------------------------------------------------------------
# Charts.


@dataclass(frozen=True)
class _Series:
    """One named, coloured row of values; ``labels`` are the exact figures shown on hover."""

    name: str
    colour: str
    values: tuple[float, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class _ColumnChart:
    """Vertical bars per category, one bar per series side by side, or stacked."""

    chart_id: str
    title: str
    description: str
    categories: tuple[str, ...]
    series: tuple[_Series, ...]
    y_label: str
    x_label: str
    stacked: bool = False
    whole: bool = True  # counts: ticks at whole numbers only
    bar_fraction: float = 0.72  # of each category's band; the rest is the gap between them


def _column_scale_top(chart: _ColumnChart) -> float:
    columns = zip(*(series.values for series in chart.series), strict=True)
    heights = [sum(column) if chart.stacked else max(column) for column in columns]
    return max(heights, default=0.0)


def _column_bars(chart: _ColumnChart, frame: _Frame, scale_top: float) -> list[str]:
    band = frame.plot_width / max(len(chart.categories), 1)
    span = band * chart.bar_fraction
    width = span if chart.stacked else span / len(chart.series)
    parts = []
    for index, category in enumerate(chart.categories):
        left = frame.left + band * index + (band - span) / 2
        base = 0.0
        for position, series in enumerate(chart.series):
            value = series.values[index]
            x = left if chart.stacked else left + position * width
            top, bottom = frame.y(base + value, scale_top), frame.y(base, scale_top)
            if value > 0:
                parts.append(
                    f'<rect class="bar" x="{_px(x)}" y="{_px(top)}" width="{_px(width)}" '
                    f'height="{_px(bottom - top)}" fill="{series.colour}"><title>'
                    f"{_e(category)} · {_e(series.name)}: {_e(series.labels[index])}"
                    "</title></rect>"
                )
            if chart.stacked:
                base += value
    return parts


def _column_chart(chart: _ColumnChart) -> str:
    """Bars with a value axis, category labels and, for several series, a legend on top."""
    with_legend = len(chart.series) > 1
    frame = _FRAME_WITH_LEGEND if with_legend else _FRAME_WITHOUT_LEGEND
    ticks = _nice_ticks(_column_scale_top(chart), whole=chart.whole)
    body = [
        *_value_axis(frame, ticks, chart.y_label),
        *_column_bars(chart, frame, ticks[-1]),
        _baseline(frame),
        *_category_axis(frame, chart.categories, chart.x_label),
    ]
    if with_legend:
        body += _legend(frame, [(series.name, series.colour) for series in chart.series])
    return _svg(frame, chart.chart_id, chart.title, chart.description, body)


@dataclass(frozen=True)
class _RankedRule:
    rule_id: str
    title: str
    fired: int


def _rules_chart(rules: Sequence[_RankedRule]) -> str:
    """Horizontal bars, most fired on top, each labelled with the rule's id and title."""
    row = 24
    frame = _Frame(height=16 + row * len(rules) + 52, left=340, right=56, top=16, bottom=52)
    ticks = _nice_ticks(max(rule.fired for rule in rules), whole=True)
    scale = frame.plot_width / ticks[-1]
    body = []
    for tick, tick_label in zip(ticks, _tick_labels(ticks), strict=True):
        x = _px(frame.left + tick * scale)
        body.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{_px(frame.top)}" '
            f'y2="{_px(frame.baseline)}"/>'
        )
        body.append(
            f'<text class="tick" x="{x}" y="{_px(frame.baseline + 16)}" '
            f'text-anchor="middle">{tick_label}</text>'
        )
    for index, rule in enumerate(rules):
        body += _rule_bar(frame, frame.top + index * row, row, rule, rule.fired * scale)
    body.append(
        f'<text class="axis-title" x="{_px(frame.left + frame.plot_width / 2)}" '
        f'y="{_px(frame.height - 12)}" text-anchor="middle">Times fired</text>'
    )
    description = "; ".join(f"{rule.rule_id}: {rule.fired:,}" for rule in rules)
    return _svg(frame, "chart-rules", f"The {len(rules)} rules that fired most", description, body)


def _rule_bar(frame: _Frame, y: float, row: float, rule: _RankedRule, length: float) -> list[str]:
    middle = _px(y + row / 2)
    # About 44 columns fit the margin; a Chinese character takes two.
    title = _shorten(rule.title, max(12, 44 - len(rule.rule_id)))
    return [
        f'<text x="{_px(frame.left - 8)}" y="{middle}" dy="0.32em" text-anchor="end">'
        f'<tspan class="rule-id">{_e(rule.rule_id)}</tspan> {_e(title)}</text>',
        f'<rect class="bar" x="{_px(frame.left)}" y="{_px(y + 4)}" width="{_px(length)}" '
        f'height="{_px(row - 8)}" fill="{SERIES_COLOURS[0]}"><title>{_e(rule.rule_id)} '
        f"{_e(rule.title)}: fired {rule.fired:,} times</title></rect>",
        f'<text x="{_px(frame.left + length + 6)}" y="{middle}" dy="0.32em">{rule.fired:,}</text>',
    ]
