"""Delivery and quality monitoring: kick-off, resources, measurements, surveys, inspections,
reports and problem tickets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from functools import partial

import grpc

from sqm.server.api import mapping, measurement_upload, process_mapping
from sqm.server.api.errors import TooManyRows, UploadTooLarge, translated
from sqm.server.api.measurement_upload import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS
from sqm.server.api.servicer_base import Context, ServicerBase, actor, write_view
from sqm.v1 import supplier_service_pb2 as api


class MonitoringMethods(ServicerBase):
    """Record monitoring data; the policy classifies and acts on each record."""

    @translated
    async def RecordMeasurement(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.RecordMeasurementRequest, context: Context
    ) -> api.RecordMeasurementResponse:
        """Record one SLA measurement; answer with its figures against the objective."""
        command, request_context = self._prepare(
            process_mapping.record_measurement, request, context
        )
        result = await self._execute(command, request_context)
        response = api.RecordMeasurementResponse(
            result=mapping.process_result(result, write_view(request))
        )
        assessment = process_mapping.measurement_assessment(
            result.supplier, command.objective_id, command.value
        )
        if assessment is not None:
            response.assessment.CopyFrom(assessment)
        return response

    @translated
    async def UploadMeasurements(  # noqa: N802
        self, request_iterator: AsyncIterator[api.UploadMeasurementsRequest], context: Context
    ) -> api.UploadMeasurementsResponse:
        """Record a stream of measurements: all or none, unless partial acceptance is asked.

        At most :data:`~sqm.server.api.measurement_upload.MAX_UPLOAD_ROWS` rows and
        :data:`~sqm.server.api.measurement_upload.MAX_UPLOAD_BYTES` bytes; a longer stream is
        RESOURCE_EXHAUSTED as soon as the row past a limit arrives, and nothing is stored.
        """
        messages: list[api.UploadMeasurementsRequest] = []
        size = 0
        async for message in request_iterator:
            if len(messages) == MAX_UPLOAD_ROWS:
                raise TooManyRows(MAX_UPLOAD_ROWS)
            size += message.ByteSize()
            if size > MAX_UPLOAD_BYTES:
                raise UploadTooLarge(MAX_UPLOAD_BYTES)
            messages.append(message)
        # A stream cut off (cancelled, disconnected, server stopping) also ends like this;
        # its cancellation is often already on its way: let it land before any work starts.
        # A stopping server says so before it cancels anything (``_calls_cut_off``), so a
        # stream its shutdown ended is never taken for a finished one.
        await asyncio.sleep(0)
        abandoned = threading.Event()  # the worker thread stops between rows once set

        def gone() -> bool:
            return abandoned.is_set() or self._calls_cut_off.is_set()

        if self._calls_cut_off.is_set():
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "the server is stopping and this upload was cut off: nothing was stored;"
                " send it again",
            )
        job = partial(
            measurement_upload.upload,
            self._service,
            messages,
            now=self._clock(),
            actor=actor(context),
            abandoned=gone,
        )
        try:
            return await self._run(job)
        except asyncio.CancelledError:  # the caller cancelled or ran out of time
            abandoned.set()
            raise

    @translated
    async def RecordSatisfactionSurvey(  # noqa: N802
        self, request: api.RecordSatisfactionSurveyRequest, context: Context
    ) -> api.RecordSatisfactionSurveyResponse:
        """Record a customer satisfaction survey result."""
        result = await self._process(process_mapping.record_satisfaction_survey, request, context)
        return api.RecordSatisfactionSurveyResponse(result=result)

    @translated
    async def RecordInspection(  # noqa: N802
        self, request: api.RecordInspectionRequest, context: Context
    ) -> api.RecordInspectionResponse:
        """Record an inspection, passed or failed."""
        result = await self._process(process_mapping.record_inspection, request, context)
        return api.RecordInspectionResponse(result=result)

    @translated
    async def SubmitProgressReport(  # noqa: N802
        self, request: api.SubmitProgressReportRequest, context: Context
    ) -> api.SubmitProgressReportResponse:
        """Record the supplier's periodic progress report."""
        result = await self._process(process_mapping.submit_progress_report, request, context)
        return api.SubmitProgressReportResponse(result=result)

    @translated
    async def SubmitSelfCheck(  # noqa: N802
        self, request: api.SubmitSelfCheckRequest, context: Context
    ) -> api.SubmitSelfCheckResponse:
        """Record the supplier's periodic self-check."""
        result = await self._process(process_mapping.submit_self_check, request, context)
        return api.SubmitSelfCheckResponse(result=result)

    @translated
    async def RecordKickOff(  # noqa: N802
        self, request: api.RecordKickOffRequest, context: Context
    ) -> api.RecordKickOffResponse:
        """Record the delivery kick-off: goals, milestones, responsibilities."""
        result = await self._process(process_mapping.record_kick_off, request, context)
        return api.RecordKickOffResponse(result=result)

    @translated
    async def SubmitResourcePlan(  # noqa: N802
        self, request: api.SubmitResourcePlanRequest, context: Context
    ) -> api.SubmitResourcePlanResponse:
        """Record the resources the supplier commits to the delivery."""
        result = await self._process(process_mapping.submit_resource_plan, request, context)
        return api.SubmitResourcePlanResponse(result=result)

    @translated
    async def OpenProblemTicket(  # noqa: N802
        self, request: api.OpenProblemTicketRequest, context: Context
    ) -> api.OpenProblemTicketResponse:
        """Open a problem ticket against a supplier under contract."""
        result = await self._process(process_mapping.open_problem_ticket, request, context)
        return api.OpenProblemTicketResponse(result=result)

    @translated
    async def ResolveProblemTicket(  # noqa: N802
        self, request: api.ResolveProblemTicketRequest, context: Context
    ) -> api.ResolveProblemTicketResponse:
        """Resolve an open problem ticket."""
        result = await self._process(process_mapping.resolve_problem_ticket, request, context)
        return api.ResolveProblemTicketResponse(result=result)
