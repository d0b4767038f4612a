"""The comparison report (``sqm simulate run NEW --baseline OLD --html``): one population
under two packs, what differs first, then where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqm.domain.model import LifecycleState
from sqm.simulation.report.charts import (
    CANDIDATE_COLOUR,
    RECORDED_COLOUR,
    _column_chart,
    _ColumnChart,
    _Series,
)
from sqm.simulation.report.page import (
    _amount,
    _Cell,
    _check_format,
    _count,
    _document,
    _e,
    _figure,
    _header,
    _money,
    _note,
    _section,
    _signed_count,
    _signed_money,
    _state_name,
    _table,
    _Tile,
    _tiles,
    _version_html,
    _whole,
)

COMPARISON_FORMAT = "sqm.comparison/v1"
SIDES = ("baseline", "candidate")


def render_comparison(result: Mapping[str, Any]) -> str:
    """One self-contained HTML document for a ``sqm.comparison/v1`` result.

    Same input, same bytes. Raises :class:`~sqm.simulation.report.page.ResultInvalid` for a
    result of another format or with unreadable figures.
    """
    _check_format(result, COMPARISON_FORMAT)
    currency = str(result.get("currency", ""))
    sections = (
        _summary(result, currency),
        _states_section(
            result.get("final_states", {}), _whole(result.get("suppliers", 0), "suppliers")
        ),
        _terminations_section(result.get("terminations_by_rule", {}), result.get("by_rule", {})),
        _categories_section(result.get("by_category", {}), currency),
        _rules_section(result.get("by_rule", {})),
        _changed_section(result.get("changed_suppliers", []), result),
    )
    packs = result.get("packs", {})
    title = f"Policy comparison: {packs.get('candidate', {}).get('name', '')}"
    return _document(title, _comparison_header(result), sections, COMPARISON_FORMAT)


def _comparison_header(result: Mapping[str, Any]) -> str:
    packs = result.get("packs", {})
    facts = [
        ("Baseline", _e(packs.get("baseline", {}).get("name", "")) + " "
         + _version_html(str(packs.get("baseline", {}).get("version", "")))),
        ("Candidate", _e(packs.get("candidate", {}).get("name", "")) + " "
         + _version_html(str(packs.get("candidate", {}).get("version", "")))),
        ("Population", _e(f"{_whole(result.get('suppliers', 0), 'suppliers'):,} suppliers,"
                          f" {_whole(result.get('months', 0), 'months')} months,"
                          f" seed {result.get('seed', '')}")),
    ]  # fmt: skip
    return _header("Policy comparison", str(packs.get("candidate", {}).get("name", "")), facts)


def _pair(figures: Mapping[str, Any], where: str) -> tuple[int, int]:
    return tuple(_whole(figures.get(side, 0), f"{where}.{side}") for side in SIDES)  # type: ignore[return-value]


def _summary(result: Mapping[str, Any], currency: str) -> str:
    states = result.get("final_states", {})
    terminated = _pair(states.get("terminated", {}), "final_states.terminated")
    credits = result.get("credits", {})
    totals = [_amount(credits.get(side, {}).get("total", "0"), f"credits.{side}") for side in SIDES]
    shares = [str(credits.get(side, {}).get("share_of_fees", "")) for side in SIDES]
    capped = [
        _whole(credits.get(side, {}).get("at_liability_limit", 0), "credits") for side in SIDES
    ]
    reviews = _pair(result.get("reviews", {}), "reviews")
    plans = _pair(result.get("plans", {}), "plans")
    changed = len(result.get("changed_suppliers", []))
    tiles = [
        _Tile("Suppliers whose fate changes", _count(changed)),
        _Tile(
            "Terminated",
            f"{terminated[0]:,} → {terminated[1]:,}",
            _signed_count(terminated[1] - terminated[0]),
        ),
        _Tile(
            f"Service credits ({currency})",
            f"{_money(totals[0])} → {_money(totals[1])}",
            f"{_signed_money(totals[1] - totals[0])}; {shares[0]}% → {shares[1]}% of fees",
        ),
        _Tile("At their liability limit", f"{capped[0]:,} → {capped[1]:,}"),
        _Tile(
            "Reviews opened",
            f"{reviews[0]:,} → {reviews[1]:,}",
            _signed_count(reviews[1] - reviews[0]),
        ),
        _Tile(
            "Improvement plans", f"{plans[0]:,} → {plans[1]:,}", _signed_count(plans[1] - plans[0])
        ),
    ]
    lead = (
        "Every supplier lives the same months under both packs, from the same draws: every"
        " difference below is the packs'."
    )
    return _section("summary", "What changes", _tiles(tiles), lead=lead)


def _states_section(final_states: Mapping[str, Any], suppliers: int) -> str:
    order = [state.value for state in LifecycleState]
    counts = {name: _pair(final_states.get(name, {}), f"final_states.{name}") for name in order}
    chart = _ColumnChart(
        chart_id="chart-final-states",
        title="Suppliers ending in each state, under the baseline and the candidate",
        description="Pairs of bars per lifecycle state: suppliers ending there under the"
        " baseline pack, and under the candidate pack.",
        categories=tuple(_state_name(state) for state in LifecycleState),
        series=tuple(
            _Series(label, colour, tuple(float(counts[n][i]) for n in order),
                    tuple(_count(counts[n][i]) for n in order))
            for i, (label, colour) in enumerate(
                (("Baseline", RECORDED_COLOUR), ("Candidate", CANDIDATE_COLOUR))
            )
        ),
        y_label="Suppliers",
        x_label="Lifecycle state",
    )  # fmt: skip
    table = _table(
        "Suppliers ending in each lifecycle state",
        ["State", "Baseline", "Candidate", "Difference"],
        [
            [_state_name(LifecycleState(n)), _count(b), _count(c), _signed_count(c - b)]
            for n, (b, c) in counts.items()
        ],
        numeric=[1, 2, 3],
        footer=["All", _count(suppliers), _count(suppliers), "0"],
    )
    figure = _figure(_column_chart(chart), f"Counted over the {suppliers:,} suppliers.")
    return _section("final-states", "Final states", figure, table)


def _terminations_section(by_reason: Mapping[str, Any], by_rule: Mapping[str, Any]) -> str:
    heading = "Terminations by reason"
    if not by_reason:
        return _section(
            "terminations", heading, _note("No supplier was terminated under either pack.")
        )
    caption = "Suppliers terminated, by the rule whose decision ended them"
    return _section("terminations", heading, _rule_table(caption, by_reason, by_rule))


def _rule_table(caption: str, counts: Mapping[str, Any], by_rule: Mapping[str, Any]) -> str:
    """Per rule (titled from ``by_rule``): baseline, candidate and the difference."""
    rows = [
        [rule, str(by_rule.get(rule, {}).get("title", "")), *_counts_and_difference(figures, rule)]
        for rule, figures in counts.items()
    ]
    return _table(
        caption, ["Rule", "Title", "Baseline", "Candidate", "Difference"], rows,
        numeric=[2, 3, 4], nowrap=[0],
    )  # fmt: skip


def _counts_and_difference(figures: Mapping[str, Any], where: str) -> list[str]:
    before, after = _pair(figures, where)
    return [_count(before), _count(after), _signed_count(after - before)]


def _categories_section(by_category: Mapping[str, Any], currency: str) -> str:
    rows: list[Sequence[_Cell]] = []
    for category, figures in by_category.items():
        credits = [
            _amount(figures.get("credits", {}).get(s, "0"), f"{category}.credits") for s in SIDES
        ]
        rows.append([
            category.replace("_", " "),
            _count(_whole(figures.get("suppliers", 0), f"{category}.suppliers")),
            *_counts_and_difference(figures.get("terminated", {}), f"{category}.terminated"),
            _money(credits[0]), _money(credits[1]), _signed_money(credits[1] - credits[0]),
            _count(_whole(figures.get("changed", 0), f"{category}.changed")),
        ])  # fmt: skip
    table = _table(
        f"Per service category (credits in {currency})",
        ["Category", "Suppliers", "Terminated, baseline", "Terminated, candidate", "Difference",
         "Credits, baseline", "Credits, candidate", "Difference", "Fate changes"],
        rows, numeric=[1, 2, 3, 4, 5, 6, 7, 8],
    )  # fmt: skip
    return _section("categories", "Per service category", table)


def _rules_section(by_rule: Mapping[str, Any]) -> str:
    table = _rule_table("Decisions that acted, per rule", by_rule, by_rule)
    return _section("rules", "Per rule", table)


def _changed_section(changed: Sequence[Mapping[str, Any]], result: Mapping[str, Any]) -> str:
    heading = "Suppliers whose fate changes"
    suppliers = _whole(result.get("suppliers", 0), "suppliers")
    lead = f"Listed by supplier id; the other {suppliers - len(changed):,} end the same way."
    if not changed:
        return _section("changed", heading, _note("No supplier's fate changes."), lead=lead)
    rows = [_changed_row(entry) for entry in changed]
    table = _table(
        f"The {len(changed):,} suppliers whose fate changes",
        ["Supplier", "Category", "State: baseline → candidate", "Ended by",
         "Credits: baseline → candidate", "First decision that differs"],
        rows, nowrap=[0],
    )  # fmt: skip
    return _section("changed", heading, table, lead=lead)


def _changed_row(entry: Mapping[str, Any]) -> list[_Cell]:
    sides = [entry.get(side, {}) for side in SIDES]
    currency = str(entry.get("currency", ""))
    credits = [_amount(side.get("credits", "0"), "changed_suppliers.credits") for side in sides]
    first = entry.get("first_difference", {})
    return [
        str(entry.get("supplier_id", "")),
        str(entry.get("category", "")).replace("_", " "),
        " → ".join(str(side.get("final_state", "")).replace("_", " ") for side in sides),
        " → ".join(str(side.get("terminated_by", "")) or "—" for side in sides),
        f"{_money(credits[0])} → {_money(credits[1])} {currency}",
        (f"baseline: {first.get('baseline', '')}", f"candidate: {first.get('candidate', '')}"),
    ]
