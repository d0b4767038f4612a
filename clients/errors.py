"""Errors a client sees, carrying the server's stable ``ErrorInfo`` reason and bad fields."""

from __future__ import annotations

from typing import Any

import attrs
import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@attrs.frozen
class BadField:
    """A field the server refused, and what it expected."""

    field: str
    description: str


class SqmError(Exception):
    """A call failed; ``code`` is the gRPC status, ``reason`` the stable ErrorInfo reason."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        bad_fields: tuple[BadField, ...] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}
        self.bad_fields = bad_fields
        super().__init__(f"{code.name} {reason}: {message}")


def from_rpc_error(error: grpc.RpcError) -> SqmError:
    """Unpack a failed call's rich status into an :class:`SqmError`."""
    call = error if isinstance(error, grpc.Call) else None
    code = call.code() if call else grpc.StatusCode.UNKNOWN
    message = (call.details() if call else str(error)) or ""
    reason, metadata, bad_fields = "", dict[str, str](), list[BadField]()
    status = rpc_status.from_call(call) if call else None
    details: list[Any] = list(status.details) if status else []
    for detail in details:
        info = error_details_pb2.ErrorInfo()
        request = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(request):
            bad_fields.extend(BadField(v.field, v.description) for v in request.field_violations)
    return SqmError(code, message, reason, metadata, tuple(bad_fields))
