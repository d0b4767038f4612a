"""Windows, counts and deadlines computed from a supplier's history with an explicit ``now``.

The rules engine has no notion of time windows that we can trust (durable_rules' ``count``
has no window and pending correlations pile up), so the domain computes them here and hands
the results to the rules as plain facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqm.domain.calendar import UTC_CALENDAR, Calendar
from sqm.domain.model import Breach, Certificate, Observation, Penalty, Severity, SupplierState
from sqm.domain.pack_catalogue import CertificateKindId, MetricId
from sqm.domain.windows import in_window, indexed

SECONDS_PER_DAY = 86_400.0
SCAN_WHOLE_BELOW = 32
"""History lists shorter than this are scanned whole for a window (see :func:`_recent`)."""

T = TypeVar("T")


def days_between(earlier: datetime, later: datetime) -> float:
    """``later - earlier`` in days (negative when ``later`` comes first)."""
    return (later - earlier).total_seconds() / SECONDS_PER_DAY


def breaches_within(
    supplier: SupplierState,
    now: datetime,
    days: float,
    min_severity: Severity = Severity.MINOR,
    objective_id: str = "",
) -> int:
    """Breaches of ``min_severity`` or worse detected in the ``days`` up to ``now``
    (optionally of one objective).
    """
    since = now - timedelta(days=days)
    return sum(
        1
        for b in _recent(supplier.breaches, since, supplier, _detected_at)
        if since < b.detected_at <= now
        and b.severity.rank >= min_severity.rank
        and (not objective_id or b.objective_id == objective_id)
    )


def consecutive_misses(supplier: SupplierState, metric: MetricId) -> int:
    """How many of the most recent measurement periods of ``metric`` missed, in a row."""
    if indexed(supplier):
        return supplier.windows.miss_streaks.get(metric, 0)
    return consecutive_misses_recomputed(supplier, metric)


def consecutive_misses_recomputed(supplier: SupplierState, metric: MetricId) -> int:
    """:func:`consecutive_misses` over the whole kept history, as the index is checked."""
    periods = sorted(
        (m for m in supplier.measurements if m.metric == metric), key=lambda m: m.period_end
    )
    count = 0
    for measurement in reversed(periods):
        if measurement.met:
            break
        count += 1
    return count


def surveys_within(supplier: SupplierState, now: datetime, days: float) -> list[Observation]:
    """The surveys of the ``days`` up to ``now``, oldest first."""
    since = now - timedelta(days=days)
    return [
        s for s in _recent(supplier.surveys, since, supplier, _observed_at) if since < s.at <= now
    ]


def mean_survey_score(supplier: SupplierState, now: datetime, days: float) -> float | None:
    """The mean satisfaction score of surveys in the ``days`` up to ``now``; None if none."""
    scores = [s.value for s in surveys_within(supplier, now, days)]
    return sum(scores) / len(scores) if scores else None


def failed_inspections_within(supplier: SupplierState, now: datetime, days: float) -> int:
    """Failed inspections in the ``days`` up to ``now``."""
    since = now - timedelta(days=days)
    inspections = _recent(supplier.inspections, since, supplier, _observed_at)
    return sum(1 for i in inspections if since < i.at <= now and not i.passed)


def _recent(
    items: Sequence[T], since: datetime, supplier: SupplierState, at: Callable[[T], datetime]
) -> Sequence[T]:
    """``items`` to look at for a window after ``since``: only the window's own (found by
    bisection) when the list is long and its index kept, else the whole list. A short list is
    scanned whole: that costs less than checking the index and bisecting.
    """
    if len(items) >= SCAN_WHOLE_BELOW and indexed(supplier):
        return in_window(items, since, at)
    return items


def _detected_at(breach: Breach) -> datetime:
    return breach.detected_at


def _observed_at(observation: Observation) -> datetime:
    return observation.at


def days_since_progress_report(supplier: SupplierState, now: datetime) -> float:
    """Days since the last progress report, or since the contract started if none yet."""
    return _days_since(supplier.last_progress_report_at, supplier, now)


def days_since_self_check(supplier: SupplierState, now: datetime) -> float:
    """Days since the last self-check, or since the contract started if none yet."""
    return _days_since(supplier.last_self_check_at, supplier, now)


def days_since_review(supplier: SupplierState, now: datetime) -> float:
    """Days since the latest review opened, or since the contract started if none yet."""
    return _days_since(supplier.last_review_at, supplier, now)


def days_since_training(supplier: SupplierState, now: datetime) -> float:
    """Days since the last training, or since the contract started if none yet."""
    return _days_since(supplier.last_training_at, supplier, now)


def _days_since(moment: datetime | None, supplier: SupplierState, now: datetime) -> float:
    start = moment or (supplier.contract.starts_at if supplier.contract else None)
    return max(days_between(start, now), 0.0) if start is not None else 0.0


def days_until_plan_due(supplier: SupplierState, now: datetime) -> float | None:
    """Days left before the open improvement plan is due (negative when overdue); None
    when no plan is pending (none required, or already completed).
    """
    plan = supplier.plan
    if plan is None or plan.completed_at is not None:
        return None
    return days_between(now, plan.due_at)


def clean_days_since_plan_completed(supplier: SupplierState, now: datetime) -> float | None:
    """Days since the plan was completed with no breach of its objective since then (the
    clock restarts at each such breach); None when no completed plan is pending.
    """
    plan = supplier.plan
    if plan is None or plan.completed_at is None:
        return None
    relapses = [
        b.detected_at
        for b in supplier.breaches
        if b.detected_at >= plan.completed_at
        and (not plan.objective_id or b.objective_id == plan.objective_id)
    ]
    start = max([plan.completed_at, *relapses])
    return max(days_between(start, now), 0.0)


def required_certificates_valid(
    supplier: SupplierState, required: Iterable[CertificateKindId], now: datetime
) -> tuple[int, float | None]:
    """(how many ``required`` kinds are not valid at ``now``, days until the earliest
    expiry among the valid required ones (None if none is valid)).
    """
    valid = supplier.valid_certificate_kinds(now)
    required_kinds = set(required)
    missing = len(required_kinds - valid)
    expiries = [
        days_between(now, c.valid_until)
        for c in latest_valid_certificates(supplier.certificates, now)
        if c.kind in required_kinds
    ]
    return missing, (min(expiries) if expiries else None)


def latest_valid_certificates(
    certificates: Iterable[Certificate], now: datetime
) -> list[Certificate]:
    """The certificates valid at ``now``, one per kind: with a renewal, the latest expiry."""
    latest: dict[CertificateKindId, Certificate] = {}
    for cert in certificates:
        if cert.is_valid_at(now) and (
            cert.kind not in latest or cert.valid_until > latest[cert.kind].valid_until
        ):
            latest[cert.kind] = cert
    return list(latest.values())


def period_of(moment: datetime) -> str:
    """The ledger period (calendar month, UTC) a moment falls in: ``"YYYY-MM"``; a pack with
    a time zone counts its own months (:meth:`sqm.domain.calendar.Calendar.period_of`).
    """
    return UTC_CALENDAR.period_of(moment)


def credited(penalties: Iterable[Penalty], kind: str = "", period: str = "") -> Decimal:
    """The sum of ledger amounts, optionally of one kind and one period."""
    return sum(
        (p.amount.amount for p in penalties if (not kind or p.kind == kind)
         and (not period or p.period == period)),
        Decimal(0),
    )  # fmt: skip


def repeats_in_period(
    supplier: SupplierState, breach: Breach, calendar: Calendar = UTC_CALENDAR
) -> int:
    """Earlier breaches of the same objective in the breach's ledger period (0 for the first),
    months counted in ``calendar``'s time zone.
    """
    period = calendar.period_of(breach.detected_at)
    return sum(
        1
        for b in supplier.breaches
        if b.objective_id == breach.objective_id
        and calendar.period_of(b.detected_at) == period
        and b.detected_at < breach.detected_at
    )
