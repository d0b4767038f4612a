"""OpenTelemetry traces: a server span per gRPC call, and spans around the pipeline's steps.

Nothing is exported unless the standard ``OTEL_*`` environment asks for it
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_TRACES_EXPORTER``; ``OTEL_TRACES_EXPORTER=none`` turns it off): then
:func:`configure_tracing` installs the SDK with a batching OTLP/gRPC exporter, which reads the
rest of its settings (headers, certificates, timeouts) from the same variables. Without it
no span is started at all (:func:`tracing_on`): the API's no-op spans would record nothing,
yet each still costs a tracer, a context switch and a wrapper around every evaluation.

:class:`~sqm.server.observability.calls.ObservabilityInterceptor` opens the server span of each
call (``sqm.v1.SupplierService/RegisterSupplier``, continuing a caller's ``traceparent``);
:func:`span` and :func:`traced_policy` add the application's own (``sqm.decide``,
``sqm.rules.evaluate``, ``sqm.append``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from sqm.domain.ports import DecisionContext, Evaluation, Policy

TRACER_NAME = "sqm"
SERVICE_NAME = "sqm"
OTEL_SWITCHES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)
# The semantic conventions' server-side errors: the caller's mistakes are not the server's.
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the standard OTEL_* variables ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in OTEL_SWITCHES)


def configure_tracing(
    environ: Mapping[str, str] = os.environ, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the SDK as the process's tracer provider when the environment asks (or with
    ``exporter``, for tests); None when tracing stays off.

    The exporter is OTLP over gRPC, or the console for ``OTEL_TRACES_EXPORTER=console``.
    """
    if exporter is None:
        if not tracing_requested(environ):
            return None
        exporter = _exporter_from(environ)
    name = environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _exporter_from(environ: Mapping[str, str]) -> SpanExporter:
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter  # noqa: PLC0415

        return ConsoleSpanExporter()
    # Imported here: the exporter pulls in its protobuf modules, needed only when exporting.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()


def tracer() -> trace.Tracer:
    """SQM's tracer, from whichever provider is installed (the no-op one by default)."""
    return trace.get_tracer(TRACER_NAME)


def tracing_on() -> bool:
    """True once a tracer provider is installed (by :func:`configure_tracing`, or a test's
    own). Until then the API's default provider makes every span a no-op that records and
    exports nothing, so none is started.
    """
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Span]:
    """Run the block inside a span ``name`` (``sqm.decide``, ``sqm.append``) with
    ``attributes``; an exception escaping the block is recorded on it. With tracing off the
    block runs as it is (it is given the invalid span).
    """
    if not tracing_on():
        return contextlib.nullcontext(trace.INVALID_SPAN)
    return tracer().start_as_current_span(name, attributes=attributes)


class _TracedPolicy:
    """A policy whose ``evaluate`` runs inside a ``sqm.rules.evaluate`` span."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)

    @property
    def version(self) -> str:
        """The wrapped policy's version."""
        return self._policy.version

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """The wrapped policy's evaluation, in a span naming the stage and the supplier."""
        attributes = {
            "sqm.stage": str(context.stage),
            "sqm.supplier_id": context.supplier.supplier_id,
            "sqm.policy_version": self._policy.version,
        }
        with span("sqm.rules.evaluate", **attributes):
            return self._policy.evaluate(context)


def traced_policy(policy: Policy) -> Policy:
    """``policy`` with each ``evaluate`` in a ``sqm.rules.evaluate`` span; the rest unchanged.
    With tracing off, ``policy`` itself: no wrapper around every evaluation.
    """
    if not tracing_on():
        return policy
    return _TracedPolicy(policy)


# --- server spans, for the observability interceptor --------------------------------------


def start_server_span(method: str, metadata: Sequence[tuple[str, Any]] | None) -> Span:
    """The server span of a call to ``method`` (``/pkg.Service/Method``), continuing the trace
    a caller's ``traceparent`` metadata names. Only propagation keys are read.
    """
    if not tracing_on():
        return trace.INVALID_SPAN  # records nothing, as the no-op tracer's span would
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    service, _, name = method.lstrip("/").rpartition("/")
    return tracer().start_span(
        method.lstrip("/"),
        context=propagate.extract(carrier),
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
    )


def end_server_span(current: Span, code: grpc.StatusCode) -> None:
    """Record the call's status on its span and end it."""
    current.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in SERVER_ERROR_CODES:
        current.set_status(Status(StatusCode.ERROR, code.name))
    current.end()


def in_span(current: Span | None) -> contextlib.AbstractContextManager[Any]:
    """Make ``current`` the active span while the block runs (nothing for None, or with
    tracing off: no span the block opens would be recorded under it).
    """
    if current is None or not tracing_on():
        return contextlib.nullcontext()
    return trace.use_span(current, end_on_exit=False)
