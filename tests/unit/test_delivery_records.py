"""Delivery records the deadlines stage watches: the resource plan after the kick-off (资源配置).

The state keeps when the latest kick-off was held and when a resource plan was submitted;
the deadline facts read them with neutral values for a supplier without a kick-off, and the
reminder they lead to is sent once per kick-off.
"""

from __future__ import annotations

from datetime import datetime

from sqm.domain.commands import RecordKickOff, SubmitResourcePlan
from sqm.domain.events import ReminderIssued
from sqm.domain.evolve import fold
from sqm.domain.model import Reminder, Stage, SupplierState
from sqm.domain.ports import DecisionContext
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.contract_facts import deadlines_facts
from sqm.rules.model import PolicyPack
from tests.fakes import DAY, SID, SIGNED_AT, S, run, supplier_in
from tests.unit.test_actions import act, remind

KICK_OFF = SIGNED_AT + 2 * DAY
PACK: PolicyPack = load_pack(default_pack_dir())


def kicked_off(at: datetime = KICK_OFF) -> SupplierState:
    """A contracted supplier whose kick-off meeting was held at ``at``."""
    return run(supplier_in(S.CONTRACTED), RecordKickOff(SID, "5G roll-out", at))


def facts_at(state: SupplierState, now: datetime) -> dict[str, object]:
    """The default pack's deadline facts of ``state`` at ``now``."""
    return dict(deadlines_facts(PACK, DecisionContext(Stage.DEADLINES, state, now)))


def test_the_state_keeps_the_latest_kick_off_and_resource_plan_times() -> None:
    """A second kick-off moves the time; a resource plan records when it came."""
    state = kicked_off()
    assert state.kicked_off_at == KICK_OFF
    assert state.resource_plan_at is None
    later = KICK_OFF + 30 * DAY
    again = run(state, RecordKickOff(SID, "phase 2", later))
    assert again.kicked_off_at == later
    planned = run(again, SubmitResourcePlan(SID, ("12 engineers",), later + DAY))
    assert planned.resource_plan_at == later + DAY


def test_without_a_kick_off_the_resource_plan_facts_are_neutral() -> None:
    """No kick-off: not recorded, 0 days since, no plan; no threshold can hold."""
    facts = facts_at(supplier_in(S.CONTRACTED), SIGNED_AT + 100 * DAY)
    assert facts["kick_off_recorded"] is False
    assert facts["days_since_kick_off"] == 0.0
    assert facts["resource_plan_submitted"] is False


def test_days_since_the_kick_off_count_until_a_plan_is_on_file() -> None:
    """Eight and a half days after the kick-off, then the plan arrives."""
    state = kicked_off()
    facts = facts_at(state, KICK_OFF + 8.5 * DAY)
    assert facts["kick_off_recorded"] is True
    assert facts["days_since_kick_off"] == 8.5
    assert facts["resource_plan_submitted"] is False
    planned = run(state, SubmitResourcePlan(SID, ("12 engineers",), KICK_OFF + 9 * DAY))
    assert facts_at(planned, KICK_OFF + 10 * DAY)["resource_plan_submitted"] is True


def test_a_resource_plan_reminder_is_keyed_by_the_kick_off_and_sent_once() -> None:
    """The key names the kick-off; the same kick-off is not reminded of twice."""
    state = kicked_off()
    reminded = act(state, remind("resource_plan_due"))[1]
    assert isinstance(reminded, ReminderIssued)
    assert reminded.reminder is Reminder.RESOURCE_PLAN_DUE
    assert reminded.key == f"resource_plan_due:{KICK_OFF.isoformat()}"
    sent = fold(act(state, remind("resource_plan_due")), state)
    assert sent is not None
    assert act(sent, remind("resource_plan_due")) == []


def test_a_resource_plan_reminder_without_a_kick_off_has_no_effect() -> None:
    """No kick-off, no deadline to remind of."""
    assert act(supplier_in(S.CONTRACTED), remind("resource_plan_due")) == []
