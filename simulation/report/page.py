"""The page every report shares: HTML shell and styles, strict reading of the input,
text formats and HTML building blocks.
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqm.domain.model import LifecycleState

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
    """``text`` cut to ``limit`` columns, a Chinese (wide) character taking two, with "…".

    Cut before escaping, so an entity is never cut in half.
    """
    if _columns(text) <= limit:
        return text
    kept, used = [], 0
    for character in text:
        used += _columns(character)
        if used > limit - 1:
            break
        kept.append(character)
    return "".join(kept).rstrip() + "…"


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _state_name(state: LifecycleState) -> str:
    return state.value.replace("_", " ")


def _parameter(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


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
