"""The compliance simulation report (``sqm simulate run --html``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqm.domain.model import LifecycleState
from sqm.simulation.report.charts import (
    SERIES_COLOURS,
    STATE_COLOURS,
    _column_chart,
    _ColumnChart,
    _RankedRule,
    _rules_chart,
    _Series,
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
    _parameter,
    _section,
    _share,
    _state,
    _state_name,
    _table,
    _Tile,
    _tiles,
    _version_html,
    _whole,
)

SIMULATION_FORMAT = "sqm.simulation/v1"


TOP_RULES = 15
TERMINATION_BIN_DAYS = 30
# Past this many 30-day bins the histogram widens its bins (60, 90, ... days) rather than
# drawing slivers nobody can read.
MAX_TERMINATION_BINS = 24


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
        _standings_section(
            result.get("standings_per_period", {}), result.get("standing_order", [])
        ),
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


def _standing_counts(
    standings_per_period: Mapping[str, Mapping[str, Any]], order: Sequence[Any]
) -> tuple[list[str], dict[str, list[int]]]:
    """Periods in order and, per standing (the pack's order, then any other sorted), the
    scorecards closed in it each period; a standing a period does not name counts 0.
    """
    periods = sorted(str(period) for period in standings_per_period)
    named = {str(s) for counts in standings_per_period.values() for s in counts}
    known = [str(s) for s in order]
    ordered = [*(s for s in known if s in named), *sorted(named - set(known))]
    counts = {standing: [0] * len(periods) for standing in ordered}
    for index, period in enumerate(periods):
        for standing, value in standings_per_period[period].items():
            where = f"standings_per_period[{period}][{standing}]"
            counts[str(standing)][index] = _whole(value, where)
    return periods, counts


def _standings_section(standings_per_period: Mapping[str, Any], order: Sequence[Any]) -> str:
    heading = "Suppliers by scorecard standing"
    periods, counts = _standing_counts(standings_per_period, order)
    if not periods:
        return _section("standings", heading, _note("No scorecard period closed."))
    series = tuple(
        _Series(
            standing,
            SERIES_COLOURS[index % len(SERIES_COLOURS)],
            tuple(map(float, values)),
            tuple(map(_count, values)),
        )
        for index, (standing, values) in enumerate(counts.items())
    )
    chart = _ColumnChart(
        chart_id="chart-standings",
        title="Scorecards closed by standing, period by period",
        description="Stacked bars, one per scorecard period, the best standing at the bottom."
        " The table below gives every figure.",
        categories=tuple(periods),
        series=series,
        y_label="Scorecards",
        x_label="Period",
        stacked=True,
    )
    caption = "Each bar is one scorecard period; its segments are the standings (评级) closed."
    rows = [
        [period, *(_count(values[index]) for values in counts.values())]
        for index, period in enumerate(periods)
    ]
    table = _table(
        "Scorecards closed in each standing, period by period",
        ["Period", *counts],
        rows,
        numeric=range(1, len(counts) + 1),
    )
    return _section("standings", heading, _figure(_column_chart(chart), caption), table)


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
