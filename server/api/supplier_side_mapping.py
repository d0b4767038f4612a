"""The supplier side's requests to domain commands: acknowledgements and disputes.

Like :mod:`sqm.server.api.process_mapping`: what can be checked without the supplier is
named here, by API path, in one ``InvalidCommand``; the domain checks the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqm.domain.commands import (
    AcknowledgeNotice,
    DecidePenaltyDispute,
    DisputeOutcome,
    DisputePenalty,
)
from sqm.server.api.mapping import Violations, occur_time, supplier_id_from_name
from sqm.server.api.proto_values import enum_from_proto
from sqm.v1 import supplier_service_pb2 as api

Clock = Callable[[], datetime]


def acknowledge_notice(
    request: api.AcknowledgeNoticeRequest, clock: Clock, notice_type: str
) -> AcknowledgeNotice:
    """Map an AcknowledgeNotice request; ``notice_type`` is the type the record holds."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return AcknowledgeNotice(supplier_id, request.notice_sequence, notice_type, occurred_at)


def dispute_penalty(request: api.DisputePenaltyRequest, clock: Clock) -> DisputePenalty:
    """Map a DisputePenalty request."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return DisputePenalty(supplier_id, request.penalty_id, request.grounds, occurred_at)


def decide_penalty_dispute(
    request: api.DecidePenaltyDisputeRequest, clock: Clock
) -> DecidePenaltyDispute:
    """Map a DecidePenaltyDispute request; the outcome is required."""
    bad = Violations()
    supplier_id = supplier_id_from_name(request.name, "name", bad)
    outcome = enum_from_proto(DisputeOutcome, api.DisputeOutcome, request.outcome, "outcome", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    assert outcome is not None  # noqa: S101 - guaranteed by raise_if_any
    return DecidePenaltyDispute(supplier_id, request.penalty_id, outcome, occurred_at, request.note)
