"""Limits: message size, concurrent calls, deadlines and graceful shutdown, on real servers."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sqm.client import SqmClient, SqmError
from sqm.server.config import DEFAULT_MAX_CONCURRENT_RPCS, settings_from
from sqm.v1 import audit_service_pb2, audit_service_pb2_grpc
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess
from tests.reliability.ledger import chain_problem, recorded_request_ids, rows

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SUPPLIER = "limits-co"


@pytest.fixture
def start(database: Path) -> Iterator[type[ServerProcess]]:
    """Start servers on the test's database; every one is killed at the end."""
    started: list[ServerProcess] = []

    class Started(ServerProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(database, "--tick-seconds", "0", *args)
            started.append(self)
            self.start()

    yield Started
    for server in started:
        server.kill()


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    """The status ``call`` ends with, from the raw stubs or the client library."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    except SqmError as error:
        return error.code
    return grpc.StatusCode.OK


def _register(address: str, display_name: str) -> grpc.StatusCode:
    request = api.RegisterSupplierRequest(
        supplier_id="size-co",
        display_name=display_name,
        category="network_equipment",
        request_id="r-size",
    )
    with grpc.insecure_channel(address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        return _code(lambda: stub.RegisterSupplier(request, timeout=10))


def test_a_request_over_the_message_size_limit_is_resource_exhausted(
    start: type[ServerProcess],
) -> None:
    """--max-message-bytes: a larger request is refused before any handler runs."""
    server = start("--max-message-bytes", "65536")
    assert _register(server.address, "x" * 70_000) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _register(server.address, "Size Co") is grpc.StatusCode.OK
    assert server.health() == SERVING


def _health_watch(channel: grpc.Channel) -> Iterator[health_pb2.HealthCheckResponse]:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Watch(health_pb2.HealthCheckRequest(), timeout=60)  # type: ignore[no-any-return]


def test_streams_beyond_their_budget_are_resource_exhausted_and_health_still_answers(
    start: type[ServerProcess],
) -> None:
    """--max-concurrent-rpcs sets the budgets: with tokenless streams at theirs (3 // 16, at
    least 1), one more stream is refused at once, and a health check is still answered.
    """
    server = start("--max-concurrent-rpcs", "3")
    with grpc.insecure_channel(server.address) as channel:
        held = _health_watch(channel)
        # A first message proves the stream is a call in progress on the server.
        assert next(held).status == SERVING
        extra = _health_watch(channel)
        assert _code(lambda: next(extra)) is grpc.StatusCode.RESOURCE_EXHAUSTED
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert reply.status == SERVING
        held.cancel()  # type: ignore[attr-defined]
    # The server learns of the cancellation on its own time: nothing to await but itself.
    give_up = time.monotonic() + 10
    with grpc.insecure_channel(server.address) as channel:
        while _code(lambda: next(_health_watch(channel))) is not grpc.StatusCode.OK:
            assert time.monotonic() < give_up, "the budget was not released"
            time.sleep(0.05)


def test_a_deadline_ends_the_call_on_time_and_the_upload_is_whole_or_absent(
    start: type[ServerProcess],
) -> None:
    """DEADLINE_EXCEEDED on time; the server keeps serving and stores all the rows or none."""
    server = start()
    timeline = Timeline()
    upload = rows("deadline", [SUPPLIER], 1_500, _contracted(server.address, timeline))
    with SqmClient(server.address, attempts=1) as client:
        began = time.monotonic()
        error = _code(lambda: client.upload_measurements(upload, timeout=0.3))
        took = time.monotonic() - began
        # Reads run after the upload's job on the server's one worker: a settled answer.
        stored = recorded_request_ids(client, [SUPPLIER])
    assert error is grpc.StatusCode.DEADLINE_EXCEEDED
    assert took < 2.0
    assert sum(stored.values()) in (0, len(upload))
    assert chain_problem(server.address) == ""


def _contracted(address: str, timeline: Timeline) -> Timeline:
    with SqmClient(address, timeout=30) as client:
        contracted(client, SUPPLIER, timeline)
    timeline.step(days=2)
    return timeline


def test_a_watch_with_nothing_to_send_ends_at_its_deadline(start: type[ServerProcess]) -> None:
    """A stream waiting for events is ended by its deadline, not left hanging."""
    server = start()
    request = audit_service_pb2.WatchRequest(start_from_now=True)
    with grpc.insecure_channel(server.address) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        began = time.monotonic()
        code = _code(lambda: list(stub.Watch(request, timeout=0.5)))
    assert code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.4 < time.monotonic() - began < 3.0


class HeldUpload(threading.Thread):
    """An upload whose stream stays open after its rows until released (a slow client)."""

    def __init__(self, address: str, upload: list[api.RecordMeasurementRequest]) -> None:
        super().__init__(daemon=True)
        self.address, self.upload = address, upload
        self.sent, self.release = threading.Event(), threading.Event()
        self.response: api.UploadMeasurementsResponse | None = None
        self.error: grpc.StatusCode | None = None

    def _messages(self) -> Iterator[api.UploadMeasurementsRequest]:
        for row in self.upload:
            yield api.UploadMeasurementsRequest(measurement=row)
        self.sent.set()
        self.release.wait(60)

    def run(self) -> None:
        """Send the rows, wait to be released, then end the stream and read the answer."""
        with grpc.insecure_channel(self.address) as channel:
            stub = api_grpc.SupplierServiceStub(channel)
            try:
                self.response = stub.UploadMeasurements(self._messages(), timeout=60)
            except grpc.RpcError as error:
                self.error = error.code()


def test_sigterm_says_not_serving_first_and_lets_the_call_in_flight_finish(
    start: type[ServerProcess], database: Path
) -> None:
    """Health turns NOT_SERVING, the held upload completes and is stored, the exit is clean."""
    server = start("--shutdown-grace-seconds", "30")
    upload = rows("drain", [SUPPLIER], 50, _contracted(server.address, Timeline()))
    held = HeldUpload(server.address, upload)
    with grpc.insecure_channel(server.address) as channel:
        health = _health_watch(channel)
        assert next(health).status == SERVING
        held.start()
        assert held.sent.wait(30)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert next(health).status == NOT_SERVING  # announced before anything stops
        health.cancel()  # type: ignore[attr-defined]
    held.release.set()
    held.join(60)
    assert held.error is None
    assert held.response is not None
    assert held.response.accepted_count == len(upload)
    assert server.process.wait(30) == 0
    assert time.monotonic() - began < 30  # it did not wait out the grace period
    restarted = start()
    with SqmClient(restarted.address) as client:
        assert set(recorded_request_ids(client, [SUPPLIER])) == {r.request_id for r in upload}


def test_a_call_still_running_when_the_grace_ends_is_cancelled_and_stores_nothing(
    start: type[ServerProcess],
) -> None:
    """A stream that never ends cannot hold the server: cancelled after the grace, exit 0."""
    server = start("--shutdown-grace-seconds", "1")
    upload = rows("stuck", [SUPPLIER], 20, _contracted(server.address, Timeline()))
    held = HeldUpload(server.address, upload)
    held.start()
    assert held.sent.wait(30)
    assert server.process is not None
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    assert time.monotonic() - began < 10
    held.release.set()
    held.join(60)
    assert held.error in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    restarted = start()
    with SqmClient(restarted.address) as client:
        assert recorded_request_ids(client, [SUPPLIER]) == {}


def test_limits_come_from_flags_over_the_environment_and_nonsense_is_refused() -> None:
    """Flag over SQM_* variable over default; a limit no server could run with is an error."""
    environ = {
        "SQM_MAX_MESSAGE_BYTES": "2048",
        "SQM_MAX_CONCURRENT_RPCS": "7",
        "SQM_SHUTDOWN_GRACE_SECONDS": "2.5",
    }
    settings = settings_from({"max_concurrent_rpcs": "9"}, environ)
    assert (settings.max_message_bytes, settings.max_concurrent_rpcs) == (2048, 9)
    assert settings.shutdown_grace_seconds == 2.5
    assert settings_from({}, {}).max_concurrent_rpcs == DEFAULT_MAX_CONCURRENT_RPCS
    for field, value, problem in [
        ("max_concurrent_rpcs", "0", "at least 1"),
        ("max_message_bytes", "10", "at least 1024"),
        ("shutdown_grace_seconds", "nan", "at least 0"),
        ("shutdown_grace_seconds", "soon", "must be a number"),
    ]:
        with pytest.raises(ValueError, match=problem):
            settings_from({field: value}, {})
