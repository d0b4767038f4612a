"""Closing a supplier's scorecard periods: pure computation over the supplier's records.

A period is a local calendar month or quarter of the pack's calendar, ``[start, end)``. Its
records are the measurements whose measured period ends within ``(start, end]`` (a January
measurement ends at midnight on 1 February), the surveys and inspections taken within
``[start, end)``, the penalties counted against its months, the tickets resolved and the
milestones due within it, and the reports sent within it (or overdue at its end). A category
may weigh the KPIs differently (``ScorecardSpec.for_category``). Each KPI scores 0 to 100;
the score is the weighted mean over the KPIs that had data, their weights scaled up to the
declared total so that a quiet month is not a bad month.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from sqm.domain import lifecycle
from sqm.domain.calendar import Calendar, zone
from sqm.domain.events import ScorecardClosed
from sqm.domain.model import Contract, Severity, SupplierState
from sqm.domain.ports import Policy
from sqm.domain.scorecard_records import (
    KpiMeasure,
    KpiResult,
    KpiSpec,
    ReportKind,
    Scorecard,
    ScorecardPeriod,
    ScorecardSpec,
)
from sqm.domain.tickets import hours_between

SCORECARDS_KEPT = 24
"""Closed scorecards the state keeps (two years of months); the stream keeps them all."""

TicketTarget = Callable[[Severity], "float | None"]
"""The hours a ticket of a severity should be resolved in (None: no target)."""


def _no_targets(_: Severity) -> float | None:
    return None


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
    declared, calendar = policy.scorecard, policy.calendar
    if declared is None:
        return []
    spec = declared.for_category(str(state.category))
    return [
        ScorecardClosed(
            now,
            close_period(
                state,
                spec,
                calendar,
                bounds,
                policy_version=policy.version,
                closed_at=now,
                ticket_target=policy.ticket_target_hours,
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
    ticket_target: TicketTarget = _no_targets,
) -> Scorecard:
    """The scorecard of ``state``'s records in the period ``bounds``, under ``spec``; tickets
    are held to ``ticket_target``'s hours for their severity.
    """
    start, end = bounds
    months = _months_of(start, end, calendar)
    raw = [_kpi(kpi, state, start, end, months, ticket_target=ticket_target) for kpi in spec.kpis]
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
        warns_shortlisting=standing.warns_shortlisting if standing else False,
        warns_award=standing.warns_award if standing else False,
        review_every_days=standing.review_every_days if standing else 0,
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


def _kpi(  # noqa: PLR0911 - one return per measure
    kpi: KpiSpec,
    state: SupplierState,
    start: datetime,
    end: datetime,
    months: tuple[str, ...],
    *,
    ticket_target: TicketTarget,
) -> KpiResult:
    if kpi.measure is KpiMeasure.SLA_ATTAINMENT:
        return _sla_attainment(kpi, state, start, end)
    if kpi.measure is KpiMeasure.SATISFACTION_MEAN:
        return _satisfaction(kpi, state, start, end)
    if kpi.measure is KpiMeasure.INSPECTION_PASS_RATE:
        return _inspections(kpi, state, start, end)
    if kpi.measure is KpiMeasure.TICKETS_ON_TIME:
        return _tickets(kpi, state, start, end, ticket_target)
    if kpi.measure is KpiMeasure.MILESTONES_ON_TIME:
        return _milestones(kpi, state, start, end)
    assert state.contract is not None  # noqa: S101 - only suppliers under contract are scored
    if kpi.measure is KpiMeasure.REPORTS_ON_TIME:
        return _reports(kpi, state, state.contract, start, end)
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


def _share_result(kpi: KpiSpec, on_time: int, taken: int, basis: str) -> KpiResult:
    share = 100.0 * on_time / taken
    return _result(kpi, share, share, basis)


def _tickets(
    kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime, target: TicketTarget
) -> KpiResult:
    """Tickets resolved in the period, on time when within their severity's target hours (a
    severity without a target is always on time).
    """
    resolved = [
        (t, t.resolved_at)
        for t in state.tickets
        if t.resolved_at is not None and start <= t.resolved_at < end
    ]
    if not resolved:
        return _no_data(kpi, "no problem tickets resolved in the period")
    on_time = 0
    for ticket, resolved_at in resolved:
        hours = target(ticket.severity)
        on_time += hours is None or hours_between(ticket.opened_at, resolved_at) <= hours
    basis = f"{on_time} of {len(resolved)} problem tickets resolved within their target hours"
    return _share_result(kpi, on_time, len(resolved), basis)


def _milestones(kpi: KpiSpec, state: SupplierState, start: datetime, end: datetime) -> KpiResult:
    """Milestones due in the period, on time when completed by their due time."""
    done = state.milestone_completions
    # A milestone completed before completion times were kept (an older snapshot) has no
    # time to judge: it is left out rather than called late.
    due = [
        m
        for m in state.milestones
        if start <= m.due_at < end and (m.name in done or m.name not in state.milestones_completed)
    ]
    if not due:
        return _no_data(kpi, "no milestones due in the period")
    on_time = sum(1 for m in due if m.name in done and done[m.name] <= m.due_at)
    basis = f"{on_time} of {len(due)} milestones due in the period completed by their due time"
    return _share_result(kpi, on_time, len(due), basis)


_REPORT_NAMES = {
    ReportKind.PROGRESS_REPORT: "progress reports",
    ReportKind.SELF_CHECK: "self-checks",
}


def _reports(
    kpi: KpiSpec, state: SupplierState, contract: Contract, start: datetime, end: datetime
) -> KpiResult:
    """Each report of the period is on time when it came at most ``within_days`` after the one
    before it (or the contract's start); a period that ends with the next report already
    overdue counts that missing report as late too.
    """
    if kpi.report is ReportKind.PROGRESS_REPORT:
        kept, last = state.progress_reports, state.last_progress_report_at
    else:
        kept, last = state.self_checks, state.last_self_check_at
    # The latest report counts even when the history does not hold it (an older snapshot).
    times = {*kept, last} if last is not None else set(kept)
    limit = timedelta(days=kpi.within_days)
    name = _REPORT_NAMES[kpi.report]
    on_time = late = 0
    previous = contract.starts_at
    for at in sorted(times):
        if at >= end:
            break
        if at >= start:
            if at - previous <= limit:
                on_time += 1
            else:
                late += 1
        previous = max(previous, at)
    overdue = end - previous > limit
    taken = on_time + late + overdue
    if not taken:
        return _no_data(kpi, f"no {name} in the period and none overdue at its end")
    basis = (
        f"{on_time} of {taken} {name} on time (each within {_number(kpi.within_days)} days of"
        f" the one before)"
    )
    if overdue:
        basis += "; the next one was overdue at the period's end and counts as late"
    return _share_result(kpi, on_time, taken, basis)
