"""End to end: two ``sqm serve`` processes on one PostgreSQL database, driven at once.

Both instances take writes for the same suppliers from several threads; afterwards every
acknowledged request's events are in the record exactly once, the hash chain verifies on
both, each deadline fired once although both instances advanced time together (and both
schedulers were ticking), and a Watch on one instance saw what was written through the other.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import attrs
import grpc
import pytest
from google.protobuf import timestamp_pb2

from sqm.client import SqmClient, measurement
from sqm.client.audit_client import AuditClient
from sqm.client.errors import SqmError
from sqm.v1 import admin_service_pb2, admin_service_pb2_grpc
from sqm.v1 import resources_pb2 as pb
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess
from tests.postgres import fresh_schema

pytestmark = pytest.mark.e2e

SUPPLIERS = ("acme-net", "globex-net", "initech-net")
WRITERS_PER_INSTANCE = 3
REQUESTS_PER_WRITER = 8
WATCH_TIMEOUT = 20.0
T = TypeVar("T")


@attrs.frozen
class Instances:
    """Two servers on one database, and where each listens."""

    a: ServerProcess
    b: ServerProcess

    @property
    def both(self) -> tuple[ServerProcess, ServerProcess]:
        """A, then B."""
        return self.a, self.b


@pytest.fixture
def instances() -> Iterator[Instances]:
    """Two ``sqm serve`` processes on a fresh schema, schedulers ticking every 0.2 s.

    The first migrates the schema at start-up; the second finds it current.
    """
    with fresh_schema() as url:
        a = ServerProcess(url, "--migrate", "--tick-seconds", "0.2", "--drill").start()
        try:
            b = ServerProcess(url, "--tick-seconds", "0.2", "--drill").start()
            try:
                yield Instances(a, b)
            finally:
                b.kill()
        finally:
            a.kill()


def acknowledged(call: Callable[[], T], attempts: int = 20) -> T:
    """The answer to ``call``, re-sent (same request id) while it loses races (ABORTED)."""
    for _ in range(attempts - 1):
        try:
            return call()
        except SqmError as error:
            if error.code != grpc.StatusCode.ABORTED:
                raise
    return call()


def advance_time(address: str, moment: datetime) -> admin_service_pb2.AdvanceTimeResponse:
    """AdminService.AdvanceTime on one instance."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    with grpc.insecure_channel(address) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        return stub.AdvanceTime(admin_service_pb2.AdvanceTimeRequest(time=stamp), timeout=30)


def test_two_instances_lose_and_duplicate_nothing_and_fire_each_deadline_once(
    instances: Instances,
) -> None:
    """Concurrent writes to the same suppliers through both instances: exactly-once record."""
    timeline = Timeline()
    with SqmClient(instances.a.address, timeout=20) as setup:
        for supplier in SUPPLIERS:
            contracted(setup, supplier, timeline)
    moment = timeline.step(2)  # into the contracts' term; one instant for every write

    sent = _write_concurrently(instances, moment)

    with SqmClient(instances.b.address, timeout=20) as reader:
        recorded = {s: list(reader.list_supplier_events(s)) for s in SUPPLIERS}
    _assert_each_request_recorded_once(sent, recorded)
    _assert_chain_intact_on_both(instances)

    review_at = timeline.step()
    with SqmClient(instances.b.address, timeout=20) as client:
        for supplier in SUPPLIERS:
            client.open_review(supplier, "repeated outages", occur_time=review_at)
            client.conclude_review(
                supplier, pb.REVIEW_OUTCOME_REMEDIATION_REQUIRED, occur_time=timeline.step(0.01)
            )
    _advance_on_both_at_once(instances, [timeline.now + timedelta(days=d) for d in (60, 61)])

    with SqmClient(instances.a.address, timeout=20) as reader:
        for supplier in SUPPLIERS:
            events = list(reader.list_supplier_events(supplier))
            missed = [e for e in events if e.type == "ImprovementDeadlineMissed"]
            assert len(missed) == 1, (supplier, [e.type for e in events])
            assert reader.get_supplier(supplier).state == pb.LIFECYCLE_STATE_TERMINATED
    _assert_chain_intact_on_both(instances)


def _write_concurrently(instances: Instances, moment: datetime) -> dict[str, list[int]]:
    """Measurements from every writer thread; the sequences each request was answered with."""
    sent: dict[str, list[int]] = {}
    lock = threading.Lock()
    start = threading.Barrier(2 * WRITERS_PER_INSTANCE)

    def writer(server: ServerProcess, name: str) -> None:
        with SqmClient(server.address, timeout=20) as client:
            start.wait()
            for n in range(REQUESTS_PER_WRITER):
                supplier = SUPPLIERS[n % len(SUPPLIERS)]
                row = measurement(
                    supplier, "availability", 99.97, "percent",
                    period_start=moment - timedelta(days=30), period_end=moment,
                    occur_time=moment, request_id=f"{name}-{n}",
                )  # fmt: skip
                result = acknowledged(lambda row=row: client.record_measurement(row))
                with lock:
                    sent[row.request_id] = [e.sequence for e in result.events]

    jobs = [
        (server, f"{label}{i}")
        for (label, server), i in itertools.product(
            (("a", instances.a), ("b", instances.b)), range(WRITERS_PER_INSTANCE)
        )
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(lambda job: writer(*job), jobs))
    assert len(sent) == 2 * WRITERS_PER_INSTANCE * REQUESTS_PER_WRITER
    return sent


def _assert_each_request_recorded_once(
    sent: dict[str, list[int]], recorded: dict[str, list[pb.SupplierEvent]]
) -> None:
    everything = [e for events in recorded.values() for e in events]
    by_request: dict[str, list[int]] = {}
    for event in everything:
        by_request.setdefault(event.request_id, []).append(event.sequence)
    for request_id, sequences in sent.items():
        assert sequences, f"{request_id} was acknowledged with no events"
        assert sorted(by_request.get(request_id, [])) == sorted(sequences), request_id
    measured = [e for e in everything if e.type == "MeasurementRecorded"]
    assert len(measured) == len(sent)
    assert len({e.sequence for e in everything}) == len(everything)
    for events in recorded.values():
        assert [e.version for e in events] == list(range(1, len(events) + 1))


def _assert_chain_intact_on_both(instances: Instances) -> None:
    verdicts = []
    for server in instances.both:
        with AuditClient(server.address) as audit:
            verdicts.append(audit.verify_chain())
    assert all(v.intact for v in verdicts), verdicts
    assert verdicts[0].events_checked == verdicts[1].events_checked > 0


def _advance_on_both_at_once(instances: Instances, moments: list[datetime]) -> None:
    runs = list(itertools.product(instances.both, moments))
    start = threading.Barrier(len(runs))

    def advance(server: ServerProcess, moment: datetime) -> None:
        start.wait()
        advance_time(server.address, moment)

    with ThreadPoolExecutor(len(runs)) as pool:
        list(pool.map(lambda run: advance(*run), runs))


def test_a_watch_on_one_instance_sees_events_written_through_the_other(
    instances: Instances,
) -> None:
    """LISTEN/NOTIFY carries B's append to A's watcher; A reads it from the sequence."""
    timeline = Timeline()
    with SqmClient(instances.a.address) as on_a, SqmClient(instances.b.address) as on_b:
        on_a.register_supplier("acme-net", "ACME", "network_equipment",
                               occur_time=timeline.now)  # fmt: skip
        with (
            AuditClient(instances.a.address) as audit,
            audit.watch(timeout=WATCH_TIMEOUT) as stream,
        ):
            items = iter(stream)
            caught_up = next(items)
            on_b.register_supplier("globex-net", "Globex", "network_equipment",
                                   occur_time=timeline.now)  # fmt: skip
            live = next(items)

    assert caught_up.event.supplier == "suppliers/acme-net"
    assert live.event.supplier == "suppliers/globex-net"
    assert live.event.sequence == caught_up.event.sequence + 1
