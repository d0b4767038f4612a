"""Field checks for commands, run before anything is decided or recorded.

Field paths use the API's field names, so a caller is told exactly which field is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from domain.commands import Command, RegisterSupplier, SubmitQualificationEvidence
from domain.errors import FieldViolation, InvalidCommand
from domain.model import SupplierState

# AIP-122 style resource ids: lower-case letters, digits and hyphens, starting with a letter.
SUPPLIER_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 200


def validate(command: Command) -> None:
    """Raise :class:`InvalidCommand` naming every bad field of ``command``."""
    violations = list(_violations(command))
    if violations:
        raise InvalidCommand(violations)


def validate_against(command: Command, state: SupplierState) -> None:
    """Checks that need the supplier: time only moves forward along a supplier's stream.

    A backdated command would be judged at a past instant (a licence that has since
    expired would count as valid), and replay would no longer follow recorded order.
    """
    if state.updated_at is not None and command.occurred_at < state.updated_at:
        raise InvalidCommand(
            [
                FieldViolation(
                    "occurred_at",
                    f"is earlier than the supplier's last recorded event"
                    f" ({state.updated_at.isoformat()}); events are recorded in time order",
                )
            ]
        )


def _violations(command: Command) -> Iterator[FieldViolation]:
    yield from _check_supplier_id(command.supplier_id)
    if command.occurred_at.tzinfo is None:
        yield FieldViolation("occurred_at", "must carry a time zone")
    if isinstance(command, RegisterSupplier):
        yield from _check_text("name", command.name, MAX_NAME_LENGTH)
    elif isinstance(command, SubmitQualificationEvidence):
        yield from _check_evidence(command)


def _check_supplier_id(supplier_id: str) -> Iterator[FieldViolation]:
    if not SUPPLIER_ID.fullmatch(supplier_id):
        yield FieldViolation(
            "supplier_id",
            "expected 1-63 characters: a lower-case letter, then lower-case letters, digits"
            f" or hyphens; got {supplier_id!r}",
        )


def _check_text(field: str, value: str, max_length: int) -> Iterator[FieldViolation]:
    if not value.strip():
        yield FieldViolation(field, "must not be empty")
    elif len(value) > max_length:
        yield FieldViolation(field, f"must be at most {max_length} characters, got {len(value)}")


def _check_evidence(command: SubmitQualificationEvidence) -> Iterator[FieldViolation]:
    if not command.scores and not command.certificates and command.site_audit_passed is None:
        yield FieldViolation(
            "scores", "evidence is empty: give scores, certificates or a site-audit result"
        )
    for criterion, score in command.scores.items():
        field = f"scores[{criterion!r}]"
        if not criterion.strip():
            yield FieldViolation(field, "criterion name must not be empty")
        if not math.isfinite(score) or not 0 <= score <= 100:
            yield FieldViolation(field, f"expected a score from 0 to 100, got {score!r}")
    for index, certificate in enumerate(command.certificates):
        field = f"certificates[{index}]"
        yield from _check_text(f"{field}.number", certificate.number, MAX_TEXT_LENGTH)
        yield from _check_text(f"{field}.issuer", certificate.issuer, MAX_TEXT_LENGTH)
        naive = [
            part
            for part in ("valid_from", "valid_until")
            if getattr(certificate, part).tzinfo is None
        ]
        yield from (FieldViolation(f"{field}.{part}", "must carry a time zone") for part in naive)
        if not naive and certificate.valid_until <= certificate.valid_from:
            yield FieldViolation(f"{field}.valid_until", "must be later than valid_from")
