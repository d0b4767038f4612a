"""The supplier report: one supplier's header, score over time, latest KPIs and timeline.

Drawn from the data ``sqm report supplier`` fetches (:mod:`sqm.client.supplier_report_data`):
the supplier, its scorecards oldest first, the standings' bands when the policy was readable,
and the timeline of breaches, credits, reviews, plans, notices and transitions in time order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqm.simulation.report.charts import (
    SERIES_COLOURS,
    _baseline,
    _category_axis,
    _Frame,
    _legend,
    _px,
    _svg,
    _value_axis,
)
from sqm.simulation.report.page import (
    ResultInvalid,
    _amount,
    _check_format,
    _count,
    _document,
    _e,
    _figure,
    _header,
    _money,
    _note,
    _section,
    _signed_money,
    _table,
    _Tile,
    _tiles,
    _version_html,
    _whole,
)

SUPPLIER_REPORT_FORMAT = "sqm.supplier-report/v1"
SCORE_TOP = 100.0
SCORE_TICKS = (0.0, 20.0, 40.0, 60.0, 80.0, SCORE_TOP)
NOT_RATED = "not rated"
NOT_RATED_COLOUR = "#999999"
# The default pack's standings in colours that read as better to worse; others take the palette.
KNOWN_STANDING_COLOURS = {
    "excellent": "#009E73",
    "good": "#0072B2",
    "fair": "#E69F00",
    "poor": "#D55E00",
}
CREDIT_EVENTS = ("PenaltyAssessed", "PenaltyReversed")

Data = Mapping[str, Any]


def render_supplier(data: Data) -> str:
    """The whole HTML document for one supplier's report data."""
    _check_format(data, SUPPLIER_REPORT_FORMAT)
    supplier = _mapping(data.get("supplier"), "supplier")
    scorecards = _records(data.get("scorecards", []), "scorecards")
    timeline = _records(data.get("timeline", []), "timeline")
    standings = _records(data.get("standings", []), "standings")
    sections = [
        _summary(scorecards, timeline),
        _score_section(scorecards, standings),
        _kpi_section(scorecards),
        _timeline_section(timeline),
    ]
    name = str(supplier.get("name", ""))
    return _document(
        f"Supplier report: {name}", _supplier_header(supplier), sections, SUPPLIER_REPORT_FORMAT
    )


# ---------------------------------------------------------------------------------------------
# Reading the data.


def _mapping(value: object, where: str) -> Data:
    if not isinstance(value, Mapping):
        raise ResultInvalid(f"{where}: {value!r} is not an object")
    return value


def _records(value: object, where: str) -> list[Data]:
    if not isinstance(value, list):
        raise ResultInvalid(f"{where}: {value!r} is not a list")
    return [_mapping(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultInvalid(f"{where}: {value!r} is not a number")
    return float(value)


def _figure_text(value: float) -> str:
    return f"{value:g}"


def _money_text(amount: Decimal) -> str:
    """A credit as is; a reversal (negative) with a true minus sign, as the other reports."""
    return _money(amount) if amount >= 0 else _signed_money(amount)


# ---------------------------------------------------------------------------------------------
# Header and summary.


def _supplier_header(supplier: Data) -> str:
    facts = [
        ("Supplier", _e(supplier.get("id", ""))),
        ("Category", _e(str(supplier.get("category", "")).replace("_", " "))),
        ("State", _e(str(supplier.get("state", "")).replace("_", " "))),
        ("Contract", _e(_contract_text(supplier.get("contract")))),
        ("Policy version", _version_html(str(supplier.get("policy_version", "")) or "-")),
    ]
    milestones = _records(supplier.get("milestones", []), "supplier.milestones")
    if milestones:  # the kick-off's milestones (里程碑), each with its stage deliverable
        facts.insert(4, ("Milestones", _e("; ".join(map(_milestone_text, milestones)))))
    tickets = _records(supplier.get("problem_tickets", []), "supplier.problem_tickets")
    if tickets:  # the problem tickets (问题单) kept: the open ones each, the resolved counted
        facts.insert(-1, ("Problem tickets", _e(_tickets_text(tickets))))
    return _header("Supplier report", str(supplier.get("name", "")), facts)


def _tickets_text(tickets: Sequence[Data]) -> str:
    """``PT-2 (critical) opened <time>, due <time>; 1 resolved, 1 of them late``."""
    still_open = [
        f"{t.get('id', '')} ({t.get('severity', '')}) opened {t.get('opened', '')}, "
        f"due {t.get('due', '')}"
        for t in tickets
        if t.get("resolved", "-") == "-"
    ]
    resolved = [t for t in tickets if t.get("resolved", "-") != "-"]
    late = sum(1 for t in resolved if t.get("late"))
    counted = f"{len(resolved)} resolved, {late} of them late" if resolved else ""
    return "; ".join([*still_open, counted] if counted else still_open)


def _contract_text(contract: object) -> str:
    if contract is None:
        return "none"
    terms = _mapping(contract, "supplier.contract")
    fee = _amount(terms.get("monthly_fee"), "supplier.contract.monthly_fee")
    return (
        f"{terms.get('id', '')}, {_money(fee)} {terms.get('currency', '')} a month, "
        f"{terms.get('start', '')} to {terms.get('end', '')}"
    )


def _milestone_text(milestone: Data) -> str:
    """``cut-over (cutover: 割接报告 / Cutover report) due <time>, completed``."""
    deliverable = " / ".join(
        str(name)
        for name in (milestone.get("deliverable_zh"), milestone.get("deliverable_en"))
        if name
    )
    kind = ": ".join(text for text in (str(milestone.get("kind", "")), deliverable) if text)
    if milestone.get("accepted"):
        status = "deliverable accepted"
    else:
        status = "completed" if milestone.get("completed") else "open"
    named = f"{milestone.get('name', '')} ({kind})" if kind else str(milestone.get("name", ""))
    return f"{named} due {milestone.get('due', '')}, {status}"


def _summary(scorecards: Sequence[Data], timeline: Sequence[Data]) -> str:
    kinds = [str(entry.get("event", "")) for entry in timeline]
    tiles = [
        _latest_tile(scorecards),
        _Tile("Breaches", _count(kinds.count("BreachDetected"))),
        _Tile("Service credits", _credits_text(timeline), "net of reversals"),
        _Tile("Reviews opened", _count(kinds.count("ReviewOpened"))),
    ]
    return _section("summary", "Summary", _tiles(tiles))


def _latest_tile(scorecards: Sequence[Data]) -> _Tile:
    if not scorecards:
        return _Tile("Latest score", "-", "no scorecard closed yet")
    latest = scorecards[-1]
    score = _number(latest.get("score"), "scorecards[-1].score")
    return _Tile(
        "Latest score", _figure_text(score), f"{latest.get('period')}: {_standing(latest)}"
    )


def _credits_text(timeline: Sequence[Data]) -> str:
    totals = _credit_totals(timeline)
    if not totals:
        return "none"
    shown = [f"{_money_text(total)} {currency}" for currency, total in sorted(totals.items())]
    return "; ".join(shown)


def _credit_totals(timeline: Sequence[Data]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for index, entry in enumerate(timeline):
        if entry.get("event") in CREDIT_EVENTS:
            amount = _amount(entry.get("amount"), f"timeline[{index}].amount")
            currency = str(entry.get("currency", ""))
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return totals


def _standing(card: Data) -> str:
    return str(card.get("standing_title") or NOT_RATED)


# ---------------------------------------------------------------------------------------------
# Score over time.


def _score_section(scorecards: Sequence[Data], standings: Sequence[Data]) -> str:
    if not scorecards:
        return _section("scores", "Score over time", _note("No scorecard has closed yet."))
    rows = [
        (str(card.get("period", "")), _figure_text(_number(card.get("score"), "score")),
         _standing(card))
        for card in scorecards
    ]  # fmt: skip
    table = _table("Scores by period", ("Period", "Score", "Standing"), rows, numeric=(1,))
    bands = "" if standings else _note("The standings' bands could not be read from the policy.")
    chart = _figure(_score_chart(scorecards, standings), "Each period's score, 0 to 100.")
    return _section(
        "scores", "Score over time", chart, bands, table,
        lead="Bars are coloured by standing; the shaded bands are the standings' score ranges.",
    )  # fmt: skip


def _standing_colours(scorecards: Sequence[Data], standings: Sequence[Data]) -> dict[str, str]:
    """A colour per standing id: the known ones fixed, the others in order of appearance."""
    ids = [str(s.get("id", "")) for s in standings]
    ids += [str(card.get("standing", "")) for card in scorecards]
    others = iter(SERIES_COLOURS[3:] + SERIES_COLOURS[:3])
    colours: dict[str, str] = {"": NOT_RATED_COLOUR}
    for standing_id in ids:
        if standing_id not in colours:
            colours[standing_id] = KNOWN_STANDING_COLOURS.get(standing_id) or next(others, "#000")
    return colours


def _score_chart(scorecards: Sequence[Data], standings: Sequence[Data]) -> str:
    frame = _Frame()
    colours = _standing_colours(scorecards, standings)
    periods = [str(card.get("period", "")) for card in scorecards]
    body = [
        *_bands(frame, standings, colours),
        *_value_axis(frame, SCORE_TICKS, "Score"),
        *_score_bars(frame, scorecards, colours),
        _baseline(frame),
        *_category_axis(frame, periods, "Period"),
        *_legend(frame, _legend_entries(scorecards, standings, colours)),
    ]
    description = "; ".join(
        f"{period}: {row}" for period, row in zip(periods, _scores(scorecards), strict=True)
    )
    return _svg(frame, "chart-scores", "Score by period", description, body)


def _scores(scorecards: Sequence[Data]) -> list[str]:
    return [
        f"{_figure_text(_number(card.get('score'), 'score'))} ({_standing(card)})"
        for card in scorecards
    ]


def _legend_entries(
    scorecards: Sequence[Data], standings: Sequence[Data], colours: Mapping[str, str]
) -> list[tuple[str, str]]:
    titles = {str(s.get("id", "")): str(s.get("title", "")) for s in standings}
    for card in scorecards:
        titles.setdefault(str(card.get("standing", "")), _standing(card))
    return [(title, colours[standing_id]) for standing_id, title in titles.items()]


def _bands(frame: _Frame, standings: Sequence[Data], colours: Mapping[str, str]) -> list[str]:
    """Each standing's score range, from its minimum up to the next one's, as a faint band."""
    if not standings:
        return []
    lows = {
        str(s.get("id", "")): _number(s.get("min_score"), f"standings[{i}].min_score")
        for i, s in enumerate(standings)
    }
    ordered = sorted(lows.items(), key=lambda item: item[1])
    highs = [low for _, low in ordered[1:]] + [SCORE_TOP]
    parts = []
    for (standing_id, low), high in zip(ordered, highs, strict=True):
        top = frame.y(min(high, SCORE_TOP), SCORE_TOP)
        bottom = frame.y(max(low, 0.0), SCORE_TOP)
        parts.append(
            f'<rect x="{_px(frame.left)}" y="{_px(top)}" width="{_px(frame.plot_width)}" '
            f'height="{_px(bottom - top)}" fill="{colours[standing_id]}" fill-opacity="0.10"/>'
        )
    return parts


def _score_bars(frame: _Frame, scorecards: Sequence[Data], colours: Mapping[str, str]) -> list[str]:
    band = frame.plot_width / max(len(scorecards), 1)
    width = min(band * 0.6, 48)
    parts = []
    for index, card in enumerate(scorecards):
        score = _number(card.get("score"), f"scorecards[{index}].score")
        x = frame.left + band * index + (band - width) / 2
        top = frame.y(max(min(score, SCORE_TOP), 0.0), SCORE_TOP)
        colour = colours[str(card.get("standing", ""))]
        label = f"{card.get('period', '')}: {_figure_text(score)}, {_standing(card)}"
        parts.append(
            f'<rect class="bar" x="{_px(x)}" y="{_px(top)}" width="{_px(width)}" '
            f'height="{_px(frame.baseline - top)}" fill="{colour}">'
            f"<title>{_e(label)}</title></rect>"
        )
        parts.append(
            f'<text x="{_px(x + width / 2)}" y="{_px(top - 4)}" text-anchor="middle">'
            f"{_e(_figure_text(score))}</text>"
        )
    return parts


# ---------------------------------------------------------------------------------------------
# The latest scorecard's KPIs.


def _kpi_section(scorecards: Sequence[Data]) -> str:
    if not scorecards:
        return _section("kpis", "KPIs", _note("No scorecard has closed yet."))
    latest = scorecards[-1]
    kpis = _records(latest.get("kpis", []), "scorecards[-1].kpis")
    rows = [_kpi_row(kpi, index) for index, kpi in enumerate(kpis)]
    headers = ("KPI", "Value", "Score", "Weight used", "Basis")
    parts = [_table(f"KPIs of {latest.get('period', '')}", headers, rows, numeric=(1, 2, 3))]
    if latest.get("weights_note"):
        parts.append(_note(str(latest["weights_note"])))
    return _section("kpis", f"KPIs of {latest.get('period', '')}", *parts)


def _kpi_row(kpi: Data, index: int) -> tuple[str, str, str, str, str]:
    title, basis = str(kpi.get("title", "")), str(kpi.get("basis", ""))
    if not kpi.get("has_data"):
        return (title, "-", "-", "0", basis)
    where = f"kpis[{index}]"
    value, score = _number(kpi.get("value"), where), _number(kpi.get("score"), where)
    used = _number(kpi.get("weight_used"), where)
    return (title, _figure_text(value), _figure_text(score), f"{used:.4g}", basis)


# ---------------------------------------------------------------------------------------------
# The timeline.


def _timeline_section(timeline: Sequence[Data]) -> str:
    if not timeline:
        return _section("timeline", "Timeline", _note("Nothing has happened to this supplier yet."))
    rows = [_timeline_row(entry, index) for index, entry in enumerate(timeline)]
    headers = ("When", "Event", "What happened", "Rule", "Amount")
    table = _table("Timeline", headers, rows, numeric=(4,), nowrap=(0,))
    lead = "Breaches, credits, reviews, plans, escalations and transitions, in time order."
    return _section("timeline", "Timeline", table, lead=lead)


def _timeline_row(entry: Data, index: int) -> tuple[str, str, str, tuple[str, ...], str]:
    _whole(entry.get("sequence"), f"timeline[{index}].sequence")
    rule_id, rule_title = str(entry.get("rule_id", "")), str(entry.get("rule_title", ""))
    rule = (rule_id, rule_title) if rule_title else (rule_id,)
    amount = ""
    if entry.get("amount"):
        money = _amount(entry.get("amount"), f"timeline[{index}].amount")
        amount = f"{_money_text(money)} {entry.get('currency', '')}"
    return (
        str(entry.get("time", "")),
        str(entry.get("event", "")),
        str(entry.get("what", "")),
        rule,
        amount,
    )
