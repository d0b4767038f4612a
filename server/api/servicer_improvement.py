"""Feedback and improvement: reviews, improvement plans and their verification."""

from __future__ import annotations

from sqm.server.api import process_mapping
from sqm.server.api.errors import translated
from sqm.server.api.servicer_base import Context, ServicerBase
from sqm.v1 import supplier_service_pb2 as api


class ImprovementMethods(ServicerBase):
    """Open and conclude reviews; submit, complete and verify improvement plans."""

    @translated
    async def OpenReview(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.OpenReviewRequest, context: Context
    ) -> api.OpenReviewResponse:
        """Open a review by hand."""
        result = await self._process(process_mapping.open_review, request, context)
        return api.OpenReviewResponse(result=result)

    @translated
    async def ConcludeReview(  # noqa: N802
        self, request: api.ConcludeReviewRequest, context: Context
    ) -> api.ConcludeReviewResponse:
        """Conclude the open review: cleared, remediation required, or failed."""
        result = await self._process(process_mapping.conclude_review, request, context)
        return api.ConcludeReviewResponse(result=result)

    @translated
    async def SubmitImprovementPlan(  # noqa: N802
        self, request: api.SubmitImprovementPlanRequest, context: Context
    ) -> api.SubmitImprovementPlanResponse:
        """Record the improvement plan the review required."""
        result = await self._process(process_mapping.submit_improvement_plan, request, context)
        return api.SubmitImprovementPlanResponse(result=result)

    @translated
    async def CompleteImprovementPlan(  # noqa: N802
        self, request: api.CompleteImprovementPlanRequest, context: Context
    ) -> api.CompleteImprovementPlanResponse:
        """Record that the plan's measures are in place."""
        result = await self._process(process_mapping.complete_improvement_plan, request, context)
        return api.CompleteImprovementPlanResponse(result=result)

    @translated
    async def VerifyRemediation(  # noqa: N802
        self, request: api.VerifyRemediationRequest, context: Context
    ) -> api.VerifyRemediationResponse:
        """Confirm by hand that a completed plan was effective."""
        result = await self._process(process_mapping.verify_remediation, request, context)
        return api.VerifyRemediationResponse(result=result)

    @translated
    async def RecordTraining(  # noqa: N802
        self, request: api.RecordTrainingRequest, context: Context
    ) -> api.RecordTrainingResponse:
        """Record staff training."""
        result = await self._process(process_mapping.record_training, request, context)
        return api.RecordTrainingResponse(result=result)
