"""UploadMeasurements: many RecordMeasurement rows, all or none unless partial acceptance.

Row ``i`` of the stream is mapped and checked like a RecordMeasurement request; a bad field
is named ``measurements[i].field``. Each row is then executed in stream order under its own
``request_id`` (required per row, and used as sent: the same key a RecordMeasurement call
would use, so a measurement sent once alone and again in an upload is recorded once). A
retried upload is therefore answered from the first one's records, row by row, and never
counts twice.

All or none: before anything is stored, every row is decided against its supplier's state
folded forward in memory (:mod:`sqm.server.app.pipeline`), so a row that the domain would refuse
(unknown objective, wrong unit, supplier not under contract) stops the whole upload, not
only the rows after it. The rows are then appended in one transaction, in one job on the
service's single worker thread: they become durable together just before the answer, and a
process killed before that leaves none of them (the client's retry with the same request ids
then stores them once). A caller gone before the commit (cancelled, out of time,
disconnected, or cut off by a server stopping) gets nothing stored: grpc ends such a stream
as if the client had finished it, so the rows that arrived may be only the first part of
the upload. On SQLite another server process writing to one of the suppliers in that
instant refuses the whole commit (retrying the same upload is safe).

Limits: at most :data:`MAX_UPLOAD_ROWS` rows and :data:`MAX_UPLOAD_BYTES` bytes per stream
(beyond either, RESOURCE_EXHAUSTED as soon as the message past it arrives, nothing stored,
and nothing more is read: the server's memory for one upload is bounded); a refusal names
the first bad rows that fit in gRPC's trailers; the answer
stays under the server's message size (see :func:`upload_response`). An upload is one job
on the worker thread, so a large upload keeps other calls waiting: prefer several uploads
of a few hundred rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from sqm.domain.commands import Command, RecordMeasurement
from sqm.domain.errors import (
    ConcurrencyConflict,
    ContractExpired,
    DomainError,
    FieldViolation,
    IllegalTransition,
    InvalidCommand,
    RequestIdReused,
    SupplierNotFound,
)
from sqm.domain.model import Decision
from sqm.domain.validation import validate
from sqm.server.api import mapping, process_mapping
from sqm.server.api.resource_mapping import decision
from sqm.server.app.pipeline import Abandoned, BatchRefused, Job, RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService
from sqm.v1 import supplier_service_pb2 as api

MAX_UPLOAD_ROWS = 10_000
"""Rows one stream may carry; beyond it the call is RESOURCE_EXHAUSTED and nothing is stored."""
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""Bytes of rows one stream may carry (each message's serialized size, summed); beyond it the
call is RESOURCE_EXHAUSTED at once and nothing is stored. With the row limit this bounds what
one upload holds in memory: the rows are decided together (all or none is one transaction),
so they are kept until the commit, never more than this (about 4 times it as Python objects).
"""
MAX_LISTED_ROWS = 20
"""Bad rows named at most in an all-or-none refusal (see :func:`refusal`)."""
MAX_REFUSAL_CHARACTERS = 2_000
"""Text of the violations of an all-or-none refusal, about a quarter of gRPC's 8 KiB trailers."""
MAX_RESPONSE_BYTES = 3 * 1024 * 1024
"""An upload's answer stays under the server's 4 MiB message limit."""
MAX_ROW_DESCRIPTION = 200
"""Characters of a rejected row's description in a partial acceptance's answer."""

ROW_ERRORS = (
    InvalidCommand,
    SupplierNotFound,
    IllegalTransition,
    ContractExpired,
    RequestIdReused,
)


@attrs.frozen
class Row:
    """A mapped row, ready to execute."""

    index: int
    command: RecordMeasurement
    request_id: str


@attrs.frozen
class RowProblem:
    """Why a row was refused: a stable reason and the row's bad fields in API terms."""

    index: int
    reason: str
    violations: tuple[FieldViolation, ...]

    @property
    def description(self) -> str:
        """The violations in words."""
        return "; ".join(f"{v.field}: {v.description}" for v in self.violations)


@attrs.frozen
class UploadOutcome:
    """How many rows were stored (or found stored by an earlier try), which were refused."""

    accepted: int
    rejected: tuple[RowProblem, ...]
    decisions: tuple[Decision, ...]


def row_field(index: int, field: str) -> str:
    """The API path of a field of row ``index`` (``measurements[3].unit``)."""
    return f"measurements[{index}].{field}" if field else f"measurements[{index}]"


def map_rows(
    messages: Sequence[api.UploadMeasurementsRequest], clock: Callable[[], datetime]
) -> tuple[list[Row], list[RowProblem]]:
    """Map every row; rows with bad fields (or a request id used by an earlier row) are problems."""
    rows: list[Row] = []
    problems: list[RowProblem] = []
    first_row_of: dict[str, int] = {}
    for index, message in enumerate(messages):
        command, violations = _map_row(message, clock)
        request_id = message.measurement.request_id
        problem = _request_id_problem(request_id, index, first_row_of)
        if problem and message.HasField("measurement"):
            violations.append(FieldViolation("request_id", problem))
        if command is None or violations:
            named = (FieldViolation(row_field(index, v.field), v.description) for v in violations)
            problems.append(RowProblem(index, InvalidCommand.reason, tuple(named)))
        else:
            rows.append(Row(index, command, request_id))
    return rows, problems


def _request_id_problem(request_id: str, index: int, first_row_of: dict[str, int]) -> str:
    problem = mapping.request_id_problem(request_id)
    earlier = first_row_of.setdefault(request_id, index)
    if not problem and earlier != index:
        problem = f"row {earlier} has the same request id; each row needs its own"
    return problem


def _map_row(
    message: api.UploadMeasurementsRequest, clock: Callable[[], datetime]
) -> tuple[RecordMeasurement | None, list[FieldViolation]]:
    if not message.HasField("measurement"):
        return None, [FieldViolation("", "required: a RecordMeasurementRequest")]
    try:
        command = process_mapping.record_measurement(message.measurement, clock)
    except InvalidCommand as error:
        return None, list(error.violations)
    try:
        validate(command)
    except InvalidCommand as error:
        return command, list(mapping.in_api_terms(error, command).violations)
    return command, []


def upload(
    service: SupplierService,
    messages: Sequence[api.UploadMeasurementsRequest],
    *,
    now: datetime,
    actor: str,
    abandoned: Callable[[], bool] = lambda: False,
) -> api.UploadMeasurementsResponse:
    """Map and store an upload's rows and answer (run it on the service's worker thread).

    ``partial_acceptance`` is read from the first message; rows sent without
    ``occur_time`` all happen at ``now``.
    """
    partial_acceptance = bool(messages) and messages[0].partial_acceptance
    rows, problems = map_rows(messages, lambda: now)
    outcome = run_upload(
        service, rows, problems,
        partial_acceptance=partial_acceptance, actor=actor, abandoned=abandoned,
    )  # fmt: skip
    return upload_response(outcome)


def run_upload(
    service: SupplierService,
    rows: Sequence[Row],
    problems: Sequence[RowProblem],
    *,
    partial_acceptance: bool,
    actor: str,
    abandoned: Callable[[], bool] = lambda: False,
) -> UploadOutcome:
    """Store the rows as the upload asks; raise ``InvalidCommand`` if all-or-none fails.

    The rows are one batch of the write pipeline: each decided once, in order, against its
    supplier's state folded forward in memory, and appended in one transaction, so all or
    none is one commit. ``abandoned`` is asked before each row and again just before the
    commit: once the caller is gone (cancelled, out of time, cut off: grpc ends a cut-off
    stream as if it had finished) an all-or-none upload stores nothing, and a partial one
    stores the rows decided before it left. Another process writing to one of the suppliers
    meanwhile refuses an all-or-none commit whole (ABORTED): nothing is stored.
    """
    jobs = [Job[Command](row.command, RequestContext(row.request_id, actor)) for row in rows]
    if partial_acceptance:
        outcomes = service.run(jobs, abandoned=abandoned, stop_when_abandoned=True)
        return _outcome(rows, problems, outcomes, partial_acceptance=True)
    if problems:  # refused whatever the rest holds: name the rows the domain refuses too
        found = [*problems, *_refused_rows(rows, service.refusals(jobs))]
        raise refusal(sorted(found, key=lambda p: p.index))
    try:
        outcomes = service.run(jobs, all_or_none=True, abandoned=abandoned)
    except Abandoned:
        return UploadOutcome(0, (), ())
    except BatchRefused as refused:
        raise refusal(_refused_rows(rows, refused.errors)) from None
    return _outcome(rows, problems, outcomes, partial_acceptance=False)


def _refused_rows(rows: Sequence[Row], errors: Mapping[int, Exception]) -> list[RowProblem]:
    refused = []
    for index, error in errors.items():
        if not isinstance(error, DomainError):
            raise error
        refused.append(row_problem(rows[index], error))
    return refused


def _outcome(
    rows: Sequence[Row],
    problems: Sequence[RowProblem],
    outcomes: Sequence[CommandResult | BaseException],
    *,
    partial_acceptance: bool,
) -> UploadOutcome:
    accepted = 0
    decisions: list[Decision] = []
    rejected = list(problems)
    for row, outcome in zip(rows, outcomes, strict=False):  # a partial upload may stop early
        if isinstance(outcome, (*ROW_ERRORS, ConcurrencyConflict)):
            if not partial_acceptance:
                raise _in_row_terms(row, outcome) from None
            rejected.append(row_problem(row, outcome))
        elif isinstance(outcome, CommandResult):
            accepted += 1
            decisions.extend(outcome.decisions)
        else:
            raise outcome
    return UploadOutcome(accepted, tuple(sorted(rejected, key=lambda p: p.index)), tuple(decisions))


def row_problem(row: Row, error: DomainError) -> RowProblem:
    """A domain error about ``row`` as a row problem, its fields in the upload's terms."""
    if isinstance(error, InvalidCommand):
        named = mapping.in_api_terms(error, row.command).violations
        violations = tuple(
            FieldViolation(row_field(row.index, v.field), v.description) for v in named
        )
    else:
        field = {
            SupplierNotFound: "name",
            IllegalTransition: "name",
            ContractExpired: "period_end_time",
            RequestIdReused: "request_id",
        }.get(type(error), "")
        violations = (FieldViolation(row_field(row.index, field), str(error)),)
    return RowProblem(row.index, error.reason, violations)


def refusal(problems: Sequence[RowProblem]) -> InvalidCommand:
    """The all-or-none refusal: the first bad rows' fields, and how many more rows are bad.

    A status travels in trailers, which gRPC caps at a few kilobytes, so rows are listed
    while their text fits :data:`MAX_REFUSAL_CHARACTERS` (and at most
    :data:`MAX_LISTED_ROWS` of them); the first bad row is always listed.
    """
    violations: list[FieldViolation] = []
    size = listed = 0
    for problem in problems:
        size += sum(len(v.field) + len(v.description) for v in problem.violations)
        if listed and (size > MAX_REFUSAL_CHARACTERS or listed == MAX_LISTED_ROWS):
            break
        violations.extend(problem.violations)
        listed += 1
    unlisted = len(problems) - listed
    if unlisted:
        violations.append(
            FieldViolation(
                "measurements",
                f"{unlisted} more bad rows, from row {problems[listed].index}, not listed;"
                " nothing was stored",
            )
        )
    return InvalidCommand(violations)


def upload_response(outcome: UploadOutcome) -> api.UploadMeasurementsResponse:
    """The API answer, kept under :data:`MAX_RESPONSE_BYTES` (the server's message limit).

    Every rejected row is listed (its description cut to :data:`MAX_ROW_DESCRIPTION`, or
    dropped for the last rows if even that is too much); decisions are listed in order
    until the budget is spent. Every decision is in the suppliers' histories regardless.
    """
    response = api.UploadMeasurementsResponse(accepted_count=outcome.accepted)
    for problem in outcome.rejected:
        response.rejected_rows.add(
            index=problem.index,
            reason=problem.reason,
            fields=[v.field for v in problem.violations],
            description=_clip(problem.description, MAX_ROW_DESCRIPTION),
        )
    size = response.ByteSize()
    for row in reversed(response.rejected_rows):
        if size <= MAX_RESPONSE_BYTES:
            break
        size -= len(row.description.encode())
        row.description = ""
    for value in outcome.decisions:
        message = decision(value)
        size += message.ByteSize() + 8  # the field's tag and length prefix, generously
        if size > MAX_RESPONSE_BYTES:
            break
        response.decisions.append(message)
    return response


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _in_row_terms(row: Row, error: DomainError) -> DomainError:
    if isinstance(error, InvalidCommand):
        return InvalidCommand(row_problem(row, error).violations)
    return error
