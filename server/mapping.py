"""Proto messages to domain commands and domain state to proto messages, nothing else.

Every problem found while mapping a request is collected and raised as one
``InvalidCommand`` naming each field, so a caller fixes them all in one round trip.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import struct_pb2, timestamp_pb2

from domain.commands import RegisterSupplier, SubmitQualificationEvidence
from domain.errors import FieldViolation, InvalidCommand
from domain.events import DecisionRecorded
from domain.model import (
    Certificate,
    CertificateKind,
    Decision,
    FactValue,
    LifecycleState,
    ServiceCategory,
    SupplierState,
)
from domain.ports import RecordedEvent
from domain.serialization import event_from_payload
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

SUPPLIER_NAME = re.compile(r"^suppliers/(?P<id>[^/]+)$")
ETAG = re.compile(r"^v(?P<version>\d+)$")
MAX_REQUEST_ID_LENGTH = 128

E = TypeVar("E", bound=enum.StrEnum)
Clock = Callable[[], datetime]


class Violations:
    """Collects field violations while a request is mapped; raises them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        """Record one bad field."""
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        """Raise ``InvalidCommand`` if anything was recorded."""
        if self.items:
            raise InvalidCommand(self.items)


# --- requests -> commands ---------------------------------------------------------------


def register_supplier(request: api.RegisterSupplierRequest, clock: Clock) -> RegisterSupplier:
    """Map a RegisterSupplier request; the request id is checked by :func:`request_id`."""
    bad = Violations()
    category = _enum_from_proto(
        ServiceCategory, pb.ServiceCategory, request.category, "category", bad
    )
    occurred_at = _occur_time(request, clock, bad)
    bad.raise_if_any()
    assert category is not None  # noqa: S101 - guaranteed by raise_if_any
    return RegisterSupplier(request.supplier_id, request.display_name, category, occurred_at)


def submit_evidence(
    request: api.SubmitQualificationEvidenceRequest, clock: Clock
) -> SubmitQualificationEvidence:
    """Map a SubmitQualificationEvidence request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    certificates = tuple(
        cert
        for index, proto in enumerate(request.certificates)
        if (cert := _certificate(proto, f"certificates[{index}]", bad)) is not None
    )
    audit = _site_audit(request.site_audit_result, bad)
    occurred_at = _occur_time(request, clock, bad)
    bad.raise_if_any()
    return SubmitQualificationEvidence(
        supplier_id, occurred_at, dict(request.scores), certificates, audit
    )


def supplier_id_from_name(name: str, field: str, bad: Violations) -> str:
    """The id in ``suppliers/{id}``; a malformed name is recorded as a violation."""
    match = SUPPLIER_NAME.match(name)
    if match is None:
        bad.add(field, f"expected a resource name 'suppliers/{{supplier}}', got {name!r}")
        return ""
    return match["id"]


def request_id(value: str) -> str:
    """Check a mutating call's idempotency key."""
    if not value.strip():
        raise InvalidCommand([FieldViolation("request_id", "required on every mutating call")])
    if len(value) > MAX_REQUEST_ID_LENGTH:
        raise InvalidCommand(
            [FieldViolation("request_id", f"at most {MAX_REQUEST_ID_LENGTH} characters")]
        )
    return value


def expected_version(etag: str) -> int | None:
    """The version an etag pins, or None when no etag was sent."""
    if not etag:
        return None
    match = ETAG.match(etag)
    if match is None:
        raise InvalidCommand([FieldViolation("etag", f"not an etag this server issued: {etag!r}")])
    return int(match["version"])


def _occur_time(request: Any, clock: Clock, bad: Violations) -> datetime:
    if not request.HasField("occur_time"):
        return clock()
    return _timestamp(request.occur_time, "occur_time", bad) or clock()


def _timestamp(value: timestamp_pb2.Timestamp, field: str, bad: Violations) -> datetime | None:
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as error:
        bad.add(field, f"not a valid timestamp: {error}")
        return None


def _certificate(proto: pb.Certificate, field: str, bad: Violations) -> Certificate | None:
    kind = _enum_from_proto(CertificateKind, pb.CertificateKind, proto.kind, f"{field}.kind", bad)
    valid_from = _required_time(proto, "valid_from", field, bad)
    valid_until = _required_time(proto, "valid_until", field, bad)
    if kind is None or valid_from is None or valid_until is None:
        return None
    return Certificate(kind, proto.number, proto.issuer, valid_from, valid_until)


def _required_time(message: Any, part: str, field: str, bad: Violations) -> datetime | None:
    if not message.HasField(part):
        bad.add(f"{field}.{part}", "required")
        return None
    return _timestamp(getattr(message, part), f"{field}.{part}", bad)


def _site_audit(value: int, bad: Violations) -> bool | None:
    if value == pb.SITE_AUDIT_RESULT_UNSPECIFIED:
        return None
    if value == pb.SITE_AUDIT_RESULT_PASSED:
        return True
    if value == pb.SITE_AUDIT_RESULT_FAILED:
        return False
    bad.add("site_audit_result", f"unknown value {value}; expected PASSED or FAILED")
    return None


def _enum_from_proto(
    domain_enum: type[E], proto_enum: Any, value: int, field: str, bad: Violations
) -> E | None:
    prefix = _enum_prefix(proto_enum)
    by_number = {
        number: name.removeprefix(prefix).lower()
        for name, number in proto_enum.items()
        if number != 0
    }
    try:
        return domain_enum(by_number[value])
    except (KeyError, ValueError):
        expected = ", ".join(n for n, v in proto_enum.items() if v != 0)
        bad.add(field, f"expected one of {expected}; got {value}")
        return None


def _enum_prefix(proto_enum: Any) -> str:
    unspecified: str = proto_enum.Name(0)
    return unspecified.removesuffix("UNSPECIFIED")


def _enum_to_proto(proto_enum: Any, value: enum.StrEnum) -> Any:
    # Any: each proto enum has its own ValueType; the name lookup below is what ties them.
    return proto_enum.Value(_enum_prefix(proto_enum) + value.value.upper())


# Domain field names that the API spells differently, per command.
API_FIELD_NAMES: dict[type, dict[str, str]] = {
    RegisterSupplier: {"occurred_at": "occur_time", "name": "display_name"},
    SubmitQualificationEvidence: {"occurred_at": "occur_time", "supplier_id": "name"},
}


def in_api_terms(error: InvalidCommand, command: object) -> InvalidCommand:
    """``error`` with each field path spelled as the API's request spells it."""
    names = API_FIELD_NAMES.get(type(command), {})
    renamed = []
    for violation in error.violations:
        head, dot, rest = violation.field.partition(".")
        bracket = head.find("[")
        root, suffix = (head[:bracket], head[bracket:]) if bracket > 0 else (head, "")
        field = names.get(root, root) + suffix + dot + rest
        renamed.append(FieldViolation(field, violation.description))
    return InvalidCommand(renamed)


# --- domain -> responses ----------------------------------------------------------------


def supplier_name(supplier_id: str) -> str:
    """The resource name of a supplier."""
    return f"suppliers/{supplier_id}"


def etag(state: SupplierState) -> str:
    """An opaque etag for the supplier at its current version."""
    return f"v{state.version}"


def supplier(state: SupplierState) -> pb.Supplier:
    """The API view of a supplier."""
    message = pb.Supplier(
        name=supplier_name(state.supplier_id),
        supplier_id=state.supplier_id,
        display_name=state.name,
        category=_enum_to_proto(pb.ServiceCategory, state.category),
        state=_enum_to_proto(pb.LifecycleState, LifecycleState(state.lifecycle)),
        version=state.version,
        etag=etag(state),
        scores=dict(state.scores),
        certificates=[_certificate_to_proto(c) for c in state.certificates],
        site_audit_result=_site_audit_to_proto(state.site_audit_passed),
        latest_decisions=[decision(d) for d in state.last_decisions],
    )
    _set_time(message.register_time, state.registered_at)
    _set_time(message.update_time, state.updated_at)
    return message


def decision(value: Decision) -> pb.Decision:
    """The API view of a recorded decision."""
    return pb.Decision(
        rule_id=value.rule_id,
        rule_title=value.rule_title,
        rule_file=value.rule_file,
        rule_line=value.rule_line,
        policy_version=value.policy_version,
        action=value.action.value,
        fired=value.fired,
        message=value.message,
        facts={name: _value(v) for name, v in value.facts.items()},
        conditions=[
            pb.ConditionOutcome(
                fact=c.fact,
                operator=c.operator,
                threshold=_value(c.threshold),
                actual=_value(c.actual),
                held=c.held,
            )
            for c in value.conditions
        ],
    )


def supplier_event(recorded: RecordedEvent) -> pb.SupplierEvent:
    """The API view of one recorded event, with its decision typed when it has one."""
    message = pb.SupplierEvent(
        sequence=recorded.global_seq,
        supplier=supplier_name(recorded.stream_id),
        version=recorded.version,
        type=recorded.event_type,
        actor=recorded.actor,
        request_id=recorded.request_id,
        policy_version=recorded.policy_version,
        hash=recorded.hash,
        previous_hash=recorded.prev_hash,
        payload=_struct(recorded.payload),
    )
    _set_time(message.occur_time, recorded.occurred_at)
    _set_time(message.record_time, recorded.recorded_at)
    event = event_from_payload(recorded.event_type, recorded.payload)
    if isinstance(event, DecisionRecorded):
        message.decision.CopyFrom(decision(event.decision))
    return message


def decisions(values: Iterable[Decision]) -> list[pb.Decision]:
    """The API view of several decisions."""
    return [decision(d) for d in values]


def _certificate_to_proto(value: Certificate) -> pb.Certificate:
    message = pb.Certificate(
        kind=_enum_to_proto(pb.CertificateKind, value.kind),
        number=value.number,
        issuer=value.issuer,
    )
    _set_time(message.valid_from, value.valid_from)
    _set_time(message.valid_until, value.valid_until)
    return message


def _site_audit_to_proto(passed: bool | None) -> pb.SiteAuditResult.ValueType:
    if passed is None:
        return pb.SITE_AUDIT_RESULT_UNSPECIFIED
    return pb.SITE_AUDIT_RESULT_PASSED if passed else pb.SITE_AUDIT_RESULT_FAILED


def _set_time(target: timestamp_pb2.Timestamp, moment: datetime | None) -> None:
    if moment is not None:
        target.FromDatetime(moment)


def _value(value: FactValue) -> struct_pb2.Value:
    message = struct_pb2.Value()
    if isinstance(value, bool):
        message.bool_value = value
    elif isinstance(value, int | float):
        message.number_value = value
    else:
        message.string_value = value
    return message


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message
