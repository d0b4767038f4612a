"""Self-contained HTML reports for compliance simulations and policy backtests.

:func:`render_simulation` and :func:`render_backtest` turn the JSON-ready results of
``sqm simulate run`` and ``sqm backtest`` into one HTML5 document each: inline CSS, charts as
inline SVG drawn here, no script and nothing fetched, so the file can be mailed, filed with a
committee's papers and opened offline years later. A Content-Security-Policy forbids scripts and
remote loads, a second line of defence behind the escaping.

Same input, same bytes: mappings are walked in a fixed order and nothing reads the clock, so a
report can be regenerated and compared. Every string from the input is escaped, because supplier
ids and rule titles are typed by people. Money arrives as decimal strings and is shown from
:class:`~decimal.Decimal`; floats only place pixels.
"""

from __future__ import annotations

import html
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.model import LifecycleState

SIMULATION_FORMAT = "sqm.simulation/v1"
BACKTEST_FORMAT = "sqm.backtest/v1"

TOP_RULES = 15
TERMINATION_BIN_DAYS = 30
# Past this many 30-day bins the histogram widens its bins (60, 90, ... days) rather than
# drawing slivers nobody can read.
MAX_TERMINATION_BINS = 24

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
MINUS = "\u2212"
SHORT_VERSION = 12

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--accent:#0072B2}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,
 "Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif}
header.report{padding:28px 40px 20px;background:var(--panel);border-bottom:4px solid var(--accent)}
.kind{margin:0;font-size:12px;font-weight:600;letter-spacing:.08em;text-transform:uppercase;
 color:var(--muted)}
h1{margin:4px 0 14px;font-size:28px;line-height:1.2;overflow-wrap:anywhere}
dl.facts{display:flex;flex-wrap:wrap;gap:6px 32px;margin:0}
dl.facts div{display:flex;gap:8px;min-width:0}
dl.facts dt{color:var(--muted);white-space:nowrap}
dl.facts dd{margin:0;font-weight:600;overflow-wrap:break-word}
main{max-width:1120px;padding:4px 40px 24px}
section{margin:28px 0}
h2{margin:0 0 4px;padding-bottom:4px;font-size:20px;border-bottom:1px solid var(--line)}
.lead{margin:6px 0 12px;color:var(--muted)}
dl.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:12px;
 margin:12px 0}
.tile{padding:10px 14px;border:1px solid var(--line);border-left:4px solid var(--accent);
 border-radius:6px}
.tile dt{font-size:12px;letter-spacing:.04em;text-transform:uppercase;color:var(--muted)}
.tile dd{margin:0}
.tile .value{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums;
 overflow-wrap:break-word}
.tile .detail{font-size:12px;color:var(--muted)}
figure{margin:12px 0 8px}
figcaption{font-size:13px;color:var(--muted)}
svg.chart{display:block;width:100%;height:auto}
svg text{font-family:inherit;font-size:11px;fill:var(--ink)}
svg .tick{fill:var(--muted)}
svg .axis-title{font-size:12px;font-weight:600}
svg .rule-id{font-weight:700}
svg .grid{stroke:#e3e7eb;stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .bar{stroke:#fff;stroke-width:.6}
table{width:100%;margin:8px 0 4px;border-collapse:collapse;font-size:13px;
 font-variant-numeric:tabular-nums}
caption{padding:4px 0;font-weight:600;text-align:left}
th,td{padding:4px 8px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line);
 overflow-wrap:break-word}
thead th{background:var(--panel);border-bottom:2px solid var(--line)}
tfoot th,tfoot td{font-weight:700;border-top:2px solid var(--line)}
.num{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
thead th.num,thead th.nowrap{white-space:normal}
.note{padding:12px 16px;background:var(--panel);border-radius:6px}
abbr.version{font-family:"DejaVu Sans Mono",ui-monospace,monospace;text-decoration:none;
 white-space:nowrap}
footer{padding:16px 40px;font-size:12px;color:var(--muted);border-top:1px solid var(--line)}
@media print{
 body{font-size:10.5pt}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 header.report{padding:0 0 8pt;background:none}
 main,footer{max-width:none;padding-left:0;padding-right:0}
 figure,.tile,tr{break-inside:avoid}
 h2{break-after:avoid}
 thead{display:table-header-group}
 abbr.version[title]::after{content:" (" attr(title) ")";font-size:7.5pt;font-weight:400;
  word-break:break-all}
}
"""


class ResultInvalid(ValueError):
    """The result handed to a renderer is not one it can draw; the message says where."""


# ---------------------------------------------------------------------------------------------
# Reading the input: strict, so an engine bug shows up as an error rather than a wrong figure.


def _check_format(result: Mapping[str, Any], expected: str) -> None:
    found = result.get("format", expected)
    if found != expected:
        raise ResultInvalid(f"this report reads {expected} results, not {found!r}")


def _whole(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResultInvalid(f"{where}: {value!r} is not a whole number")
    return value


def _amount(value: object, where: str) -> Decimal:
    # Strings only: a float here means the engine already lost cents somewhere.
    if not isinstance(value, str):
        raise ResultInvalid(f"{where}: {value!r} is not a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ResultInvalid(f"{where}: {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise ResultInvalid(f"{where}: {value!r} is not a finite amount")
    return amount


def _state(value: object, where: str) -> LifecycleState:
    try:
        return LifecycleState(str(value))
    except ValueError:
        raise ResultInvalid(f"{where}: {value!r} is not a lifecycle state") from None


# ---------------------------------------------------------------------------------------------
# Text: escaping and the figures' formats.


def _e(value: object) -> str:
    """Text from anywhere, escaped for HTML and SVG alike (quotes too, for attributes)."""
    return html.escape(str(value), quote=True)


def _count(value: int) -> str:
    return f"{value:,}"


def _signed_count(value: int) -> str:
    if value > 0:
        return f"+{value:,}"
    return f"{MINUS}{-value:,}" if value < 0 else "0"


def _money(amount: Decimal) -> str:
    # ``f`` keeps the amount's own places: "15000.00" reads "15,000.00", never rounded.
    return f"{amount:,f}"


def _signed_money(amount: Decimal) -> str:
    sign = "+" if amount > 0 else MINUS if amount < 0 else ""
    return sign + _money(abs(amount))


def _share(part: int, whole: int, of: str) -> str:
    return f"{100 * part / whole:.1f}% of {of}" if whole else ""


def _shorten(text: str, limit: int) -> str:
    # Cut before escaping, so an entity is never cut in half.
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _state_name(state: LifecycleState) -> str:
    return state.value.replace("_", " ")


def _parameter(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


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
    title = _shorten(rule.title, max(12, 44 - len(rule.rule_id)))  # about 44 characters fit
    return [
        f'<text x="{_px(frame.left - 8)}" y="{middle}" dy="0.32em" text-anchor="end">'
        f'<tspan class="rule-id">{_e(rule.rule_id)}</tspan> {_e(title)}</text>',
        f'<rect class="bar" x="{_px(frame.left)}" y="{_px(y + 4)}" width="{_px(length)}" '
        f'height="{_px(row - 8)}" fill="{SERIES_COLOURS[0]}"><title>{_e(rule.rule_id)} '
        f"{_e(rule.title)}: fired {rule.fired:,} times</title></rect>",
        f'<text x="{_px(frame.left + length + 6)}" y="{middle}" dy="0.32em">{rule.fired:,}</text>',
    ]


# ---------------------------------------------------------------------------------------------
# HTML building blocks.


@dataclass(frozen=True)
class _Tile:
    label: str
    value: str
    detail: str = ""


def _tiles(tiles: Iterable[_Tile]) -> str:
    items = [
        f'<div class="tile"><dt>{_e(tile.label)}</dt><dd class="value">{_e(tile.value)}</dd>'
        + (f'<dd class="detail">{_e(tile.detail)}</dd>' if tile.detail else "")
        + "</div>"
        for tile in tiles
    ]
    return f'<dl class="tiles">{"".join(items)}</dl>'


# A table cell: one line of text, or several lines shown one under the other.
_Cell = str | tuple[str, ...]


def _table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[_Cell]],
    *,
    numeric: Iterable[int] = (),
    nowrap: Iterable[int] = (),
    footer: Sequence[str] = (),
) -> str:
    """A table of plain-text cells, escaped here; the first cell of a row heads it.

    ``numeric`` columns align right in tabular figures so digits line up; ``nowrap`` columns
    (ids, timestamps) never break inside a line.
    """
    classes = dict.fromkeys(nowrap, "nowrap") | dict.fromkeys(numeric, "num")

    def cell(tag: str, column: int, content: _Cell, scope: str = "") -> str:
        attributes = f' class="{classes[column]}"' if column in classes else ""
        attributes += f' scope="{scope}"' if scope else ""
        lines = (content,) if isinstance(content, str) else content
        return f"<{tag}{attributes}>{'<br>'.join(map(_e, lines))}</{tag}>"

    def row_html(cells: Sequence[_Cell]) -> str:
        first, *rest = cells
        others = "".join(cell("td", column, text) for column, text in enumerate(rest, start=1))
        return f"<tr>{cell('th', 0, first, 'row')}{others}</tr>"

    head = "".join(cell("th", column, name, "col") for column, name in enumerate(headers))
    parts = [f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>"]
    parts += [row_html(row) for row in rows]
    parts.append("</tbody>")
    if footer:
        parts.append(f"<tfoot>{row_html(footer)}</tfoot>")
    parts.append("</table>")
    return "".join(parts)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _section(slug: str, heading: str, *parts: str, lead: str = "") -> str:
    return "".join(
        [
            f'<section id="{slug}" aria-labelledby="{slug}-heading">',
            f'<h2 id="{slug}-heading">{_e(heading)}</h2>',
            f'<p class="lead">{_e(lead)}</p>' if lead else "",
            *parts,
            "</section>",
        ]
    )


def _version_html(version: str) -> str:
    """A policy version's first digits; the full SHA-256 in the title (and, printed, after it)."""
    short = version if len(version) <= SHORT_VERSION else version[:SHORT_VERSION] + "…"
    return f'<abbr class="version" title="{_e(version)}">{_e(short)}</abbr>'


def _header(kind: str, pack: str, facts: Sequence[tuple[str, str]]) -> str:
    """The report's masthead; each fact is a plain label and a value already in HTML."""
    items = "".join(f"<div><dt>{_e(label)}</dt><dd>{value}</dd></div>" for label, value in facts)
    return (
        f'<header class="report"><p class="kind">{_e(kind)}</p><h1>{_e(pack)}</h1>'
        f'<dl class="facts">{items}</dl></header>'
    )


def _document(title: str, header: str, sections: Iterable[str], format_name: str) -> str:
    footer = (
        f"Produced by SQM from a {format_name} result. The tables hold the exact figures; the "
        "charts are drawn from them. The same result always gives this same file."
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            header,
            "<main>",
            *sections,
            "</main>",
            f"<footer>{_e(footer)}</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


# ---------------------------------------------------------------------------------------------
# The simulation report.


def render_simulation(result: Mapping[str, Any]) -> str:
    """One self-contained HTML document for a ``sqm.simulation/v1`` result.

    Same input, same bytes. Raises :class:`ResultInvalid` for a result of another format, an
    unknown lifecycle state, a count that is not a whole number or an amount that is not a
    decimal string.
    """
    _check_format(result, SIMULATION_FORMAT)
    months = _months_axis(result)
    sections = (
        _simulation_summary(result),
        _states_section(months, result.get("states_per_month", {})),
        _penalties_section(months, result.get("penalties_per_month", {})),
        _rules_section(result.get("rules_fired", {}), result.get("rule_titles", {})),
        _termination_section(result.get("time_to_termination_days", [])),
    )
    title = f"Compliance simulation: {result.get('pack', '')}"
    return _document(title, _simulation_header(result), sections, SIMULATION_FORMAT)


def _months_axis(result: Mapping[str, Any]) -> tuple[str, ...]:
    """The result's own month order; without one, every month it names, sorted."""
    if axis := result.get("months_axis"):
        return tuple(str(month) for month in axis)
    named = {*result.get("states_per_month", {}), *result.get("penalties_per_month", {})}
    return tuple(sorted(str(month) for month in named))


def _simulation_header(result: Mapping[str, Any]) -> str:
    scenario = result.get("scenario", {})
    facts = [
        ("Policy version", _version_html(str(result.get("policy_version", "")))),
        ("Scenario", _e(scenario.get("name", ""))),
        ("Seed", _e(result.get("seed", ""))),
        ("Suppliers", _e(_count(_whole(result.get("suppliers", 0), "suppliers")))),
        ("Months", _e(_count(_whole(result.get("months", 0), "months")))),
    ]
    facts += [
        (str(key), _e(_parameter(scenario[key]))) for key in sorted(scenario) if key != "name"
    ]
    return _header("Compliance simulation", str(result.get("pack", "")), facts)


def _simulation_summary(result: Mapping[str, Any]) -> str:
    totals = result.get("totals", {})
    suppliers = _whole(result.get("suppliers", 0), "suppliers")
    terminated = _whole(totals.get("terminated", 0), "totals.terminated")
    penalties = _currency_amounts(totals.get("penalties", {}), "totals.penalties")
    tiles = [
        _Tile("Suppliers simulated", _count(suppliers)),
        _Tile("Events recorded", _count(_whole(totals.get("events", 0), "totals.events"))),
        _Tile("Decisions", _count(_whole(totals.get("decisions", 0), "totals.decisions"))),
        _Tile("Terminated", _count(terminated), _share(terminated, suppliers, "suppliers")),
    ]
    tiles += [_Tile(f"Penalties {currency}", _money(amount)) for currency, amount in penalties]
    if not penalties:
        tiles.append(_Tile("Penalties", "none"))
    return _section("summary", "Summary", _tiles(tiles))


def _currency_amounts(amounts: Mapping[str, Any], where: str) -> list[tuple[str, Decimal]]:
    return [
        (str(currency), _amount(amounts[currency], f"{where}[{currency}]"))
        for currency in sorted(amounts)
    ]


def _state_counts(
    months: Sequence[str], states_per_month: Mapping[str, Mapping[str, Any]]
) -> dict[LifecycleState, list[int]]:
    """Suppliers per state and month; a state a month does not name counts 0."""
    counts = {state: [0] * len(months) for state in LifecycleState}
    for index, month in enumerate(months):
        where = f"states_per_month[{month}]"
        for name, value in sorted(states_per_month.get(month, {}).items()):
            counts[_state(name, where)][index] = _whole(value, f"{where}[{name}]")
    return counts


def _states_chart(months: Sequence[str], counts: Mapping[LifecycleState, list[int]]) -> str:
    series = tuple(
        _Series(
            _state_name(state),
            STATE_COLOURS[state],
            tuple(map(float, values)),
            tuple(map(_count, values)),
        )
        for state, values in counts.items()
    )
    chart = _ColumnChart(
        chart_id="chart-states",
        title="Suppliers by lifecycle state, month by month",
        description="Stacked bars, one per month, in lifecycle order from candidate at the "
        "bottom to terminated at the top. The table below gives every figure.",
        categories=tuple(months),
        series=series,
        y_label="Suppliers",
        x_label="Month",
        stacked=True,
    )
    caption = "Each bar is one month; its segments are the lifecycle states, in lifecycle order."
    return _figure(_column_chart(chart), caption)


def _states_table(months: Sequence[str], counts: Mapping[LifecycleState, list[int]]) -> str:
    rows = [
        [
            month,
            *(_count(counts[state][index]) for state in LifecycleState),
            _count(sum(counts[state][index] for state in LifecycleState)),
        ]
        for index, month in enumerate(months)
    ]
    return _table(
        "Suppliers in each lifecycle state, month by month",
        ["Month", *map(_state_name, LifecycleState), "Total"],
        rows,
        numeric=range(1, len(LifecycleState) + 2),
    )


def _states_section(months: Sequence[str], states_per_month: Mapping[str, Any]) -> str:
    heading = "Suppliers by lifecycle state"
    if not months:
        return _section("states", heading, _note("The simulation covers no month."))
    counts = _state_counts(months, states_per_month)
    return _section("states", heading, _states_chart(months, counts), _states_table(months, counts))


def _penalty_amounts(
    months: Sequence[str], penalties_per_month: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[Decimal]]:
    """Amounts per currency and month, currencies sorted; a month without one counts 0.00."""
    currencies = sorted({str(c) for month in months for c in penalties_per_month.get(month, {})})
    amounts = {currency: [Decimal("0.00")] * len(months) for currency in currencies}
    for index, month in enumerate(months):
        for currency, amount in _currency_amounts(
            penalties_per_month.get(month, {}), f"penalties_per_month[{month}]"
        ):
            amounts[currency][index] = amount
    return amounts


def _penalty_chart(
    index: int, currency: str, months: Sequence[str], amounts: Sequence[Decimal]
) -> str:
    # One chart per currency: amounts in different currencies share no scale.
    series = _Series(
        currency,
        SERIES_COLOURS[index % len(SERIES_COLOURS)],
        tuple(float(amount) for amount in amounts),
        tuple(f"{_money(amount)} {currency}" for amount in amounts),
    )
    chart = _ColumnChart(
        chart_id=f"chart-penalties-{index}",
        title=f"Penalties imposed per month, {currency}",
        description=f"One bar per month: the penalties in {currency} imposed that month.",
        categories=tuple(months),
        series=(series,),
        y_label=f"Penalties ({currency})",
        x_label="Month",
        whole=False,
    )
    return _figure(_column_chart(chart), f"Penalties imposed each month, in {currency}.")


def _penalties_section(months: Sequence[str], penalties_per_month: Mapping[str, Any]) -> str:
    heading = "Penalties per month"
    amounts = _penalty_amounts(months, penalties_per_month)
    if not amounts:
        return _section("penalties", heading, _note("No penalty was imposed in the simulation."))
    charts = [
        _penalty_chart(index, currency, months, values)
        for index, (currency, values) in enumerate(amounts.items())
    ]
    rows = [
        [month, *(_money(values[index]) for values in amounts.values())]
        for index, month in enumerate(months)
    ]
    table = _table(
        "Penalties imposed per month, by currency",
        ["Month", *amounts],
        rows,
        numeric=range(1, len(amounts) + 1),
        footer=["Total", *(_money(sum(values, Decimal(0))) for values in amounts.values())],
    )
    return _section("penalties", heading, *charts, table)


def _ranked_rules(
    rules_fired: Mapping[str, Any], rule_titles: Mapping[str, Any]
) -> list[_RankedRule]:
    """Every rule, most fired first; ties in rule id order so the ranking is stable."""
    rules = [
        _RankedRule(
            str(rule_id),
            str(rule_titles.get(rule_id, "")),
            _whole(fired, f"rules_fired[{rule_id}]"),
        )
        for rule_id, fired in rules_fired.items()
    ]
    return sorted(rules, key=lambda rule: (-rule.fired, rule.rule_id))


def _rules_section(rules_fired: Mapping[str, Any], rule_titles: Mapping[str, Any]) -> str:
    heading = "Rules that fired most"
    ranked = _ranked_rules(rules_fired, rule_titles)
    fired = [rule for rule in ranked if rule.fired > 0]
    if not fired:
        return _section("rules", heading, _note("No rule fired in the simulation."))
    silent = len(ranked) - len(fired)
    top = fired[:TOP_RULES]
    caption = f"The {len(top)} rules that fired most, of {len(fired)} that fired at all."
    table = _table(
        f"Every rule and how often it fired ({silent} never fired)",
        ["Rule", "Title", "Times fired"],
        [[rule.rule_id, rule.title, _count(rule.fired)] for rule in ranked],
        numeric=[2],
    )
    return _section("rules", heading, _figure(_rules_chart(top), caption), table)


@dataclass(frozen=True)
class _Bin:
    first_day: int
    last_day: int
    suppliers: int

    @property
    def label(self) -> str:
        return f"{self.first_day}–{self.last_day}"


def _termination_bins(days: Sequence[int]) -> list[_Bin]:
    """30-day bins from day 0 to the longest time, widened to keep at most 24 of them."""
    widen = math.ceil((max(days) + 1) / (TERMINATION_BIN_DAYS * MAX_TERMINATION_BINS))
    width = TERMINATION_BIN_DAYS * max(1, widen)
    counts = [0] * (max(days) // width + 1)
    for day in days:
        counts[day // width] += 1
    return [_Bin(i * width, (i + 1) * width - 1, count) for i, count in enumerate(counts)]


def _termination_days(values: Sequence[Any]) -> list[int]:
    days = sorted(_whole(value, "time_to_termination_days") for value in values)
    if days and days[0] < 0:
        raise ResultInvalid(f"time_to_termination_days: {days[0]} is negative")
    return days


def _termination_tiles(days: Sequence[int]) -> str:
    return _tiles(
        [
            _Tile("Suppliers terminated", _count(len(days))),
            _Tile("Median", f"{statistics.median(days):,g} days"),
            _Tile("Shortest", f"{days[0]:,} days"),
            _Tile("Longest", f"{days[-1]:,} days"),
        ]
    )


def _termination_chart(bins: Sequence[_Bin], terminated: int) -> str:
    width = bins[0].last_day + 1
    chart = _ColumnChart(
        chart_id="chart-termination",
        title="Distribution of time to termination",
        description=f"Histogram of {terminated:,} terminated suppliers in bins of {width} days.",
        categories=tuple(bin_.label for bin_ in bins),
        series=(
            _Series(
                "Suppliers terminated",
                STATE_COLOURS[LifecycleState.TERMINATED],
                tuple(float(bin_.suppliers) for bin_ in bins),
                tuple(_count(bin_.suppliers) for bin_ in bins),
            ),
        ),
        y_label="Suppliers terminated",
        x_label="Days to termination",
        bar_fraction=0.94,  # a histogram: bins touch, nearly
    )
    caption = f"Each bar counts the suppliers terminated within that span of {width} days."
    return _figure(_column_chart(chart), caption)


def _termination_section(values: Sequence[Any]) -> str:
    heading = "Time to termination"
    days = _termination_days(values)
    if not days:
        note = _note("No supplier was terminated in the simulation.")
        return _section("termination", heading, note)
    bins = _termination_bins(days)
    table = _table(
        "Terminated suppliers by days to termination",
        ["Days", "Suppliers terminated"],
        [[f"{bin_.label} days", _count(bin_.suppliers)] for bin_ in bins],
        numeric=[1],
        footer=["All", _count(len(days))],
    )
    chart = _termination_chart(bins, len(days))
    return _section("termination", heading, _termination_tiles(days), chart, table)


# ---------------------------------------------------------------------------------------------
# The backtest report.


@dataclass(frozen=True)
class _Replay:
    """One supplier's backtest outcome: as recorded under the active pack, and as replayed."""

    supplier_id: str
    changed: bool
    recorded_state: LifecycleState
    candidate_state: LifecycleState
    only_recorded: tuple[str, ...]
    only_candidate: tuple[str, ...]
    currency: str
    recorded_penalties: Decimal
    candidate_penalties: Decimal
    first_difference_at: str
    first_difference: str

    @classmethod
    def read(cls, entry: Mapping[str, Any]) -> _Replay:
        """The outcome from one ``suppliers`` entry of a backtest result."""
        supplier_id = str(entry.get("supplier_id", ""))
        where = f"suppliers[{supplier_id}]"
        state = entry.get("state", {})
        decisions = entry.get("decisions", {})
        penalties = entry.get("penalties") or {}
        first = entry.get("first_difference") or {}
        return cls(
            supplier_id=supplier_id,
            changed=bool(entry.get("changed", False)),
            recorded_state=_state(state.get("recorded"), f"{where}.state.recorded"),
            candidate_state=_state(state.get("candidate"), f"{where}.state.candidate"),
            only_recorded=tuple(sorted(map(str, decisions.get("only_recorded", [])))),
            only_candidate=tuple(sorted(map(str, decisions.get("only_candidate", [])))),
            currency=str(penalties.get("currency", "")),
            recorded_penalties=_amount(
                penalties.get("recorded", "0.00"), f"{where}.penalties.recorded"
            ),
            candidate_penalties=_amount(
                penalties.get("candidate", "0.00"), f"{where}.penalties.candidate"
            ),
            first_difference_at=str(first.get("at", "")),
            first_difference=str(first.get("what", "")),
        )

    @property
    def state_change(self) -> str:
        """The state under each pack, or the one state when both agree."""
        if self.recorded_state == self.candidate_state:
            return f"{_state_name(self.recorded_state)} (same)"
        return f"{_state_name(self.recorded_state)} → {_state_name(self.candidate_state)}"


def render_backtest(result: Mapping[str, Any]) -> str:
    """One self-contained HTML document for a ``sqm.backtest/v1`` result.

    Changed suppliers are listed by supplier id; unchanged ones are counted, not listed. Same
    input, same bytes. Raises :class:`ResultInvalid` as :func:`render_simulation` does.
    """
    _check_format(result, BACKTEST_FORMAT)
    replays = sorted(
        (_Replay.read(entry) for entry in result.get("suppliers", [])),
        key=lambda replay: replay.supplier_id,
    )
    totals = result.get("totals", {})
    sections = (
        _backtest_summary(totals),
        _state_comparison_section(replays),
        _changed_suppliers_section(replays, totals),
    )
    title = f"Policy backtest: {result.get('pack', '')}"
    return _document(title, _backtest_header(result), sections, BACKTEST_FORMAT)


def _backtest_header(result: Mapping[str, Any]) -> str:
    facts = [
        ("Active version", _version_html(str(result.get("active_version", "")))),
        ("Candidate version", _version_html(str(result.get("candidate_version", "")))),
        ("Source", _e(result.get("source", ""))),
    ]
    return _header("Policy backtest", str(result.get("pack", "")), facts)


def _penalty_totals(totals: Mapping[str, Any]) -> list[tuple[str, Decimal, Decimal]]:
    """(currency, recorded, candidate) for every currency, sorted."""
    penalties = totals.get("penalties", {})
    where = "totals.penalties"
    return [
        (
            str(currency),
            _amount(penalties[currency].get("recorded", "0.00"), f"{where}[{currency}].recorded"),
            _amount(penalties[currency].get("candidate", "0.00"), f"{where}[{currency}].candidate"),
        )
        for currency in sorted(penalties)
    ]


def _penalty_totals_table(penalties: Sequence[tuple[str, Decimal, Decimal]]) -> str:
    return _table(
        "Penalty totals: as recorded under the active pack, and under the candidate",
        ["Currency", "Recorded", "Candidate", "Difference"],
        [
            [currency, _money(recorded), _money(candidate), _signed_money(candidate - recorded)]
            for currency, recorded, candidate in penalties
        ],
        numeric=[1, 2, 3],
    )


def _backtest_summary(totals: Mapping[str, Any]) -> str:
    suppliers = _whole(totals.get("suppliers", 0), "totals.suppliers")
    changed = _whole(totals.get("changed", 0), "totals.changed")
    state_changed = _whole(totals.get("state_changed", 0), "totals.state_changed")
    penalties = _penalty_totals(totals)
    tiles = [
        _Tile("Suppliers replayed", _count(suppliers)),
        _Tile("Changed", _count(changed), _share(changed, suppliers, "replayed")),
        _Tile(
            "States changed", _count(state_changed), _share(state_changed, suppliers, "replayed")
        ),
    ]
    tiles += [
        _Tile(
            f"Penalty change {currency}",
            _signed_money(candidate - recorded),
            f"{_money(recorded)} recorded → {_money(candidate)} candidate",
        )
        for currency, recorded, candidate in penalties
    ]
    lead = (
        "Recorded: what the active pack decided, as the event log holds it. Candidate: the "
        "candidate pack replayed over the same events."
    )
    table = _penalty_totals_table(penalties) if penalties else ""
    return _section("summary", "Summary", _tiles(tiles), table, lead=lead)


def _state_comparison_chart(recorded: Sequence[int], candidate: Sequence[int], total: int) -> str:
    def series(name: str, colour: str, counts: Sequence[int]) -> _Series:
        return _Series(name, colour, tuple(map(float, counts)), tuple(map(_count, counts)))

    chart = _ColumnChart(
        chart_id="chart-states",
        title="Suppliers ending in each state, recorded and under the candidate pack",
        description="Pairs of bars per lifecycle state: suppliers ending there as recorded "
        "under the active pack, and when replayed under the candidate pack.",
        categories=tuple(map(_state_name, LifecycleState)),
        series=(
            series("Recorded (active pack)", RECORDED_COLOUR, recorded),
            series("Candidate pack", CANDIDATE_COLOUR, candidate),
        ),
        y_label="Suppliers",
        x_label="Lifecycle state",
    )
    return _figure(_column_chart(chart), f"Counted over the {total:,} suppliers in the result.")


def _state_comparison_section(replays: Sequence[_Replay]) -> str:
    heading = "Final states, recorded and candidate"
    if not replays:
        return _section("states", heading, _note("No supplier was replayed."))
    recorded = [sum(r.recorded_state == state for r in replays) for state in LifecycleState]
    candidate = [sum(r.candidate_state == state for r in replays) for state in LifecycleState]
    table = _table(
        "Suppliers ending in each lifecycle state",
        ["State", "Recorded", "Candidate", "Difference"],
        [
            [_state_name(state), _count(before), _count(after), _signed_count(after - before)]
            for state, before, after in zip(LifecycleState, recorded, candidate, strict=True)
        ],
        numeric=[1, 2, 3],
        footer=["All", _count(len(replays)), _count(len(replays)), "0"],
    )
    chart = _state_comparison_chart(recorded, candidate, len(replays))
    return _section("states", heading, chart, table)


_CHANGED_SUPPLIER_COLUMNS = (
    "Supplier",
    "State: recorded → candidate",
    "Fired only under the active pack",
    "Fired only under the candidate",
    "Penalties recorded",
    "Penalties candidate",
    "Difference",
    "First difference",
)


def _changed_supplier_row(replay: _Replay) -> list[_Cell]:
    def with_currency(shown: str) -> str:
        return f"{shown} {replay.currency}" if replay.currency else shown

    difference = replay.candidate_penalties - replay.recorded_penalties
    first_difference = (replay.first_difference_at, replay.first_difference)
    return [
        replay.supplier_id,
        replay.state_change,
        replay.only_recorded or "—",
        replay.only_candidate or "—",
        with_currency(_money(replay.recorded_penalties)),
        with_currency(_money(replay.candidate_penalties)),
        with_currency(_signed_money(difference)),
        tuple(line for line in first_difference if line) or "—",
    ]


def _changed_suppliers_section(replays: Sequence[_Replay], totals: Mapping[str, Any]) -> str:
    heading = "Changed suppliers"
    changed = [replay for replay in replays if replay.changed]
    replayed = _whole(totals.get("suppliers", len(replays)), "totals.suppliers")
    lead = (
        f"Only suppliers whose outcome differs are listed; the {replayed - len(changed):,} "
        "unchanged are counted in the summary."
    )
    if not changed:
        note = _note("No supplier's outcome changed under the candidate pack.")
        return _section("changed", heading, note, lead=lead)
    table = _table(
        f"The {len(changed):,} suppliers whose outcome changed, by supplier id",
        _CHANGED_SUPPLIER_COLUMNS,
        [_changed_supplier_row(replay) for replay in changed],
        numeric=[4, 5, 6],
        nowrap=[0, 2, 3],
    )
    return _section("changed", heading, table, lead=lead)
