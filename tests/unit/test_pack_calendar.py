"""The pack's calendar: its time zone decides credit months, its holidays business days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from sqm.domain.calendar import UTC_CALENDAR, Calendar
from sqm.domain.commands import ConcludeReview, RecordMeasurement, ReviewOutcome
from sqm.domain.decide import decide
from sqm.domain.events import ImprovementPlanRequired, PenaltyAssessed
from sqm.domain.evolve import fold
from sqm.rules import CompiledPolicy, load_pack
from sqm.rules.errors import PackInvalid
from tests.commands import default_pack_variant
from tests.fakes import SID, S, supplier_in

SHANGHAI = Calendar("Asia/Shanghai")
# 2026-03-01 01:30 in Shanghai (UTC+8) is 2026-02-28 17:30 UTC.
EARLY_MARCH_IN_SHANGHAI = datetime(2026, 2, 28, 17, 30, tzinfo=UTC)

FORMAT_LINE = "format: sqm.policy/v1\n"
SHANGHAI_CALENDAR = """\
format: sqm.policy/v1
calendar:
  time_zone: Asia/Shanghai
  holidays: [2026-10-01, 2026-10-02, "2026-10-05"]
"""


def test_a_moment_falls_in_the_local_month_of_the_packs_time_zone() -> None:
    """01:30 on 1 March in Shanghai is March there, February in UTC."""
    assert SHANGHAI.period_of(EARLY_MARCH_IN_SHANGHAI) == "2026-03"
    assert UTC_CALENDAR.period_of(EARLY_MARCH_IN_SHANGHAI) == "2026-02"


def test_business_days_skip_weekends_and_holidays_at_the_same_local_time() -> None:
    """Wednesday 30 September + 3 business days, with 1, 2 and 5 October off, is 7 October."""
    calendar = Calendar("Asia/Shanghai", frozenset({date(2026, 10, d) for d in (1, 2, 5)}))
    start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    due = calendar.add_days(start, 3, business=True)
    assert due == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)  # Tue 6, Wed 7, Thu 8 at 10:00
    assert calendar.add_days(start, 3) == datetime(2026, 10, 3, 2, 0, tzinfo=UTC)


def shanghai_pack(tmp_path: Path, improvement: str = "") -> Path:
    """The default pack with a Shanghai calendar (and ``improvement`` replaced if given)."""
    folder = default_pack_variant(
        tmp_path / "pack",
        "manifest.yaml",
        FORMAT_LINE,
        SHANGHAI_CALENDAR,
    )
    if improvement:
        path = folder / "deadlines.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("improvement:\n", f"improvement:\n{improvement}"), encoding="utf-8"
        )
    return folder


def test_a_pack_without_a_calendar_counts_in_utc(tmp_path: Path) -> None:
    """Old packs are read as before: UTC, no holidays, the same version."""
    from sqm.rules import default_pack_dir  # noqa: PLC0415 - only this test needs it

    assert load_pack(default_pack_dir()).calendar == UTC_CALENDAR


def test_the_manifest_declares_the_time_zone_and_holidays(tmp_path: Path) -> None:
    """Dates may be written bare or quoted."""
    pack = load_pack(shanghai_pack(tmp_path))
    assert pack.calendar == Calendar(
        "Asia/Shanghai", frozenset({date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)})
    )


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        (
            "calendar:\n  time_zone: Asia/Shang_hai\n",
            "calendar.time_zone: unknown time zone 'Asia/Shang_hai';"
            " expected an IANA name like Asia/Shanghai or UTC",
        ),
        (
            "calendar:\n  holidays: [2026-13-01]\n",
            "calendar.holidays[0]: holiday '2026-13-01' is not a date; write it like 2026-10-01",
        ),
    ],
    ids=["zone", "holiday"],
)
def test_an_unknown_zone_or_a_bad_holiday_is_refused_at_its_line(
    tmp_path: Path, calendar: str, message: str
) -> None:
    """Located like every other problem of a pack."""
    folder = default_pack_variant(
        tmp_path / "pack", "manifest.yaml", FORMAT_LINE, FORMAT_LINE + calendar
    )
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    assert f": {message}" in str(raised.value)
    assert "manifest.yaml:" in str(raised.value)


def test_a_credit_early_on_the_first_of_the_month_counts_in_that_local_month(
    tmp_path: Path,
) -> None:
    """A breach at 01:30 on 1 March in Shanghai is credited in period 2026-03, not February."""
    policy = CompiledPolicy(load_pack(shanghai_pack(tmp_path)))
    state = supplier_in(S.CONTRACTED)
    assert state.contract is not None
    measure = RecordMeasurement(
        SID,
        objective_id=state.contract.objectives[0].objective_id,
        value=97.0,
        unit="percent",
        period_start=datetime(2026, 2, 1, tzinfo=UTC),
        period_end=datetime(2026, 2, 28, tzinfo=UTC),
        occurred_at=EARLY_MARCH_IN_SHANGHAI,
    )
    events = decide(measure, state, policy)
    (credit,) = [e for e in events if isinstance(e, PenaltyAssessed)]
    assert credit.penalty.period == "2026-03"
    assert credit.penalty.amount.amount > Decimal(0)
    assert "in 2026-03" in credit.basis


def test_a_pack_may_count_plan_deadlines_in_business_days(tmp_path: Path) -> None:
    """plan_due_in: business_days: a review concluded on Wednesday 30 September 2026 with a
    7-day (critical) plan skips the weekends and the National Day holidays.
    """
    policy = CompiledPolicy(load_pack(shanghai_pack(tmp_path, "  plan_due_in: business_days\n")))
    state = supplier_in(S.UNDER_REVIEW)
    assert state.contract is not None
    # the contract must still run in late September: a review is not concluded after its end
    running = attrs.evolve(state.contract, ends_at=datetime(2027, 1, 1, tzinfo=UTC))
    state = attrs.evolve(state, contract=running)
    at = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    conclude = ConcludeReview(SID, ReviewOutcome.REMEDIATION_REQUIRED, at, "fix it")
    (required,) = [
        e for e in decide(conclude, state, policy) if isinstance(e, ImprovementPlanRequired)
    ]
    days = policy.plan_due_days(state.review.severity if state.review else None)
    assert required.plan.due_at == policy.calendar.add_days(at, days, business=True)
    assert required.plan.due_at > policy.calendar.add_days(at, days)
    assert fold([required], state) is not None
