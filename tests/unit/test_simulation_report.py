"""The simulation and backtest reports: well formed, deterministic, exact, escaped, offline."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from sqm.domain.model import LifecycleState
from sqm.simulation.report import (
    ResultInvalid,
    render_backtest,
    render_simulation,
)

HOSTILE = "<script>alert(1)</script>"
VERSION = "ab" * 32
CANDIDATE_VERSION = "cd" * 32
MONTHS = tuple(f"2027-{month:02d}" for month in range(1, 13))
RULE_TITLES = {
    "MON-001": "Breach of an SLA objective",
    "MON-002": "Review after repeated breaches",
    "MON-003": "Satisfaction below threshold",
    "PEN-001": "Penalty for availability breach",
    "PEN-002": "Penalty for late delivery",
    "REV-001": "Remediation after a failed review",
    "REV-002": "Terminate after a missed improvement deadline",
    "SEL-001": "Qualify on weighted score and certificates",
}


# ---------------------------------------------------------------------------------------------
# Sample results, shaped as `sqm simulate run` and `sqm backtest` write them. The browser check
# imports these builders too.


def simulation_result() -> dict[str, Any]:
    """A year of 1,000 suppliers: drifting states, two currencies, 20 rules, 40 terminations."""
    states_per_month = {}
    for index, month in enumerate(MONTHS):
        terminated = 2 * index
        under_review, remediation = 20 + index, 10 + index // 2
        qualified = 30 - index
        states_per_month[month] = {
            "candidate": 5,
            "qualified": qualified,
            "contracted": 1000 - 5 - qualified - under_review - remediation - terminated,
            "under_review": under_review,
            "remediation": remediation,
            "terminated": terminated,
        }
    penalties = {month: {"CNY": f"{125000 + 7500 * i}.00"} for i, month in enumerate(MONTHS)}
    for month in MONTHS[3:6]:
        penalties[month]["USD"] = "4200.50"
    standings = {
        month: {"excellent": 600 - 10 * i, "good": 250 + 5 * i, "fair": 100 + 5 * i, "poor": 20}
        for i, month in enumerate(MONTHS)
    }
    standings[MONTHS[0]]["unrated"] = 30
    rules_fired = {f"EXT-{n:03d}": n * 3 for n in range(12)}
    rules_fired |= {"MON-001": 410, "MON-002": 120, "MON-003": 64, "PEN-001": 300}
    rules_fired |= {"PEN-002": 120, "REV-001": 33, "REV-002": 0, "SEL-001": 1000}
    return {
        "format": "sqm.simulation/v1",
        "pack": "telecom-default",
        "policy_version": VERSION,
        "seed": 7,
        "suppliers": 1000,
        "months": 12,
        "scenario": {"name": "baseline", "breach_rate": 0.05, "survey_noise": "low"},
        "months_axis": list(MONTHS),
        "states_per_month": states_per_month,
        "penalties_per_month": penalties,
        "rules_fired": rules_fired,
        "standings_per_period": standings,
        "standing_order": ["excellent", "good", "fair", "poor", "unrated"],
        "rule_titles": RULE_TITLES | {f"EXT-{n:03d}": f"Extra rule number {n}" for n in range(12)},
        "time_to_termination_days": [45 + (day * 37) % 330 for day in range(40)],
        "totals": {
            "events": 123456,
            "decisions": 4567,
            "terminated": 22,
            "penalties": {"CNY": "1995000.00", "USD": "12601.50"},
        },
    }


def empty_simulation_result() -> dict[str, Any]:
    """No suppliers, no months: nothing happened at all."""
    return {
        "format": "sqm.simulation/v1",
        "pack": "telecom-default",
        "policy_version": VERSION,
        "seed": 1,
        "suppliers": 0,
        "months": 0,
        "scenario": {"name": "empty"},
        "months_axis": [],
        "states_per_month": {},
        "penalties_per_month": {},
        "rules_fired": {},
        "rule_titles": {},
        "time_to_termination_days": [],
        "totals": {"events": 0, "decisions": 0, "terminated": 0, "penalties": {}},
    }


def replayed_supplier(
    supplier_id: str,
    recorded: str,
    candidate: str,
    penalties: tuple[str, str] = ("0.00", "0.00"),
    only_recorded: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One supplier's backtest entry; changed when state, decisions or penalties differ."""
    changed = recorded != candidate or penalties[0] != penalties[1] or bool(only_recorded)
    return {
        "supplier_id": supplier_id,
        "changed": changed,
        "state": {"recorded": recorded, "candidate": candidate},
        "decisions": {"only_recorded": list(only_recorded), "only_candidate": []},
        "penalties": {"currency": "CNY", "recorded": penalties[0], "candidate": penalties[1]},
        "first_difference": (
            {
                "at": "2027-03-04T09:00:00Z",
                "what": f"{supplier_id}: MON-002 fired under the active pack only",
            }
            if changed
            else None
        ),
    }


def backtest_result() -> dict[str, Any]:
    """Six suppliers replayed, three of them changed, listed out of id order."""
    suppliers = [
        replayed_supplier("zeta-telecom", "contracted", "contracted"),
        replayed_supplier(
            "acme", "under_review", "contracted", ("15000.00", "10000.00"), ("MON-002",)
        ),
        replayed_supplier("huawei-nx", "remediation", "remediation", ("2500.00", "4000.50")),
        replayed_supplier("beta-net", "contracted", "contracted"),
        replayed_supplier(
            "gamma", "terminated", "remediation", ("90000.00", "30000.00"), ("REV-002", "MON-002")
        ),
        replayed_supplier("delta", "qualified", "qualified"),
    ]
    return {
        "format": "sqm.backtest/v1",
        "pack": "candidate-pack",
        "active_version": VERSION,
        "candidate_version": CANDIDATE_VERSION,
        "source": "var/sqm.sqlite3",
        "suppliers": suppliers,
        "totals": {
            "suppliers": 6,
            "changed": 3,
            "state_changed": 2,
            "penalties": {"CNY": {"recorded": "107500.00", "candidate": "44000.50"}},
        },
    }


# ---------------------------------------------------------------------------------------------
# Reading a report back.

VOID_ELEMENTS = frozenset({"meta", "link", "br", "hr", "img", "input", "col", "wbr"})
SVG_LEAVES = frozenset({"line", "rect", "path", "circle"})  # self-closed in the SVG we draw


class _Structure(HTMLParser):
    """Checks that every element closes in order and collects each table's caption and cells.

    A cell's lines (``<br>``) read as newlines.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.doctype = ""
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._cell: list[str] | None = None
        self._rows: list[list[str]] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self._cell is not None:
            self._cell.append("\n")  # lines of one cell, as a reader sees them
        if tag in VOID_ELEMENTS:
            return
        self.open.append(tag)
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = ""
        elif tag == "tr":
            self._rows.append([])
        elif tag in {"td", "th"}:
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SVG_LEAVES | VOID_ELEMENTS:
            self.problems.append(f"unexpected self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()
        if tag in {"td", "th"} and self._cell is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self.tables[self._caption or ""] = self._rows
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None and self.open[-1] == "caption":
            self._caption += data


def structure(document: str) -> _Structure:
    """The parsed document; fails the test when an element is left open or closed out of order."""
    parser = _Structure()
    parser.feed(document)
    parser.close()
    assert parser.problems == []
    assert parser.open == []
    return parser


def table(document: str, caption_start: str) -> list[list[str]]:
    """The rows (header row first) of the one table whose caption starts with ``caption_start``."""
    found = [
        rows
        for caption, rows in structure(document).tables.items()
        if caption.startswith(caption_start)
    ]
    assert len(found) == 1, f"one table captioned {caption_start!r}"
    return found[0]


def row(rows: list[list[str]], first_cell: str) -> list[str]:
    """The row whose heading cell is ``first_cell``."""
    matching = [cells for cells in rows if cells and cells[0] == first_cell]
    assert len(matching) == 1, f"one row headed {first_cell!r}"
    return matching[0]


def svg_charts(document: str) -> list[ET.Element]:
    """Every inline SVG, parsed as XML."""
    fragments = re.findall(r"<svg\b.*?</svg>", document, re.DOTALL)
    return [ET.fromstring(svg) for svg in fragments]  # noqa: S314 - our own output, no DTD


def child(element: ET.Element, tag: str) -> ET.Element:
    """The one child ``tag`` of an SVG element; fails the test when it is missing."""
    found = element.find(tag)
    assert found is not None, f"<{element.tag}> has a <{tag}>"
    return found


def title(element: ET.Element) -> str:
    """The text of an SVG element's <title>: a chart's name, or a bar's exact figure."""
    return child(element, "title").text or ""


def money(text: str) -> str:
    """An amount as the report writes it: thousands separated, places kept."""
    return f"{Decimal(text):,f}"


def reordered(value: Any) -> Any:
    """The same data with every mapping's keys in reverse order."""
    if isinstance(value, Mapping):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# Both reports.

RENDERERS = [
    pytest.param(render_simulation, simulation_result, id="simulation"),
    pytest.param(render_backtest, backtest_result, id="backtest"),
]


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_report_is_one_well_formed_html5_document(render: Any, sample: Any) -> None:
    """A doctype, one html element whose every element closes in order, UTF-8 declared."""
    document = render(sample())
    parsed = structure(document)
    assert parsed.doctype == "DOCTYPE html"
    assert document.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in document
    assert document.count("<html") == document.count("<body") == 1


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_every_chart_is_well_formed_svg_with_an_accessible_name(render: Any, sample: Any) -> None:
    """Each SVG parses as XML, is an image named by its own title and description."""
    document = render(sample())
    charts = svg_charts(document)
    assert charts
    for chart in charts:
        assert chart.get("role") == "img"
        title_id, desc_id = chart.get("aria-labelledby", "").split()
        assert child(chart, "title").get("id") == title_id
        assert child(chart, "desc").get("id") == desc_id
        assert child(chart, "title").text
    ids = re.findall(r'\bid="([^"]+)"', document)
    assert len(ids) == len(set(ids)), "element ids are unique"


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_rendering_twice_gives_the_same_bytes(render: Any, sample: Any) -> None:
    """Nothing in the report comes from the clock or from chance."""
    assert render(sample()).encode() == render(sample()).encode()


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_the_order_of_keys_in_the_input_does_not_change_the_report(
    render: Any, sample: Any
) -> None:
    """Mappings are walked in a fixed order: JSON written in another order gives the same file."""
    assert render(reordered(sample())) == render(sample())


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_report_refers_to_nothing_outside_itself(render: Any, sample: Any) -> None:
    """No URL, no script, and a policy that forbids loading either."""
    document = render(sample())
    for forbidden in ("http://", "https://", "<script", "src=", "@import", "url("):
        assert forbidden not in document
    assert "default-src 'none'" in document


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_report_rendering_leaves_its_input_untouched(render: Any, sample: Any) -> None:
    """Rendering is a pure function of the result."""
    result = sample()
    before = copy.deepcopy(result)
    render(result)
    assert result == before


@pytest.mark.parametrize(
    ("render", "sample"),
    [
        pytest.param(render_simulation, backtest_result, id="simulation"),
        pytest.param(render_backtest, simulation_result, id="backtest"),
    ],
)
def test_a_result_of_another_format_is_refused(render: Any, sample: Any) -> None:
    """A backtest handed to the simulation report (or the reverse) is an error, not a blank page."""
    with pytest.raises(ResultInvalid, match="this report reads"):
        render(sample())


def test_policy_version_is_shortened_with_the_full_version_in_its_title() -> None:
    """Twelve digits are shown; the whole SHA-256 is in the title attribute."""
    document = render_simulation(simulation_result())
    assert f'<abbr class="version" title="{VERSION}">{VERSION[:12]}…</abbr>' in document


# ---------------------------------------------------------------------------------------------
# The simulation report.


def test_header_names_the_pack_seed_and_every_scenario_parameter() -> None:
    """The masthead says what was simulated, with which seed and parameters."""
    document = render_simulation(simulation_result())
    assert "<h1>telecom-default</h1>" in document
    for fact in ("<dt>Seed</dt><dd>7</dd>", "<dt>Scenario</dt><dd>baseline</dd>"):
        assert fact in document
    assert "<dt>breach_rate</dt><dd>0.05</dd>" in document
    assert "<dt>survey_noise</dt><dd>low</dd>" in document


def test_summary_tiles_show_the_totals() -> None:
    """Suppliers, events, decisions, terminations and penalties per currency, in figures."""
    document = render_simulation(simulation_result())
    for label, value in [
        ("Suppliers simulated", "1,000"),
        ("Events recorded", "123,456"),
        ("Decisions", "4,567"),
        ("Terminated", "22"),
        ("Penalties CNY", "1,995,000.00"),
        ("Penalties USD", "12,601.50"),
    ]:
        assert f'<dt>{label}</dt><dd class="value">{value}</dd>' in document
    assert "2.2% of suppliers" in document


def test_states_table_lists_every_month_and_state_in_lifecycle_order() -> None:
    """Each month's row holds the count of every state, 0 where absent, and the total."""
    result = simulation_result()
    del result["states_per_month"]["2027-02"]["candidate"]
    rows = table(render_simulation(result), "Suppliers in each lifecycle state")
    assert rows[0] == [
        "Month",
        "candidate",
        "qualified",
        "contracted",
        "under review",
        "remediation",
        "terminated",
        "Total",
    ]
    for month in MONTHS:
        counts = result["states_per_month"][month]
        expected = [f"{counts.get(state.value, 0):,}" for state in LifecycleState]
        assert row(rows, month) == [month, *expected, f"{sum(counts.values()):,}"]
    assert row(rows, "2027-02")[1] == "0"


def test_states_chart_stacks_one_segment_per_nonzero_state_and_month() -> None:
    """A bar per month, a segment per state present, coloured by state, with a legend."""
    chart = svg_charts(render_simulation(simulation_result()))[0]
    bars = [rect for rect in chart.iter("rect") if rect.get("class") == "bar"]
    assert len(bars) == 12 * 6 - 1  # January has no one terminated yet
    assert {rect.get("fill") for rect in bars} == {
        "#56B4E9",
        "#009E73",
        "#0072B2",
        "#E69F00",
        "#CC79A7",
        "#D55E00",
    }
    texts = [text.text for text in chart.iter("text")]
    for label in ("under review", "Month", "2027-01"):
        assert label in texts


def test_penalties_table_holds_every_amount_exactly_with_per_currency_totals() -> None:
    """Amounts are decimal strings shown to the cent; a month without a currency shows 0.00."""
    result = simulation_result()
    rows = table(render_simulation(result), "Penalties imposed per month")
    assert rows[0] == ["Month", "CNY", "USD"]
    for month in MONTHS:
        amounts = result["penalties_per_month"][month]
        assert row(rows, month) == [month, money(amounts["CNY"]), money(amounts.get("USD", "0.00"))]
    assert row(rows, "Total") == ["Total", "1,995,000.00", "12,601.50"]


def test_each_currency_gets_a_chart_of_its_own() -> None:
    """Amounts in different currencies never share an axis."""
    titles = [title(chart) for chart in svg_charts(render_simulation(simulation_result()))]
    assert "Penalties imposed per month, CNY" in titles
    assert "Penalties imposed per month, USD" in titles


def test_amounts_keep_their_cents_where_a_float_would_not() -> None:
    """0.10 + 0.20 shows as 0.30: the table sums Decimals."""
    result = simulation_result()
    result["penalties_per_month"] = {"2027-01": {"EUR": "0.10"}, "2027-02": {"EUR": "0.20"}}
    rows = table(render_simulation(result), "Penalties imposed per month")
    assert row(rows, "Total") == ["Total", "0.30"]


def test_rules_chart_shows_the_fifteen_most_fired_and_the_table_every_rule() -> None:
    """The chart ranks the top fifteen; the table lists all rules, most fired first."""
    result = simulation_result()
    document = render_simulation(result)
    chart = next(c for c in svg_charts(document) if title(c).startswith("The 15 rules"))
    bars = [rect for rect in chart.iter("rect") if rect.get("class") == "bar"]
    assert len(bars) == 15
    assert title(bars[0]) == "SEL-001 Qualify on weighted score and certificates: fired 1,000 times"
    rows = table(document, "Every rule and how often it fired (2 never fired)")
    assert [cells[0] for cells in rows[1:4]] == ["SEL-001", "MON-001", "PEN-001"]
    assert [cells[0] for cells in rows[4:6]] == ["MON-002", "PEN-002"]  # a tie, in id order
    for rule_id, fired in result["rules_fired"].items():
        assert row(rows, rule_id) == [rule_id, result["rule_titles"][rule_id], f"{fired:,}"]


def test_a_long_rule_title_is_shortened_in_the_chart_and_whole_in_the_table() -> None:
    """The bar's label fits beside the chart; the table and the bar's tooltip keep every word."""
    result = simulation_result()
    long_title = "Penalty for availability breach " + "and a very long explanation " * 4
    result["rule_titles"]["PEN-001"] = long_title
    document = render_simulation(result)
    chart = next(c for c in svg_charts(document) if title(c).startswith("The 15 rules"))
    labels = ["".join(text.itertext()) for text in chart.iter("text")]
    assert "PEN-001 Penalty for availability breach and…" in labels
    assert row(table(document, "Every rule"), "PEN-001")[1] == long_title


def test_time_to_termination_is_binned_by_thirty_days() -> None:
    """Day 29 falls in the first bin, day 30 in the second; empty bins in between are shown."""
    result = simulation_result()
    result["time_to_termination_days"] = [0, 29, 30, 45, 100]
    rows = table(render_simulation(result), "Terminated suppliers by days")
    assert rows[1:] == [
        ["0–29 days", "2"],
        ["30–59 days", "2"],
        ["60–89 days", "0"],
        ["90–119 days", "1"],
        ["All", "5"],
    ]


def test_long_times_to_termination_widen_the_bins() -> None:
    """Ten years of days would make 122 slivers; bins widen to keep at most 24."""
    result = simulation_result()
    result["time_to_termination_days"] = [10, 3650]
    rows = table(render_simulation(result), "Terminated suppliers by days")
    assert rows[1] == ["0–179 days", "1"]
    assert len(rows) - 2 <= 24


def test_termination_tiles_give_median_shortest_and_longest() -> None:
    """The distribution's middle and ends, in days."""
    result = simulation_result()
    result["time_to_termination_days"] = [200, 45, 123, 1000]
    document = render_simulation(result)
    for label, value in [
        ("Median", "161.5 days"),
        ("Shortest", "45 days"),
        ("Longest", "1,000 days"),
    ]:
        assert f'<dt>{label}</dt><dd class="value">{value}</dd>' in document


def test_an_empty_simulation_renders_friendly_notes_instead_of_charts() -> None:
    """No suppliers, months, penalties, rules or terminations: notes, not errors or empty axes."""
    document = render_simulation(empty_simulation_result())
    structure(document)
    assert svg_charts(document) == []
    for note in (
        "The simulation covers no month.",
        "No penalty was imposed in the simulation.",
        "No scorecard period closed.",
        "No rule fired in the simulation.",
        "No supplier was terminated in the simulation.",
    ):
        assert f'<p class="note">{note}</p>' in document
    assert '<dt>Penalties</dt><dd class="value">none</dd>' in document


def test_months_with_no_one_terminated_and_no_penalty_still_chart_the_states() -> None:
    """Suppliers but nothing going wrong: the states chart alone, the rest as notes."""
    result = simulation_result()
    result |= {
        "penalties_per_month": {},
        "standings_per_period": {},
        "time_to_termination_days": [],
        "rules_fired": {"SEL-001": 0},
    }
    result["totals"] |= {"terminated": 0, "penalties": {}}
    document = render_simulation(result)
    assert len(svg_charts(document)) == 1
    assert "No supplier was terminated in the simulation." in document


def test_hostile_strings_in_a_simulation_are_escaped_everywhere() -> None:
    """Pack, scenario, month, currency, rule id and title are text, never markup."""
    result = simulation_result()
    result |= {"pack": HOSTILE, "policy_version": HOSTILE, "seed": HOSTILE}
    result["scenario"] |= {"name": HOSTILE, HOSTILE: HOSTILE}
    result["rules_fired"][HOSTILE] = 5000
    result["rule_titles"][HOSTILE] = f"\"{HOSTILE}' & more"
    result["penalties_per_month"]["2027-01"][HOSTILE] = "1.00"
    document = render_simulation(result)
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    structure(document)
    svg_charts(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["penalties_per_month"]["2027-01"].update(CNY=125000.0),
            "not a decimal string",
        ),
        (lambda r: r["penalties_per_month"]["2027-01"].update(CNY="12,5"), "not a decimal amount"),
        (lambda r: r["states_per_month"]["2027-01"].update(bankrupt=1), "not a lifecycle state"),
        (lambda r: r["rules_fired"].update({"MON-001": "4"}), "not a whole number"),
        (lambda r: r["time_to_termination_days"].append(-3), "negative"),
    ],
    ids=["float amount", "malformed amount", "unknown state", "count as text", "negative days"],
)
def test_a_malformed_simulation_is_refused_with_the_place_named(change: Any, message: str) -> None:
    """An engine bug surfaces as an error naming the field, not as a wrong figure."""
    result = simulation_result()
    change(result)
    with pytest.raises(ResultInvalid, match=message):
        render_simulation(result)


# ---------------------------------------------------------------------------------------------
# The backtest report.


def test_backtest_header_shows_both_versions_and_the_source() -> None:
    """Active and candidate versions, shortened, and the database replayed."""
    document = render_backtest(backtest_result())
    assert f'title="{VERSION}">{VERSION[:12]}…' in document
    assert f'title="{CANDIDATE_VERSION}">{CANDIDATE_VERSION[:12]}…' in document
    assert "<dt>Source</dt><dd>var/sqm.sqlite3</dd>" in document


def test_backtest_header_says_the_candidate_decides_the_whole_history_without_a_time() -> None:
    """A result without an effective time (older ones too): from the beginning of history,
    recorded qualifications standing; no revocation tile.
    """
    document = render_backtest(backtest_result())
    assert "<dt>Candidate takes effect</dt><dd>from the beginning of history" in document
    assert "<dd>new_evaluations (recorded qualifications stand)</dd>" in document
    assert "Qualifications revoked" not in document


def test_backtest_header_and_tiles_show_the_effective_time_and_the_revocations() -> None:
    """With an effective time and ``qualified_suppliers``: both in the header, and a tile
    counting the qualifications revoked as the candidate takes effect.
    """
    result = backtest_result()
    result["effective_from"] = "2027-01-14T09:00:00.000000Z"
    result["qualification_changes_apply_to"] = "qualified_suppliers"
    result["totals"]["qualifications_revoked"] = 6
    document = render_backtest(result)
    assert "<dd>2027-01-14T09:00:00.000000Z (commands recorded before keep" in document
    assert "<dd>qualified_suppliers (re-evaluated when it takes effect; 6 revoked)</dd>" in document
    tile = '<dt>Qualifications revoked when it takes effect</dt><dd class="value">6</dd>'
    assert tile in document
    structure(document)


def test_backtest_summary_tiles_and_penalty_totals_show_the_difference() -> None:
    """Replayed, changed and state-changed counts; penalties recorded, candidate and the change."""
    document = render_backtest(backtest_result())
    for label, value in [("Suppliers replayed", "6"), ("Changed", "3"), ("States changed", "2")]:
        assert f'<dt>{label}</dt><dd class="value">{value}</dd>' in document
    assert '<dt>Penalty change CNY</dt><dd class="value">−63,499.50</dd>' in document
    rows = table(document, "Penalty totals")
    assert row(rows, "CNY") == ["CNY", "107,500.00", "44,000.50", "−63,499.50"]


def test_state_comparison_counts_suppliers_ending_in_each_state_under_each_pack() -> None:
    """Grouped bars per state; the table gives the counts and the difference."""
    document = render_backtest(backtest_result())
    rows = table(document, "Suppliers ending in each lifecycle state")
    assert row(rows, "contracted") == ["contracted", "2", "3", "+1"]
    assert row(rows, "under review") == ["under review", "1", "0", "−1"]
    assert row(rows, "remediation") == ["remediation", "1", "2", "+1"]
    assert row(rows, "terminated") == ["terminated", "1", "0", "−1"]
    assert row(rows, "candidate") == ["candidate", "0", "0", "0"]
    assert row(rows, "All") == ["All", "6", "6", "0"]
    chart = svg_charts(document)[0]
    assert {rect.get("fill") for rect in chart.iter("rect") if rect.get("class") == "bar"} == {
        "#0072B2",
        "#E69F00",
    }


def test_only_changed_suppliers_are_listed_sorted_by_id() -> None:
    """Unchanged suppliers are counted, not listed; the changed ones come in id order."""
    document = render_backtest(backtest_result())
    rows = table(document, "The 3 suppliers whose outcome changed")
    assert [cells[0] for cells in rows[1:]] == ["acme", "gamma", "huawei-nx"]
    assert row(rows, "acme") == [
        "acme",
        "under review → contracted",
        "MON-002",
        "—",
        "15,000.00 CNY",
        "10,000.00 CNY",
        "−5,000.00 CNY",
        "2027-03-04T09:00:00Z\nacme: MON-002 fired under the active pack only",
    ]
    assert row(rows, "gamma")[2] == "MON-002\nREV-002"  # one rule a line, in id order
    huawei = row(rows, "huawei-nx")
    assert (huawei[1], huawei[6]) == ("remediation (same)", "+1,500.50 CNY")
    for unchanged in ("zeta-telecom", "beta-net", "delta"):
        assert unchanged not in document
    assert "the 3 unchanged are counted in the summary" in document


def test_a_backtest_where_nothing_changed_says_so() -> None:
    """No changed supplier: a note instead of an empty table."""
    result = backtest_result()
    result["suppliers"] = [replayed_supplier("acme", "contracted", "contracted")]
    result["totals"] = {"suppliers": 1, "changed": 0, "state_changed": 0, "penalties": {}}
    document = render_backtest(result)
    assert "No supplier&#x27;s outcome changed under the candidate pack." in document
    structure(document)


def test_an_empty_backtest_renders_without_a_chart() -> None:
    """Zero suppliers replayed: notes, no chart, no error."""
    result = backtest_result()
    result["suppliers"] = []
    result["totals"] = {"suppliers": 0, "changed": 0, "state_changed": 0, "penalties": {}}
    document = render_backtest(result)
    structure(document)
    assert svg_charts(document) == []
    assert "No supplier was replayed." in document


def test_hostile_strings_in_a_backtest_are_escaped_everywhere() -> None:
    """Supplier ids, rule ids, explanations, currencies and the source are text, never markup."""
    result = backtest_result()
    result |= {"pack": HOSTILE, "source": HOSTILE, "active_version": HOSTILE}
    hostile = replayed_supplier(HOSTILE, "contracted", "terminated", ("1.00", "2.00"), (HOSTILE,))
    hostile["penalties"]["currency"] = HOSTILE
    hostile["first_difference"]["what"] = HOSTILE
    result["suppliers"].append(hostile)
    result["totals"]["penalties"][HOSTILE] = {"recorded": "1.00", "candidate": "2.00"}
    document = render_backtest(result)
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    structure(document)


def test_a_backtest_with_an_unknown_state_is_refused() -> None:
    """A state the lifecycle does not know is an error naming the supplier."""
    result = backtest_result()
    result["suppliers"][0]["state"]["candidate"] = "archived"
    with pytest.raises(ResultInvalid, match=r"suppliers\[zeta-telecom\]\.state\.candidate"):
        render_backtest(result)


def test_standings_table_lists_every_period_with_the_packs_standings_best_first() -> None:
    """One row per scorecard period: the scorecards closed in each standing, in the pack's
    order (best first, then unrated), 0 where a period has none.
    """
    rows = table(render_simulation(simulation_result()), "Scorecards closed in each standing")

    assert rows[0] == ["Period", "excellent", "good", "fair", "poor", "unrated"]
    assert row(rows, "2027-01") == ["2027-01", "600", "250", "100", "20", "30"]
    assert row(rows, "2027-12") == ["2027-12", "490", "305", "155", "20", "0"]


def test_standings_chart_stacks_a_segment_per_standing_and_period() -> None:
    """The standings chart: a bar per period, a segment per standing present."""
    document = render_simulation(simulation_result())
    (chart,) = [
        c for c in svg_charts(document) if "chart-standings" in c.get("aria-labelledby", "")
    ]
    bars = [rect for rect in chart.iter("rect") if rect.get("class") == "bar"]

    assert len(bars) == 12 * 4 + 1  # unrated only in January
