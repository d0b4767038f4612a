"""Corrective action (8D) in the client: the supplier submits or revises its record, reports
actions done and asks for extensions; the operator verifies actions, decides extensions and
closes the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqm.client.builders import supplier_name, timestamp
from sqm.client.process_calls import new_request_id
from sqm.client.retry import RetryingClient
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

EXTENSION_OUTCOMES = {
    "approved": api.CORRECTIVE_ACTION_EXTENSION_OUTCOME_APPROVED,
    "refused": api.CORRECTIVE_ACTION_EXTENSION_OUTCOME_REFUSED,
}
"""An extension's outcome by the word the CLI takes."""


def action_item(
    action_id: str, description: str, owner: str, due_time: datetime
) -> pb.CorrectiveActionItem:
    """One action of a corrective-action record (D5/D6)."""
    return pb.CorrectiveActionItem(
        action_id=action_id, description=description, owner=owner, due_time=timestamp(due_time)
    )


def corrective_action_content(
    *,
    team: Sequence[str],
    problem: str,
    containment: str,
    root_causes: Sequence[str],
    actions: Sequence[pb.CorrectiveActionItem],
    prevention: str = "",
) -> pb.CorrectiveActionContent:
    """A corrective-action record, D1 to D7."""
    return pb.CorrectiveActionContent(
        team=team, problem=problem, containment=containment, root_causes=root_causes,
        actions=actions, prevention=prevention,
    )  # fmt: skip


class CorrectiveActionCalls(RetryingClient):
    """Mixed into :class:`clients.SqmClient`, which supplies the stub."""

    _stub: api_grpc.SupplierServiceStub

    def submit_corrective_action(
        self,
        supplier_id: str,
        content: pb.CorrectiveActionContent,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Submit the record answering the pending plan, or a revision of it."""
        request = api.SubmitCorrectiveActionRequest(
            name=supplier_name(supplier_id), corrective_action=content,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.SubmitCorrectiveAction, request).result

    def complete_corrective_action_item(
        self,
        supplier_id: str,
        action_id: str,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Report one action done."""
        request = api.CompleteCorrectiveActionItemRequest(
            name=supplier_name(supplier_id), action_id=action_id, note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.CompleteCorrectiveActionItem, request).result

    def verify_corrective_action_item(
        self,
        supplier_id: str,
        action_id: str,
        verified_by: str,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Verify a completed action: who verified it, and the evidence."""
        request = api.VerifyCorrectiveActionItemRequest(
            name=supplier_name(supplier_id), action_id=action_id, verified_by=verified_by,
            note=note, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.VerifyCorrectiveActionItem, request).result

    def request_corrective_action_extension(
        self,
        supplier_id: str,
        action_id: str,
        due_time: datetime,
        reason: str,
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Ask to move an open action's due date to ``due_time``."""
        request = api.RequestCorrectiveActionExtensionRequest(
            name=supplier_name(supplier_id), action_id=action_id, due_time=timestamp(due_time),
            reason=reason, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.RequestCorrectiveActionExtension, request).result

    def decide_corrective_action_extension(
        self,
        supplier_id: str,
        action_id: str,
        outcome: api.CorrectiveActionExtensionOutcome.ValueType,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Approve or refuse the extension ``action_id`` waits for."""
        request = api.DecideCorrectiveActionExtensionRequest(
            name=supplier_name(supplier_id), action_id=action_id, outcome=outcome, note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.DecideCorrectiveActionExtension, request).result

    def close_corrective_action(
        self,
        supplier_id: str,
        note: str = "",
        *,
        occur_time: datetime | None = None,
        request_id: str | None = None,
        view: pb.SupplierView.ValueType = pb.SUPPLIER_VIEW_UNSPECIFIED,
    ) -> api.ProcessResult:
        """Close the record once every action is verified."""
        request = api.CloseCorrectiveActionRequest(
            name=supplier_name(supplier_id), note=note,
            occur_time=timestamp(occur_time), request_id=request_id or new_request_id(), view=view,
        )  # fmt: skip
        return self._call(self._stub.CloseCorrectiveAction, request).result
