"""What a client knows about its uploads, and what the server's record must then hold.

A client knows exactly which uploads were acknowledged (it got the answer) and which one
was in flight when the server died (no answer). After a restart, every acknowledged row
must be in the record exactly once, and an unanswered all-or-none upload must be there
whole or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta

import attrs
import grpc

from sqm.client import SqmClient, measurement
from sqm.v1 import audit_service_pb2, audit_service_pb2_grpc
from sqm.v1 import supplier_service_pb2 as api
from tests.e2e.process_flow import Timeline

MEASURED = "MeasurementRecorded"
ROW_STEP = timedelta(minutes=10)


@attrs.define
class Ledger:
    """Row request ids the server acknowledged, and the uploads it never answered."""

    acknowledged: set[str] = attrs.field(factory=set)
    unanswered: list[list[api.RecordMeasurementRequest]] = attrs.field(factory=list)

    def __repr__(self) -> str:  # the sets are long; a failing test's report stays readable
        return f"Ledger({len(self.acknowledged)} acknowledged, {len(self.unanswered)} unanswered)"

    def answered(self, rows: Sequence[api.RecordMeasurementRequest]) -> None:
        """The server acknowledged ``rows``."""
        self.acknowledged.update(row.request_id for row in rows)


def rows(
    prefix: str, suppliers: Sequence[str], count: int, timeline: Timeline
) -> list[api.RecordMeasurementRequest]:
    """``count`` availability rows over ``suppliers`` in turn, each with its own request id.

    Values meet the target, so no row changes a supplier's state: any upload may follow
    any other, and a resent upload is decided exactly as the first time.
    """
    made = []
    for index in range(count):
        end = timeline.now + ROW_STEP
        timeline.now = end
        row = measurement(
            suppliers[index % len(suppliers)], "availability", 99.97 + index % 3 / 100,
            "percent", period_start=end - timedelta(days=30), period_end=end,
            occur_time=end, request_id=f"{prefix}-{index}",
        )  # fmt: skip
        made.append(row)
    return made


def recorded_request_ids(client: SqmClient, suppliers: Iterable[str]) -> Counter[str]:
    """How many times each row's request id is in the record (measurement events only)."""
    found: Counter[str] = Counter()
    for supplier in suppliers:
        for event in client.list_supplier_events(supplier, page_size=1000):
            if event.type == MEASURED:
                found[event.request_id] += 1
    return found


def chain_problem(address: str) -> str:
    """Empty when VerifyAuditChain finds the hash chain intact, else what it found."""
    with grpc.insecure_channel(address) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        verdict = stub.VerifyAuditChain(audit_service_pb2.VerifyAuditChainRequest(), timeout=30)
    if verdict.intact:
        return ""
    return f"broken at {verdict.first_broken_sequence}: {verdict.problem}"


def violations(ledger: Ledger, found: Counter[str]) -> list[str]:
    """Every way ``found`` breaks the ledger's promises, in words (empty: none)."""
    problems = [f"{rid} recorded {n} times" for rid, n in found.items() if n > 1]
    problems += [f"acknowledged {rid} missing" for rid in ledger.acknowledged if not found[rid]]
    for upload in ledger.unanswered:
        present = sum(1 for row in upload if found[row.request_id])
        if present not in (0, len(upload)):
            problems.append(f"unanswered upload half applied: {present} of {len(upload)} rows")
    return problems
