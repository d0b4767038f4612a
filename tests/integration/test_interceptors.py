"""Auth, access log, metrics and TLS on a real grpc.aio server, called by real gRPC clients.

The server runs on an event loop of its own thread; the tests call it with ordinary
(synchronous) channels, as other systems would.
"""

# The "hardcoded passwords" below are made-up test tokens.

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from sqm.domain.ports import RecordedEvent
from sqm.server.observability.calls import (
    ACCESS_LOGGER,
    JsonFormatter,
    Metrics,
    ObservabilityInterceptor,
    default_metrics,
    observe_events,
    record_decision,
    start_metrics_server,
    watching,
)
from sqm.server.security.auth import (
    Actor,
    AuthInterceptor,
    Role,
    TokenTable,
    current_actor,
    tokens_from_string,
)
from sqm.server.security.supplier_access import SUPPLIER_ACCESS, SupplierAccess
from sqm.server.security.supplier_scope import SupplierScopeInterceptor
from sqm.server.security.tls import TlsConfigError, channel_credentials, optional_server_credentials
from sqm.v1 import needs_pb2, resources_pb2, supplier_service_pb2, supplier_service_pb2_grpc
from tests.certificates import Pki, make_pki

pytestmark = pytest.mark.integration

T = TypeVar("T")
TOKENS = {
    Role.INTEGRATION: "integration-token-0001",
    Role.POLICY_ADMIN: "policy-admin-token-0002",
    Role.AUDITOR: "auditor-token-000000003",
    Role.READ_ONLY: "read-only-token-0000004",
}
NAMES = {
    Role.INTEGRATION: "procurement",
    Role.POLICY_ADMIN: "policy-team",
    Role.AUDITOR: "compliance",
    Role.READ_ONLY: "dashboard",
}
GET_SUPPLIER = "/sqm.v1.SupplierService/GetSupplier"
REGISTER_SUPPLIER = "/sqm.v1.SupplierService/RegisterSupplier"
TIMEOUT = 10.0


def token_table() -> TokenTable:
    """One token per role, configured as SQM_TOKENS would be."""
    return tokens_from_string(",".join(f"{NAMES[r]}:{r}:{t}" for r, t in TOKENS.items()))


def bearer(role: Role) -> tuple[tuple[str, str]]:
    """Call metadata carrying ``role``'s token."""
    return (("authorization", f"Bearer {TOKENS[role]}"),)


# --- the services the test server offers ------------------------------------------------


class StubSuppliers(supplier_service_pb2_grpc.SupplierServiceServicer):
    """Fixed answers; remembers who called. Methods not written here are the generated stubs."""

    def __init__(self) -> None:
        self.callers: list[Actor] = []

    async def GetSupplier(  # noqa: N802 - gRPC method names are PascalCase
        self, request: supplier_service_pb2.GetSupplierRequest, context: Any
    ) -> supplier_service_pb2.GetSupplierResponse:
        """Answer with a supplier of the requested name."""
        self.callers.append(current_actor())
        return supplier_service_pb2.GetSupplierResponse(
            supplier=resources_pb2.Supplier(name=request.name, display_name="ACME")
        )

    async def RegisterSupplier(  # noqa: N802
        self, request: supplier_service_pb2.RegisterSupplierRequest, context: Any
    ) -> supplier_service_pb2.RegisterSupplierResponse:
        """Answer as if the supplier had been registered."""
        self.callers.append(current_actor())
        supplier_id = request.supplier_id
        return supplier_service_pb2.RegisterSupplierResponse(
            supplier=resources_pb2.Supplier(
                name=f"suppliers/{supplier_id}", supplier_id=supplier_id
            )
        )

    async def GetNeed(  # noqa: N802
        self, request: needs_pb2.GetNeedRequest, context: Any
    ) -> needs_pb2.GetNeedResponse:
        """Answer with a need of the requested name."""
        self.callers.append(current_actor())
        return needs_pb2.GetNeedResponse(need=needs_pb2.Need(name=request.name))

    async def AwardNeed(  # noqa: N802
        self, request: needs_pb2.AwardNeedRequest, context: Any
    ) -> needs_pb2.AwardNeedResponse:
        """Answer as if the need had been awarded."""
        self.callers.append(current_actor())
        awarded = needs_pb2.Need(name=request.name, awarded_supplier=request.supplier)
        return needs_pb2.AwardNeedResponse(need=awarded)


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def _export(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for part in (b"one", b"two"):
        yield part


async def _export_then_fail(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield b"one"
    await context.abort(grpc.StatusCode.DATA_LOSS, "archive damaged")


async def _count(requests: AsyncIterator[bytes], context: Any) -> bytes:
    return str(len([r async for r in requests])).encode()


async def _replay(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request


def future_services() -> list[grpc.GenericRpcHandler]:
    """Raw-bytes stand-ins for services that are coming, in every call shape."""
    handlers = {
        "sqm.v1.PolicyService": {
            name: grpc.unary_unary_rpc_method_handler(_echo)
            for name in ("ListPolicyVersions", "ValidatePolicyPack", "ActivatePolicyPack")
        },
        "sqm.v1.AuditService": {
            "VerifyChain": grpc.unary_unary_rpc_method_handler(_echo),
            "ExportEvents": grpc.unary_stream_rpc_method_handler(_export),
            "ExportDamaged": grpc.unary_stream_rpc_method_handler(_export_then_fail),
            "ImportArchive": grpc.stream_unary_rpc_method_handler(_count),
            "ReplayEvents": grpc.stream_stream_rpc_method_handler(_replay),
        },
        "sqm.v1.AdminService": {
            name: grpc.unary_unary_rpc_method_handler(_echo)
            for name in ("AdvanceTime", "DropEverything")
        },
    }
    return [grpc.method_handlers_generic_handler(s, m) for s, m in handlers.items()]


# --- the server on its own event loop ---------------------------------------------------


class Running:
    """A started server and where it listens."""

    def __init__(self, server: grpc.aio.Server, port: int) -> None:
        self.server = server
        self.port = port
        self.target = f"127.0.0.1:{port}"

    def channel(self, credentials: grpc.ChannelCredentials | None = None) -> grpc.Channel:
        """A new client channel (close it: use it in ``with``)."""
        if credentials is None:
            return grpc.insecure_channel(self.target)
        return grpc.secure_channel(self.target, credentials)


class EventLoopThread:
    """An asyncio loop running in a thread; coroutines are submitted and waited for."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-grpc-aio")
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture
def stub() -> StubSuppliers:
    """The SupplierService stand-in."""
    return StubSuppliers()


@pytest.fixture
def metrics() -> Metrics:
    """Metrics in a registry of this test's own."""
    return Metrics()


@pytest.fixture
def serve(stub: StubSuppliers, metrics: Metrics) -> Iterator[Callable[..., Running]]:
    """Start servers with the interceptors under test; every one is stopped afterwards."""
    loop = EventLoopThread()
    started: list[grpc.aio.Server] = []

    def start(
        tokens: TokenTable | None = None,
        credentials: grpc.ServerCredentials | None = None,
        *,
        public_reflection: bool = False,
        supplier_access: SupplierAccess | None = None,
    ) -> Running:
        async def build() -> tuple[grpc.aio.Server, int]:
            scope = [] if supplier_access is None else [SupplierScopeInterceptor(supplier_access)]
            server = grpc.aio.server(
                interceptors=[
                    ObservabilityInterceptor(metrics),
                    AuthInterceptor(tokens, public_reflection=public_reflection),
                    *scope,
                ]
            )
            supplier_service_pb2_grpc.add_SupplierServiceServicer_to_server(stub, server)
            server.add_generic_rpc_handlers(future_services())
            health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
            reflection.enable_server_reflection(
                ("sqm.v1.SupplierService", "grpc.health.v1.Health", reflection.SERVICE_NAME),
                server,
            )
            if credentials is None:
                port = server.add_insecure_port("127.0.0.1:0")
            else:
                port = server.add_secure_port("127.0.0.1:0", credentials)
            await server.start()
            return server, port

        server, port = loop.run(build())
        started.append(server)
        return Running(server, port)

    yield start
    for server in started:
        loop.run(server.stop(None))
    loop.close()


def call(channel: grpc.Channel, method: str, request: bytes = b"", metadata: Any = ()) -> bytes:
    """A unary call with raw bytes (an empty message is any request's default)."""
    result: bytes = channel.unary_unary(method)(request, metadata=metadata, timeout=TIMEOUT)
    return result


def failure(function: Callable[[], object]) -> grpc.RpcError:
    """The RpcError ``function`` raises."""
    with pytest.raises(grpc.RpcError) as raised:
        function()
    return raised.value


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo in the rich status the server sent along."""
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no grpc-status-details-bin trailer"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info


def eventually(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``: an aborted call's status reaches the client before its log line."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[dict[str, Any]]:
    """The access log lines, parsed, once ``count`` have been written."""

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == ACCESS_LOGGER]

    eventually(lambda: len(records()) >= count)
    return [dict(r.sqm_call) for r in records()]  # type: ignore[attr-defined]


# --- authentication and authorisation ---------------------------------------------------


def test_a_call_without_a_token_is_unauthenticated_with_error_info(
    serve: Callable[..., Running], stub: StubSuppliers
) -> None:
    """No authorization metadata: UNAUTHENTICATED, ErrorInfo naming the method; no handler ran."""
    running = serve(token_table())
    with running.channel() as channel:
        error = failure(lambda: call(channel, GET_SUPPLIER))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(error)
    assert (info.reason, info.domain) == ("UNAUTHENTICATED", "sqm.v1")
    assert info.metadata["method"] == GET_SUPPLIER
    assert stub.callers == []


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "Bearer not-a-known-token-at-all"),),
        (("authorization", f"Basic {TOKENS[Role.INTEGRATION]}"),),
        (("authorization", "Bearer "),),
        (("x-sqm-actor", "procurement"),),
    ],
    ids=["unknown-token", "wrong-scheme", "empty-token", "self-declared-actor"],
)
def test_a_call_with_a_bad_or_no_bearer_token_is_unauthenticated(
    serve: Callable[..., Running], metadata: Any
) -> None:
    """Unknown tokens, other schemes and a self-declared actor header all count for nothing."""
    running = serve(token_table())
    with running.channel() as channel:
        error = failure(lambda: call(channel, GET_SUPPLIER, metadata=metadata))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "UNAUTHENTICATED"


def test_a_token_without_the_right_role_is_permission_denied_naming_the_roles(
    serve: Callable[..., Running], stub: StubSuppliers
) -> None:
    """A read-only token cannot register: PERMISSION_DENIED with method and required roles."""
    running = serve(token_table())
    with running.channel() as channel:
        error = failure(lambda: call(channel, REGISTER_SUPPLIER, metadata=bearer(Role.READ_ONLY)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(error)
    assert (info.reason, info.domain) == ("PERMISSION_DENIED", "sqm.v1")
    assert dict(info.metadata) == {
        "method": REGISTER_SUPPLIER,
        "required_roles": "integration",
        "role": "read_only",
    }
    assert stub.callers == []


# The supplier role, bound to one supplier, is checked method by method in tests/e2e/test_auth.py.
OPERATOR_ROLES = sorted(set(Role) - {Role.SUPPLIER})
INTEGRATION, POLICY_ADMIN, AUDITOR, READ_ONLY = list(TOKENS)
METHOD_GROUPS = {
    "supplier reads": (GET_SUPPLIER, set(OPERATOR_ROLES)),
    "supplier changes": (REGISTER_SUPPLIER, {INTEGRATION}),
    "need reads": ("/sqm.v1.SupplierService/GetNeed", set(OPERATOR_ROLES)),
    "need changes": ("/sqm.v1.SupplierService/AwardNeed", {INTEGRATION}),
    "policy reads": ("/sqm.v1.PolicyService/ListPolicyVersions", set(OPERATOR_ROLES)),
    "policy validation": ("/sqm.v1.PolicyService/ValidatePolicyPack", {POLICY_ADMIN, AUDITOR}),
    "policy activation": ("/sqm.v1.PolicyService/ActivatePolicyPack", {POLICY_ADMIN}),
    "audit": ("/sqm.v1.AuditService/VerifyChain", {AUDITOR}),
    "time control": ("/sqm.v1.AdminService/AdvanceTime", {POLICY_ADMIN}),
    "unlisted method": ("/sqm.v1.AdminService/DropEverything", set()),
}


@pytest.mark.parametrize("role", OPERATOR_ROLES, ids=str)
@pytest.mark.parametrize("group", list(METHOD_GROUPS))
def test_every_role_reaches_exactly_the_method_groups_the_table_grants(
    serve: Callable[..., Running], role: Role, group: str
) -> None:
    """Allowed roles get the handler's answer; every other role gets PERMISSION_DENIED."""
    method, allowed = METHOD_GROUPS[group]
    running = serve(token_table())
    with running.channel() as channel:
        if role in allowed:
            call(channel, method, metadata=bearer(role))
        else:
            error = failure(lambda: call(channel, method, metadata=bearer(role)))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_info(error).metadata["required_roles"] == "|".join(sorted(allowed))


def test_health_checking_needs_no_token(serve: Callable[..., Running]) -> None:
    """Load balancers and orchestrators check health without credentials."""
    running = serve(token_table())
    with running.channel() as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=TIMEOUT
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(running: Running, metadata: tuple[tuple[str, str], ...] = ()) -> set[str]:
    with running.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = list(
            stub.ServerReflectionInfo(iter([request]), timeout=TIMEOUT, metadata=metadata)
        )
    return {s.name for s in replies[0].list_services_response.service}


def test_reflection_needs_a_token_when_authentication_is_on(serve: Callable[..., Running]) -> None:
    """Reflection lists every service, so it follows the rule of other methods: a token."""
    running = serve(token_table())
    with pytest.raises(grpc.RpcError) as refused:
        _list_services(running)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "sqm.v1.SupplierService" in _list_services(running, bearer(Role.READ_ONLY))


def test_reflection_may_be_configured_public(serve: Callable[..., Running]) -> None:
    """With ``public_reflection`` tools like grpcurl list the services without credentials."""
    running = serve(token_table(), public_reflection=True)
    assert "sqm.v1.SupplierService" in _list_services(running)


def test_two_authorization_headers_are_refused_even_if_one_is_valid(
    serve: Callable[..., Running],
) -> None:
    """A wrong token then a valid one is UNAUTHENTICATED: exactly one header is accepted."""
    running = serve(token_table())
    metadata = (("authorization", "Bearer wrong-token-wrong-token"), *bearer(Role.INTEGRATION))
    with running.channel() as channel:
        client = supplier_service_pb2_grpc.SupplierServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            client.RegisterSupplier(
                supplier_service_pb2.RegisterSupplierRequest(supplier_id="acme"),
                metadata=metadata,
                timeout=TIMEOUT,
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "more than one authorization header" in (refused.value.details() or "")


def test_the_authenticated_actor_reaches_the_handler(
    serve: Callable[..., Running], stub: StubSuppliers
) -> None:
    """The handler reads the token's actor from current_actor(), not from any header."""
    running = serve(token_table())
    metadata = (*bearer(Role.INTEGRATION), ("x-sqm-actor", "mallory"))
    with running.channel() as channel:
        client = supplier_service_pb2_grpc.SupplierServiceStub(channel)
        reply = client.RegisterSupplier(
            supplier_service_pb2.RegisterSupplierRequest(supplier_id="acme"),
            metadata=metadata,
            timeout=TIMEOUT,
        )
        client.GetSupplier(
            supplier_service_pb2.GetSupplierRequest(name="suppliers/acme"),
            metadata=bearer(Role.AUDITOR),
            timeout=TIMEOUT,
        )
    assert reply.supplier.name == "suppliers/acme"
    assert stub.callers == [
        Actor("procurement", Role.INTEGRATION),
        Actor("compliance", Role.AUDITOR),
    ]


def test_with_authentication_off_every_call_goes_through(
    serve: Callable[..., Running], stub: StubSuppliers, caplog: pytest.LogCaptureFixture
) -> None:
    """No tokens configured: a warning, then any call, named by x-sqm-actor or anonymous."""
    running = serve(None)
    assert "authentication is OFF" in caplog.text
    with running.channel() as channel:
        call(channel, REGISTER_SUPPLIER, metadata=(("x-sqm-actor", "alice"),))
        call(channel, GET_SUPPLIER)
        call(channel, "/sqm.v1.AdminService/DropEverything")
    assert stub.callers == [Actor("alice"), Actor("anonymous")]


@pytest.mark.parametrize(
    ("method", "send"),
    [
        ("/sqm.v1.AuditService/VerifyChain", lambda c, m, md: c.unary_unary(m)(b"x", **md)),
        ("/sqm.v1.AuditService/ExportEvents", lambda c, m, md: list(c.unary_stream(m)(b"x", **md))),
        (
            "/sqm.v1.AuditService/ImportArchive",
            lambda c, m, md: c.stream_unary(m)(iter([b"a", b"b"]), **md),
        ),
        (
            "/sqm.v1.AuditService/ReplayEvents",
            lambda c, m, md: list(c.stream_stream(m)(iter([b"a", b"b"]), **md)),
        ),
    ],
    ids=["unary-unary", "unary-stream", "stream-unary", "stream-stream"],
)
def test_every_call_shape_is_authorised_and_logged_with_its_final_status(
    serve: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
    method: str,
    send: Callable[[grpc.Channel, str, dict[str, Any]], object],
) -> None:
    """Without a token each shape is UNAUTHENTICATED; with one it is served; both are logged."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    running = serve(token_table())
    with running.channel() as channel:
        error = failure(lambda: send(channel, method, {"timeout": TIMEOUT}))
        served = send(channel, method, {"timeout": TIMEOUT, "metadata": bearer(Role.AUDITOR)})
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert served in (b"x", [b"one", b"two"], b"2", [b"a", b"b"])
    assert [(line["method"], line["code"]) for line in access_lines(caplog, 2)] == [
        (method, "UNAUTHENTICATED"),
        (method, "OK"),
    ]


# --- the access log ---------------------------------------------------------------------


def test_each_call_logs_one_json_line_with_its_fields_and_never_the_token(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """method, code, latency, request id, peer and actor are logged; tokens never are."""
    caplog.set_level(logging.DEBUG)
    running = serve(token_table())
    wrong_token = "Bearer wrong-token-but-still-a-secret"
    with running.channel() as channel:
        client = supplier_service_pb2_grpc.SupplierServiceStub(channel)
        client.RegisterSupplier(
            supplier_service_pb2.RegisterSupplierRequest(supplier_id="acme", request_id="req-42"),
            metadata=bearer(Role.INTEGRATION),
            timeout=TIMEOUT,
        )
        failure(lambda: call(channel, GET_SUPPLIER, metadata=(("authorization", wrong_token),)))
    first, second = access_lines(caplog, 2)
    assert first == {
        "event": "rpc",
        "method": REGISTER_SUPPLIER,
        "code": "OK",
        "latency_ms": first["latency_ms"],
        "request_id": "req-42",
        "peer": first["peer"],
        "actor": "procurement",
        "role": "integration",
    }
    assert first["latency_ms"] >= 0
    assert first["peer"].startswith("ipv4:127.0.0.1:")
    assert (second["code"], second["actor"], second["request_id"]) == (
        "UNAUTHENTICATED",
        "anonymous",
        "",
    )
    everything = caplog.text + "".join(repr(vars(r)) for r in caplog.records)
    for secret in [*TOKENS.values(), wrong_token.split()[1]]:
        assert secret not in everything
    assert "authorization" not in everything.lower().replace("authentication", "")


def test_a_stream_that_aborts_midway_is_logged_with_the_abort_status(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """The status the client sees, DATA_LOSS here, is the one logged (at ERROR)."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    running = serve(token_table())
    with running.channel() as channel:
        stream = channel.unary_stream("/sqm.v1.AuditService/ExportDamaged")(
            b"", metadata=bearer(Role.AUDITOR), timeout=TIMEOUT
        )
        error = failure(lambda: list(stream))
    assert error.code() == grpc.StatusCode.DATA_LOSS
    assert [line["code"] for line in access_lines(caplog, 1)] == ["DATA_LOSS"]
    assert caplog.records[-1].levelno == logging.ERROR


def test_a_generated_unimplemented_stub_is_logged_as_unimplemented(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """Sync handlers (the generated base class's) are wrapped too and keep their status."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    running = serve(token_table())
    with running.channel() as channel:
        error = failure(
            lambda: call(
                channel, "/sqm.v1.SupplierService/ListSuppliers", metadata=bearer(Role.READ_ONLY)
            )
        )
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert [line["code"] for line in access_lines(caplog, 1)] == ["UNIMPLEMENTED"]


def test_the_json_formatter_renders_access_lines_as_one_object() -> None:
    """With JsonFormatter, an access line is a JSON object with its fields at the top level."""
    fields = {"event": "rpc", "method": GET_SUPPLIER, "code": "OK"}
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "%s", ("x",), None)
    record.sqm_call = fields
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == ACCESS_LOGGER
    assert line["level"] == "INFO"
    assert line["pid"] == record.process  # tells the workers of --workers N apart
    assert {k: line[k] for k in fields} == fields


# --- metrics ----------------------------------------------------------------------------


def test_calls_are_counted_by_method_and_status_and_timed(
    serve: Callable[..., Running], metrics: Metrics
) -> None:
    """Served, rejected and unknown calls each land in the counter; latency is observed."""
    running = serve(token_table())
    with running.channel() as channel:
        call(channel, GET_SUPPLIER, metadata=bearer(Role.READ_ONLY))
        call(channel, GET_SUPPLIER, metadata=bearer(Role.AUDITOR))
        failure(lambda: call(channel, GET_SUPPLIER))
        failure(lambda: call(channel, "/sqm.v1.SupplierService/NoSuchMethod"))
    sample = metrics.registry.get_sample_value
    method = GET_SUPPLIER.lstrip("/")
    rejected = {"method": method, "code": "UNAUTHENTICATED"}
    eventually(lambda: sample("sqm_grpc_calls_total", rejected) == 1)
    assert sample("sqm_grpc_calls_total", {"method": method, "code": "OK"}) == 2
    assert sample("sqm_grpc_calls_total", {"method": "unknown", "code": "UNIMPLEMENTED"}) == 1
    assert sample("sqm_grpc_call_duration_seconds_count", {"method": method}) == 3


def test_decisions_events_and_watchers_are_recorded_by_the_application(metrics: Metrics) -> None:
    """The counters and the gauge the application drives move as it reports."""
    metrics.record_decision("qualification.iso9001", "qualify")
    metrics.record_decision("qualification.iso9001", "qualify")
    metrics.record_events(3)
    sample = metrics.registry.get_sample_value
    with metrics.watching():
        assert sample("sqm_active_watchers") == 1
    assert sample("sqm_active_watchers") == 0
    labels = {"rule_id": "qualification.iso9001", "action": "qualify"}
    assert sample("sqm_decisions_total", labels) == 2
    assert sample("sqm_events_appended_total") == 3


def _recorded(event_type: str, version: int) -> RecordedEvent:
    now = datetime.now(UTC)
    return RecordedEvent(
        global_seq=version, stream_id="acme", version=version, event_type=event_type,
        payload={}, occurred_at=now, recorded_at=now, actor="test", request_id=f"r{version}",
        policy_version="", prev_hash="", hash="",
    )  # fmt: skip


def test_the_module_functions_record_into_the_process_metrics() -> None:
    """record_decision, observe_events and watching() use the process-wide registry."""
    sample = default_metrics().registry.get_sample_value
    labels = {"rule_id": "test.rule", "action": "remind"}
    decisions, events = (
        sample("sqm_decisions_total", labels) or 0,
        sample("sqm_events_appended_total"),
    )
    record_decision("test.rule", "remind")
    observe_events([_recorded("SupplierRegistered", 1), _recorded("SupplierBlacklisted", 2)])
    with watching():
        assert sample("sqm_active_watchers") == 1
    assert sample("sqm_decisions_total", labels) == decisions + 1
    assert sample("sqm_events_appended_total") == (events or 0) + 2


def test_the_metrics_endpoint_serves_the_registry_over_http(
    serve: Callable[..., Running], metrics: Metrics
) -> None:
    """GET /metrics on the bound port returns the call counter in Prometheus text format."""
    running = serve(token_table())
    with running.channel() as channel:
        call(channel, GET_SUPPLIER, metadata=bearer(Role.READ_ONLY))
    metrics.record_events(5)
    with start_metrics_server(0, metrics.registry) as endpoint:
        assert endpoint.port > 0
        url = f"http://127.0.0.1:{endpoint.port}/metrics"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            body = response.read().decode()
    assert 'sqm_grpc_calls_total{code="OK",method="sqm.v1.SupplierService/GetSupplier"} 1.0' in body
    assert "sqm_events_appended_total 5.0" in body
    assert "sqm_grpc_call_duration_seconds_bucket" in body


# --- TLS and mutual TLS -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates for this module's TLS tests."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def health_check(channel: grpc.Channel) -> int:
    """The server's overall health status as the client sees it."""
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=TIMEOUT
    )
    return int(reply.status)


def test_a_tls_server_serves_tls_clients_and_refuses_plaintext(
    serve: Callable[..., Running], pki: Pki
) -> None:
    """A client trusting the CA is served (and authorised); a plaintext client is not."""
    credentials = optional_server_credentials(pki.server_cert, pki.server_key)
    running = serve(token_table(), credentials)
    with running.channel(channel_credentials(pki.ca)) as channel:
        assert health_check(channel) == health_pb2.HealthCheckResponse.SERVING
        call(channel, GET_SUPPLIER, metadata=bearer(Role.READ_ONLY))
    with running.channel() as plaintext:
        assert failure(lambda: health_check(plaintext)).code() == grpc.StatusCode.UNAVAILABLE


def test_a_mutual_tls_server_needs_a_client_certificate_from_its_ca(
    serve: Callable[..., Running], pki: Pki
) -> None:
    """Without a client certificate, or with one from another CA, the handshake fails."""
    credentials = optional_server_credentials(pki.server_cert, pki.server_key, pki.ca)
    running = serve(None, credentials)
    with running.channel(channel_credentials(pki.ca)) as anonymous:
        assert failure(lambda: health_check(anonymous)).code() == grpc.StatusCode.UNAVAILABLE
    rogue = channel_credentials(pki.ca, pki.rogue_cert, pki.rogue_key)
    with running.channel(rogue) as impostor:
        assert failure(lambda: health_check(impostor)).code() == grpc.StatusCode.UNAVAILABLE
    client = channel_credentials(pki.ca, pki.client_cert, pki.client_key)
    with running.channel(client) as channel:
        assert health_check(channel) == health_pb2.HealthCheckResponse.SERVING


def test_tls_settings_are_checked_before_the_server_starts(pki: Pki, tmp_path: Path) -> None:
    """Missing files, swapped files and half configurations fail with the file named."""
    assert optional_server_credentials(None, None) is None
    with pytest.raises(TlsConfigError, match="both a certificate and its private key"):
        optional_server_credentials(pki.server_cert, None)
    with pytest.raises(TlsConfigError, match="needs a server certificate and key"):
        optional_server_credentials(None, None, pki.ca)
    with pytest.raises(TlsConfigError, match=r"missing\.pem: cannot read the server certificate"):
        optional_server_credentials(tmp_path / "missing.pem", pki.server_key)
    with pytest.raises(
        TlsConfigError, match=r"server\.key: expected the server certificate as PEM"
    ):
        optional_server_credentials(pki.server_key, pki.server_cert)
    with pytest.raises(TlsConfigError, match="needs its private key"):
        channel_credentials(pki.ca, pki.client_cert)


# --- a supplier's token -------------------------------------------------------------------

SUPPLIER_TOKEN = "acme-portal-token-000005"


def test_a_supplier_reaches_its_own_supplier_and_is_named_with_its_binding(
    serve: Callable[..., Running], stub: StubSuppliers
) -> None:
    """The handler runs for its own supplier and sees the actor bound to it."""
    tokens = tokens_from_string(f"acme-portal:supplier/acme:{SUPPLIER_TOKEN}")
    running = serve(tokens, supplier_access=SUPPLIER_ACCESS)
    request = supplier_service_pb2.GetSupplierRequest(name="suppliers/acme").SerializeToString()
    with running.channel() as channel:
        call(channel, GET_SUPPLIER, request, (("authorization", f"Bearer {SUPPLIER_TOKEN}"),))
    assert stub.callers == [Actor("acme-portal", Role.SUPPLIER, "acme")]


def test_a_method_the_supplier_table_does_not_name_is_refused_to_suppliers(
    serve: Callable[..., Running], stub: StubSuppliers
) -> None:
    """Fail closed: a method missing from the table is PERMISSION_DENIED before its handler."""
    tokens = tokens_from_string(f"acme-portal:supplier/acme:{SUPPLIER_TOKEN}")
    running = serve(tokens, supplier_access={})
    request = supplier_service_pb2.GetSupplierRequest(name="suppliers/acme").SerializeToString()
    metadata = (("authorization", f"Bearer {SUPPLIER_TOKEN}"),)
    with running.channel() as channel:
        error = failure(lambda: call(channel, GET_SUPPLIER, request, metadata))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(error).reason == "PERMISSION_DENIED"
    assert stub.callers == []


def test_a_supplier_may_list_the_services_by_reflection(serve: Callable[..., Running]) -> None:
    """Reflection names no supplier: the role table alone admits a supplier's token to it."""
    tokens = tokens_from_string(f"acme-portal:supplier/acme:{SUPPLIER_TOKEN}")
    running = serve(tokens, supplier_access=SUPPLIER_ACCESS)
    metadata = (("authorization", f"Bearer {SUPPLIER_TOKEN}"),)
    assert "sqm.v1.SupplierService" in _list_services(running, metadata)
