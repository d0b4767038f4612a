"""Feedback and improvement: reviews, improvement plans and their verification."""

from __future__ import annotations

from sqm.server.api import process_mapping
from sqm.server.api.servicer_base import ServicerBase, process_method
from sqm.v1 import supplier_service_pb2 as api


class ImprovementMethods(ServicerBase):
    """Open and conclude reviews; submit, complete and verify improvement plans."""

    OpenReview = process_method(
        process_mapping.open_review, api.OpenReviewResponse, "Open a review by hand."
    )
    ConcludeReview = process_method(
        process_mapping.conclude_review,
        api.ConcludeReviewResponse,
        "Conclude the open review: cleared, remediation required, or failed.",
    )
    SubmitImprovementPlan = process_method(
        process_mapping.submit_improvement_plan,
        api.SubmitImprovementPlanResponse,
        "Record the improvement plan the review required.",
    )
    CompleteImprovementPlan = process_method(
        process_mapping.complete_improvement_plan,
        api.CompleteImprovementPlanResponse,
        "Record that the plan's measures are in place.",
    )
    VerifyRemediation = process_method(
        process_mapping.verify_remediation,
        api.VerifyRemediationResponse,
        "Confirm by hand that a completed plan was effective.",
    )
    RecordTraining = process_method(
        process_mapping.record_training, api.RecordTrainingResponse, "Record staff training."
    )
