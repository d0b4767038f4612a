"""Hostile gRPC input: generated requests for every method never fail as server errors.

One real ``sqm serve`` takes the whole module: at least 10,000 well-formed but hostile
requests (see :mod:`tests.reliability.proto_fuzz`), spread over every method of every
service, then malformed bytes that are no protobuf message at all. No answer may be
INTERNAL, UNKNOWN or DATA_LOSS (the codes that mean the server failed, not the caller), the
process must stay up, and it must still report SERVING and stop cleanly at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs
import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqm.client import SqmClient
from sqm.v1 import admin_service_pb2, audit_service_pb2, policy_service_pb2, supplier_service_pb2
from tests.e2e.process_flow import Timeline, contracted
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget, proto_fuzz
from tests.reliability.calls import UNARY_DEADLINE, send

SERVICES = [
    module.DESCRIPTOR.services_by_name[name]
    for module, name in (
        (supplier_service_pb2, "SupplierService"),
        (policy_service_pb2, "PolicyService"),
        (admin_service_pb2, "AdminService"),
        (audit_service_pb2, "AuditService"),
        (health_pb2, "Health"),
    )
]
METHODS = [method for service in SERVICES for method in service.methods]
REQUESTS = budget.scaled(10_000)
# A tenth more: Hypothesis stops early for requests with few possible values (empty ones).
PER_METHOD = math.ceil(REQUESTS * 1.1 / len(METHODS))
MALFORMED_PER_METHOD = budget.scaled(15)
SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)
FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# Hand-made messages no client library would send (each is checked against every method).
MALFORMED = {
    "truncated varint": b"\x08\xff",
    "length past the end": b"\x0a\x10abc",
    "a 4 GiB length prefix": b"\x0a\xff\xff\xff\xff\x0f",
    "groups nested 5,000 deep": b"\x7b" * 5_000 + b"\x7c" * 5_000,
    "an unterminated group": b"\x7b",
    "wire type 7": b"\x0f",
}

# One server takes the whole module, and the last test checks what all the others sent it:
# under pytest-xdist the module runs on one worker (``--dist loadgroup``).
pytestmark = [pytest.mark.timeout(budget.timeout()), pytest.mark.xdist_group("hostile_grpc")]


@attrs.define
class Fuzzed:
    """The module's server, one channel to it, and how many generated requests it got."""

    server: ServerProcess
    channel: grpc.Channel
    requests: int = 0


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A server with one supplier under contract, so plausible requests go deep."""
    database = tmp_path_factory.mktemp("fuzz") / "sqm.sqlite3"
    server = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        with SqmClient(server.address, timeout=30) as client:
            contracted(client, proto_fuzz.KNOWN_SUPPLIER, Timeline())
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        with grpc.insecure_channel(server.address, options=options) as channel:
            yield Fuzzed(server, channel)
    finally:
        server.kill()


def _verdict(method: MethodDescriptor, error: grpc.RpcError | None) -> str:
    """Empty when the answer is acceptable, else what was wrong."""
    if error is None:
        return ""
    code = error.code()
    if code in SERVER_FAULTS:
        return f"{method.full_name} answered {code.name}: {error.details()}"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and not method.server_streaming:
        return f"{method.full_name} did not answer within {UNARY_DEADLINE} s"
    return ""


def _bad_utf8(method: MethodDescriptor) -> dict[str, bytes]:
    """A request whose first string field holds invalid UTF-8 (none if it has no string)."""
    strings = [f for f in method.input_type.fields if f.type == FieldDescriptor.TYPE_STRING]
    if not strings or strings[0].is_repeated or strings[0].number > 15:
        return {}
    tag = strings[0].number << 3 | 2  # one byte for field numbers up to 15
    return {f"invalid UTF-8 in {strings[0].name}": bytes([tag, 2, 0xC3, 0x28])}


def _logged_exceptions(output: list[str]) -> list[str]:
    """The last line of each traceback in the server's output: what was raised."""
    raised = []
    for start, line in enumerate(output):
        if line.startswith("Traceback"):
            rest = output[start + 1 :]
            raised.append(next((x for x in rest if x and not x[0].isspace()), "?"))
    return raised


def _alive(fuzzed: Fuzzed) -> None:
    assert fuzzed.server.process is not None
    assert fuzzed.server.process.poll() is None, "\n".join(fuzzed.server.output[-40:])


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_generated_hostile_requests_never_get_a_server_error(
    fuzzed: Fuzzed, method: MethodDescriptor
) -> None:
    """Every generated request gets a caller's-fault status or an answer, never a crash."""

    @settings(FUZZ, max_examples=PER_METHOD)
    @given(request=proto_fuzz.requests(method))
    def check(request: Any) -> None:
        error = send(fuzzed.channel, method, request)
        fuzzed.requests += 1
        budget.add("requests fuzzed")
        budget.add(f"requests fuzzed, answered {'OK' if error is None else error.code().name}")
        assert _verdict(method, error) == ""
        _alive(fuzzed)

    check()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_malformed_messages_are_refused_as_invalid(
    fuzzed: Fuzzed, method: MethodDescriptor
) -> None:
    """Bytes that do not parse as the method's request are INVALID_ARGUMENT, never a crash."""
    for what, payload in {**MALFORMED, **_bad_utf8(method)}.items():
        error = send(fuzzed.channel, method, payload)
        budget.add("malformed messages sent")
        assert error is not None, what
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (what, error.details())

    @settings(FUZZ, max_examples=MALFORMED_PER_METHOD)
    @given(payload=st.binary(min_size=1, max_size=512))
    def check(payload: bytes) -> None:
        # Random bytes are sometimes a valid message: any caller's-fault answer will do.
        error = send(fuzzed.channel, method, payload)
        budget.add("malformed messages sent")
        assert _verdict(method, error) == ""

    check()
    _alive(fuzzed)


def test_the_server_still_serves_and_stops_cleanly_after_the_fuzzing(
    fuzzed: Fuzzed, request: pytest.FixtureRequest
) -> None:
    """Health is SERVING, no call was logged as a server fault, and SIGTERM exits 0.

    The one traceback allowed is grpc's own: its health servicer's List is a stub that
    raises NotImplementedError (answered UNIMPLEMENTED).
    """
    fuzz_tests = test_generated_hostile_requests_never_get_a_server_error.__name__
    selected = [i for i in request.session.items if i.name.startswith(fuzz_tests + "[")]
    if len(selected) == len(METHODS):  # the whole module ran: it must have sent enough
        assert fuzzed.requests >= REQUESTS
    assert fuzzed.server.health() == health_pb2.HealthCheckResponse.SERVING
    faults = [f'"code": "{code.name}"' for code in SERVER_FAULTS]
    output = fuzzed.server.output
    assert [line for line in output if any(fault in line for fault in faults)] == []
    unexpected = [x for x in _logged_exceptions(output) if "NotImplementedError" not in x]
    assert unexpected == []
    assert fuzzed.server.stop() == 0
