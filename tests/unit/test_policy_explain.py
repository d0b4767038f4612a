"""`sqm policy explain`: a pack evaluated on a replayed history, every rule explained."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqm.domain.model import Stage
from sqm.rules import CompiledPolicy, load_pack
from sqm.rules.tooling.explain_report import (
    evaluate_at,
    format_evaluation,
    format_header,
    replay_items,
)
from sqm.rules.tooling.testfile import parse_history
from tests.policy_fixtures import write_pack

HISTORY = """\
supplier: huawei-nx
events:
  - type: RegisterSupplier
    name: 华为网络设备有限公司
    category: network_equipment
    occurred_at: 2026-03-02T09:00:00Z
  - type: SubmitQualificationEvidence
    occurred_at: 2026-03-02T10:00:00Z
    scores: {capability: 85, price: 60, delivery_lead_time: 80, quality_management: 70,
             past_performance: 75}
    site_audit_passed: true
"""


@pytest.fixture
def policy(tmp_path: Path) -> CompiledPolicy:
    """The tooling tests' qualification pack, compiled into the engine."""
    return CompiledPolicy(load_pack(write_pack(tmp_path / "pack")))


def explained(policy: CompiledPolicy, until: datetime | None = None) -> list[str]:
    """The explanation of HISTORY under ``policy``, up to ``until``."""
    history = parse_history(HISTORY, "history.yaml")
    assert history.problems == ()
    replayed = replay_items([s.item for s in history.steps], policy, until)
    assert replayed.state is not None
    assert replayed.at is not None
    evaluation = evaluate_at(policy, replayed.state, replayed.at, Stage.QUALIFICATION)
    header = format_header(
        replayed, "telecom-default", policy.version, Stage.QUALIFICATION, replayed.at
    )
    return [*header, *format_evaluation(evaluation)]


def test_every_rule_is_shown_with_actual_values_against_thresholds(policy: CompiledPolicy) -> None:
    """QUAL-001 did not fire: three conditions held, the certificates did not."""
    lines = explained(policy)

    assert lines[0].startswith("supplier huawei-nx (华为网络设备有限公司), network_equipment,")
    assert lines[3] == (
        "NOT FIRED QUAL-001  Qualify a candidate that meets every requirement"
        "  (qualification.yaml:35, qualify)"
    )
    assert lines[4:8] == [
        "    held   weighted_score >= 70       actual 74",
        "    held   criteria_missing == 0      actual 0",
        "    unmet  certificates_missing == 0  actual 3",
        "    held   site_audit_passed == true  actual true",
    ]
    assert lines[8].startswith("    why not: Not qualified yet: weighted score 74 (needs 70)")
    assert lines[-1] == "0 fired, 3 did not fire"


def test_the_history_is_cut_at_the_time_asked_for(policy: CompiledPolicy) -> None:
    """At 09:30 only the registration had happened: no score at all."""
    lines = explained(policy, datetime(2026, 3, 2, 9, 30, tzinfo=UTC))

    assert "1 event up to 2026-03-02T09:30:00Z" in lines[0]
    assert lines[4] == "    unmet  weighted_score >= 70       actual 0"


def test_a_fired_rule_shows_its_message(policy: CompiledPolicy) -> None:
    """A failed audit added to the history: QUAL-002 fired, with its message."""
    history = parse_history(
        HISTORY.replace("site_audit_passed: true", "site_audit_passed: false"), "h.yaml"
    )
    replayed = replay_items([s.item for s in history.steps], policy)
    assert replayed.state is not None
    assert replayed.at is not None

    lines = format_evaluation(evaluate_at(policy, replayed.state, replayed.at))

    assert "FIRED     QUAL-002  Disqualify a candidate that failed its site audit" in lines[1]
    assert "    Disqualified: the site audit failed" in lines
    assert len(replayed.recorded) == 1


def test_history_file_problems_are_located() -> None:
    """An unknown type and a bad time in a history file, each at its line."""
    history = parse_history(
        "events:\n  - type: Registr\n  - type: AdvanceClock\n    occurred_at: soon\n", "h.yaml"
    )

    assert [(p.line, p.column) for p in history.problems] == [(2, 11), (3, 11)]
    assert history.steps == ()
