"""Notifications: what the record tells people outside the service (沟通规范, communication).

The process document (五.2 沟通规范) asks that supplier and operator keep each other informed,
accurately and in time. Every reminder, escalation, rule notification, notice to a supplier
and change of scorecard standing is therefore also a *notification*: the store writes it to
an outbox in the same transaction as its event, and the server's delivery worker posts it
to the configured webhooks until they take it (at least once).

This module is the pure part: which events are notifications, to whom, and the id a
receiver deduplicates on. The id is derived from where the event landed (stream, version)
and the notification's index among its event's, so an append retried under the same
request id, or the same decision recorded again, never yields a second id.

A notification is decided from the events of one append and the state they were decided
on: a standing *change* compares the closed scorecard with the supplier's previous one,
which that state holds, so nothing has to be read again inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from sqm.domain.events import (
    CorrectiveActionExtensionDecided,
    Escalated,
    Event,
    ImprovementPlanRequired,
    NotificationIssued,
    PenaltyAssessed,
    PenaltyDisputeDecided,
    ReminderIssued,
    ReviewOpened,
    ScorecardClosed,
    event_type,
)
from sqm.domain.model import Action, SupplierState
from sqm.domain.needs import NeedEvent, NeedNoticeIssued, NeedState
from sqm.domain.serialization import format_time
from sqm.domain.supplier_side import NOTICE_TYPES

REMINDER = "reminder"
ESCALATION = "escalation"
NOTIFICATION = "notification"
NOTICE = "notice"
STANDING_CHANGED = "standing_changed"
KINDS = (REMINDER, ESCALATION, NOTIFICATION, NOTICE, STANDING_CHANGED)
"""Every kind of notification, as receivers and filters name them."""

NEED_OWNER = "buyer"
"""Who a need's reminders go to: the buyer (采购员) who owns the need. An escalation goes to
the role its rule names."""

SUPPLIER_RECIPIENT = "supplier:"
"""A recipient ``supplier:<id>`` is the supplier itself; any other recipient is a role."""


@attrs.frozen
class Notification:
    """One notification decided from the ``event_index``-th event of an append.

    ``index`` counts the notifications of that one event (0 for the first), so the id
    ``stream/version/index`` is the same however often the append is retried.
    """

    event_index: int
    index: int
    kind: str
    recipient: str
    supplier_id: str
    title: str
    message: str


def supplier_recipient(supplier_id: str) -> str:
    """The recipient that names the supplier ``supplier_id`` itself."""
    return f"{SUPPLIER_RECIPIENT}{supplier_id}"


def notification_id(stream_id: str, version: int, index: int) -> str:
    """The id receivers deduplicate on: where the event landed, and which of its notifications."""
    return f"{stream_id}/{version}/{index}"


def notifications_for(
    supplier_id: str, before: SupplierState | None, events: Sequence[Event]
) -> tuple[Notification, ...]:
    """The notifications ``events`` (one append, decided on ``before``) give rise to."""
    found: list[Notification] = []
    previous: str | None = _standing(before)
    for event_index, event in enumerate(events):
        drafts = list(_drafts(supplier_id, event, previous))
        if isinstance(event, ScorecardClosed):
            previous = event.scorecard.standing
        found.extend(
            Notification(event_index, index, kind, to, supplier_id, title, message)
            for index, (kind, to, title, message) in enumerate(drafts)
        )
    return tuple(found)


def need_notifications_for(
    stream_id: str, before: NeedState | None, events: Sequence[NeedEvent]
) -> tuple[Notification, ...]:
    """The notifications a need's append gives rise to: each reminder or escalation a
    selection rule recorded on it (needs analysis and market research, 1.1 and 1.2). They
    concern no one supplier, so ``supplier_id`` is empty; the body names the need's stream.
    """
    found = []
    for event_index, event in enumerate(events):
        if not isinstance(event, NeedNoticeIssued):
            continue
        decision = event.decision
        if decision.action is Action.ESCALATE:
            kind, to = ESCALATION, str(decision.parameters.get("to", NEED_OWNER))
        else:
            kind, to = REMINDER, NEED_OWNER
        title = f"{decision.rule_id} on {stream_id}"
        found.append(Notification(event_index, 0, kind, to, "", title, decision.message))
    return tuple(found)


def notification_body(
    notification: Notification,
    *,
    stream_id: str,
    version: int,
    global_seq: int,
    event_type: str,
    occurred_at: datetime,
) -> dict[str, Any]:
    """The JSON object a webhook receives: the notification and the event it comes from."""
    return {
        "id": notification_id(stream_id, version, notification.index),
        "kind": notification.kind,
        "recipient": notification.recipient,
        "supplier_id": notification.supplier_id,
        "title": notification.title,
        "message": notification.message,
        "occurred_at": format_time(occurred_at),
        "event": {
            "sequence": global_seq,
            "stream_id": stream_id,
            "version": version,
            "type": event_type,
        },
    }


def wanted(kind: str, recipient: str, kinds: Sequence[str], recipients: Sequence[str]) -> bool:
    """Whether a notification passes a filter (an empty list lets every value through)."""
    return (not kinds or kind in kinds) and (not recipients or recipient in recipients)


_Draft = tuple[str, str, str, str]  # kind, recipient, title, message


def _drafts(supplier_id: str, event: Event, previous_standing: str | None) -> Iterator[_Draft]:
    supplier = supplier_recipient(supplier_id)
    match event:
        case ReminderIssued():
            yield REMINDER, supplier, f"Reminder: {event.reminder}", event.message
        case Escalated():
            yield ESCALATION, event.to, f"Escalated by {event.rule_id}", event.message
        case NotificationIssued():
            yield NOTIFICATION, event.to, f"Notification from {event.rule_id}", event.message
        case ReviewOpened():
            yield NOTICE, supplier, "Review opened", event.review.reason
        case ImprovementPlanRequired():
            due = format_time(event.plan.due_at)
            yield NOTICE, supplier, "Improvement plan required", f"due by {due}"
        case PenaltyAssessed():
            amount = event.penalty.amount
            title = f"Penalty assessed: {amount.amount} {amount.currency}"
            yield NOTICE, supplier, title, event.basis
        case PenaltyDisputeDecided():
            title = f"Dispute of {event.penalty_id} {event.outcome}"
            yield NOTICE, supplier, title, event.note
        case CorrectiveActionExtensionDecided():
            verdict = "approved" if event.approved else "refused"
            due = format_time(event.due_at)
            title = f"Extension of {event.action_id} {verdict}"
            yield NOTICE, supplier, title, f"due by {due}. {event.note}".strip()
        case ScorecardClosed() if _changed(previous_standing, event.scorecard.standing):
            card = event.scorecard
            title = f"Standing changed to {card.standing or 'unrated'}"
            was = previous_standing or "unrated"
            message = f"{card.period}: {card.standing_title or card.standing} (was {was})"
            yield STANDING_CHANGED, supplier, title, message
        case _ if event_type(event) in NOTICE_TYPES:
            # A notice type added later still reaches the supplier, if only by name.
            yield NOTICE, supplier, event_type(event), ""
        case _:
            return


def _standing(state: SupplierState | None) -> str | None:
    # None: no scorecard closed yet, so the first one changes nothing.
    if state is None or not state.scorecards:
        return None
    return state.scorecards[-1].standing


def _changed(previous: str | None, standing: str) -> bool:
    return previous is not None and previous != standing
