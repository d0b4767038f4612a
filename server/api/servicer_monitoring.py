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
from sqm.server.api.servicer_base import Context, ServicerBase, actor, process_method, write_view
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
            result=mapping.process_result(result, write_view(request), self._service.policy())
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

    RecordSatisfactionSurvey = process_method(
        process_mapping.record_satisfaction_survey,
        api.RecordSatisfactionSurveyResponse,
        "Record a customer satisfaction survey result.",
    )
    RecordInspection = process_method(
        process_mapping.record_inspection,
        api.RecordInspectionResponse,
        "Record an inspection, passed or failed.",
    )
    SubmitProgressReport = process_method(
        process_mapping.submit_progress_report,
        api.SubmitProgressReportResponse,
        "Record the supplier's periodic progress report.",
    )
    SubmitSelfCheck = process_method(
        process_mapping.submit_self_check,
        api.SubmitSelfCheckResponse,
        "Record the supplier's periodic self-check.",
    )
    RecordKickOff = process_method(
        process_mapping.record_kick_off,
        api.RecordKickOffResponse,
        "Record the delivery kick-off: goals, milestones, responsibilities.",
    )
    CompleteMilestone = process_method(
        process_mapping.complete_milestone,
        api.CompleteMilestoneResponse,
        "Record that the supplier completed a kick-off milestone.",
    )
    AcceptDeliverable = process_method(
        process_mapping.accept_deliverable,
        api.AcceptDeliverableResponse,
        "Accept the stage deliverable of a completed milestone.",
    )
    SubmitResourcePlan = process_method(
        process_mapping.submit_resource_plan,
        api.SubmitResourcePlanResponse,
        "Record the resources the supplier commits to the delivery.",
    )
    OpenProblemTicket = process_method(
        process_mapping.open_problem_ticket,
        api.OpenProblemTicketResponse,
        "Open a problem ticket against a supplier under contract.",
    )
    ResolveProblemTicket = process_method(
        process_mapping.resolve_problem_ticket,
        api.ResolveProblemTicketResponse,
        "Resolve an open problem ticket.",
    )
