"""Corrective action (8D): the supplier's record answering an improvement plan, its actions'
completion and extensions, and the operator's verification, decisions and closure.
"""

from __future__ import annotations

from sqm.server.api import corrective_action_mapping as ca
from sqm.server.api.servicer_base import ServicerBase, process_method
from sqm.v1 import supplier_service_pb2 as api


class CorrectiveActionMethods(ServicerBase):
    """Submit, complete, verify, extend and close a corrective action."""

    SubmitCorrectiveAction = process_method(
        ca.submit_corrective_action,
        api.SubmitCorrectiveActionResponse,
        "Record the corrective action answering the pending plan, or revise it.",
    )
    CompleteCorrectiveActionItem = process_method(
        ca.complete_corrective_action_item,
        api.CompleteCorrectiveActionItemResponse,
        "Record one action of the corrective action done.",
    )
    VerifyCorrectiveActionItem = process_method(
        ca.verify_corrective_action_item,
        api.VerifyCorrectiveActionItemResponse,
        "Verify a completed action: who, and on what evidence.",
    )
    RequestCorrectiveActionExtension = process_method(
        ca.request_corrective_action_extension,
        api.RequestCorrectiveActionExtensionResponse,
        "Ask for a later due date of an open action, within the pack's limits.",
    )
    DecideCorrectiveActionExtension = process_method(
        ca.decide_corrective_action_extension,
        api.DecideCorrectiveActionExtensionResponse,
        "Approve or refuse the extension an action waits for.",
    )
    CloseCorrectiveAction = process_method(
        ca.close_corrective_action,
        api.CloseCorrectiveActionResponse,
        "Close the corrective action once every action is verified.",
    )
