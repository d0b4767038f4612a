"""Closing a supplier's scorecard periods: pure computation over the supplier's records.

A period is a local calendar month or quarter of the pack's calendar, ``[start, end)``. Its
records are the measurements whose measured period ends within ``(start, end]`` (a January
measurement ends at midnight on 1 February), the surveys and inspections taken within
``[start, end)``, and the penalties counted against its months. Each KPI scores 0 to 100;
the score is the weighted mean over the KPIs that had data, their weights scaled up to the
declared total so that a quiet month is not a bad month.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from sqm.domain import lifecycle
from sqm.domain.calendar import Calendar, zone
from sqm.domain.events import ScorecardClosed
from sqm.domain.model import Contract, SupplierState
from sqm.domain.ports import Policy
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiResult,
    KpiSpec,
    Scorecard,
    ScorecardPeriod,
    ScorecardSpec,
)

SCORECARDS_KEPT = 24
"""Closed scorecards the state keeps (two years of months); the stream keeps them all."""


def period_bounds(
    moment: datetime, period: ScorecardPeriod, calendar: Calendar
) -> tuple[datetime, datetime]:
    """The UTC start and end of the local month or quarter ``moment`` falls in."""
    local = calendar.local(moment)
    first_month = local.month - (local.month - 1) % period.months
    start = _local_month_start(local.year, first_month, calendar)
    return start, _months_later(start, period.months, calendar)


def period_label(start: datetime, period: ScorecardPeriod, calendar: Calendar) -> str:
    """``YYYY-MM`` for a month, ``YYYY-Qn`` for a quarter, in local time."""
    local = calendar.local(start)
    if period is ScorecardPeriod.MONTHLY:
        return f"{local.year:04d}-{local.month:02d}"
    return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"


def _local_month_start(year: int, month: int, calendar: Calendar) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone(calendar.time_zone)).astimezone(UTC)


def _months_later(start: datetime, months: int, calendar: Calendar) -> datetime:
    local = calendar.local(start)
    return _local_month_start(local.year, local.month + months, calendar)


def due_periods(
    state: SupplierState, spec: ScorecardSpec, calendar: Calendar, now: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The periods of the contract that ended by ``now`` and are not closed yet, oldest first.

    Only a supplier under contract has periods; the first is the one the contract starts in,
    or the one after the latest closed scorecard. Each ends where the pack's period does, so
    a pack that moves from months to quarters scores the rest of the quarter, then quarters;
    the last ends with the contract, so the tick that ends the contract scores it first.
    """
    contract = state.contract
    if contract is None or state.lifecycle not in lifecycle.UNDER_CONTRACT:
        return
    if state.scorecards:
        start = state.scorecards[-1].period_end
    else:
        start = period_bounds(contract.starts_at, spec.period, calendar)[0]
    while start < contract.ends_at:
        end = min(period_bounds(start, spec.period, calendar)[1], contract.ends_at)
        if end > now:
            return
        yield start, end
        start = end


def scorecards_due(state: SupplierState, policy: Policy, now: datetime) -> list[ScorecardClosed]:
    """A ``ScorecardClosed`` for every period of ``state`` that ended by ``now`` unclosed."""
    spec, calendar = policy.scorecard, policy.calendar
    if spec is None:
        return []
    return [
        ScorecardClosed(
            now,
            close_period(
                state, spec, calendar, bounds, policy_version=policy.version, closed_at=now
            ),
        )
        for bounds in due_periods(state, spec, calendar, now)
    ]


def close_period(
    state: SupplierState,
    spec: ScorecardSpec,
    calendar: Calendar,
    bounds: tuple[datetime, datetime],
    *,
    policy_version: str = "",
    closed_at: datetime | None = None,
) -> Scorecard:
    """The scorecard of ``state``'s records in the period ``bounds``, under ``spec``."""
    start, end = bounds
    months = _months_of(start, end, calendar)
    raw = [_kpi(kpi, state, start, end, months) for kpi in spec.kpis]
    kpis, note = _weighted(raw, spec)
    rated = any(k.has_data for k in kpis)
    weighted = sum(k.score * k.weight_used for k in kpis) / spec.total_weight if rated else 0.0
    score = round(_clamp(weighted), 2)  # rounded first: the standing is the score's, as shown
    standing = spec.standing_of(score) if rated else None
    return Scorecard(
        period=period_label(start, spec.period, calendar),
        period_start=start,
        period_end=end,
        score=score,
        standing=standing.id if standing else "",
        standing_title=standing.title if standing else "",
        kpis=kpis,
        weights_note=note,
        policy_version=policy_version,
        blocks_shortlisting=standing.blocks_shortlisting if standing else False,
        closed_at=closed_at,
        blocks_award=standing.blocks_award if standing else False,
    )


def _months_of(start: datetime, end: datetime, calendar: Calendar) -> tuple[str, ...]:
    months = []
    while start < end:
        months.append(calendar.period_of(start))
        start = _months_later(start, 1, calendar)
    return tuple(months)


def _clamp(score: float) -> float:
    return min(100.0, max(0.0, score))


def _weighted(raw: list[KpiResult], spec: ScorecardSpec) -> tuple[tuple[KpiResult, ...], str]:
    """Weights of KPIs without data shared out over those with data, in proportion."""
    with_data = sum(k.weight for k in raw if k.has_data)
    scale = spec.total_weight / with_data if with_data else 0.0
    kpis = tuple(attrs.evolve(k, weight_used=k.weight * scale if k.has_data else 0.0) for k in raw)
    missing = [k.kpi_id for k in raw if not k.has_data]
    if not missing:
        return kpis, ""
    if not with_data:
        return kpis, "no KPI had data in the period: not rated"
    return kpis, (
        f"no data for {', '.join(missing)}: their weight "
        f"({_number(sum(k.weight for k in raw if not k.has_data))}) was shared out over the "
        f"other KPIs in proportion to their weights"
    )


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _kpi(
    kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime, months: tuple[str, ...]
) -> KpiResult:
    if kpi.measure is KpiMeasure.SLA_ATTAINMENT:
        return _sla_attainment(kpi, state, start, end)
    if kpi.measure is KpiMeasure.SATISFACTION_MEAN:
        return _satisfaction(kpi, state, start, end)
    if kpi.measure is KpiMeasure.INSPECTION_PASS_RATE:
        return _inspections(kpi, state, start, end)
    assert state.contract is not None  # noqa: S101 - only suppliers under contract are scored
    return _penalties(kpi, state, state.contract, months)


def _result(kpi: KpiSpec, value: float, score: float, basis: str) -> KpiResult:
    return KpiResult(
        kpi_id=kpi.id,
        title=kpi.title,
        measure=kpi.measure.value,
        value=round(value, 2),
        score=round(_clamp(score), 2),
        weight=kpi.weight,
        weight_used=0.0,  # set once every KPI of the period is known (``_weighted``)
        has_data=True,
        basis=basis,
    )


def _no_data(kpi: KpiSpec, basis: str) -> KpiResult:
    return KpiResult(kpi.id, kpi.title, kpi.measure.value, 0.0, 0.0, kpi.weight, 0.0, False, basis)


def _sla_attainment(
    kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime
) -> KpiResult:
    of = f" of objective {kpi.objective}" if kpi.objective else ""
    taken = [
        m
        for m in state.measurements
        if start < m.period_end <= end and kpi.objective in ("", m.objective_id)
    ]
    if not taken:
        return _no_data(kpi, f"no measurements{of} in the period")
    met = sum(1 for m in taken if m.met)
    share = 100.0 * met / len(taken)
    return _result(kpi, share, share, f"{met} of {len(taken)} measurements{of} met their objective")


def _satisfaction(kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime) -> KpiResult:
    scores = [s.value for s in state.surveys if start <= s.at < end]
    if not scores:
        return _no_data(kpi, "no satisfaction surveys in the period")
    mean = sum(scores) / len(scores)
    surveys = "survey" if len(scores) == 1 else "surveys"
    return _result(kpi, mean, mean, f"mean score of {len(scores)} {surveys}: {_number(mean)}")


def _inspections(kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime) -> KpiResult:
    taken = [i for i in state.inspections if start <= i.at < end]
    if not taken:
        return _no_data(kpi, "no inspections in the period")
    passed = sum(1 for i in taken if i.passed)
    share = 100.0 * passed / len(taken)
    return _result(kpi, share, share, f"{passed} of {len(taken)} inspections passed")


def _penalties(
    kpi: KpiSpec, state: SupplierState, contract: Contract, months: tuple[str, ...]
) -> KpiResult:
    fee = contract.monthly_fee
    fees = fee.amount * len(months)
    penalised = sum(
        (
            p.amount.amount
            for p in state.penalties
            if p.contract_id == contract.contract_id
            and p.period in months
            and p.amount.currency == fee.currency
        ),
        Decimal("0.00"),
    )
    share = float(penalised * 100 / fees) if fees > 0 else 0.0
    score = 100.0 * (1 - share / kpi.zero_at_percent)
    basis = (
        f"penalties of {penalised} {fee.currency} against fees of {fees} {fee.currency}"
        f" for {len(months)} month{'s' if len(months) > 1 else ''}: {share:.2f}%"
        f" (scores 0 at {_number(kpi.zero_at_percent)}%)"
    )
    return _result(kpi, share, score, basis)
