"""Windows, counts and deadlines from a supplier's history, each checked by hand at an explicit now.

Windows are half-open, ``(now - days, now]``: a record exactly ``days`` old has left the
window, one at ``now`` is in it, and one after ``now`` (a later record replayed against an
earlier moment) is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest

from sqm.domain.history import (
    breaches_within,
    clean_days_since_plan_completed,
    consecutive_misses,
    credited,
    days_between,
    days_since_progress_report,
    days_since_self_check,
    days_until_plan_due,
    failed_inspections_within,
    mean_survey_score,
    period_of,
    repeats_in_period,
    required_certificates_valid,
)
from sqm.domain.model import (
    Breach,
    Certificate,
    Contract,
    ImprovementPlan,
    Measurement,
    Money,
    Observation,
    Penalty,
    Severity,
    SupplierState,
)
from sqm.domain.pack_catalogue import CertificateKindId, MetricId

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)
BARE = SupplierState("acme", "Acme", "network_services")
CONTRACT = Contract(
    "ct-1",
    NOW - 100 * DAY,
    NOW - 90 * DAY,
    NOW + 275 * DAY,
    Money(Decimal("100000.00"), "CNY"),
    Money(Decimal("500000.00"), "CNY"),
)


def breach(
    at: datetime,
    severity: Severity = Severity.MAJOR,
    objective_id: str = "availability",
) -> Breach:
    """A breach of ``objective_id`` detected at ``at``."""
    return Breach(objective_id, "availability", severity, 98.0, 99.9, 1.9, at, at)


def with_breaches(*breaches: Breach, **fields: Any) -> SupplierState:
    """A supplier with these breaches (and any other fields given)."""
    return attrs.evolve(BARE, breaches=breaches, **fields)


def measured(period_end: datetime, met: bool, metric: MetricId = "availability") -> Measurement:
    """A measurement of ``metric`` over the 30 days ending at ``period_end``."""
    return Measurement(metric, metric, 99.0, period_end - 30 * DAY, period_end, met, period_end)


def penalty(amount: str, kind: str = "service_credit", period: str = "2025-06") -> Penalty:
    """A ledger entry of ``amount`` CNY."""
    return Penalty(
        "acme/penalty", kind, "ct-1", Money(Decimal(amount), "CNY"), period, "r", "", NOW
    )


def cert(
    kind: CertificateKindId, until: datetime, since: datetime = NOW - 400 * DAY
) -> Certificate:
    """A certificate of ``kind`` valid on ``[since, until)``."""
    return Certificate(kind, f"{kind}-{until:%Y%m%d}", "CQC", since, until)


def planned(
    completed_at: datetime | None = None, objective_id: str = "availability", **fields: Any
) -> ImprovementPlan:
    """A plan required 20 days ago and due in 10 days, completed when told."""
    return attrs.evolve(
        ImprovementPlan(NOW - 20 * DAY, NOW + 10 * DAY, objective_id),
        completed_at=completed_at,
        **fields,
    )


# --- days_between --------------------------------------------------------------------------


def test_days_between_counts_fractions_and_is_negative_backwards() -> None:
    """Twelve hours is half a day; swapping the arguments flips the sign."""
    assert days_between(NOW, NOW + 12 * HOUR) == 0.5
    assert days_between(NOW + 3 * DAY, NOW) == -3.0
    assert days_between(NOW, NOW) == 0.0


def test_days_between_compares_instants_not_wall_clocks() -> None:
    """The same instant in Shanghai and in UTC is zero days apart."""
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert days_between(shanghai, NOW) == 0.0


# --- breaches_within -----------------------------------------------------------------------


def test_a_breach_exactly_d_days_old_has_left_the_window() -> None:
    """The window is (now - D, now]: at exactly D days it is out, a microsecond later it is in."""
    assert breaches_within(with_breaches(breach(NOW - 30 * DAY)), NOW, 30) == 0
    assert breaches_within(with_breaches(breach(NOW - 30 * DAY + TICK)), NOW, 30) == 1


def test_a_breach_at_now_is_in_the_window_and_a_later_one_is_not() -> None:
    """A breach detected at now counts; one after now does not."""
    assert breaches_within(with_breaches(breach(NOW)), NOW, 30) == 1
    assert breaches_within(with_breaches(breach(NOW + TICK)), NOW, 30) == 0


def test_breaches_within_counts_only_the_given_severity_or_worse() -> None:
    """Minor, major and critical in the window: 3 of minor or worse, 2 major+, 1 critical."""
    supplier = with_breaches(
        breach(NOW - DAY, Severity.MINOR),
        breach(NOW - 2 * DAY, Severity.MAJOR),
        breach(NOW - 3 * DAY, Severity.CRITICAL),
        breach(NOW - 40 * DAY, Severity.CRITICAL),  # outside
    )
    assert breaches_within(supplier, NOW, 30) == 3
    assert breaches_within(supplier, NOW, 30, Severity.MAJOR) == 2
    assert breaches_within(supplier, NOW, 30, Severity.CRITICAL) == 1
    assert breaches_within(supplier, NOW, 41, Severity.CRITICAL) == 2


def test_breaches_within_can_be_limited_to_one_objective() -> None:
    """With an objective id only that objective's breaches count; empty means all."""
    supplier = with_breaches(
        breach(NOW - DAY, objective_id="availability"),
        breach(NOW - DAY, objective_id="mttr"),
        breach(NOW - 2 * DAY, objective_id="mttr"),
    )
    assert breaches_within(supplier, NOW, 7, objective_id="mttr") == 2
    assert breaches_within(supplier, NOW, 7, objective_id="availability") == 1
    assert breaches_within(supplier, NOW, 7, objective_id="") == 3


def test_a_window_can_be_a_fraction_of_a_day() -> None:
    """A half-day window holds a breach eleven hours old but not one thirteen hours old."""
    supplier = with_breaches(breach(NOW - 11 * HOUR), breach(NOW - 13 * HOUR))
    assert breaches_within(supplier, NOW, 0.5) == 1


def test_no_breaches_count_zero() -> None:
    """A supplier without breaches has none in any window."""
    assert breaches_within(BARE, NOW, 365) == 0


# --- consecutive_misses --------------------------------------------------------------------


def test_consecutive_misses_counts_the_latest_run_of_misses() -> None:
    """met, miss, met, miss, miss (by period end): the latest run is two."""
    ends = [NOW - k * 30 * DAY for k in range(4, -1, -1)]
    supplier = attrs.evolve(
        BARE,
        measurements=tuple(
            measured(end, met)
            for end, met in zip(ends, [True, False, True, False, False], strict=True)
        ),
    )
    assert consecutive_misses(supplier, "availability") == 2


def test_consecutive_misses_orders_by_period_end_not_by_arrival() -> None:
    """A late-arriving met measurement of an earlier period does not break the latest run."""
    supplier = attrs.evolve(
        BARE,
        measurements=(
            measured(NOW - 30 * DAY, False),
            measured(NOW, False),
            measured(NOW - 60 * DAY, True),  # arrived last, but covers the oldest period
        ),
    )
    assert consecutive_misses(supplier, "availability") == 2


def test_consecutive_misses_is_zero_when_the_latest_period_met() -> None:
    """A met latest period ends the run, whatever came before."""
    supplier = attrs.evolve(
        BARE, measurements=(measured(NOW - 30 * DAY, False), measured(NOW, True))
    )
    assert consecutive_misses(supplier, "availability") == 0


def test_consecutive_misses_looks_at_one_metric_only() -> None:
    """Measurements of another metric neither count nor break the run."""
    supplier = attrs.evolve(
        BARE,
        measurements=(
            measured(NOW - 30 * DAY, False),
            measured(NOW - 15 * DAY, True, "mean_time_to_restore"),
            measured(NOW, False),
        ),
    )
    assert consecutive_misses(supplier, "availability") == 2
    assert consecutive_misses(supplier, "mean_time_to_restore") == 0
    assert consecutive_misses(BARE, "availability") == 0


# --- surveys and inspections ---------------------------------------------------------------


def test_mean_survey_score_averages_the_window_only() -> None:
    """Surveys 10 and 5 days ago (80, 70) average 75; one exactly 30 days old is left out."""
    supplier = attrs.evolve(
        BARE,
        surveys=(
            Observation(NOW - 30 * DAY, 10.0),
            Observation(NOW - 10 * DAY, 80.0),
            Observation(NOW - 5 * DAY, 70.0),
            Observation(NOW + DAY, 0.0),  # after now
        ),
    )
    assert mean_survey_score(supplier, NOW, 30) == 75.0
    assert mean_survey_score(supplier, NOW, 30 + 1e-6) == pytest.approx(160 / 3)


def test_mean_survey_score_is_none_without_surveys_in_the_window() -> None:
    """No survey in the window: None (not zero, which would read as furious customers)."""
    old = attrs.evolve(BARE, surveys=(Observation(NOW - 100 * DAY, 90.0),))
    assert mean_survey_score(old, NOW, 30) is None
    assert mean_survey_score(BARE, NOW, 30) is None


def test_failed_inspections_within_counts_failures_in_the_window() -> None:
    """Two failures and a pass in the window, one failure just outside: two."""
    supplier = attrs.evolve(
        BARE,
        inspections=(
            Observation(NOW - 90 * DAY, 0.0, False),
            Observation(NOW - 89 * DAY, 0.0, False),
            Observation(NOW - 10 * DAY, 1.0, True),
            Observation(NOW, 0.0, False),
        ),
    )
    assert failed_inspections_within(supplier, NOW, 90) == 2
    assert failed_inspections_within(BARE, NOW, 90) == 0


# --- reports and self-checks ---------------------------------------------------------------


def test_days_since_progress_report_counts_from_the_last_report() -> None:
    """A report 12.5 days ago: 12.5, whatever the contract start."""
    supplier = attrs.evolve(BARE, contract=CONTRACT, last_progress_report_at=NOW - 12.5 * DAY)
    assert days_since_progress_report(supplier, NOW) == 12.5


def test_days_since_progress_report_falls_back_to_the_contract_start() -> None:
    """No report yet: days since the contract started (90), not since it was signed (100)."""
    assert days_since_progress_report(attrs.evolve(BARE, contract=CONTRACT), NOW) == 90.0


def test_days_since_progress_report_is_zero_before_the_contract_starts() -> None:
    """Before the term starts nothing is overdue: never negative."""
    supplier = attrs.evolve(BARE, contract=CONTRACT)
    assert days_since_progress_report(supplier, CONTRACT.starts_at - 5 * DAY) == 0.0


def test_days_since_progress_report_is_zero_without_contract_or_report() -> None:
    """A supplier with neither a contract nor a report owes nothing yet."""
    assert days_since_progress_report(BARE, NOW) == 0.0


def test_days_since_self_check_counts_from_the_last_self_check_or_the_start() -> None:
    """Self-checks follow the same rule as reports, on their own clock."""
    supplier = attrs.evolve(
        BARE, contract=CONTRACT, last_progress_report_at=NOW - DAY, last_self_check_at=None
    )
    assert days_since_self_check(supplier, NOW) == 90.0
    checked = attrs.evolve(supplier, last_self_check_at=NOW - 7 * DAY)
    assert days_since_self_check(checked, NOW) == 7.0
    assert days_since_progress_report(checked, NOW) == 1.0


# --- improvement plans ---------------------------------------------------------------------


def test_days_until_plan_due_counts_down_and_goes_negative_when_overdue() -> None:
    """Due in 10 days at NOW; 0 at the due time; -2.5 two and a half days after."""
    supplier = attrs.evolve(BARE, plan=planned())
    assert days_until_plan_due(supplier, NOW) == 10.0
    assert days_until_plan_due(supplier, NOW + 10 * DAY) == 0.0
    assert days_until_plan_due(supplier, NOW + 12.5 * DAY) == -2.5


def test_a_submitted_plan_is_still_due_until_completed() -> None:
    """Submission does not stop the clock; completion does."""
    submitted = attrs.evolve(BARE, plan=planned(submitted_at=NOW - DAY))
    assert days_until_plan_due(submitted, NOW) == 10.0
    completed = attrs.evolve(BARE, plan=planned(completed_at=NOW - DAY))
    assert days_until_plan_due(completed, NOW) is None


def test_days_until_plan_due_is_none_without_a_plan() -> None:
    """No plan required: nothing is due."""
    assert days_until_plan_due(BARE, NOW) is None


def test_clean_days_count_from_completion_without_breaches() -> None:
    """Completed 12 days ago and no breach since: 12 clean days."""
    supplier = with_breaches(breach(NOW - 15 * DAY), plan=planned(NOW - 12 * DAY))
    assert clean_days_since_plan_completed(supplier, NOW) == 12.0


def test_clean_days_restart_at_a_relapse_of_the_same_objective() -> None:
    """A breach of the plan's objective 4 days ago restarts the clock: 4 clean days."""
    supplier = with_breaches(breach(NOW - 4 * DAY), plan=planned(NOW - 12 * DAY))
    assert clean_days_since_plan_completed(supplier, NOW) == 4.0


def test_clean_days_ignore_breaches_of_other_objectives() -> None:
    """A breach of another objective after completion does not restart the clock."""
    supplier = with_breaches(
        breach(NOW - 4 * DAY, objective_id="mttr"), plan=planned(NOW - 12 * DAY)
    )
    assert clean_days_since_plan_completed(supplier, NOW) == 12.0


def test_a_plan_without_an_objective_restarts_at_any_breach() -> None:
    """A plan from a hand-opened review has no objective: every breach is a relapse."""
    supplier = with_breaches(
        breach(NOW - 4 * DAY, objective_id="mttr"), plan=planned(NOW - 12 * DAY, objective_id="")
    )
    assert clean_days_since_plan_completed(supplier, NOW) == 4.0


def test_a_relapse_at_the_completion_instant_counts() -> None:
    """A breach detected at the very moment of completion is a relapse (restart there: same)."""
    completed_at = NOW - 6 * DAY
    supplier = with_breaches(breach(completed_at), plan=planned(completed_at))
    assert clean_days_since_plan_completed(supplier, NOW) == 6.0


def test_clean_days_are_none_until_the_plan_is_completed() -> None:
    """No plan, or a plan still in progress: no clean window has started."""
    assert clean_days_since_plan_completed(BARE, NOW) is None
    in_progress = attrs.evolve(BARE, plan=planned(submitted_at=NOW - DAY))
    assert clean_days_since_plan_completed(in_progress, NOW) is None


def test_clean_days_are_never_negative() -> None:
    """Asked before the plan was completed, the clean window is zero, not negative."""
    supplier = attrs.evolve(BARE, plan=planned(NOW))
    assert clean_days_since_plan_completed(supplier, NOW - DAY) == 0.0


# --- certificates --------------------------------------------------------------------------

REQUIRED = ("business_licence", "iso_9001", "tl_9000")


def holding(*certificates: Certificate) -> SupplierState:
    """A supplier holding these certificates."""
    return attrs.evolve(BARE, certificates=certificates)


def test_required_certificates_count_the_missing_and_the_earliest_expiry() -> None:
    """Licence valid 40 more days, ISO 9001 20 more, TL 9000 missing: (1, 20.0)."""
    supplier = holding(
        cert("business_licence", NOW + 40 * DAY),
        cert("iso_9001", NOW + 20 * DAY),
    )
    assert required_certificates_valid(supplier, REQUIRED, NOW) == (1, 20.0)


def test_a_renewal_moves_the_expiry_to_the_renewed_certificate() -> None:
    """Two valid ISO 9001 (ending in 5 and in 300 days): the renewal's expiry counts, 300."""
    supplier = holding(
        cert("iso_9001", NOW + 5 * DAY),
        cert("iso_9001", NOW + 300 * DAY, since=NOW - DAY),
    )
    assert required_certificates_valid(supplier, ["iso_9001"], NOW) == (0, 300.0)


def test_a_renewal_not_yet_in_force_does_not_count() -> None:
    """A renewal starting tomorrow leaves today's expiry (in 5 days) as the one that counts."""
    supplier = holding(
        cert("iso_9001", NOW + 5 * DAY),
        cert("iso_9001", NOW + 300 * DAY, since=NOW + DAY),
    )
    assert required_certificates_valid(supplier, ["iso_9001"], NOW) == (0, 5.0)


def test_a_certificate_ending_now_is_expired_and_missing() -> None:
    """Validity is half-open: a certificate valid until now no longer counts."""
    supplier = holding(cert("business_licence", NOW))
    assert required_certificates_valid(supplier, ["business_licence"], NOW) == (
        1,
        None,
    )


def test_certificates_not_required_do_not_count() -> None:
    """An ISO 27001 expiring tomorrow is ignored when only the licence is required."""
    supplier = holding(
        cert("iso_27001", NOW + DAY),
        cert("business_licence", NOW + 60 * DAY),
    )
    assert required_certificates_valid(supplier, ["business_licence"], NOW) == (
        0,
        60.0,
    )


def test_nothing_required_means_nothing_missing() -> None:
    """With no required kinds, none is missing and there is no expiry to watch."""
    assert required_certificates_valid(holding(), [], NOW) == (0, None)


# --- the ledger ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        (datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC), "2025-06"),
        (datetime(2025, 7, 1, tzinfo=UTC), "2025-07"),
        (datetime(2025, 12, 31, 12, tzinfo=UTC), "2025-12"),
        (datetime(999, 1, 15, tzinfo=UTC), "0999-01"),
    ],
)
def test_period_of_is_the_utc_calendar_month(moment: datetime, period: str) -> None:
    """A moment's ledger period is its month as YYYY-MM, zero-padded."""
    assert period_of(moment) == period


def test_period_of_an_instant_does_not_depend_on_its_offset() -> None:
    """2025-07-01 05:00 in Shanghai is 2025-06-30 21:00 UTC: period 2025-06, either spelling."""
    shanghai = datetime(2025, 7, 1, 5, 0, tzinfo=timezone(timedelta(hours=8)))
    assert period_of(shanghai) == period_of(shanghai.astimezone(UTC)) == "2025-06"


LEDGER = (
    penalty("100.10"),
    penalty("0.90", period="2025-05"),
    penalty("2500.00", kind="compensation"),
    penalty("0.01"),
)


@pytest.mark.parametrize(
    ("kind", "period", "total"),
    [
        ("", "", "2601.01"),
        ("service_credit", "", "101.01"),
        ("service_credit", "2025-06", "100.11"),
        ("", "2025-05", "0.90"),
        ("compensation", "2025-05", "0"),
    ],
)
def test_credited_sums_exactly_by_kind_and_period(kind: str, period: str, total: str) -> None:
    """Sums are exact decimals, filtered by kind and period when given."""
    assert credited(LEDGER, kind, period) == Decimal(total)


def test_credited_of_an_empty_ledger_is_zero() -> None:
    """Nothing credited: Decimal zero, not an int or a float."""
    empty: Iterable[Penalty] = ()
    result = credited(empty)
    assert result == 0
    assert isinstance(result, Decimal)


def test_repeats_in_period_counts_earlier_breaches_of_the_objective_that_month() -> None:
    """June: two earlier availability breaches; May's, later ones and mttr's are not repeats."""
    june = datetime(2025, 6, 20, tzinfo=UTC)
    current = breach(june)
    supplier = with_breaches(
        breach(datetime(2025, 5, 31, 23, tzinfo=UTC)),  # last month
        breach(datetime(2025, 6, 1, tzinfo=UTC)),
        breach(datetime(2025, 6, 10, tzinfo=UTC), objective_id="mttr"),
        breach(datetime(2025, 6, 15, tzinfo=UTC), Severity.MINOR),
        current,
        breach(datetime(2025, 6, 25, tzinfo=UTC)),  # later
    )
    assert repeats_in_period(supplier, current) == 2


def test_the_first_breach_of_a_period_is_no_repeat() -> None:
    """A breach on its own, or the first of its month, has zero repeats."""
    first = breach(datetime(2025, 7, 1, tzinfo=UTC))
    assert repeats_in_period(with_breaches(first), first) == 0
    assert repeats_in_period(with_breaches(breach(NOW), first), first) == 0
