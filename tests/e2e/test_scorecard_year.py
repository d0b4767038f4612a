"""End to end: a year of a supplier's records closes twelve monthly scorecards, each of which
this test scores again on its own from the records it sent.

Through a real ``sqm serve``: a network-equipment supplier contracted on 3 January 2027 at
125,000.00 CNY a month sends, every month, four availability measurements, a satisfaction
survey, an inspection, a problem ticket, a milestone and (but in June) a progress report, some
of each on target and some not; the clock is advanced to the first of each month, which closes
the month. The recomputation below is the default pack's scorecard written out plainly (KPI
weights 35/20/15/10/10/5/5, bands 90/75/60), over the records as sent; the penalties are the
ledger's. December, scored poor, opens a review (SC-001) and keeps the supplier off a need's
shortlist, the reason given. A second supplier scored fair is shortlisted with a warning.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import grpc
import pytest

from sqm.client import SqmClient, measurement
from sqm.client.errors import SqmError
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.process_flow import Timeline, advance_time, contracted
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

YEAR = 2027
CONTRACT_START = datetime(YEAR, 1, 3, 9, tzinfo=UTC)  # contracted(): two days after the start
FEE = Decimal("125000.00")
MET, MISSED = 99.97, 99.6
WEIGHTS = {
    "sla_attainment": 35,
    "satisfaction": 20,
    "inspections": 15,
    "penalties": 10,
    "tickets": 10,
    "milestones": 5,
    "reports": 5,
}
BANDS = ((90, "excellent"), (75, "good"), (60, "fair"), (0, "poor"))
REPORT_WITHIN = timedelta(days=35)


@attrs.frozen
class Month:
    """What the supplier's month holds, as sent."""

    misses: int
    survey: float
    inspection_passed: bool
    ticket_on_time: bool
    milestone_on_time: bool
    report: bool = True


#          misses survey inspection ticket milestone report
PLAN = (
    Month(0, 92, True, True, True),  # January
    Month(1, 88, True, True, True),
    Month(0, 85, True, False, True),
    Month(0, 90, False, True, True),  # April
    Month(2, 70, True, True, False),
    Month(0, 95, True, True, True, report=False),  # June: no progress report
    Month(1, 80, True, True, True),  # July
    Month(0, 91, True, False, True),
    Month(0, 89, True, True, True),
    Month(1, 86, True, True, False),  # October
    Month(0, 93, True, True, True),
    Month(4, 30, False, False, False),  # December
)


def _on(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(YEAR, month, day, hour, tzinfo=UTC)


def _month_start(month: int) -> datetime:
    return datetime(YEAR + month // 13, (month - 1) % 12 + 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module, ticking only when told (drill mode)."""
    database = tmp_path_factory.mktemp("year") / "sqm.sqlite3"
    process = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    yield process
    process.kill()


def _send_month(client: SqmClient, month: int, plan: Month) -> None:
    """The month's records, in time order (a supplier's events are recorded in order)."""
    sends: list[tuple[datetime, Callable[[], object]]] = []
    for week, day in enumerate((7, 14, 21, 28)):
        end = _on(month, day, 0)
        row = measurement(
            "year-co", "availability", MISSED if week < plan.misses else MET, "percent",
            period_start=end - timedelta(days=30), period_end=end, occur_time=end,
        )  # fmt: skip
        sends.append((end, functools.partial(client.record_measurement, row)))
    survey, inspection = _on(month, 10), _on(month, 12)
    sends.append((survey, lambda: client.record_satisfaction_survey(
        "year-co", plan.survey, occur_time=survey
    )))  # fmt: skip
    sends.append((inspection, lambda: client.record_inspection(
        "year-co", plan.inspection_passed, occur_time=inspection
    )))  # fmt: skip
    ticket, opened = f"T-{month:02d}", _on(month, 15)
    fixed = _on(month, 15, 20) if plan.ticket_on_time else _on(month, 17)  # target: 24 hours
    sends.append((opened, lambda: client.open_problem_ticket(
        "year-co", ticket, "link flaps", pb.SEVERITY_MAJOR, occur_time=opened
    )))  # fmt: skip
    sends.append((fixed, lambda: client.resolve_problem_ticket(
        "year-co", ticket, "fixed", occur_time=fixed
    )))  # fmt: skip
    done = _on(month, 19) if plan.milestone_on_time else _on(month, 21)  # due the 20th, noon
    sends.append((done, lambda: client.complete_milestone(
        "year-co", f"M{month:02d}", occur_time=done
    )))  # fmt: skip
    if plan.report:
        sent = _on(month, 25)
        sends.append((sent, lambda: client.submit_progress_report(
            "year-co", f"report {month}", occur_time=sent
        )))  # fmt: skip
    for _, send in sorted(sends, key=lambda item: item[0]):
        send()


def _clear_any_review(client: SqmClient, at: datetime) -> None:
    """Reviews the month's records opened are cleared: only the scorecard is under test."""
    supplier = client.get_supplier("year-co")
    if supplier.state == pb.LIFECYCLE_STATE_UNDER_REVIEW:
        client.conclude_review("year-co", pb.REVIEW_OUTCOME_CLEARED, occur_time=at)


@pytest.fixture(scope="module")
def year(server: ServerProcess) -> pb.Supplier:
    """The supplier after its year: twelve months sent, each closed by the next month's tick."""
    with SqmClient(server.address) as client:
        contracted(client, "year-co", Timeline(datetime(YEAR, 1, 1, 9, tzinfo=UTC)))
        milestones = [(f"M{m:02d}", _on(m, 20, 12)) for m in range(1, 13)]
        client.record_kick_off("year-co", "deliver", milestones, occur_time=_on(1, 4))
        client.submit_resource_plan("year-co", ["two field engineers"], occur_time=_on(1, 5))
        for month, plan in enumerate(PLAN, start=1):
            _send_month(client, month, plan)
            _clear_any_review(client, _on(month, 28, 12))
            advance_time(server.address, _month_start(month + 1) + timedelta(hours=1))
            if month < 12:
                _clear_any_review(client, _month_start(month + 1) + timedelta(hours=2))
        return client.get_supplier("year-co", view=pb.SUPPLIER_VIEW_FULL)


def _reports(month: int) -> float:
    """The share of the month's progress reports on time (within 35 days of the one before,
    or of the contract's start), a month ending with one overdue counting it late.
    """
    sent = [_on(m, 25) for m, plan in enumerate(PLAN, start=1) if plan.report]
    start, end = _month_start(month), _month_start(month + 1)
    previous, on_time, late = CONTRACT_START, 0, 0
    for at in sent:
        if at >= end:
            break
        if at >= start:
            on_time += at - previous <= REPORT_WITHIN
            late += at - previous > REPORT_WITHIN
        previous = at
    late += end - previous > REPORT_WITHIN
    return 100.0 * on_time / (on_time + late)


def _expected(month: int, plan: Month, penalties: Decimal) -> tuple[float, dict[str, float]]:
    """The month's score and KPI scores, recomputed from what was sent and the ledger."""
    share = float(penalties * 100 / FEE)
    kpis = {
        "sla_attainment": 100.0 * (4 - plan.misses) / 4,
        "satisfaction": plan.survey,
        "inspections": 100.0 if plan.inspection_passed else 0.0,
        "penalties": max(0.0, 100.0 * (1 - share / 20)),
        "tickets": 100.0 if plan.ticket_on_time else 0.0,
        "milestones": 100.0 if plan.milestone_on_time else 0.0,
        "reports": _reports(month),
    }
    score = sum(WEIGHTS[k] * value for k, value in kpis.items()) / sum(WEIGHTS.values())
    return score, kpis


def _standing(score: float) -> str:
    return next(name for least, name in BANDS if score >= least)


def test_a_year_closes_twelve_months_each_scored_as_recomputed_from_the_records(
    year: pb.Supplier, server: ServerProcess
) -> None:
    """Twelve scorecards, January to December; every score, KPI score and standing matches
    the test's own computation from the records it sent.
    """
    with SqmClient(server.address) as client:
        ledger = client.list_penalties("year-co").penalties
    penalised: dict[str, Decimal] = {}
    for penalty in ledger:
        amount = Decimal(penalty.amount.amount)
        penalised[penalty.period] = penalised.get(penalty.period, Decimal(0)) + amount
    cards = list(reversed(year.scorecards))  # the API lists the latest first

    assert [c.period for c in cards] == [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    standings = []
    for month, (card, plan) in enumerate(zip(cards, PLAN, strict=True), start=1):
        score, kpis = _expected(month, plan, penalised.get(card.period, Decimal(0)))
        assert card.score == pytest.approx(score, abs=0.02), card.period
        assert {k.kpi_id: k.score for k in card.kpis} == pytest.approx(kpis, abs=0.01)
        assert all(k.has_data for k in card.kpis), card.period
        assert card.standing == _standing(score), card.period
        standings.append(card.standing)
    assert len(set(standings)) >= 3  # the year is not one flat line
    assert standings[-1] == "poor"


def test_a_poor_december_opens_a_review_and_blocks_shortlisting_with_the_reason(
    year: pb.Supplier, server: ServerProcess
) -> None:
    """The tick closing December opens a review (SC-001); once it is cleared, a need's
    shortlist still refuses the supplier, naming its standing, score and period.
    """
    assert year.state == pb.LIFECYCLE_STATE_UNDER_REVIEW
    assert any(d.rule_id == "SC-001" and d.fired for d in year.latest_decisions)
    closed = _month_start(13) + timedelta(hours=3)
    with SqmClient(server.address) as client:
        # cleared, the supplier is contracted again: the standing alone keeps it off
        client.conclude_review("year-co", pb.REVIEW_OUTCOME_CLEARED, occur_time=closed)
        client.create_need(
            "year-routers", "Core routers", "network_equipment",
            occur_time=closed,
        )  # fmt: skip
        with pytest.raises(SqmError) as refused:
            client.shortlist_supplier("year-routers", "year-co", occur_time=closed)

    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f"its standing is poor (较差 (poor)), score {year.scorecards[0].score:g}" in (
        refused.value.message
    )
    assert f"in {YEAR}-12, and that standing blocks shortlisting" in refused.value.message


FAIR_CLOSED = datetime(YEAR, 4, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def fair_shortlisted(server: ServerProcess) -> tuple[pb.Scorecard, api.ShortlistSupplierResponse]:
    """A supplier whose March is fair (one survey of 50, its progress report on time:
    71.43), shortlisted for a need: its scorecard and the shortlisting's answer.
    """
    with SqmClient(server.address) as client:
        contracted(client, "fair-co", Timeline(datetime(YEAR, 3, 1, 9, tzinfo=UTC)))
        client.record_satisfaction_survey(
            "fair-co", 50, occur_time=datetime(YEAR, 3, 10, tzinfo=UTC)
        )
        client.submit_progress_report(
            "fair-co", "March", occur_time=datetime(YEAR, 3, 20, tzinfo=UTC)
        )
        advance_time(server.address, FAIR_CLOSED)
        client.create_need(
            "fair-routers", "Edge routers", "network_equipment",
            occur_time=FAIR_CLOSED,
        )  # fmt: skip
        answer = client.shortlist_supplier("fair-routers", "fair-co", occur_time=FAIR_CLOSED)
        (card,) = client.get_supplier("fair-co", view=pb.SUPPLIER_VIEW_FULL).scorecards
    return card, answer


def test_a_fair_supplier_is_shortlisted_with_the_warning_in_the_answer_and_the_event(
    fair_shortlisted: tuple[pb.Scorecard, api.ShortlistSupplierResponse],
) -> None:
    """71.43 is fair, which warns on shortlisting: accepted, the warning in the answer and on
    SupplierShortlisted.
    """
    card, answer = fair_shortlisted

    assert (card.standing, card.score) == ("fair", pytest.approx(71.43))
    assert (card.warns_shortlisting, card.review_every_days) == (True, 60)
    assert answer.warning == (
        "accepted with a warning: its standing is fair (合格 (fair)), score 71.43 in"
        f" {YEAR}-03, and that standing warns on shortlisting"
    )
    # no market research on file, so MR-001 also flags the shortlisting to the buyer
    assert [e.type for e in answer.events] == ["SupplierShortlisted", "NeedNoticeIssued"]
    assert answer.events[0].payload["warning"] == answer.warning


def test_a_fair_supplier_is_awarded_a_need_with_the_warning_in_the_answer_and_the_event(
    server: ServerProcess, fair_shortlisted: tuple[pb.Scorecard, api.ShortlistSupplierResponse]
) -> None:
    """The fair supplier, shortlisted and ranked alone: the award goes ahead, with the
    warning.
    """
    at = datetime(YEAR, 4, 1, 2, tzinfo=UTC)
    with SqmClient(server.address) as client:
        client.rank_shortlist(
            "fair-routers", {"fair-co": {"price": 90000.0, "delivery_lead_time": 20.0}},
            occur_time=at,
        )  # fmt: skip
        awarded = client.award_need("fair-routers", "fair-co", occur_time=at)

    assert awarded.need.awarded_supplier == "suppliers/fair-co"
    assert awarded.warning.endswith(
        f"score 71.43 in {YEAR}-03, and that standing warns on an award"
    )
    assert awarded.events[0].payload["warning"] == awarded.warning
