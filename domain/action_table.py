"""The rule actions' effects in every lifecycle state, as a table for the documentation.

Generated, not kept by hand: where an action applies is :data:`sqm.domain.actions.ACTION_REACH`
and the moves it makes are the lifecycle machine's transitions for its triggers. Only what
it records besides the move, and what it needs besides the state, are written here, beside
the code that does it; a test runs every action in every state and compares.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqm.domain import lifecycle
from sqm.domain.actions import ACTION_REACH, ACTION_TRIGGERS, PRECEDENCE, STATED_PENALTY_REACH
from sqm.domain.model import Action, LifecycleState

RECORDS: Mapping[Action, str] = {
    Action.OPEN_REVIEW: "`ReviewOpened`",
    Action.TERMINATE: "`TerminatedForCause`",
    Action.REQUIRE_REMEDIATION: "`ReviewConcluded`, `ImprovementPlanRequired`",
    Action.CLEAR_REVIEW: "`ReviewConcluded`",
    Action.VERIFY_REMEDIATION: "`RemediationVerified`",
    Action.ASSESS_PENALTY: "`PenaltyAssessed`",
    Action.ESCALATE: "`Escalated`",
    Action.NOTIFY: "`NotificationIssued`",
    Action.REMIND: "`ReminderIssued`",
}
"""What each action records besides ``DecisionRecorded`` and its move, in words."""

OVERDUE_TERMINATION = (
    "`ImprovementDeadlineMissed` when the plan's deadline has passed, otherwise"
    " `TerminatedForCause`"
)
"""What terminate records in remediation (see ``sqm.domain.actions.plan_overdue``)."""

NEEDS: Mapping[Action, str] = {
    Action.QUALIFY: "a supplier not blacklisted",
    Action.VERIFY_REMEDIATION: "a completed improvement plan",
    Action.ASSESS_PENALTY: (
        "a breach (a measurement), unless the rule states its `amount`; on the deadline"
        " check once per rule and month"
    ),
    Action.REMIND: "the deadline it names; once per deadline",
    Action.ESCALATE: "`to` (a role)",
    Action.NOTIFY: "`to` (a role)",
}
"""What each action needs besides the lifecycle state, in words."""

HEADING = "## What each rule action does in each state"

INTRO = (
    "Generated from the lifecycle machine and `domain/actions.py` (`ACTION_REACH`) by"
    " `make docs`. A cell gives what the action records (after `DecisionRecorded`) and the"
    " move it makes; *no effect* means the decision is recorded with"
    " `no effect: <action> cannot apply in <state>`. Actions run in this order when several"
    " rules fire at once, conservative first."
)


def action_table() -> str:
    """The table in Markdown: one row per action (in precedence order), one column per state."""
    states = list(LifecycleState)
    lines = [
        HEADING,
        "",
        INTRO,
        "",
        "| action | " + " | ".join(s.value for s in states) + " | needs besides |",
        "| --- | " + " | ".join("---" for _ in states) + " | --- |",
    ]
    for action in PRECEDENCE:
        cells = [effect_in(action, state) for state in states]
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + f" | {NEEDS.get(action, '')} |")
    return "\n".join(lines) + "\n"


def effect_in(action: Action, state: LifecycleState) -> str:
    """What ``action`` does in ``state``, in words: what it records and where it moves."""
    states = ACTION_REACH[action].states
    if action is Action.ASSESS_PENALTY:
        states |= STATED_PENALTY_REACH.states
    if state not in states:
        return "*no effect*"
    parts = [_records(action, state)] if action in RECORDS else []
    parts.extend(_moves(action, state))
    return "; ".join(parts)


def _records(action: Action, state: LifecycleState) -> str:
    if action is Action.TERMINATE and state is LifecycleState.REMEDIATION:
        return OVERDUE_TERMINATION
    return RECORDS[action]


def _moves(action: Action, state: LifecycleState) -> list[str]:
    triggers = ACTION_TRIGGERS.get(action, ())
    moves = [(t, dst) for t, src, dst in lifecycle.TRANSITIONS if t in triggers and src == state]
    if not moves:
        return []
    (dest,) = {dst for _, dst in moves}
    names = " or ".join(f"`{t.value}`" for t, _ in moves)
    return [f"→ {dest.value} ({names})"]
