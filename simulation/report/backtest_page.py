"""The policy backtest report (``sqm backtest --html``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
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
    _share,
    _signed_count,
    _signed_money,
    _state,
    _state_name,
    _table,
    _Tile,
    _tiles,
    _version_html,
    _whole,
)

BACKTEST_FORMAT = "sqm.backtest/v1"


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
        _backtest_summary(totals, reevaluated=_reevaluated(result)),
        _state_comparison_section(replays),
        _changed_suppliers_section(replays, totals),
        _refused_section(result.get("suppliers", []), totals),
    )
    title = f"Policy backtest: {result.get('pack', '')}"
    return _document(title, _backtest_header(result), sections, BACKTEST_FORMAT)


def _backtest_header(result: Mapping[str, Any]) -> str:
    facts = [
        ("Active version", _version_html(str(result.get("active_version", "")))),
        ("Candidate version", _version_html(str(result.get("candidate_version", "")))),
        ("Source", _e(result.get("source", ""))),
        ("Candidate takes effect", _e(_effective_from(result))),
        ("Qualification changes apply to", _e(_applies_to(result))),
    ]
    return _header("Policy backtest", str(result.get("pack", "")), facts)


def _effective_from(result: Mapping[str, Any]) -> str:
    at = str(result.get("effective_from", ""))
    if not at:
        return "from the beginning of history (every command decided again)"
    return f"{at} (commands recorded before keep their recorded outcome)"


def _applies_to(result: Mapping[str, Any]) -> str:
    applies_to = str(result.get("qualification_changes_apply_to", "new_evaluations"))
    if applies_to == "qualified_suppliers":
        revoked = _whole(result.get("totals", {}).get("qualifications_revoked", 0), "totals")
        return f"qualified_suppliers (re-evaluated when it takes effect; {revoked:,} revoked)"
    return f"{applies_to} (recorded qualifications stand)"


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


def _reevaluated(result: Mapping[str, Any]) -> bool:
    """True when the candidate took effect in the history and re-evaluated the qualified."""
    return bool(result.get("effective_from")) and (
        result.get("qualification_changes_apply_to") == "qualified_suppliers"
    )


def _backtest_summary(totals: Mapping[str, Any], *, reevaluated: bool = False) -> str:
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
        _Tile(
            "Commands refused by the candidate",
            _count(_whole(totals.get("refused", 0), "totals.refused")),
            f"of {_whole(totals.get('commands', 0), 'totals.commands'):,} replayed",
        ),
    ]
    if reevaluated:
        revoked = _whole(totals.get("qualifications_revoked", 0), "totals.qualifications_revoked")
        tiles.append(
            _Tile(
                "Qualifications revoked when it takes effect",
                _count(revoked),
                "suppliers still qualified then, evaluated again",
            )
        )
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


REFUSALS_SHOWN = 500
"""Refused commands listed on the page; the JSON holds every one."""


def _refused_section(entries: Sequence[Mapping[str, Any]], totals: Mapping[str, Any]) -> str:
    heading = "Commands the candidate refuses"
    refused = [
        (str(entry.get("supplier_id", "")), refusal)
        for entry in entries
        for refusal in entry.get("refused", [])
    ]
    lead = (
        "A command the active pack accepted but the candidate refuses (a contract for a"
        " supplier it would not qualify, a record for one it would have terminated) is not"
        " replayed: everything after it differs for that supplier."
    )
    if not refused:
        return _section("refused", heading, _note("The candidate refuses no command."), lead=lead)
    rows = [
        [supplier, str(r.get("at", "")), str(r.get("command", "")), str(r.get("why", ""))]
        for supplier, r in refused[:REFUSALS_SHOWN]
    ]
    total = _whole(totals.get("refused", len(refused)), "totals.refused")
    caption = f"The {total:,} refused commands, by supplier" + (
        f" (the first {REFUSALS_SHOWN:,}; the JSON holds them all)"
        if total > REFUSALS_SHOWN
        else ""
    )
    table = _table(caption, ["Supplier", "At", "Command", "Why"], rows, nowrap=[0, 1])
    return _section("refused", heading, table, lead=lead)
