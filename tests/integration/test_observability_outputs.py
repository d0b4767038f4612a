"""What the server shows of its calls: gRPC's usual metrics, spans, JSON lines, domain counts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from sqm.domain.model import Stage, SupplierState
from sqm.domain.ports import DecisionContext, Evaluation, RecordedEvent
from sqm.server.observability import tracing
from sqm.server.observability.calls import Metrics, ObservabilityInterceptor
from sqm.server.observability.logs import configure_logging
from tests.fakes import FakePolicy

SERVICE = "sqm.v1.TestService"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _tracer_provider() -> None:
    """One SDK provider for the module (OpenTelemetry allows one per process)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The exporter, emptied before the test."""
    _EXPORTER.clear()
    return _EXPORTER


async def _echo(request: bytes, context: Any) -> bytes:
    with tracing.span("sqm.inner", step="echo"):
        return request


async def _two(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for part in (b"one", b"two"):
        yield part


async def _fail(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.INTERNAL, "broken")
    return b""


async def _calls(metrics: Metrics, *calls: tuple[str, bool]) -> None:
    """Start a server with the observability interceptor and make ``calls`` (method, stream)."""
    server = grpc.aio.server(interceptors=[ObservabilityInterceptor(metrics)])
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Two": grpc.unary_stream_rpc_method_handler(_two),
        "Fail": grpc.unary_unary_rpc_method_handler(_fail),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            for method, streaming in calls:
                path = f"/{SERVICE}/{method}"
                try:
                    if streaming:
                        async for _ in channel.unary_stream(path)(b"x", timeout=10):
                            pass
                    else:
                        await channel.unary_unary(path)(b"x", timeout=10)
                except grpc.aio.AioRpcError:
                    pass
    finally:
        await server.stop(None)


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_calls_are_counted_under_the_usual_grpc_server_metric_names() -> None:
    """started, handled (by code), handling seconds and messages, by type/service/method."""
    metrics = Metrics(CollectorRegistry())
    asyncio.run(_calls(metrics, ("Echo", False), ("Echo", False), ("Two", True), ("Fail", False)))
    unary = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "Echo"}
    stream = {"grpc_type": "server_stream", "grpc_service": SERVICE, "grpc_method": "Two"}
    failing = {**unary, "grpc_method": "Fail"}
    assert _sample(metrics, "grpc_server_started_total", **unary) == 2
    assert _sample(metrics, "grpc_server_handled_total", **unary, grpc_code="OK") == 2
    assert _sample(metrics, "grpc_server_handled_total", **failing, grpc_code="INTERNAL") == 1
    assert _sample(metrics, "grpc_server_handling_seconds_count", **unary) == 2
    assert _sample(metrics, "grpc_server_msg_received_total", **unary) == 2
    assert _sample(metrics, "grpc_server_msg_sent_total", **unary) == 2
    assert _sample(metrics, "grpc_server_msg_sent_total", **stream) == 2
    assert _sample(metrics, "grpc_server_msg_sent_total", **failing) == 0
    assert _sample(metrics, "sqm_grpc_calls_total", method=f"{SERVICE}/Echo", code="OK") == 2


def test_a_real_call_produces_a_server_span_with_its_handlers_spans_inside(
    spans: InMemorySpanExporter,
) -> None:
    """One SERVER span per call, named Service/Method; a span the handler opens is its child."""
    asyncio.run(_calls(Metrics(CollectorRegistry()), ("Echo", False), ("Fail", False)))
    finished = {s.name: s for s in spans.get_finished_spans()}
    server_span = finished[f"{SERVICE}/Echo"]
    assert server_span.kind is SpanKind.SERVER
    assert server_span.attributes is not None
    assert server_span.attributes["rpc.system"] == "grpc"
    assert server_span.attributes["rpc.grpc.status_code"] == 0
    inner = finished["sqm.inner"]
    assert inner.parent is not None
    assert inner.parent.span_id == server_span.context.span_id
    assert not finished[f"{SERVICE}/Fail"].status.is_ok


def test_span_helper_and_traced_policy_record_their_spans(spans: InMemorySpanExporter) -> None:
    """span(name, **attributes) records one span; a traced policy evaluates in its own."""
    with tracing.span("sqm.decide", command="RegisterSupplier"):
        pass
    policy = tracing.traced_policy(FakePolicy())
    context = _decision_context()
    assert isinstance(policy.evaluate(context), Evaluation)
    assert policy.version == FakePolicy().version
    names = [s.name for s in spans.get_finished_spans()]
    assert names == ["sqm.decide", "sqm.rules.evaluate"]
    decide = spans.get_finished_spans()[0]
    assert decide.attributes == {"command": "RegisterSupplier"}


def _decision_context() -> DecisionContext:
    state = SupplierState("acme", "ACME", "network_equipment")
    return DecisionContext(Stage.QUALIFICATION, state, datetime(2026, 1, 2, tzinfo=UTC))


def test_tracing_is_configured_only_when_the_otel_environment_asks() -> None:
    """No OTEL_* variable: no SDK; an OTLP endpoint or exporter asks; "none" declines."""
    assert not tracing.tracing_requested({})
    assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert tracing.tracing_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing.tracing_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert tracing.configure_tracing({}) is None


def _event(event_type: str, payload: dict[str, Any]) -> RecordedEvent:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return RecordedEvent(1, "acme", 1, event_type, payload, moment, moment, "a", "r", "v", "", "")


def test_observe_events_counts_types_breaches_penalties_and_transitions() -> None:
    """A command's recorded events feed the domain's counters by their types and payloads."""
    metrics = Metrics(CollectorRegistry())
    metrics.observe_events(
        [
            _event("BreachDetected", {"breach": {"metric": "availability", "severity": "major"}}),
            _event(
                "PenaltyAssessed",
                {
                    "penalty": {
                        "kind": "service_credit",
                        "amount": {"amount": "1250.50", "currency": "CNY"},
                    }
                },
            ),
            _event(
                "LifecycleTransitioned", {"from_state": "contracted", "to_state": "under_review"}
            ),
            _event("MeasurementRecorded", {}),
        ]
    )
    assert _sample(metrics, "sqm_events_recorded_total", event_type="BreachDetected") == 1
    assert _sample(metrics, "sqm_events_recorded_total", event_type="MeasurementRecorded") == 1
    assert _sample(metrics, "sqm_breaches_total", metric="availability", severity="major") == 1
    credit = {"kind": "service_credit", "currency": "CNY"}
    assert _sample(metrics, "sqm_penalties_total", **credit) == 1
    assert _sample(metrics, "sqm_penalty_amount_total", **credit) == 1250.5
    moved = {"from_state": "contracted", "to_state": "under_review"}
    assert _sample(metrics, "sqm_lifecycle_transitions_total", **moved) == 1


@pytest.fixture
def _restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("_restored_logging")
def test_json_log_format_writes_the_access_line_as_a_json_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--log-format json: the access line is the object itself, not JSON inside text."""
    configure_logging("INFO", "json")
    asyncio.run(_calls(Metrics(CollectorRegistry()), ("Echo", False)))
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "sqm.access"]
    assert access
    assert access[0]["method"] == f"/{SERVICE}/Echo"
    assert access[0]["code"] == "OK"
    assert "message" not in access[0]


@pytest.mark.usefixtures("_restored_logging")
def test_text_log_format_writes_a_readable_access_line(capsys: pytest.CaptureFixture[str]) -> None:
    """--log-format text: a sentence with the method, code and latency; no JSON."""
    configure_logging("INFO", "text")
    asyncio.run(_calls(Metrics(CollectorRegistry()), ("Echo", False)))
    access = [line for line in capsys.readouterr().err.splitlines() if "sqm.access" in line]
    assert access
    assert f"rpc /{SERVICE}/Echo OK " in access[0]
    assert "{" not in access[0]
