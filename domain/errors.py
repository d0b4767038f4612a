"""One error hierarchy for the domain; ``sqm.server.api.errors`` maps each to a gRPC status."""

from __future__ import annotations

from collections.abc import Sequence

import attrs


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``reason`` is a stable, machine-readable identifier (UPPER_SNAKE_CASE) that the API
    surfaces as ``google.rpc.ErrorInfo.reason``.
    """

    reason = "DOMAIN_ERROR"


@attrs.frozen
class FieldViolation:
    """One bad field: its path in the request (``scores["price"]``) and what was expected."""

    field: str
    description: str


class InvalidCommand(DomainError):
    """A command's fields are missing or malformed; every bad field is named."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        detail = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {detail}")


class SupplierNotFound(DomainError):
    """No supplier has this id."""

    reason = "SUPPLIER_NOT_FOUND"

    def __init__(self, supplier_id: str) -> None:
        self.supplier_id = supplier_id
        super().__init__(f"supplier {supplier_id!r} does not exist")


class SupplierAlreadyExists(DomainError):
    """A supplier with this id is already registered."""

    reason = "SUPPLIER_ALREADY_EXISTS"

    def __init__(self, supplier_id: str) -> None:
        self.supplier_id = supplier_id
        super().__init__(f"supplier {supplier_id!r} is already registered")


class IllegalTransition(DomainError):
    """The lifecycle does not allow ``trigger`` (or a command) from the supplier's state."""

    reason = "ILLEGAL_TRANSITION"

    def __init__(self, current_state: str, trigger: str, allowed: Sequence[str] = ()) -> None:
        self.current_state = current_state
        self.trigger = trigger
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        super().__init__(
            f"{trigger!r} is not allowed while the supplier is {current_state!r}"
            f" (allowed from {current_state!r}: {allowed_text})"
        )


class ContractExpired(DomainError):
    """A record, a claim or a command on the contract in force (a review, an improvement
    plan) falls after the end of the supplier's contract term.
    """

    reason = "CONTRACT_ENDED"

    def __init__(self, contract_id: str, ended_at: str, what: str) -> None:
        self.contract_id = contract_id
        self.ended_at = ended_at
        super().__init__(
            f"{what}: contract {contract_id!r} ended at {ended_at}; a renewal is a new"
            " contract (SignContract)"
        )


class ClaimOutsideWindow(DomainError):
    """A compensation claim falls outside the contract's term or the pack's claim window.

    ``field`` names the request field at fault and ``limit`` the time it had to respect.
    """

    reason = "CLAIM_OUTSIDE_WINDOW"

    def __init__(self, field: str, limit: str, why: str) -> None:
        self.field = field
        self.limit = limit
        super().__init__(why)


class ConcurrencyConflict(DomainError):
    """The stream moved on since it was read: the caller's expected version is stale."""

    reason = "STALE_VERSION"

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}"
        )


class RequestIdReused(DomainError):
    """A request id already recorded for a different command was sent again."""

    reason = "REQUEST_ID_REUSED"

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(
            f"request id {request_id!r} was already used for a different request;"
            " use a new request id for a new request"
        )


class PolicyError(DomainError):
    """The active policy could not make a decision (a defect in a pack or the engine)."""

    reason = "POLICY_ERROR"
