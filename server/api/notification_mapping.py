"""Outbox notifications to the API's messages, and the checks on Watch's notification filters."""

from __future__ import annotations

import json

from google.protobuf import timestamp_pb2

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.notifications import KINDS
from sqm.domain.ports import OutboxEntry
from sqm.v1 import resources_pb2 as pb


def outbox_notification(entry: OutboxEntry) -> pb.OutboxNotification:
    """The API's view of one notification of the outbox."""
    body = json.loads(entry.body)
    due = timestamp_pb2.Timestamp()
    due.FromDatetime(entry.next_attempt_at)
    return pb.OutboxNotification(
        id=entry.notification_id,
        kind=entry.kind,
        recipient=entry.recipient,
        supplier=f"suppliers/{entry.supplier_id}",
        title=str(body.get("title", "")),
        message=str(body.get("message", "")),
        event_sequence=entry.global_seq,
        attempts=entry.attempts,
        last_error=entry.last_error,
        next_attempt_time=due,
        undeliverable=entry.undeliverable,
        body=entry.body,
    )


def notification_kinds(kinds: list[str], field: str = "notification_kinds") -> tuple[str, ...]:
    """The kinds asked for, each one a kind notifications have (else INVALID_ARGUMENT)."""
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        why = f"{unknown[0]!r} is not a notification kind; expected one of: {', '.join(KINDS)}"
        raise InvalidCommand([FieldViolation(field, why)])
    return tuple(kinds)
