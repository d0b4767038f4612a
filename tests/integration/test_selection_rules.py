"""The selection stage with the real engine and the default pack: a need's deadlines on its
own stream (NEED-001, NEED-002) and the candidate's market research (MR-001, MR-002).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sqm.domain.events import MarketResearchRecorded
from sqm.domain.evolve import apply
from sqm.domain.model import Action, LifecycleState, Stage, SupplierState
from sqm.domain.needs import (
    AdvanceNeedTime,
    NeedEvent,
    NeedNoticeIssued,
    NeedState,
    OpenNeed,
    SelectionRefused,
    ShortlistSupplier,
    SupplierShortlisted,
    decide_need,
    fold_need,
)
from sqm.domain.ports import DecisionContext
from sqm.rules import CompiledPolicy, default_pack_dir, load_policy
from sqm.rules.catalogue import FAR_AWAY_DAYS
from sqm.rules.facts import derive_facts

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=30)
NETWORK = "network_equipment"


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    """The default pack, compiled on the real engine."""
    return load_policy(default_pack_dir())


def opened(required_by: datetime | None = DUE) -> NeedState:
    """A need opened at T0 for network equipment, due at ``required_by``."""
    command = OpenNeed("core", "Core routers", NETWORK, T0, required_by=required_by)
    return fold_need(decide_need(command, None, {}), None)


def supplier(researched_at: datetime | None = None, references: int = 2) -> SupplierState:
    """A qualified candidate, with market research recorded at ``researched_at`` if given."""
    state = SupplierState("zte", "ZTE", NETWORK, lifecycle=LifecycleState.QUALIFIED, version=3)
    if researched_at is None:
        return state
    refs = tuple(f"operator-{i}" for i in range(references))
    return apply(state, MarketResearchRecorded(researched_at, "RAN", "on time", refs))


def tick(need: NeedState, days: float, policy: CompiledPolicy) -> list[NeedEvent]:
    """What a tick ``days`` after T0 records on ``need``."""
    command = AdvanceNeedTime("core", T0 + timedelta(days=days))
    return decide_need(command, need, {}, policy)


def test_a_tick_reminds_of_a_need_due_within_14_days_once(policy: CompiledPolicy) -> None:
    """17 days ahead nothing; 10 days ahead NEED-001; a second tick records nothing more."""
    need = opened(DUE)
    assert tick(need, 13, policy) == []
    reminded = tick(need, 20, policy)
    assert [e.decision.rule_id for e in reminded if isinstance(e, NeedNoticeIssued)] == ["NEED-001"]
    need = fold_need(reminded, need)
    assert need.ticked_rules == {"NEED-001"}
    assert tick(need, 21, policy) == []


def test_a_need_past_its_date_is_escalated_and_one_without_a_date_never(
    policy: CompiledPolicy,
) -> None:
    """Past the date, NEED-002 escalates to the procurement director; no date, no notice."""
    (escalated,) = tick(opened(DUE), 31, policy)
    assert isinstance(escalated, NeedNoticeIssued)
    assert escalated.decision.action is Action.ESCALATE
    assert escalated.decision.parameters["to"] == "procurement_director"
    assert tick(opened(None), 400, policy) == []


def test_a_shortlisting_without_research_is_recorded_with_a_warning(
    policy: CompiledPolicy,
) -> None:
    """MR-001 escalates to the buyer beside SupplierShortlisted; the shortlisting stands."""
    command = ShortlistSupplier("core", "zte", T0 + timedelta(days=1))
    events = decide_need(command, opened(), {"zte": supplier()}, policy)
    assert isinstance(events[0], SupplierShortlisted)
    notices = [
        (e.decision.rule_id, e.selection_step) for e in events if isinstance(e, NeedNoticeIssued)
    ]
    assert notices == [("MR-001", "shortlist")]


def test_fresh_research_shortlists_quietly_and_stale_research_is_refused(
    policy: CompiledPolicy,
) -> None:
    """Research 30 days old: nothing fires. 400 days old: SELECTION_REFUSED by MR-002."""
    at = T0 + timedelta(days=1)
    fresh = supplier(researched_at=at - timedelta(days=30))
    events = decide_need(ShortlistSupplier("core", "zte", at), opened(), {"zte": fresh}, policy)
    assert [type(e).__name__ for e in events] == ["SupplierShortlisted"]
    stale = supplier(researched_at=at - timedelta(days=400))
    with pytest.raises(SelectionRefused) as refused:
        decide_need(ShortlistSupplier("core", "zte", at), opened(), {"zte": stale}, policy)
    assert refused.value.reason == "SELECTION_REFUSED"
    assert [d.rule_id for d in refused.value.decisions] == ["MR-002"]
    assert "MR-002" in str(refused.value)


def test_selection_facts_on_a_tick_are_neutral_about_the_candidate(
    policy: CompiledPolicy,
) -> None:
    """No candidate on a tick: research on file, 0 days, 0 references; no date: far away."""
    need = opened(None)
    nobody = SupplierState("", "", NETWORK)
    context = DecisionContext(Stage.SELECTION, nobody, T0, need=need, selection_step="tick")
    facts = derive_facts(policy.pack, context)
    assert facts["market_research_on_file"] is True
    assert facts["days_since_market_research"] == 0.0
    assert facts["market_research_references"] == 0
    assert facts["days_to_need_required_by"] == FAR_AWAY_DAYS
    assert facts["need_awarded"] is False
