"""The compiled policy on the real durable_rules engine: decisions, explanations, robustness."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sqm.domain.commands import RegisterSupplier, SubmitQualificationEvidence
from sqm.domain.decide import decide
from sqm.domain.errors import InvalidCommand, PolicyError
from sqm.domain.events import DecisionRecorded, LifecycleTransitioned
from sqm.domain.model import (
    Action,
    Certificate,
    ConditionOutcome,
    LifecycleState,
    Stage,
    SupplierState,
)
from sqm.domain.pack_catalogue import CertificateKindId
from sqm.domain.ports import DecisionContext, Evaluation
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack, load_policy
from sqm.rules.engine import EngineValue, rules_engine

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
FULL_SCORES = {
    "capability": 80.0,
    "price": 70.0,
    "delivery_lead_time": 75.0,
    "quality_management": 90.0,
    "past_performance": 60.0,
}  # weighted: 24 + 17.5 + 11.25 + 18 + 6 = 76.75


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    """The default telecom pack, compiled into the process's engine."""
    return load_policy(default_pack_dir())


def certificate(
    kind: CertificateKindId, valid_until: datetime = NOW + timedelta(days=90)
) -> Certificate:
    """A certificate of ``kind`` valid from a year before NOW until ``valid_until``."""
    return Certificate(kind, f"{kind}-1", "CQC", NOW - timedelta(days=365), valid_until)


def software_supplier(**changes: Any) -> SupplierState:
    """A software supplier meeting every requirement of the default pack, unless changed."""
    state = SupplierState(
        "acme",
        "Acme Networks",
        "software",
        scores=FULL_SCORES,
        certificates=tuple(
            certificate(kind)
            for kind in (
                "business_licence",
                "iso_9001",
                "tl_9000",
            )
        ),
        site_audit_passed=True,
    )
    return attrs.evolve(state, **changes)


def tl_9000_valid_until(valid_until: datetime) -> SupplierState:
    """The qualifying supplier with its TL 9000 certificate valid only until ``valid_until``."""
    kept = [c for c in software_supplier().certificates if c.kind != "tl_9000"]
    return software_supplier(certificates=(*kept, certificate("tl_9000", valid_until)))


def qualify(policy: CompiledPolicy, supplier: SupplierState, now: datetime = NOW) -> Evaluation:
    """The policy's qualification evaluation of ``supplier`` at ``now``."""
    return policy.evaluate(DecisionContext(Stage.QUALIFICATION, supplier, now))


def fired_ids(evaluation: Evaluation) -> list[str]:
    """The ids of the rules that fired, in order."""
    return [d.rule_id for d in evaluation.fired]


def line_of(rule_id: str) -> int:
    """The line of the default pack's qualification.yaml where ``rule_id`` starts."""
    text = (default_pack_dir() / "qualification.yaml").read_text(encoding="utf-8")
    return text.splitlines().index(f"  - id: {rule_id}") + 1


def test_a_supplier_meeting_every_requirement_is_qualified_by_qual_001(
    policy: CompiledPolicy,
) -> None:
    """QUAL-001 fires with each condition's actual value and threshold, file, line and version."""
    evaluation = qualify(policy, software_supplier())
    assert fired_ids(evaluation) == ["QUAL-001"]
    (decision,) = evaluation.fired
    assert (decision.rule_file, decision.rule_line) == ("qualification.yaml", line_of("QUAL-001"))
    assert decision.policy_version == evaluation.policy_version == policy.version
    assert decision.action is Action.QUALIFY
    assert decision.fired
    assert decision.conditions == (
        ConditionOutcome("weighted_score", ">=", 70, 76.75, held=True),
        ConditionOutcome("criteria_missing", "==", 0, 0, held=True),
        ConditionOutcome("certificates_missing", "==", 0, 0, held=True),
        ConditionOutcome("site_audit_passed", "==", True, True, held=True),
        ConditionOutcome("blacklisted", "==", False, False, held=True),
    )
    assert decision.message.startswith("Qualified: weighted score 76.75 >= 70")
    assert dict(decision.facts) == {
        "weighted_score": 76.75,
        "criteria_missing": 0,
        "certificates_missing": 0,
        "site_audit_passed": True,
        "blacklisted": False,
        "missing_certificates": "none",
    }
    assert [d.rule_id for d in evaluation.not_fired] == ["QUAL-002", "QUAL-003", "QUAL-004"]


def test_a_certificate_expiring_at_decision_time_is_not_counted(policy: CompiledPolicy) -> None:
    """Validity is [from, until): a TL 9000 expiring at the decision instant leaves it missing."""
    evaluation = qualify(policy, tl_9000_valid_until(NOW))
    assert evaluation.fired == ()
    qual_001 = evaluation.not_fired[0]
    assert (qual_001.rule_id, qual_001.fired) == ("QUAL-001", False)
    unmet = [c for c in qual_001.conditions if not c.held]
    assert unmet == [ConditionOutcome("certificates_missing", "==", 0, 1, held=False)]
    assert "Unmet: certificates_missing == 0 (actual 1)" in qual_001.message
    assert "tl_9000" in qual_001.message


def test_a_certificate_valid_one_microsecond_longer_counts(policy: CompiledPolicy) -> None:
    """The same certificate, valid until just after the decision, qualifies the supplier."""
    later = NOW + timedelta(microseconds=1)
    assert fired_ids(qualify(policy, tl_9000_valid_until(later))) == ["QUAL-001"]


def test_a_failed_site_audit_disqualifies(policy: CompiledPolicy) -> None:
    """QUAL-002 fires on a recorded failed audit; QUAL-001 then does not."""
    evaluation = qualify(policy, software_supplier(site_audit_passed=False))
    assert fired_ids(evaluation) == ["QUAL-002"]
    assert evaluation.fired[0].action is Action.DISQUALIFY


def test_a_fully_scored_candidate_below_the_floor_is_disqualified(policy: CompiledPolicy) -> None:
    """QUAL-003 fires only once every criterion is scored and the weighted score is below 40."""
    low = dict.fromkeys(FULL_SCORES, 30.0)
    assert fired_ids(qualify(policy, software_supplier(scores=low))) == ["QUAL-003"]
    partial = {"capability": 30.0}
    assert fired_ids(qualify(policy, software_supplier(scores=partial))) == []


def test_a_score_for_an_unknown_criterion_is_an_invalid_command(policy: CompiledPolicy) -> None:
    """An unknown criterion names the offending field and nothing is evaluated."""
    with pytest.raises(InvalidCommand) as raised:
        qualify(policy, software_supplier(scores={**FULL_SCORES, "speed": 99.0}))
    assert [v.field for v in raised.value.violations] == ["scores['speed']"]


def test_two_thousand_sequential_evaluations_leave_no_engine_sessions(
    policy: CompiledPolicy,
) -> None:
    """Every evaluation deletes its session: over 1,024 live ones would crash the process."""
    suppliers = [
        software_supplier(scores={**FULL_SCORES, "price": float(i % 101)}) for i in range(2_000)
    ]
    results = [fired_ids(qualify(policy, s)) for s in suppliers]
    assert len(results) == 2_000
    assert results[70] == ["QUAL-001"]  # price 70: the baseline
    assert results[0] == []  # price 0: 59.25, below 70, above the floor


def test_evaluations_from_many_threads_are_safe_and_deterministic(policy: CompiledPolicy) -> None:
    """Eight threads evaluating at once get exactly the sequential answers."""
    suppliers = [
        software_supplier(
            scores={**FULL_SCORES, "capability": float(i % 101)}, site_audit_passed=i % 7 != 0
        )
        for i in range(400)
    ]
    expected = [qualify(policy, s) for s in suppliers]
    with ThreadPoolExecutor(max_workers=8) as pool:
        actual = list(pool.map(lambda s: qualify(policy, s), suppliers))
    assert actual == expected
    assert {tuple(fired_ids(e)) for e in actual} >= {("QUAL-001",), ("QUAL-002",), ()}


def test_two_pack_versions_evaluate_side_by_side(policy: CompiledPolicy, tmp_path: Path) -> None:
    """A stricter copy of the pack registers beside the default; each decides under its version."""
    shutil.copytree(default_pack_dir(), tmp_path / "strict")
    rules_file = tmp_path / "strict" / "qualification.yaml"
    text = rules_file.read_text(encoding="utf-8")
    rules_file.write_text(text.replace("value: 70}", "value: 80}"), encoding="utf-8")
    strict = load_policy(tmp_path / "strict")
    assert strict.version != policy.version
    assert strict.ruleset != policy.ruleset
    supplier = software_supplier()  # weighted score 76.75
    default_result, strict_result = qualify(policy, supplier), qualify(strict, supplier)
    assert fired_ids(default_result) == ["QUAL-001"]
    assert fired_ids(strict_result) == []
    assert {d.policy_version for d in default_result.fired + default_result.not_fired} == {
        policy.version
    }
    assert {d.policy_version for d in strict_result.not_fired} == {strict.version}


def test_compiling_the_same_pack_again_reuses_its_ruleset(policy: CompiledPolicy) -> None:
    """Rulesets cannot be replaced: a second policy from the same content shares the first's."""
    again = CompiledPolicy(load_pack(default_pack_dir()))
    assert again.ruleset == policy.ruleset
    assert rules_engine().is_registered(again.ruleset)
    assert fired_ids(qualify(again, software_supplier())) == ["QUAL-001"]


@attrs.define
class RecordingEngine:
    """The real engine, recording every message it is asked to evaluate."""

    messages: list[dict[str, EngineValue]] = attrs.field(factory=list)

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        """Register through the real engine."""
        rules_engine().register(name, definition)

    def evaluate(self, name: str, message: Mapping[str, EngineValue]) -> frozenset[str]:
        """Record ``message``, then evaluate it on the real engine."""
        self.messages.append(dict(message))
        return rules_engine().evaluate(name, message)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_never_reach_the_engine(bad: float) -> None:
    """A NaN or infinite score is refused as the caller's mistake before any message is sent."""
    engine = RecordingEngine()
    recorded = CompiledPolicy(load_pack(default_pack_dir()), engine)
    qualify(recorded, software_supplier())
    with pytest.raises(InvalidCommand) as raised:
        qualify(recorded, software_supplier(scores={**FULL_SCORES, "price": bad}))
    assert [v.field for v in raised.value.violations] == ["scores['price']"]
    assert len(engine.messages) == 1
    assert all(
        not isinstance(v, float) or math.isfinite(v) for m in engine.messages for v in m.values()
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, None])
def test_the_engine_adapter_refuses_values_the_engine_mishandles(
    policy: CompiledPolicy, bad: object
) -> None:
    """The adapter's own guard: NaN, infinities, booleans and other types raise PolicyError."""
    with pytest.raises(PolicyError):
        rules_engine().evaluate(policy.ruleset, {"weighted_score": bad})  # type: ignore[dict-item]


@attrs.define
class AlwaysFiringEngine:
    """A broken engine that claims every rule fired."""

    def register(self, name: str, definition: Mapping[str, Any]) -> None:
        """Accept any ruleset."""

    def evaluate(self, name: str, message: Mapping[str, EngineValue]) -> frozenset[str]:
        """Claim all four qualification rules of the default pack fired."""
        return frozenset({"QUAL-001", "QUAL-002", "QUAL-003", "QUAL-004"})


def test_an_engine_that_disagrees_with_the_explanation_is_a_policy_error() -> None:
    """A rule fired whose conditions do not hold means a defect; no decision is made on it."""
    broken = CompiledPolicy(load_pack(default_pack_dir()), AlwaysFiringEngine())
    with pytest.raises(
        PolicyError, match=r"rule QUAL-002 \(qualification.yaml:\d+\): the engine fired"
    ):
        qualify(broken, software_supplier())


CHINESE_MANIFEST = """\
format: sqm.policy/v1
name: zh-pack
title: 电信运营商供应商资格政策
files: [资格.yaml]
"""

CHINESE_RULES = """\
format: sqm.policy/v1
criteria:
  - {id: capability, weight: 100, description: 技术能力}
rules:
  - id: ZH-001
    stage: qualification
    title: 技术能力达标即合格
    when:
      all:
        - {fact: weighted_score, op: ">=", value: 60}
    then: {action: qualify}
    message: "合格：加权得分 {weighted_score} ≥ 60"
"""


def test_a_pack_in_chinese_loads_and_renders(tmp_path: Path) -> None:
    """Chinese file names, titles and messages load, and messages render with the facts."""
    (tmp_path / "manifest.yaml").write_text(CHINESE_MANIFEST, encoding="utf-8")
    (tmp_path / "资格.yaml").write_text(CHINESE_RULES, encoding="utf-8")
    chinese = load_policy(tmp_path)
    supplier = software_supplier(scores={"capability": 61.5})
    (decision,) = qualify(chinese, supplier).fired
    assert (decision.rule_file, decision.rule_title) == ("资格.yaml", "技术能力达标即合格")
    assert decision.message == "合格：加权得分 61.5 ≥ 60"


def test_the_domain_qualifies_a_supplier_through_the_compiled_policy(
    policy: CompiledPolicy,
) -> None:
    """decide() with the real policy records QUAL-001 and moves the candidate to qualified."""
    registered = decide(RegisterSupplier("acme", "Acme Networks", "software", NOW), None, policy)
    state = SupplierState("acme", "Acme Networks", "software", version=len(registered))
    evidence = SubmitQualificationEvidence(
        "acme",
        NOW,
        scores=FULL_SCORES,
        certificates=software_supplier().certificates,
        site_audit_passed=True,
    )
    events = decide(evidence, state, policy)
    decisions = [e.decision for e in events if isinstance(e, DecisionRecorded)]
    moves = [e for e in events if isinstance(e, LifecycleTransitioned)]
    assert [d.rule_id for d in decisions] == ["QUAL-001"]
    assert [(m.from_state, m.to_state) for m in moves] == [
        (LifecycleState.CANDIDATE, LifecycleState.QUALIFIED)
    ]


LATE_RULESETS = """\
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.compiler import compile_pack
from sqm.rules.engine import rules_engine

definition = compile_pack(load_pack(default_pack_dir()))
engine = rules_engine()
fires = {"sqm_stage": "qualification", "weighted_score": 80.0, "criteria_missing": 0,
         "certificates_missing": 0, "site_audit_passed": 1, "site_audit_failed": 0,
         "blacklisted": 0}
engine.register("first", definition)
assert engine.evaluate("first", fires) == {"QUAL-001"}
for i in range(12):
    engine.register(f"later_{i}", definition)
    assert engine.evaluate(f"later_{i}", dict(fires, weighted_score=50.0)) == frozenset()
print("survived")
"""


def test_rulesets_registered_after_one_fired_survive_messages_no_rule_matches() -> None:
    """Unhandled assertions on late rulesets aborted the C core; the adapter's catch-all rule
    means none is ever unhandled (run in a child process: a regression aborts only it).
    """
    child = subprocess.run(
        [sys.executable, "-c", LATE_RULESETS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert (child.returncode, child.stdout.strip()) == (0, "survived"), child.stderr[-2000:]
