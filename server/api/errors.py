"""The one place domain errors become gRPC statuses (``google.rpc.Status`` with details).

Each error carries ``ErrorInfo`` with a stable ``reason``; invalid requests add ``BadRequest``
field violations; illegal transitions add ``PreconditionFailure`` naming the current state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from sqm.domain.corrective_action import CorrectiveActionPrecondition
from sqm.domain.documents import DocumentCorrupted, DocumentNotFound
from sqm.domain.errors import (
    ClaimOutsideWindow,
    ConcurrencyConflict,
    ContractExpired,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    PolicyError,
    RequestIdReused,
    SupplierAlreadyExists,
    SupplierNotFound,
)
from sqm.domain.needs import NeedAlreadyExists, NeedNotFound, NeedPrecondition
from sqm.domain.policy_archive import (
    PolicyVersionAltered,
    PolicyVersionConflict,
    PolicyVersionNotFound,
)
from sqm.domain.policy_changes import PolicyChangePrecondition, ProposalNotFound
from sqm.domain.supplier_side import NoticeNotFound, SupplierSidePrecondition
from sqm.rules.errors import PackInvalid
from sqm.server.api.watch import ResumeTokenExpired
from sqm.server.storage.errors import StorageFault, StoreUnavailable

ERROR_DOMAIN = "sqm.v1"
log = logging.getLogger(__name__)


class TooManyRows(DomainError):
    """A streamed upload went past its row limit; nothing of it was stored."""

    reason = "TOO_MANY_ROWS"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"an upload carries at most {limit} rows; nothing was stored")


class UploadTooLarge(DomainError):
    """A streamed upload went past its byte limit; nothing of it was stored."""

    reason = "UPLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"an upload carries at most {limit} bytes of rows; nothing was stored"
            " (send several smaller uploads)"
        )


class MalformedRequest(DomainError):
    """The request's bytes are not a valid protobuf message of the method's request type."""

    reason = "MALFORMED_REQUEST"

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"the request is not a valid protobuf message: {problem}")


class TimeTravelRefused(DomainError):
    """AdvanceTime asked for a time beyond the wall clock and its allowed skew, outside drills."""

    reason = "TIME_TRAVEL_REFUSED"

    def __init__(self, requested: datetime, limit: datetime) -> None:
        # Strings, so ErrorInfo's metadata carries them.
        self.requested_time = requested.isoformat()
        self.latest_allowed_time = limit.isoformat()
        super().__init__(
            f"AdvanceTime to {requested.isoformat()} is beyond the wall clock plus the allowed"
            f" skew ({limit.isoformat()}); only a server started with --drill moves time ahead"
        )


class ForeignSupplier(DomainError):
    """A caller bound to one supplier named another (or none) where its own must be named."""

    reason = "PERMISSION_DENIED"

    def __init__(self, method: str, field: str, supplier: str) -> None:
        self.method = method
        self.field = field  # empty: the method is not one a supplier may call at all
        super().__init__(
            f"a supplier's token may name only its own supplier, suppliers/{supplier},"
            f" in `{field}` of {method}"
            if field
            else f"a supplier's token may not call {method}"
        )


_CODES: dict[type[DomainError], grpc.StatusCode] = {
    TimeTravelRefused: grpc.StatusCode.FAILED_PRECONDITION,
    TooManyRows: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UploadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    MalformedRequest: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidCommand: grpc.StatusCode.INVALID_ARGUMENT,
    RequestIdReused: grpc.StatusCode.INVALID_ARGUMENT,
    SupplierNotFound: grpc.StatusCode.NOT_FOUND,
    SupplierAlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    IllegalTransition: grpc.StatusCode.FAILED_PRECONDITION,
    # The contract's term is over: the request is well formed, the supplier's contract is not.
    ContractExpired: grpc.StatusCode.FAILED_PRECONDITION,
    ClaimOutsideWindow: grpc.StatusCode.FAILED_PRECONDITION,
    ConcurrencyConflict: grpc.StatusCode.ABORTED,
    PolicyError: grpc.StatusCode.INTERNAL,
    PackInvalid: grpc.StatusCode.INVALID_ARGUMENT,
    PolicyVersionNotFound: grpc.StatusCode.NOT_FOUND,
    # A version is its content: the same hash with other files means altered records.
    PolicyVersionConflict: grpc.StatusCode.DATA_LOSS,
    PolicyVersionAltered: grpc.StatusCode.DATA_LOSS,
    DocumentNotFound: grpc.StatusCode.NOT_FOUND,
    # Bytes that no longer match their archived SHA-256: the record was altered.
    DocumentCorrupted: grpc.StatusCode.DATA_LOSS,
    ResumeTokenExpired: grpc.StatusCode.FAILED_PRECONDITION,
    NeedNotFound: grpc.StatusCode.NOT_FOUND,
    NeedAlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    NeedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ProposalNotFound: grpc.StatusCode.NOT_FOUND,
    # SAME_APPROVER and SIGNOFF_REQUIRED among them.
    PolicyChangePrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ForeignSupplier: grpc.StatusCode.PERMISSION_DENIED,
    NoticeNotFound: grpc.StatusCode.NOT_FOUND,
    # NOTICE_ALREADY_ACKNOWLEDGED, PENALTY_ALREADY_DISPUTED and PENALTY_NOT_DISPUTED.
    SupplierSidePrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    # EXTENSION_LIMIT_MAX_EXTENSIONS, EXTENSION_LIMIT_MAX_EXTENSION_DAYS and the record's states.
    CorrectiveActionPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
}


# The status travels in the call's trailers, which gRPC clients refuse beyond 8 KiB by
# default (the grpc-message percent-encoded, the details base64-encoded, so a third larger):
# a status never takes more than these, and says how much it left out.
MAX_MESSAGE_BYTES = 1024
MAX_VIOLATIONS_BYTES = 3 * 1024
MAX_TEXT_BYTES = 512
"""A metadata value or a violation's description longer than this is cut."""
_LOCATION = re.compile(r"^\d+:\d+: ")


def to_status(error: DomainError) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """The gRPC code and rich status for a domain error, within the trailers' budget."""
    code = next(
        (c for cls, c in _CODES.items() if isinstance(error, cls)), grpc.StatusCode.INTERNAL
    )
    details = [_error_info(error), *_extra_details(error)]
    message = _cut(str(error), MAX_MESSAGE_BYTES, "; the details list every problem")
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return code, status


def internal_status(message: str) -> status_pb2.Status:
    """A status for an unexpected failure; the details stay in the server's log."""
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))
    return status_pb2.Status(code=code_pb2.INTERNAL, message=message, details=[info])


def unavailable_status() -> status_pb2.Status:
    """A status for a store that cannot be reached now; a retry with the same request id is
    safe whatever became of the first attempt.
    """
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="STORE_UNAVAILABLE", domain=ERROR_DOMAIN))
    message = "the database is unavailable; retry with the same request id"
    return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message, details=[info])


def storage_fault_status(error: StorageFault) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """A full disk is RESOURCE_EXHAUSTED (reason STORAGE_FULL); a read-only or failing one
    UNAVAILABLE (STORAGE_UNAVAILABLE). Either way the message says so, and a retry with the
    same request id is safe once it clears.
    """
    code = grpc.StatusCode.RESOURCE_EXHAUSTED if error.full else grpc.StatusCode.UNAVAILABLE
    reason = "STORAGE_FULL" if error.full else "STORAGE_UNAVAILABLE"
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    message = f"{error.problem}: writes are refused until it clears; retry with the same request id"
    return code, status_pb2.Status(code=code.value[0], message=message, details=[info])


def _error_info(error: DomainError) -> error_details_pb2.ErrorInfo:
    metadata = {
        key: _cut(str(value), MAX_TEXT_BYTES)
        for key, value in vars(error).items()
        if isinstance(value, str | int) and not key.startswith("_")
    }
    return error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)


def _extra_details(error: DomainError) -> list[Any]:
    if isinstance(error, InvalidCommand):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ]
        return [_bad_request(violations)]
    if isinstance(error, RequestIdReused):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field="request_id", description=str(error)
        )
        return [error_details_pb2.BadRequest(field_violations=[violation])]
    if isinstance(error, PackInvalid):
        return [_bad_request(pack_violations(error), "`sqm policy lint` lists them all")]
    precondition = _precondition(error)
    if precondition is not None:
        return [error_details_pb2.PreconditionFailure(violations=[precondition])]
    return []


def _precondition(error: DomainError) -> error_details_pb2.PreconditionFailure.Violation | None:
    """The failed precondition an error names: its type and subject."""
    subject: tuple[str, str] | None = None
    if isinstance(error, IllegalTransition):
        subject = ("LIFECYCLE_STATE", error.current_state)
    elif isinstance(error, NeedPrecondition):
        subject = ("NEED", error.subject)
    elif isinstance(error, PolicyChangePrecondition):
        subject = ("POLICY_SIGNOFF", error.subject)
    elif isinstance(error, ContractExpired):
        subject = ("CONTRACT_TERM", error.contract_id)
    elif isinstance(error, ClaimOutsideWindow):
        subject = ("CLAIM_WINDOW", error.field)
    elif isinstance(error, TimeTravelRefused):
        subject = ("DRILL_MODE", "AdvanceTime")
    elif isinstance(error, SupplierSidePrecondition):
        subject = (error.reason, error.subject)
    if subject is None:
        return None
    return error_details_pb2.PreconditionFailure.Violation(
        type=subject[0], subject=subject[1], description=_cut(str(error), MAX_TEXT_BYTES)
    )


def _bad_request(
    violations: list[error_details_pb2.BadRequest.FieldViolation], where_all: str = ""
) -> error_details_pb2.BadRequest:
    """The violations, in order, as many as fit the budget; a last one says how many more."""
    request = error_details_pb2.BadRequest()
    for number, violation in enumerate(violations):
        violation.description = _cut(violation.description, MAX_TEXT_BYTES)
        if request.ByteSize() + violation.ByteSize() + MAX_TEXT_BYTES > MAX_VIOLATIONS_BYTES:
            # Located where the first problem left out is, as every pack violation is.
            located = _LOCATION.match(violation.description)
            more = len(violations) - number
            said = f"{more} more problem(s) not listed: a status must fit in the call's trailers"
            said = f"{located[0] if located else ''}{said}{f'; {where_all}' if where_all else ''}"
            request.field_violations.add(field=violation.field, description=said)
            break
        request.field_violations.append(violation)
    return request


def _cut(text: str, limit: int, note: str = "") -> str:
    """``text`` within ``limit`` bytes of UTF-8, cut at a character and marked if cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    tail = f" ... (cut{note})"
    kept = encoded[: limit - len(tail.encode())].decode(errors="ignore")
    return kept + tail


def pack_violations(error: PackInvalid) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """One violation per problem of a pack, naming the file (``files["qualification.yaml"]``)
    with ``line:column:`` leading the description.
    """
    return [
        error_details_pb2.BadRequest.FieldViolation(
            field=f'files["{problem.file}"]',
            description=(
                f"{problem.line}:{problem.column}: {problem.message}"
                if problem.line
                else problem.message
            ),
        )
        for problem in error.errors
    ]


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: Exception) -> NoReturn:
    """End the call with the status for ``error`` (domain errors in detail, others as INTERNAL)."""
    if isinstance(error, DomainError):
        code, status = to_status(error)
    elif isinstance(error, StorageFault):  # logged once, when it starts, not per call
        code, status = storage_fault_status(error)
    elif isinstance(error, StoreUnavailable):  # the database went away: worth a retry
        log.warning("the store is unavailable: %s", error)
        code, status = grpc.StatusCode.UNAVAILABLE, unavailable_status()
    else:
        log.exception("unexpected error while serving a call", exc_info=error)
        code, status = grpc.StatusCode.INTERNAL, internal_status("internal error; see server log")
    trailing = (("grpc-status-details-bin", status.SerializeToString()),)
    await context.abort(code, status.message, trailing_metadata=trailing)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def translated(handler: Handler) -> Handler:
    """Decorate a servicer method so every exception leaves as a proper gRPC status."""

    @wraps(handler)
    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            return await handler(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await abort(context, error)

    return wrapper  # type: ignore[return-value]
