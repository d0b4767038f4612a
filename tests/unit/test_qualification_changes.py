"""Grandfathering (既往不咎): the manifest says whether a version's qualification rules
reach suppliers already qualified, and ``ReevaluateQualification`` is what they do to one.
Real packs, real rules engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sqm.domain.commands import (
    Command,
    ReevaluateQualification,
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.decide import decide, fold
from sqm.domain.events import DecisionRecorded, LifecycleTransitioned
from sqm.domain.model import (
    Action,
    Certificate,
    LifecycleState,
    Money,
    QualificationChanges,
    SupplierState,
)
from sqm.domain.ports import Policy
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.rules.errors import PackInvalid
from sqm.rules.pack_catalogue import default_catalogue
from sqm.rules.tooling.diff import diff_packs
from tests.commands import default_pack_variant

AT = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(days=10)
CRITERIA = ("capability", "price", "delivery_lead_time", "quality_management", "past_performance")
SETTING = "qualification_changes_apply_to"


def _with_setting(folder: Path, value: str, pass_mark: int = 70) -> Path:
    pack = default_pack_variant(
        folder, "manifest.yaml", "files:\n", f"{SETTING}: {value}\nfiles:\n"
    )
    if pass_mark != 70:
        path = pack / "qualification.yaml"
        text = path.read_text(encoding="utf-8")
        old = '{fact: weighted_score, op: ">=", value: 70}'
        path.write_text(text.replace(old, old.replace("70", str(pass_mark))), encoding="utf-8")
    return pack


def test_a_pack_without_the_setting_applies_changes_to_new_evaluations_only() -> None:
    """The default keeps today's behaviour: recorded qualifications stand."""
    pack = load_pack(default_pack_dir())

    assert pack.qualification_changes_apply_to is QualificationChanges.NEW_EVALUATIONS
    assert (
        CompiledPolicy(pack).qualification_changes_apply_to is pack.qualification_changes_apply_to
    )


def test_the_manifest_can_apply_qualification_changes_to_qualified_suppliers(
    tmp_path: Path,
) -> None:
    """``qualified_suppliers`` is read from the manifest (and changes the version)."""
    pack = load_pack(_with_setting(tmp_path / "p", "qualified_suppliers"))

    assert pack.qualification_changes_apply_to is QualificationChanges.QUALIFIED_SUPPLIERS
    assert pack.version != load_pack(default_pack_dir()).version


def test_an_unknown_setting_is_refused_where_it_is_written(tmp_path: Path) -> None:
    """A value the language does not know is an error at its line, naming both choices."""
    with pytest.raises(PackInvalid) as raised:
        load_pack(_with_setting(tmp_path / "p", "everyone"))

    (error,) = raised.value.errors
    assert error.file == "manifest.yaml"
    assert error.line > 0
    assert "new_evaluations, qualified_suppliers" in error.message


def test_the_semantic_diff_names_a_change_of_the_setting(tmp_path: Path) -> None:
    """Switching to ``qualified_suppliers`` is one line of the diff, in words."""
    old = load_pack(default_pack_dir())
    new = load_pack(_with_setting(tmp_path / "p", "qualified_suppliers"))

    assert diff_packs(old, new) == [
        f"{SETTING} changed from new_evaluations to qualified_suppliers: suppliers still"
        " qualified are evaluated again when the version takes effect"
    ]


# --- ReevaluateQualification ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pass_mark_70() -> Policy:
    """The default pack: a pass mark of 70, new evaluations only."""
    return CompiledPolicy(load_pack(default_pack_dir()))


@pytest.fixture(scope="module")
def pass_mark_75(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """A pass mark of 75 that applies to qualified suppliers."""
    folder = tmp_path_factory.mktemp("p75") / "pack"
    return CompiledPolicy(load_pack(_with_setting(folder, "qualified_suppliers", 75)))


def _run(
    commands: list[Command], policy: Policy, state: SupplierState | None = None
) -> SupplierState:
    for command in commands:
        state = fold(decide(command, state, policy), state)
    assert state is not None
    return state


def _qualified(score: float, policy: Policy) -> SupplierState:
    year = timedelta(days=365)
    certificates = tuple(
        Certificate(kind, f"{kind}-1", "issuer", AT - year, AT + 2 * year)
        for kind in default_catalogue().certificate_kind_ids
    )
    register = RegisterSupplier("acme", "Acme", "network_equipment", AT)
    evidence = SubmitQualificationEvidence(
        "acme", AT, dict.fromkeys(CRITERIA, score), certificates, True
    )
    return _run([register, evidence], policy)


def test_a_qualified_supplier_under_the_new_mark_goes_back_to_candidate_on_its_ground(
    pass_mark_70: Policy, pass_mark_75: Policy
) -> None:
    """Qualified at 72 under 70, re-evaluated under 75: revoked, the decision naming the
    qualifying rule that no longer holds, the policy version and the unmet condition.
    """
    state = _qualified(72.0, pass_mark_70)
    assert state.lifecycle is LifecycleState.QUALIFIED

    events = decide(ReevaluateQualification("acme", LATER), state, pass_mark_75)

    recorded, moved = events
    assert isinstance(recorded, DecisionRecorded)
    assert isinstance(moved, LifecycleTransitioned)
    assert recorded.took_effect
    assert recorded.decision.rule_id == "QUAL-001"
    assert recorded.decision.action is Action.REVOKE_QUALIFICATION
    assert recorded.decision.policy_version == pass_mark_75.version
    assert pass_mark_75.version[:12] in recorded.decision.message
    assert "weighted_score >= 75 (actual 72)" in recorded.decision.message
    assert (moved.from_state, moved.to_state) == (
        LifecycleState.QUALIFIED,
        LifecycleState.CANDIDATE,
    )
    assert moved.cause.startswith("rule QUAL-001 not met on re-evaluation under policy")


def test_a_qualified_supplier_that_still_passes_records_nothing(
    pass_mark_70: Policy, pass_mark_75: Policy
) -> None:
    """80 passes 75: no event, the supplier stays qualified."""
    state = _qualified(80.0, pass_mark_70)

    assert decide(ReevaluateQualification("acme", LATER), state, pass_mark_75) == []


def test_a_contracted_supplier_keeps_its_contract(
    pass_mark_70: Policy, pass_mark_75: Policy
) -> None:
    """Under contract, re-evaluation records nothing: the contract stands."""
    fee = Money(Decimal("100000.00"), "CNY")
    state = _run(
        [SignContract("acme", "CT-1", AT, fee, fee)], pass_mark_70, _qualified(72.0, pass_mark_70)
    )
    assert state.lifecycle is LifecycleState.CONTRACTED

    assert decide(ReevaluateQualification("acme", LATER), state, pass_mark_75) == []


def test_a_policy_for_new_evaluations_only_leaves_a_recorded_qualification_standing(
    pass_mark_70: Policy, tmp_path: Path
) -> None:
    """Pass mark 75 without the setting: the qualification at 72 stands (既往不咎)."""
    folder = default_pack_variant(
        tmp_path / "p", "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 75}',
    )  # fmt: skip
    state = _qualified(72.0, pass_mark_70)

    assert (
        decide(ReevaluateQualification("acme", LATER), state, CompiledPolicy(load_pack(folder)))
        == []
    )
