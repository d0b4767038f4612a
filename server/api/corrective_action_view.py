"""The corrective-action record (8D) as the API shows it, for ``GetSupplier``."""

from __future__ import annotations

from sqm.domain.corrective_records import (
    ActionExtension,
    ActionProgress,
    CorrectiveAction,
    CorrectiveActionContent,
)
from sqm.server.api.proto_values import set_time
from sqm.v1 import resources_pb2 as pb


def corrective_action_record(record: CorrectiveAction) -> pb.CorrectiveActionRecord:
    """The record as the API shows it: every revision and every action's progress."""
    message = pb.CorrectiveActionRecord(
        revisions=[_content(c) for c in record.revisions],
        actions=[_progress(a) for a in record.actions],
        closure_note=record.closure_note,
    )
    set_time(message.submit_time, record.submitted_at)
    set_time(message.close_time, record.closed_at)
    return message


def _content(content: CorrectiveActionContent) -> pb.CorrectiveActionContent:
    actions = []
    for item in content.actions:
        proto = pb.CorrectiveActionItem(
            action_id=item.action_id, description=item.description, owner=item.owner
        )
        set_time(proto.due_time, item.due_at)
        actions.append(proto)
    return pb.CorrectiveActionContent(
        team=content.team,
        problem=content.problem,
        containment=content.containment,
        root_causes=content.root_causes,
        actions=actions,
        prevention=content.prevention,
    )


def _progress(action: ActionProgress) -> pb.CorrectiveActionProgress:
    message = pb.CorrectiveActionProgress(
        action_id=action.action_id,
        description=action.description,
        owner=action.owner,
        status=action.status,
        completion_note=action.completion_note,
        verified_by=action.verified_by,
        verification_note=action.verification_note,
        extensions=[_extension(e) for e in action.extensions],
    )
    set_time(message.due_time, action.due_at)
    set_time(message.complete_time, action.completed_at)
    set_time(message.verify_time, action.verified_at)
    set_time(message.escalate_time, action.escalated_at)
    return message


def _extension(extension: ActionExtension) -> pb.CorrectiveActionExtension:
    decision = {None: "pending", True: "approved", False: "refused"}[extension.approved]
    message = pb.CorrectiveActionExtension(
        reason=extension.reason, decision=decision, note=extension.note
    )
    set_time(message.request_time, extension.requested_at)
    set_time(message.due_time, extension.due_at)
    set_time(message.decide_time, extension.decided_at)
    return message
