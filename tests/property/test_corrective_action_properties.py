"""Random extension requests and decisions on a corrective action: no action is ever granted
more extensions than the pack allows, nor moved further than it allows at once; a refused
command records nothing; the state is always the fold of the events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given

from sqm.domain.commands import (
    Command,
    CompleteCorrectiveActionItem,
    DecideCorrectiveActionExtension,
    RequestCorrectiveActionExtension,
    SubmitCorrectiveAction,
)
from sqm.domain.corrective_records import ActionProgress
from sqm.domain.decide import decide, fold
from sqm.domain.errors import DomainError
from sqm.domain.events import CorrectiveActionExtensionDecided, Event
from tests.corrective import corrective_content
from tests.fakes import DAY, EXTENSION_LIMITS, SID, T0, FakePolicy, S, run, supplier_in
from tests.strategies import extension_steps

SUBMITTED = T0 + 4 * DAY
HOUR = timedelta(hours=1)


def step_command(kind: str, action: ActionProgress, days: float, at: datetime) -> Command:
    """The command a drawn step stands for, on ``action`` as it stands."""
    if kind == "request":
        due = action.due_at + days * DAY
        return RequestCorrectiveActionExtension(SID, action.action_id, due, "reason", at)
    if kind == "complete":
        return CompleteCorrectiveActionItem(SID, action.action_id, at)
    return DecideCorrectiveActionExtension(SID, action.action_id, kind == "approve", at)


@given(extension_steps())
def test_extensions_never_exceed_the_packs_limits(steps: list[tuple[str, str, float]]) -> None:
    """However requests, decisions and completions interleave, each action has at most
    ``max_extensions`` approved, each at most ``max_extension_days`` long.
    """
    policy = FakePolicy()
    dues = (SUBMITTED + 5 * DAY, SUBMITTED + 8 * DAY, SUBMITTED + 12 * DAY)
    start = run(supplier_in(S.REMEDIATION))
    submitted = decide(
        SubmitCorrectiveAction(SID, corrective_content(*dues), SUBMITTED), start, policy
    )
    state = fold(submitted, start)
    recorded: list[Event] = list(submitted)
    at = SUBMITTED
    for kind, action_id, days in steps:
        at += HOUR
        record = state.corrective_action
        assert record is not None
        action = record.action(action_id)
        assert action is not None
        command = step_command(kind, action, days, at)
        try:
            events = decide(command, state, policy)
        except DomainError:
            continue  # refused: nothing recorded, the state unchanged
        recorded.extend(events)
        state = fold(events, state)
    record = state.corrective_action
    assert record is not None
    limit = timedelta(days=EXTENSION_LIMITS.max_extension_days or 0)
    for action in record.actions:
        assert action.extensions_granted <= EXTENSION_LIMITS.max_extensions
        assert all(e.due_at - e.requested_at > timedelta(0) for e in action.extensions)
    dates = {a.action_id: d for a, d in zip(record.actions, dues, strict=True)}
    for event in recorded:
        if isinstance(event, CorrectiveActionExtensionDecided) and event.approved:
            assert event.due_at - dates[event.action_id] <= limit
            dates[event.action_id] = event.due_at
    assert fold(recorded, start) == state
