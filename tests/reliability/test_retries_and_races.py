"""Retries and races: the same request id never counts twice; racing writers lose nothing.

Breaches and penalties are what suppliers are charged on, so each retry scenario checks
the ledger itself: one breach and one penalty per measurement, however often and however
concurrently it was sent, and when the first answer was lost on its way back. Racing
writers (two clients on one server, two servers on one database) must leave every
acknowledged update in the record exactly once and the supplier's state consistent with
its events.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, SqmError, measurement
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.process_flow import Timeline, availability_row, contracted
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget
from tests.reliability.ledger import chain_problem, recorded_request_ids
from tests.reliability.lossy_proxy import LossyProxy

SUPPLIER = "race-co"
BREACH = 99.5  # availability target 99.9, no grace: a breach and a service credit at once
CONCURRENT_SENDERS = 8
RACING_UPDATES = budget.scaled(40)


@pytest.fixture
def server(database: Path) -> Iterator[ServerProcess]:
    """A running server on the test's database."""
    started = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        yield started
    finally:
        started.kill()


def _types(client: SqmClient, supplier: str) -> Counter[str]:
    return Counter(event.type for event in client.list_supplier_events(supplier))


def _assert_charged_once_each(client: SqmClient, before: Counter[str], measurements: int) -> None:
    """Since ``before``: that many measurements, each one breach and one penalty, no more."""
    added = _types(client, SUPPLIER) - before
    assert added["MeasurementRecorded"] == measurements
    assert added["BreachDetected"] == measurements
    assert added["PenaltyAssessed"] == measurements
    assert len(client.list_penalties(SUPPLIER).penalties) == measurements


def _send_together(count: int, send: Callable[[int], object]) -> list[object]:
    """Run ``send(i)`` for ``i < count`` on as many threads, released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = send(index)
        except (grpc.RpcError, SqmError) as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_one_measurement_sent_many_times_at_once_is_one_breach_and_one_penalty(
    server: ServerProcess,
) -> None:
    """The same request id from 8 threads at once, then again: one breach, one penalty."""
    timeline = Timeline()
    with SqmClient(server.address, timeout=30) as client:
        contracted(client, SUPPLIER, timeline)
        before = _types(client, SUPPLIER)
        row = availability_row(SUPPLIER, BREACH, timeline, "breach-once")
        with grpc.insecure_channel(server.address) as channel:
            stub = api_grpc.SupplierServiceStub(channel)
            first = _send_together(
                CONCURRENT_SENDERS, lambda _: stub.RecordMeasurement(row, timeout=30)
            )
            again = _send_together(
                CONCURRENT_SENDERS, lambda _: stub.RecordMeasurement(row, timeout=30)
            )
        budget.add("duplicate sends of one request", 2 * CONCURRENT_SENDERS)
        answers = [a for a in first + again if isinstance(a, api.RecordMeasurementResponse)]
        assert len(answers) == 2 * CONCURRENT_SENDERS, first + again
        assert all(a.result.decisions == answers[0].result.decisions for a in answers)
        _assert_charged_once_each(client, before, measurements=1)
        assert chain_problem(server.address) == ""


def test_answers_lost_on_the_way_back_are_retried_and_counted_once(
    server: ServerProcess,
) -> None:
    """The server commits, the answer is lost, the client retries: the ledger counts once."""
    timeline = Timeline()
    with SqmClient(server.address, timeout=30) as direct:
        contracted(direct, SUPPLIER, timeline)
        before = _types(direct, SUPPLIER)
    rows = [availability_row(SUPPLIER, BREACH, timeline, f"lost-{n}") for n in range(3)]
    with LossyProxy(server.address, drop=2) as proxy:
        with SqmClient(proxy.address, timeout=30, attempts=4, backoff=0.01) as client:
            client.record_measurement(rows[0])
            response = client.upload_measurements(rows[1:])
        assert response.accepted_count == 2
        assert sum(proxy.dropped.values()) == 4  # two lost answers for each method
        budget.add("answers lost, then retried", sum(proxy.dropped.values()))
    with SqmClient(server.address, timeout=30) as direct:
        _assert_charged_once_each(direct, before, measurements=3)


def _in_term_supplier(address: str) -> None:
    """A supplier whose contract runs now, so measurements stamped by the server count."""
    with SqmClient(address, timeout=30) as client:
        contracted(client, SUPPLIER, Timeline(_now() - timedelta(days=60)))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _update(target: str, prefix: str, at: datetime) -> Callable[[int], object]:
    """A function sending measurement ``i`` of ``prefix`` through its own client.

    Every measurement happens at the same moment ``at``: a writer that lost a race and
    decides again is then never refused as backdated, so the race itself is what is tested.
    """

    def send(index: int) -> object:
        row = measurement(
            SUPPLIER, "availability", 99.97, "percent", period_start=at - timedelta(days=30),
            period_end=at, occur_time=at, request_id=f"{prefix}-{index}",
        )  # fmt: skip
        with SqmClient(target, timeout=30, attempts=1) as client:
            return client.record_measurement(row)

    return send


def _settled(results: list[object], prefix: str) -> tuple[set[str], Counter[str]]:
    """The acknowledged request ids, and how the others were refused (by status)."""
    acknowledged = {
        f"{prefix}-{n}" for n, r in enumerate(results) if isinstance(r, api.ProcessResult)
    }
    refused: Counter[str] = Counter(r.code.name for r in results if isinstance(r, SqmError))
    return acknowledged, refused


def _consistent(address: str, acknowledged: set[str]) -> None:
    """Every acknowledged update once, nothing else, and a state that agrees with its events."""
    with SqmClient(address, timeout=30) as client:
        found = recorded_request_ids(client, [SUPPLIER])
        events = list(client.list_supplier_events(SUPPLIER))
        supplier = client.get_supplier(SUPPLIER)
    assert set(found) == acknowledged
    assert set(found.values()) == {1}
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert supplier.etag == f"v{len(events)}"
    assert chain_problem(address) == ""


def test_two_clients_racing_on_one_supplier_lose_no_update(server: ServerProcess) -> None:
    """Two clients, many threads, one supplier: every update is in the record, once."""
    _in_term_supplier(server.address)
    results = _send_together(RACING_UPDATES, _update(server.address, "race", _now()))
    acknowledged, refused = _settled(results, "race")
    budget.add("racing updates on one server", len(results))
    assert refused == Counter()  # one process: its single worker serialises them
    _consistent(server.address, acknowledged)


def test_two_servers_on_one_database_racing_on_one_supplier_lose_no_update(
    server: ServerProcess, database: Path
) -> None:
    """Two processes write one supplier at once: optimistic concurrency keeps every update.

    A writer that loses the race decides again on fresh state; one that loses it too often
    is told ABORTED and is absent, never half there. Nothing acknowledged is lost.
    """
    _in_term_supplier(server.address)
    other = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        targets = (server.address, other.address)
        updates = [_update(target, f"x{n}", _now()) for n, target in enumerate(targets)]
        results = _send_together(2 * RACING_UPDATES, lambda i: updates[i % 2](i // 2))
    finally:
        other.kill()
    acknowledged: set[str] = set()
    refused: Counter[str] = Counter()
    for side in (0, 1):
        got, lost = _settled(results[side::2], f"x{side}")
        acknowledged |= got
        refused += lost
    budget.add("racing updates across two servers", len(results))
    for code, count in refused.items():
        budget.add(f"racing updates across two servers, refused {code}", count)
    assert set(refused) <= {"ABORTED"}, refused
    # Most get through (a refusal takes losing four races in a row); the bound is loose
    # so that a slow machine does not fail it, the consistency below is the point.
    assert len(acknowledged) >= len(results) // 4
    _consistent(server.address, acknowledged)


def test_two_clients_changing_one_supplier_from_the_same_etag_one_wins_one_is_aborted(
    server: ServerProcess,
) -> None:
    """Both read version v and open a review pinned to it: one succeeds, one is ABORTED."""
    timeline = Timeline()
    with SqmClient(server.address, timeout=30) as client:
        contracted(client, SUPPLIER, timeline)
        etag = client.get_supplier(SUPPLIER).etag
        at = timeline.step()

    def open_review(index: int) -> object:
        with SqmClient(server.address, timeout=30, attempts=1) as racer:
            return racer.open_review(
                SUPPLIER, f"racer {index}", occur_time=at, etag=etag, request_id=f"review-{index}"
            )

    results = _send_together(2, open_review)
    won = [r for r in results if isinstance(r, api.ProcessResult)]
    lost = [r for r in results if isinstance(r, SqmError)]
    assert len(won) == 1
    assert [(e.code, e.reason) for e in lost] == [(grpc.StatusCode.ABORTED, "STALE_VERSION")]
    with SqmClient(server.address, timeout=30) as client:
        assert _types(client, SUPPLIER)["ReviewOpened"] == 1
