"""Corrective action (8D, 纠正措施): the supplier's record answering an improvement plan,
decided here, pure like the rest of ``decide``: guards first, then events.

The record extends the plan (see :mod:`sqm.domain.corrective_records`): submitting it
submits the plan, closing it (every action verified) completes the plan, and the plan's
effectiveness is then verified by its clean window as before. An approved extension that
moves an action past the plan's deadline moves the plan's deadline with it. Old streams,
with ``ImprovementPlan...`` events only, fold as before: their plan has no record.

The pack limits extensions (:class:`~sqm.domain.corrective_records.ExtensionLimits`): a
request beyond the number allowed, or moving the date further than allowed, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqm.domain.commands import (
    CloseCorrectiveAction,
    CompleteCorrectiveActionItem,
    DecideCorrectiveActionExtension,
    RequestCorrectiveActionExtension,
    SubmitCorrectiveAction,
    VerifyCorrectiveActionItem,
)
from sqm.domain.corrective_records import ActionProgress, CorrectiveAction
from sqm.domain.errors import DomainError, FieldViolation, IllegalTransition, InvalidCommand
from sqm.domain.events import (
    CorrectiveActionClosed,
    CorrectiveActionExtensionDecided,
    CorrectiveActionExtensionRequested,
    CorrectiveActionItemCompleted,
    CorrectiveActionItemVerified,
    CorrectiveActionSubmitted,
    Event,
)
from sqm.domain.history import days_between
from sqm.domain.model import ImprovementPlan, LifecycleState, SupplierState
from sqm.domain.ports import Policy


class CorrectiveActionPrecondition(DomainError):
    """The corrective-action record, or one of its actions, is not in the state the
    request needs.
    """

    reason = "CORRECTIVE_ACTION_PRECONDITION"

    def __init__(self, subject: str, message: str) -> None:
        self.subject = subject
        super().__init__(message)


class CorrectiveActionMissing(CorrectiveActionPrecondition):
    """The supplier has no open corrective-action record to act on."""

    reason = "CORRECTIVE_ACTION_MISSING"


class CorrectiveActionClosedAlready(CorrectiveActionPrecondition):
    """The record is closed: nothing more is recorded against it."""

    reason = "CORRECTIVE_ACTION_CLOSED"


class ActionNotInState(CorrectiveActionPrecondition):
    """The action is not open, completed or pending as the request needs."""

    reason = "CORRECTIVE_ACTION_ITEM_STATE"


class ExtensionLimitExceeded(CorrectiveActionPrecondition):
    """A request beyond one of the pack's extension limits; ``setting`` names it in the pack
    and ``limit`` is its value (both reach the caller in the error's metadata).
    """

    setting = ""

    def __init__(self, subject: str, message: str, limit: int) -> None:
        super().__init__(subject, f"{message}: the pack allows {limit} ({self.setting})")
        self.limit = limit
        self.setting = type(self).setting


class ExtensionLimitReached(ExtensionLimitExceeded):
    """The action has had as many extensions as the pack allows (``max_extensions``)."""

    reason = "EXTENSION_LIMIT_MAX_EXTENSIONS"
    setting = "improvement.corrective_actions.max_extensions"


class ExtensionTooLong(ExtensionLimitExceeded):
    """The extension would move the date further than the pack allows
    (``max_extension_days``).
    """

    reason = "EXTENSION_LIMIT_MAX_EXTENSION_DAYS"
    setting = "improvement.corrective_actions.max_extension_days"


class ExtensionNotRequested(CorrectiveActionPrecondition):
    """A decision was asked for an action with no extension request waiting."""

    reason = "EXTENSION_NOT_REQUESTED"


class ActionsNotVerified(CorrectiveActionPrecondition):
    """The record cannot close while an action is not verified."""

    reason = "CORRECTIVE_ACTION_NOT_VERIFIED"


def submit(command: SubmitCorrectiveAction, state: SupplierState, policy: Policy) -> list[Event]:
    """Submit the record for the pending plan, or revise the open one."""
    plan = _pending_plan(state, "submit_corrective_action")
    record = state.corrective_action
    if record is not None and record.closed_at is not None:
        raise CorrectiveActionClosedAlready("record", "the corrective action is already closed")
    problems = list(_revision_problems(command, plan, record))
    if problems:
        raise InvalidCommand(problems)
    revision = 1 if record is None else len(record.revisions) + 1
    return [CorrectiveActionSubmitted(command.occurred_at, command.content, revision)]


def _revision_problems(
    command: SubmitCorrectiveAction, plan: ImprovementPlan, record: CorrectiveAction | None
) -> Iterator[FieldViolation]:
    """Due dates after the plan's deadline, moved later by a revision (an extension's
    business), or completed actions a revision drops.
    """
    stated = {a.action_id for a in command.content.actions}
    for i, item in enumerate(command.content.actions):
        where = f"content.actions[{i}].due_at"
        earlier = record.action(item.action_id) if record is not None else None
        if earlier is not None and item.due_at > earlier.due_at:
            yield FieldViolation(
                where,
                f"later than the action's due date {earlier.due_at.isoformat()}:"
                " request an extension instead",
            )
        elif earlier is None and item.due_at > plan.due_at:
            yield FieldViolation(
                where, f"after the improvement plan's deadline {plan.due_at.isoformat()}"
            )
    for kept in record.actions if record is not None else ():
        if kept.completed_at is not None and kept.action_id not in stated:
            yield FieldViolation(
                "content.actions", f"{kept.action_id!r} is completed and cannot be dropped"
            )


def complete(
    command: CompleteCorrectiveActionItem, state: SupplierState, policy: Policy
) -> list[Event]:
    """Record an open action done."""
    action = _action(state, command.action_id, "complete_corrective_action_item")
    if action.completed_at is not None:
        raise ActionNotInState(action.action_id, f"{action.action_id!r} is already completed")
    return [CorrectiveActionItemCompleted(command.occurred_at, action.action_id, command.note)]


def verify(
    command: VerifyCorrectiveActionItem, state: SupplierState, policy: Policy
) -> list[Event]:
    """Verify a completed action, once."""
    action = _action(state, command.action_id, "verify_corrective_action_item")
    if action.completed_at is None or action.verified_at is not None:
        why = "not completed yet" if action.completed_at is None else "already verified"
        raise ActionNotInState(action.action_id, f"{action.action_id!r} is {why}")
    return [
        CorrectiveActionItemVerified(
            command.occurred_at, action.action_id, command.verified_by, command.note
        )
    ]


def request_extension(
    command: RequestCorrectiveActionExtension, state: SupplierState, policy: Policy
) -> list[Event]:
    """Ask for a later due date, within the pack's limits; one request waits at a time."""
    action = _action(state, command.action_id, "request_corrective_action_extension")
    if action.completed_at is not None:
        raise ActionNotInState(action.action_id, f"{action.action_id!r} is already completed")
    if action.pending_extension is not None:
        raise ActionNotInState(
            action.action_id, f"{action.action_id!r} already has an extension awaiting decision"
        )
    if command.due_at <= action.due_at:
        problem = f"not after the action's due date {action.due_at.isoformat()}"
        raise InvalidCommand([FieldViolation("due_at", problem)])
    limits = policy.extension_limits()
    if action.extensions_granted >= limits.max_extensions:
        raise ExtensionLimitReached(
            action.action_id,
            f"{action.action_id!r} has had {action.extensions_granted} extension(s)",
            limits.max_extensions,
        )
    days = days_between(action.due_at, command.due_at)
    if limits.max_extension_days is not None and days > limits.max_extension_days:
        raise ExtensionTooLong(
            action.action_id,
            f"the extension of {action.action_id!r} moves its due date by {days:g} days",
            limits.max_extension_days,
        )
    return [
        CorrectiveActionExtensionRequested(
            command.occurred_at, action.action_id, command.due_at, command.reason
        )
    ]


def decide_extension(
    command: DecideCorrectiveActionExtension, state: SupplierState, policy: Policy
) -> list[Event]:
    """Approve (the action is due later) or refuse the waiting request."""
    action = _action(state, command.action_id, "decide_corrective_action_extension")
    pending = action.pending_extension
    if pending is None:
        raise ExtensionNotRequested(
            action.action_id, f"{action.action_id!r} has no extension awaiting decision"
        )
    due = pending.due_at if command.approved else action.due_at
    return [
        CorrectiveActionExtensionDecided(
            command.occurred_at, action.action_id, command.approved, due, command.note
        )
    ]


def close(command: CloseCorrectiveAction, state: SupplierState, policy: Policy) -> list[Event]:
    """Close the record once every action is verified; the plan is completed with it."""
    record = _open_record(state, "close_corrective_action")
    unverified = [a.action_id for a in record.actions if a.verified_at is None]
    if unverified:
        raise ActionsNotVerified(
            "record", f"actions not verified yet: {', '.join(map(repr, unverified))}"
        )
    return [CorrectiveActionClosed(command.occurred_at, command.note)]


def _pending_plan(state: SupplierState, what: str) -> ImprovementPlan:
    plan = state.plan
    if state.lifecycle is not LifecycleState.REMEDIATION or plan is None:
        raise IllegalTransition(state.lifecycle.value, f"{what} (no improvement plan pending)")
    if plan.completed_at is not None:
        raise IllegalTransition(state.lifecycle.value, f"{what} (the plan is already completed)")
    return plan


def _open_record(state: SupplierState, what: str) -> CorrectiveAction:
    _pending_plan(state, what)
    record = state.corrective_action
    if record is None:
        raise CorrectiveActionMissing("record", "no corrective action has been submitted")
    if record.closed_at is not None:
        raise CorrectiveActionClosedAlready("record", "the corrective action is already closed")
    return record


def _action(state: SupplierState, action_id: str, what: str) -> ActionProgress:
    action = _open_record(state, what).action(action_id)
    if action is None:
        problem = f"{action_id!r} is not an action of the corrective action in force"
        raise InvalidCommand([FieldViolation("action_id", problem)])
    return action


# --- facts -------------------------------------------------------------------------------


def open_record(state: SupplierState) -> CorrectiveAction | None:
    """The record still running (submitted, not closed), if any."""
    record = state.corrective_action
    return record if record is not None and record.closed_at is None else None


def overdue_actions(state: SupplierState, now: datetime) -> tuple[ActionProgress, ...]:
    """The open record's actions not completed by their due date, most overdue first."""
    record = open_record(state)
    found = [a for a in record.actions if a.overdue_at(now)] if record else []
    return tuple(sorted(found, key=lambda a: a.due_at))


def unescalated_overdue(state: SupplierState, now: datetime) -> tuple[ActionProgress, ...]:
    """Overdue actions no rule has escalated yet."""
    return tuple(a for a in overdue_actions(state, now) if a.escalated_at is None)


def next_due(state: SupplierState, now: datetime) -> ActionProgress | None:
    """The open action due soonest that is not overdue yet."""
    record = open_record(state)
    ahead = (
        [a for a in record.actions if a.completed_at is None and a.due_at >= now] if record else []
    )
    return min(ahead, key=lambda a: a.due_at, default=None)


HANDLERS: dict[type, Callable[[Any, SupplierState, Policy], list[Event]]] = {
    SubmitCorrectiveAction: submit,
    CompleteCorrectiveActionItem: complete,
    VerifyCorrectiveActionItem: verify,
    RequestCorrectiveActionExtension: request_extension,
    DecideCorrectiveActionExtension: decide_extension,
    CloseCorrectiveAction: close,
}
"""The corrective action's commands, for :func:`sqm.domain.decide.decide`."""
