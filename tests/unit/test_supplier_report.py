"""The supplier report: its data from the API's messages, and the page drawn from that data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from google.protobuf import struct_pb2

from sqm.client.supplier_report_data import standings_in, supplier_report_data
from sqm.domain import events
from sqm.domain.commands import ReviewOutcome
from sqm.domain.model import (
    Breach,
    ImprovementPlan,
    LifecycleState,
    Money,
    Penalty,
    Review,
    Severity,
)
from sqm.domain.serialization import event_to_payload
from sqm.simulation.report import ResultInvalid, render_supplier
from sqm.v1 import resources_pb2 as pb
from tests.corrective import corrective_content
from tests.unit.test_simulation_report import HOSTILE, VERSION, structure, svg_charts, table

STANDINGS = [
    {"id": "excellent", "title": "优秀 (excellent)", "min_score": 90.0},
    {"id": "good", "title": "良好 (good)", "min_score": 75.0},
    {"id": "poor", "title": "较差 (poor)", "min_score": 0.0},
]


def kpi(kpi_id: str, title: str, value: float, *, has_data: bool = True) -> dict[str, Any]:
    """A KPI of a scorecard whose score equals its value."""
    return {
        "id": kpi_id, "title": title, "has_data": has_data, "value": value, "score": value,
        "weight": 50.0, "weight_used": 50.0 if has_data else 0.0, "basis": f"basis of {kpi_id}",
    }  # fmt: skip


def scorecard(period: str, score: float, standing: str, title: str) -> dict[str, Any]:
    """A closed scorecard: an SLA KPI with data, a satisfaction KPI without."""
    sla = kpi("sla", "SLA 达标率 (SLA attainment)", score)
    return {
        "period": period, "score": score, "standing": standing, "standing_title": title,
        "weights_note": "", "policy_version": VERSION,
        "kpis": [sla, kpi("csat", "满意度", 0, has_data=False)],
    }  # fmt: skip


def entry(sequence: int, event: str, what: str, **extra: str) -> dict[str, Any]:
    """A timeline entry on the sequence's day of March 2027."""
    fields = {"rule_id": "", "rule_title": "", "amount": "", "currency": ""} | extra
    return {"sequence": sequence, "time": f"2027-03-{sequence:02d}T09:00:00Z", "event": event,
            "what": what, **fields}  # fmt: skip


def supplier_data() -> dict[str, Any]:
    """A contracted supplier with two scored months, a breach, two credits and a review."""
    return {
        "format": "sqm.supplier-report/v1",
        "supplier": {
            "id": "acme-net", "name": "ACME 网络", "category": "network_equipment",
            "state": "under_review", "policy_version": VERSION,
            "contract": {"id": "C-1", "monthly_fee": "125000.00", "currency": "CNY",
                         "start": "2027-03-01T00:00:00Z", "end": "2028-03-01T00:00:00Z"},
        },
        "scorecards": [
            scorecard("2027-03", 46.59, "poor", "较差 (poor)"),
            scorecard("2027-04", 100.0, "excellent", "优秀 (excellent)"),
        ],
        "standings": STANDINGS,
        "timeline": [
            entry(2, "BreachDetected", "major breach of availability"),
            entry(3, "PenaltyAssessed", "service credit", rule_id="PEN-001",
                  rule_title="违约服务抵扣 (a service credit)", amount="6250.10", currency="CNY"),
            entry(4, "PenaltyAssessed", "service credit", amount="9375.00", currency="CNY"),
            entry(5, "ReviewOpened", "review opened", rule_id="SC-001"),
        ],
    }  # fmt: skip


def empty_data() -> dict[str, Any]:
    """A supplier just registered: no contract, no scorecard, no history read."""
    data = supplier_data()
    data["supplier"]["contract"] = None
    data["scorecards"], data["timeline"], data["standings"] = [], [], []
    return data


# ---------------------------------------------------------------------------------------------
# The page.


def test_the_page_is_one_well_formed_document_with_every_section() -> None:
    """Summary, score over time, KPIs and timeline, each a section of a well formed page."""
    document = render_supplier(supplier_data())
    structure(document)
    for heading in ("Summary", "Score over time", "KPIs of 2027-04", "Timeline"):
        assert f">{heading}</h2>" in document, heading
    assert "<script" not in document
    assert "default-src 'none'" in document


def test_rendering_twice_gives_the_same_bytes_and_leaves_the_data_untouched() -> None:
    """Same data, same page; the renderer reads its input only."""
    data = supplier_data()
    before = copy.deepcopy(data)
    assert render_supplier(data) == render_supplier(data)
    assert data == before


def test_the_timeline_keeps_the_order_and_shows_credits_from_their_decimal_strings() -> None:
    """Each entry a row in the data's order; amounts with their cents and the rule's Chinese."""
    rows = table(render_supplier(supplier_data()), "Timeline")
    assert [cells[1] for cells in rows[1:]] == [
        "BreachDetected", "PenaltyAssessed", "PenaltyAssessed", "ReviewOpened",
    ]  # fmt: skip
    assert rows[2][3] == "PEN-001\n违约服务抵扣 (a service credit)"  # two lines in one cell
    assert rows[2][4] == "6,250.10 CNY"


def test_the_summary_totals_the_credits_exactly() -> None:
    """6,250.10 + 9,375.00 = 15,625.10, added as decimals."""
    assert "15,625.10 CNY" in render_supplier(supplier_data())


def test_the_score_chart_has_a_bar_per_period_coloured_by_standing_and_the_bands() -> None:
    """Two bars, each titled with its period, score and standing; three bands behind them."""
    (chart,) = svg_charts(render_supplier(supplier_data()))
    bars = [rect for rect in chart.iter("rect") if rect.get("class") == "bar"]
    labels = [rect.findtext("title") for rect in bars]
    assert labels == ["2027-03: 46.59, 较差 (poor)", "2027-04: 100, 优秀 (excellent)"]
    assert bars[0].get("fill") != bars[1].get("fill")
    bands = [rect for rect in chart.iter("rect") if rect.get("fill-opacity")]
    assert len(bands) == len(STANDINGS)


def test_the_latest_kpis_show_value_score_weight_and_basis() -> None:
    """A KPI without data shows dashes and weight 0, its basis still said."""
    rows = table(render_supplier(supplier_data()), "KPIs of 2027-04")
    assert rows[0] == ["KPI", "Value", "Score", "Weight used", "Basis"]
    assert rows[1] == ["SLA 达标率 (SLA attainment)", "100", "100", "50", "basis of sla"]
    assert rows[2] == ["满意度", "-", "-", "0", "basis of csat"]


def test_every_string_from_the_data_is_escaped() -> None:
    """A name, a rule title and a what-happened typed with markup show as text."""
    data = supplier_data()
    data["supplier"]["name"] = HOSTILE
    data["supplier"]["id"] = HOSTILE
    data["timeline"][0]["what"] = HOSTILE
    data["scorecards"][0]["standing_title"] = HOSTILE
    data["scorecards"][1]["kpis"][0]["title"] = HOSTILE
    document = render_supplier(data)
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    structure(document)
    svg_charts(document)  # still well-formed XML


def test_a_supplier_with_no_scorecard_and_no_history_gets_a_page_that_says_so() -> None:
    """No chart, a note in each empty section, and no contract named."""
    document = render_supplier(empty_data())
    structure(document)
    assert svg_charts(document) == []
    assert "No scorecard has closed yet." in document
    assert "Nothing has happened to this supplier yet." in document
    assert "<dd>none</dd>" in document


def test_without_the_standings_the_chart_is_drawn_and_the_page_says_the_bands_are_missing() -> None:
    """Bars still coloured by standing; no band, and a note saying why."""
    data = supplier_data()
    data["standings"] = []
    document = render_supplier(data)
    (chart,) = svg_charts(document)
    assert not [rect for rect in chart.iter("rect") if rect.get("fill-opacity")]
    assert "bands could not be read" in document


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("format",), "sqm.simulation/v1"),
        (("scorecards", 0, "score"), "46.59"),
        (("timeline", 1, "amount"), 6250.1),
        (("timeline", 0, "sequence"), "2"),
        (("supplier",), []),
    ],
)
def test_data_that_is_not_a_supplier_report_is_refused(path: tuple[Any, ...], value: Any) -> None:
    """A wrong format, a score as text, money as a float: an error, never a wrong figure."""
    data = supplier_data()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ResultInvalid):
        render_supplier(data)


# ---------------------------------------------------------------------------------------------
# The data, from the API's messages.


def event(sequence: int, kind: str, payload: dict[str, Any], **fields: Any) -> pb.SupplierEvent:
    """A recorded event as ListSupplierEvents returns it."""
    message = struct_pb2.Struct()
    message.update(payload)
    found = pb.SupplierEvent(sequence=sequence, version=sequence, type=kind, payload=message,
                             policy_version=VERSION, **fields)  # fmt: skip
    found.occur_time.FromJsonString(f"2027-03-{sequence:02d}T09:00:00Z")
    return found


def test_the_data_holds_the_timeline_in_order_with_rule_titles_from_the_decisions() -> None:
    """Measurements and decisions are left out; a credit keeps its amount as a string."""
    decision = pb.Decision(rule_id="PEN-001", rule_title="违约服务抵扣 (a service credit)")
    events = [
        event(1, "MeasurementRecorded", {"measurement": {}}),
        event(2, "DecisionRecorded", {}, decision=decision),
        event(3, "PenaltyAssessed", {"basis": "5% of the fee", "penalty": {
            "kind": "service_credit", "penalty_id": "p-1", "period": "2027-03",
            "rule_id": "PEN-001", "amount": {"amount": "6250.00", "currency": "CNY"}}}),
        event(4, "Escalated", {"rule_id": "MON-012", "to": "director", "message": "3 breaches"}),
    ]  # fmt: skip
    supplier = pb.Supplier(
        supplier_id="acme-net", display_name="ACME", state=pb.LIFECYCLE_STATE_CONTRACTED
    )
    data = supplier_report_data(supplier, events)
    assert [e["event"] for e in data["timeline"]] == ["PenaltyAssessed", "Escalated"]
    credit = data["timeline"][0]
    assert (credit["amount"], credit["currency"], credit["rule_title"]) == (
        "6250.00", "CNY", "违约服务抵扣 (a service credit)",
    )  # fmt: skip
    assert data["timeline"][1]["what"] == "escalated to director: 3 breaches"
    assert data["supplier"]["policy_version"] == VERSION
    assert data["supplier"]["contract"] is None
    render_supplier(data)  # the page draws from it


def test_scorecards_come_oldest_first_for_the_chart() -> None:
    """The API gives the latest first; the page's time axis wants the oldest first."""
    supplier = pb.Supplier(
        supplier_id="s", scorecards=[pb.Scorecard(period="2027-04"), pb.Scorecard(period="2027-03")]
    )
    data = supplier_report_data(supplier, [])
    assert [card["period"] for card in data["scorecards"]] == ["2027-03", "2027-04"]


def test_the_standings_are_read_from_the_pack_file_that_declares_them() -> None:
    """Id, title and minimum score of each band; none from a pack without scorecards."""
    files = {
        "manifest.yaml": "format: sqm.policy/v1\nname: p\n",
        "scorecards.yaml": "scorecards:\n  standings:\n"
        "    - {id: good, title: 良好 (good), min_score: 75}\n"
        "    - {id: poor, title: 较差 (poor), min_score: 0}\n",
    }
    assert standings_in(files) == [
        {"id": "good", "title": "良好 (good)", "min_score": 75.0},
        {"id": "poor", "title": "较差 (poor)", "min_score": 0.0},
    ]
    assert standings_in({"manifest.yaml": "name: p\n"}) == []


AT = datetime(2027, 3, 5, 9, tzinfo=UTC)
CREDIT = Penalty(
    penalty_id="acme/penalty-1", kind="service_credit", contract_id="C-1",
    amount=Money(Decimal("6250.00"), "CNY"), period="2027-03", rule_id="PEN-001",
    cap_applied="", assessed_at=AT,
)  # fmt: skip
RECORDED = [
    events.SupplierRegistered("acme", "ACME", "network_equipment", AT),
    events.BreachDetected(AT, Breach("availability", "availability", Severity.MAJOR,
                                     99.6, 99.9, 0.3, AT, AT)),
    events.PenaltyAssessed(AT, CREDIT, "5% of the fee"),
    events.PenaltyReversed(AT, "acme/penalty-1", attrs.evolve(
        CREDIT, penalty_id="acme/penalty-1-reversal", amount=Money(Decimal("-6250.00"), "CNY"))),
    events.ReviewOpened(AT, Review(AT, "three major breaches", rule_id="MON-002")),
    events.ImprovementPlanRequired(AT, ImprovementPlan(AT, AT + timedelta(days=30))),
    events.ReviewOpened(AT, Review(AT, "three late tickets", rule_id="MON-011", ticket_id="PT-7")),
    events.ImprovementPlanRequired(AT, ImprovementPlan(AT, AT, ticket_id="PT-7")),
    events.ImprovementPlanSubmitted(AT, ("new routers",), "ops"),
    events.ImprovementPlanCompleted(AT, "done"),
    events.RemediationVerified(AT),
    events.ImprovementDeadlineMissed(AT),
    events.ReviewConcluded(AT, ReviewOutcome.REMEDIATION_REQUIRED, "a plan"),
    events.Escalated(AT, "MON-012", "procurement_director", "escalated"),
    events.NotificationIssued(AT, "MON-013", "supplier", "told"),
    events.TerminatedForCause(AT, "TERM-001", "fraud"),
    events.LifecycleTransitioned(AT, "open_review", LifecycleState.CONTRACTED,
                                 LifecycleState.UNDER_REVIEW, "rule MON-002"),
    events.SupplierBlacklisted(AT, "fraud"),
]  # fmt: skip


def test_every_kind_of_event_the_page_shows_is_read_from_its_recorded_payload() -> None:
    """Each described event, serialized as the store records it, gives one timeline entry;
    a reversal keeps its negative amount, and the page shows it with a minus sign.
    """
    recorded = [
        event(number, type(each).__name__, event_to_payload(each))
        for number, each in enumerate(RECORDED, 1)
    ]
    timeline = supplier_report_data(pb.Supplier(supplier_id="acme"), recorded)["timeline"]
    assert [entry["event"] for entry in timeline] == [type(each).__name__ for each in RECORDED]
    reversal = timeline[3]
    assert (reversal["amount"], reversal["what"]) == ("-6250.00", "credit acme/penalty-1 reversed")
    assert timeline[1]["what"] == "major breach of availability: 99.6 against a target of 99.9"
    assert [entry["what"] for entry in timeline[4:8]] == [
        "review opened: three major breaches",
        "improvement plan required by 2027-04-04T09:00:00.000000Z",
        "review opened on ticket PT-7: three late tickets",
        "improvement plan on ticket PT-7 required by 2027-03-05T09:00:00.000000Z",
    ]
    rows = table(render_supplier(supplier_data() | {"timeline": timeline}), "Timeline")
    assert rows[4][4] == "−6,250.00 CNY"


def test_an_event_whose_payload_lacks_a_field_is_still_on_the_timeline() -> None:
    """A breach recorded without its details: listed, saying so, and the page still drawn."""
    data = supplier_report_data(pb.Supplier(supplier_id="acme"), [event(1, "BreachDetected", {})])
    (only,) = data["timeline"]
    assert only["what"] == "(details not in this event's record)"
    render_supplier(data)


def test_the_corrective_action_is_on_the_timeline_step_by_step() -> None:
    """Submission with its actions, completion, extension, verification, escalation, closure."""
    due = AT + timedelta(days=10)
    steps = [
        events.CorrectiveActionSubmitted(AT, corrective_content(due)),
        events.CorrectiveActionItemCompleted(AT, "A1", "installed"),
        events.CorrectiveActionExtensionRequested(AT, "A1", due, "parts late"),
        events.CorrectiveActionExtensionDecided(AT, "A1", False, due),
        events.CorrectiveActionItemVerified(AT, "A1", "质量部张工", "photos"),
        events.CorrectiveActionsEscalated(AT, "CA-002", ("A2",)),
        events.CorrectiveActionClosed(AT),
    ]
    recorded = [
        event(number, type(each).__name__, event_to_payload(each))
        for number, each in enumerate(steps, 1)
    ]
    timeline = supplier_report_data(pb.Supplier(supplier_id="acme"), recorded)["timeline"]
    assert [entry["what"] for entry in timeline] == [
        "corrective action submitted: A1 (李工, due 2027-03-15T09:00:00.000000Z)",
        "corrective action A1 completed: installed",
        "extension of A1 to 2027-03-15T09:00:00.000000Z asked: parts late",
        "extension of A1 refused: due 2027-03-15T09:00:00.000000Z",
        "corrective action A1 verified by 质量部张工: photos",
        "overdue corrective action(s) A2 escalated",
        "corrective action closed",
    ]
    assert timeline[5]["rule_id"] == "CA-002"
    render_supplier(supplier_data() | {"timeline": timeline})


def test_the_header_lists_the_kick_off_milestones_with_kind_and_deliverable() -> None:
    """Each milestone with its kind and deliverable as GetSupplier names them, and where it
    stands; a page without milestones has no such line.
    """
    survey = pb.Milestone(
        name="site survey", kind="site_survey", deliverable_name_zh="勘察报告",
        deliverable_name_en="Site survey report", deliverable_accepted=True,
    )  # fmt: skip
    survey.due_time.FromDatetime(datetime(2027, 3, 5, tzinfo=UTC))
    survey.complete_time.FromDatetime(datetime(2027, 3, 4, tzinfo=UTC))
    plain = pb.Milestone(name="handover")
    plain.due_time.FromDatetime(datetime(2027, 4, 1, tzinfo=UTC))
    supplier = pb.Supplier(supplier_id="acme-net", milestones=[survey, plain])
    data = supplier_report_data(supplier, [])
    assert [m["kind"] for m in data["supplier"]["milestones"]] == ["site_survey", ""]
    document = render_supplier(data)
    assert (
        "site survey (site_survey: 勘察报告 / Site survey report) due 2027-03-05T00:00:00Z,"
        " deliverable accepted; handover due 2027-04-01T00:00:00Z, open"
    ) in document
    assert ">Milestones<" in document
    assert ">Milestones<" not in render_supplier(supplier_data())


def test_the_header_lists_the_open_tickets_and_counts_the_resolved_and_late_ones() -> None:
    """Each open ticket with its severity, open and due times; the resolved ones counted, with
    those resolved past their due time; a page without tickets has no such line.
    """
    opened = datetime(2027, 3, 1, 9, tzinfo=UTC)
    late = pb.ProblemTicket(ticket_id="PT-1", severity=pb.SEVERITY_MAJOR)
    late.open_time.FromDatetime(opened)
    late.resolution_due_time.FromDatetime(opened + timedelta(hours=24))
    late.resolve_time.FromDatetime(opened + timedelta(hours=30))
    still_open = pb.ProblemTicket(ticket_id="PT-2", severity=pb.SEVERITY_CRITICAL)
    still_open.open_time.FromDatetime(opened + timedelta(hours=2))
    supplier = pb.Supplier(supplier_id="acme-net", problem_tickets=[late, still_open])
    data = supplier_report_data(supplier, [])
    tickets = data["supplier"]["problem_tickets"]
    assert [(t["id"], t["severity"], t["late"]) for t in tickets] == [
        ("PT-1", "major", True),
        ("PT-2", "critical", False),
    ]
    assert tickets[1]["due"] == tickets[1]["resolved"] == "-"
    document = render_supplier(data)
    assert (
        "PT-2 (critical) opened 2027-03-01T11:00:00Z, due -; 1 resolved, 1 of them late"
    ) in document
    assert ">Problem tickets<" not in render_supplier(supplier_data())
