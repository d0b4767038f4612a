"""Corrective-action requests to domain commands.

Like :mod:`sqm.server.api.supplier_side_mapping`: what can be checked without the supplier is
named here, by API path, in one ``InvalidCommand``; the domain checks the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqm.domain.commands import (
    CloseCorrectiveAction,
    CompleteCorrectiveActionItem,
    DecideCorrectiveActionExtension,
    RequestCorrectiveActionExtension,
    SubmitCorrectiveAction,
    VerifyCorrectiveActionItem,
)
from sqm.domain.corrective_records import CorrectiveActionContent, CorrectiveActionItem
from sqm.server.api.mapping import Violations, occur_time, supplier_id_from_name
from sqm.server.api.proto_values import required_time
from sqm.v1 import supplier_service_pb2 as api

Clock = Callable[[], datetime]


def submit_corrective_action(
    request: api.SubmitCorrectiveActionRequest, clock: Clock
) -> SubmitCorrectiveAction:
    """Map a SubmitCorrectiveAction request; every action needs a due time."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    proto = request.corrective_action
    items = []
    for index, item in enumerate(proto.actions):
        due_at = required_time(item, "due_time", f"corrective_action.actions[{index}]", bad)
        if due_at is not None:
            items.append(CorrectiveActionItem(item.action_id, item.description, item.owner, due_at))
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    content = CorrectiveActionContent(
        team=tuple(proto.team),
        problem=proto.problem,
        containment=proto.containment,
        root_causes=tuple(proto.root_causes),
        actions=tuple(items),
        prevention=proto.prevention,
    )
    return SubmitCorrectiveAction(supplier_id, content, occurred_at)


def complete_corrective_action_item(
    request: api.CompleteCorrectiveActionItemRequest, clock: Clock
) -> CompleteCorrectiveActionItem:
    """Map a CompleteCorrectiveActionItem request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return CompleteCorrectiveActionItem(supplier_id, request.action_id, occurred_at, request.note)


def verify_corrective_action_item(
    request: api.VerifyCorrectiveActionItemRequest, clock: Clock
) -> VerifyCorrectiveActionItem:
    """Map a VerifyCorrectiveActionItem request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return VerifyCorrectiveActionItem(
        supplier_id, request.action_id, request.verified_by, occurred_at, request.note
    )


def request_corrective_action_extension(
    request: api.RequestCorrectiveActionExtensionRequest, clock: Clock
) -> RequestCorrectiveActionExtension:
    """Map a RequestCorrectiveActionExtension request; the due time is required."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    due_at = required_time(request, "due_time", "", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    assert due_at is not None  # noqa: S101 - guaranteed by raise_if_any
    return RequestCorrectiveActionExtension(
        supplier_id, request.action_id, due_at, request.reason, occurred_at
    )


_OUTCOMES = {
    api.CORRECTIVE_ACTION_EXTENSION_OUTCOME_APPROVED: True,
    api.CORRECTIVE_ACTION_EXTENSION_OUTCOME_REFUSED: False,
}


def decide_corrective_action_extension(
    request: api.DecideCorrectiveActionExtensionRequest, clock: Clock
) -> DecideCorrectiveActionExtension:
    """Map a DecideCorrectiveActionExtension request; the outcome is required."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    approved = _OUTCOMES.get(request.outcome)
    if approved is None:
        bad.add("outcome", "expected APPROVED or REFUSED")
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return DecideCorrectiveActionExtension(
        supplier_id, request.action_id, bool(approved), occurred_at, request.note
    )


def close_corrective_action(
    request: api.CloseCorrectiveActionRequest, clock: Clock
) -> CloseCorrectiveAction:
    """Map a CloseCorrectiveAction request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return CloseCorrectiveAction(supplier_id, occurred_at, request.note)
