"""One structured log line and the Prometheus metrics for every call, and the metrics endpoint.

:class:`ObservabilityInterceptor` goes first in the server's interceptor list, so it also sees
calls that authentication rejects. Its log line (logger ``sqm.access``) carries method, status
code, latency, request id, peer and actor: a JSON object under ``--log-format json``
(:class:`JsonFormatter`), a readable line otherwise; metadata is never read, so no token can
reach a log. The application counts decisions, appended events and watchers with
:func:`record_decision`, :func:`observe_events` and :func:`watching`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal
from wsgiref.simple_server import WSGIServer

import attrs
import grpc
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sqm.domain.ports import RecordedEvent
from sqm.server.observability import tracing
from sqm.server.security.auth import (
    Actor,
    Continuation,
    Handler,
    ServerInterceptor,
    current_actor,
    handler_shape,
)

ACCESS_LOGGER = "sqm.access"
UNKNOWN_METHOD = "unknown"  # the metrics label for methods the server does not have
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Codes that mean the server failed, not the caller: logged at ERROR.
SERVER_FAULTS = frozenset(
    {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS}
)
Context = grpc.aio.ServicerContext[Any, Any]


# Each metric as (attribute, kind, name, help, labels); histograms take LATENCY_BUCKETS.
MetricSpec = tuple[str, type[Counter | Gauge | Histogram], str, str, tuple[str, ...]]
SQM_METRICS: tuple[MetricSpec, ...] = (
    ("calls", Counter, "sqm_grpc_calls", "gRPC calls finished, by method and status code.",
     ("method", "code")),
    ("latency", Histogram, "sqm_grpc_call_duration_seconds",
     "gRPC call duration (streams: until the stream ends), by method.", ("method",)),
    ("decisions", Counter, "sqm_decisions", "Rule decisions recorded, by rule id and action.",
     ("rule_id", "action")),
    ("events", Counter, "sqm_events_appended", "Events appended to the store.", ()),
    ("watchers", Gauge, "sqm_active_watchers", "Watch streams open now.", ()),
    ("drill_mode", Gauge, "sqm_drill_mode",
     "1 when the server runs in drill mode (AdvanceTime may pass the wall clock).", ()),
    ("recorded", Counter, "sqm_events_recorded", "Events recorded by commands, by event type.",
     ("event_type",)),
    ("breaches", Counter, "sqm_breaches", "SLA breaches detected, by metric and severity.",
     ("metric", "severity")),
    ("penalties", Counter, "sqm_penalties",
     "Penalties assessed (service credits and compensations), by kind.", ("kind", "currency")),
    ("penalty_amount", Counter, "sqm_penalty_amount",
     "The amount of the penalties assessed, by kind and currency.", ("kind", "currency")),
    ("transitions", Counter, "sqm_lifecycle_transitions",
     "Supplier lifecycle transitions, by state left and state entered.",
     ("from_state", "to_state")),
    ("notifications_delivered", Counter, "sqm_notifications_delivered",
     "Notifications delivered to every webhook they were for, by kind.", ("kind",)),
    ("notification_failures", Counter, "sqm_notification_attempts_failed",
     "Delivery attempts that failed (retried later, or given up), by kind.", ("kind",)),
    ("notifications_pending", Gauge, "sqm_notifications_pending",
     "Notifications in the outbox waiting for delivery.", ()),
    ("notifications_undeliverable", Gauge, "sqm_notifications_undeliverable",
     "Notifications whose delivery attempts ran out (listed, retried by hand).", ()),
)  # fmt: skip
# How each gauge of every worker is merged under ``sqm serve --workers N`` (prometheus_client's
# multiprocess mode, server/observability/worker_metrics.py; one process ignores it). Counters
# and histograms are summed, which is right for them; a gauge's sum is right only when each
# worker holds a part of the whole.
GAUGE_MODES: dict[str, Literal["livesum", "livemax", "livemostrecent"]] = {
    # Each worker counts the Watch streams it serves: the service's are their sum. "live":
    # a worker that died holds none.
    "watchers": "livesum",
    # The same setting in every worker: a sum would say 2 with two workers. The max is 1 when
    # any running worker is in drill mode, which is what an operator must see.
    "drill_mode": "livemax",
    # Each worker counts the one shared outbox now and then: the sum would count every
    # notification once per worker. The latest count any running worker read is the truth
    # (a max could be a stale count; the series shows once a worker has counted).
    "notifications_pending": "livemostrecent",
    "notifications_undeliverable": "livemostrecent",
}
_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
GRPC_METRICS: tuple[MetricSpec, ...] = (
    ("started", Counter, "grpc_server_started", "RPCs started on the server.", _GRPC_LABELS),
    ("handled", Counter, "grpc_server_handled",
     "RPCs completed on the server, whatever their status.", (*_GRPC_LABELS, "grpc_code")),
    ("handling", Histogram, "grpc_server_handling_seconds",
     "Response latency of RPCs handled by the server (streams: until they end).", _GRPC_LABELS),
    ("received", Counter, "grpc_server_msg_received",
     "Stream messages received by the server (one per unary request).", _GRPC_LABELS),
    ("sent", Counter, "grpc_server_msg_sent",
     "Stream messages sent by the server (one per unary response).", _GRPC_LABELS),
)  # fmt: skip


def _declare(owner: object, specs: Iterable[MetricSpec], registry: CollectorRegistry) -> None:
    """Register each metric of ``specs`` in ``registry`` as an attribute of ``owner``."""
    for attribute, kind, name, help_text, labels in specs:
        extra: dict[str, Any] = {}
        if kind is Histogram:
            extra["buckets"] = LATENCY_BUCKETS
        elif kind is Gauge:
            extra["multiprocess_mode"] = GAUGE_MODES[attribute]
        setattr(owner, attribute, kind(name, help_text, labels, registry=registry, **extra))


class Metrics:
    """SQM's Prometheus metrics in a registry of their own (tests make one each)."""

    calls: Counter
    latency: Histogram
    decisions: Counter
    events: Counter
    watchers: Gauge
    drill_mode: Gauge
    recorded: Counter
    breaches: Counter
    penalties: Counter
    penalty_amount: Counter
    transitions: Counter
    notifications_delivered: Counter
    notification_failures: Counter
    notifications_pending: Gauge
    notifications_undeliverable: Gauge

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        _declare(self, SQM_METRICS, self.registry)
        self.grpc = GrpcServerMetrics(self.registry)

    def record_decision(self, rule_id: str, action: str) -> None:
        """Count one decision taken by rule ``rule_id``."""
        self.decisions.labels(rule_id=rule_id, action=action).inc()

    def record_events(self, count: int) -> None:
        """Count ``count`` appended events."""
        self.events.inc(count)

    def observe_events(self, events: Iterable[RecordedEvent]) -> None:
        """Count a command's recorded events: by type, and breaches, penalties and lifecycle
        transitions by what their payloads say.
        """
        events = list(events)
        self.record_events(len(events))
        for event in events:
            self.recorded.labels(event_type=event.event_type).inc()
            payload = event.payload
            if event.event_type == "BreachDetected":
                breach = payload.get("breach", {})
                self.breaches.labels(
                    metric=str(breach.get("metric", "")), severity=str(breach.get("severity", ""))
                ).inc()
            elif event.event_type == "PenaltyAssessed":
                penalty = payload.get("penalty", {})
                money = penalty.get("amount", {})
                labels = {
                    "kind": str(penalty.get("kind", "")),
                    "currency": str(money.get("currency", "")),
                }
                self.penalties.labels(**labels).inc()
                self.penalty_amount.labels(**labels).inc(float(money.get("amount", 0) or 0))
            elif event.event_type == "LifecycleTransitioned":
                self.transitions.labels(
                    from_state=str(payload.get("from_state", "")),
                    to_state=str(payload.get("to_state", "")),
                ).inc()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Count a watcher as active while the block runs."""
        self.watchers.inc()
        try:
            yield
        finally:
            self.watchers.dec()


class GrpcServerMetrics:
    """The usual gRPC server metrics (go-grpc-prometheus's names and labels), so the
    dashboards and alerts written for any gRPC server work on this one too.
    """

    started: Counter
    handled: Counter
    handling: Histogram
    received: Counter
    sent: Counter

    def __init__(self, registry: CollectorRegistry) -> None:
        _declare(self, GRPC_METRICS, registry)


def grpc_type(request_streaming: bool, response_streaming: bool) -> str:
    """The ``grpc_type`` label: unary, client_stream, server_stream or bidi_stream."""
    return {
        (False, False): "unary",
        (True, False): "client_stream",
        (False, True): "server_stream",
        (True, True): "bidi_stream",
    }[(request_streaming, response_streaming)]


def method_labels(method: str, kind: str) -> dict[str, str]:
    """The labels of ``/package.Service/Method`` called as ``kind``."""
    service, _, name = method.lstrip("/").rpartition("/")
    return {"grpc_type": kind, "grpc_service": service, "grpc_method": name}


_default: Metrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> Metrics:
    """The process's metrics, made on first use (nothing is built at import)."""
    global _default  # noqa: PLW0603 - one registry per process, made lazily
    with _default_lock:
        if _default is None:
            _default = Metrics()
        return _default


def record_decision(rule_id: str, action: str) -> None:
    """Count one decision in the process's metrics."""
    default_metrics().record_decision(rule_id, action)


def observe_events(events: Iterable[RecordedEvent]) -> None:
    """Count a command's recorded events in the process's metrics (see
    :meth:`Metrics.observe_events`).
    """
    default_metrics().observe_events(events)


def watching() -> contextlib.AbstractContextManager[None]:
    """Count a watcher as active in the process's metrics while the block runs."""
    return default_metrics().watching()


# --- the metrics endpoint ---------------------------------------------------------------


@attrs.frozen
class MetricsServer:
    """The running ``/metrics`` HTTP endpoint; close it to free the port."""

    port: int
    _httpd: WSGIServer = attrs.field(repr=False)
    _thread: threading.Thread = attrs.field(repr=False)

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def start_metrics_server(
    port: int, registry: CollectorRegistry | None = None, host: str = "127.0.0.1"
) -> MetricsServer:
    """Serve ``registry`` (default: the process's metrics) over HTTP; port 0 picks one."""
    registry = registry if registry is not None else default_metrics().registry
    httpd, thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    return MetricsServer(int(httpd.server_port), httpd, thread)


# --- logging ----------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """Every record as one JSON object; access lines bring their fields along."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line: time, level, logger, pid, message, call fields if any."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # tells apart the lines of ``sqm serve --workers N``
        }
        call = getattr(record, "sqm_call", None)
        if isinstance(call, dict):
            line.update(call)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


# --- the interceptor --------------------------------------------------------------------


class ObservabilityInterceptor(ServerInterceptor):
    """Log one JSON line and record metrics for every call, whatever its outcome.

    Put it first in the server's list, before :class:`~sqm.server.security.auth.AuthInterceptor`,
    so that rejected calls are logged and counted too.
    """

    def __init__(self, metrics: Metrics | None = None, logger: logging.Logger | None = None):
        self._metrics = metrics if metrics is not None else default_metrics()
        self._log = logger if logger is not None else logging.getLogger(ACCESS_LOGGER)
        self._series: dict[tuple[str, str], _MethodSeries] = {}

    # The stubs say a handler is always found; at run time None means "no such method".
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """Wrap the handler so its end (return, abort, error, cancellation) is observed."""
        method = handler_call_details.method
        started = time.perf_counter()
        handler = await continuation(handler_call_details)
        # Read here, in the call's task: a sync handler later runs on a pool thread.
        actor = current_actor()
        if handler is None:
            call = _Call(method, started, actor)  # no series: the server has no such method
            self._finish(call, grpc.StatusCode.UNIMPLEMENTED, None)
            return None
        kind = grpc_type(handler.request_streaming, handler.response_streaming)
        series = self._series_of(method, kind)
        metadata = handler_call_details.invocation_metadata
        return _wrapped(handler, lambda: self._start(method, actor, series, metadata), self._finish)

    def _series_of(self, method: str, kind: str) -> _MethodSeries:
        # Only methods the server has get here, so the table stays as small as the API.
        series = self._series.get((method, kind))
        if series is None:
            series = _MethodSeries(self._metrics, method, kind)
            self._series[(method, kind)] = series
        return series

    def _start(self, method: str, actor: Actor, series: _MethodSeries, metadata: Any) -> _Call:
        series.started.inc()
        return _Call(
            method,
            time.perf_counter(),
            actor,
            series=series,
            span=tracing.start_server_span(method, metadata),
        )

    def _finish(self, call: _Call, code: grpc.StatusCode, peer: str | None) -> None:
        seconds = time.perf_counter() - call.started
        if call.series is None:
            self._metrics.calls.labels(method=UNKNOWN_METHOD, code=code.name).inc()
            self._metrics.latency.labels(method=UNKNOWN_METHOD).observe(seconds)
        else:
            call.series.finished(code, seconds)
        if call.span is not None:
            tracing.end_server_span(call.span, code)
        fields = {
            "event": "rpc",
            "method": call.method,
            "code": code.name,
            "latency_ms": round(seconds * 1000, 3),
            "request_id": call.request_id,
            "peer": peer,
            "actor": call.actor.name,
            "role": None if call.actor.role is None else str(call.actor.role),
        }
        level = logging.ERROR if code in SERVER_FAULTS else logging.INFO
        # Text mode reads as a sentence; JsonFormatter writes ``fields`` as the object itself.
        self._log.log(
            level,
            "rpc %s %s %.3fms request_id=%s peer=%s actor=%s",
            call.method,
            code.name,
            fields["latency_ms"],
            call.request_id or "-",
            peer,
            call.actor.name,
            extra={"sqm_call": fields},
        )


class _MethodSeries:
    """The time series one method's calls are counted in, looked up by label once: a
    lookup by label costs as much as the count itself, and every call made seven.
    """

    def __init__(self, metrics: Metrics, method: str, kind: str) -> None:
        labels = method_labels(method, kind)
        grpc_metrics = metrics.grpc
        self._metrics = metrics
        self._labels = labels
        self._label = method.lstrip("/")
        self.started = grpc_metrics.started.labels(**labels)
        self.received = grpc_metrics.received.labels(**labels)
        self.sent = grpc_metrics.sent.labels(**labels)
        self._latency = metrics.latency.labels(method=self._label)
        self._handling = grpc_metrics.handling.labels(**labels)
        # A unary answer (or a client stream's one answer) is sent when the call ends OK.
        self._answers_once = kind in ("unary", "client_stream")
        self._by_code: dict[grpc.StatusCode, tuple[Any, Any]] = {}

    def finished(self, code: grpc.StatusCode, seconds: float) -> None:
        """Count a call that ended with ``code`` after ``seconds``."""
        counted = self._by_code.get(code)
        if counted is None:
            counted = (
                self._metrics.calls.labels(method=self._label, code=code.name),
                self._metrics.grpc.handled.labels(**self._labels, grpc_code=code.name),
            )
            self._by_code[code] = counted
        calls, handled = counted
        calls.inc()
        handled.inc()
        self._latency.observe(seconds)
        self._handling.observe(seconds)
        if self._answers_once and code is grpc.StatusCode.OK:
            self.sent.inc()


@attrs.define
class _Call:
    method: str
    started: float
    actor: Actor
    request_id: str = ""
    series: _MethodSeries | None = None  # the method's metrics (None: unknown method)
    span: Any = None  # the call's OpenTelemetry server span

    def saw(self, request: Any) -> None:
        """Count a request message; keep the first ``request_id`` one carries."""
        if self.series is not None:
            self.series.received.inc()
        if not self.request_id:
            self.request_id = str(getattr(request, "request_id", "") or "")

    def sent_one(self) -> None:
        """Count a response message."""
        if self.series is not None:
            self.series.sent.inc()


Finish = Callable[[_Call, grpc.StatusCode, "str | None"], None]
Start = Callable[[], _Call]


def _wrapped(handler: Handler, start: Start, finish: Finish) -> Handler:
    """The same handler, its behaviour wrapped; sync stays sync, async stays async."""
    kind = (handler.request_streaming, handler.response_streaming)
    behaviour, factory = handler_shape(handler)
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(behaviour):
        wrapper = _async_stream(behaviour, start, finish, kind[0])
    elif inspect.iscoroutinefunction(behaviour):
        wrapper = _async_call(behaviour, start, finish, kind[0])
    elif kind[1]:
        wrapper = _sync_stream(behaviour, start, finish, kind[0])
    else:
        wrapper = _sync_call(behaviour, start, finish, kind[0])
    return factory(wrapper, handler.request_deserializer, handler.response_serializer)


def _code(recorded: grpc.StatusCode | None, error: BaseException | None) -> grpc.StatusCode:
    """The status the client gets: what the handler set or aborted with, else from the error."""
    if recorded is not None:
        return recorded
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


def _finished_code(context: Context, error: BaseException | None) -> grpc.StatusCode:
    # A cancelled call's context may already be released by grpc: do not touch it then.
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return _code(context.code(), error)


@contextlib.contextmanager
def _finishing(
    call: _Call,
    finish: Finish,
    code: Callable[[BaseException | None], grpc.StatusCode],
    peer: Callable[[], str | None],
) -> Iterator[None]:
    """Finish ``call`` when the block ends, however it ends, with the code of its error."""
    error: BaseException | None = None
    try:
        yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        finish(call, code(error), peer())


def _async_call(
    behaviour: Any, start: Start, finish: Finish, request_streaming: bool
) -> Callable[[Any, Context], Any]:
    async def wrapper(request: Any, context: Context) -> Any:
        call = start()
        peer = context.peer()  # read while the call is alive (see _async_stream)
        request = _seen(request, call) if request_streaming else _saw(request, call)
        finishing = _finishing(call, finish, partial(_finished_code, context), lambda: peer)
        with finishing, tracing.in_span(call.span):  # spans the handler opens are its children
            return await behaviour(request, context)

    return wrapper


def _async_stream(
    behaviour: Any, start: Start, finish: Finish, request_streaming: bool
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
        call = start()
        # Read while the call is alive: after a client cancels a generator handler, grpc has
        # released the call by the time ``finally`` runs, and touching the context then
        # crashed the process.
        peer = context.peer()
        request = _seen(request, call) if request_streaming else _saw(request, call)
        with _finishing(call, finish, partial(_finished_code, context), lambda: peer):
            async for response in behaviour(request, context):
                call.sent_one()
                yield response

    return wrapper


# Sync handlers (the generated base class's UNIMPLEMENTED stubs, mostly) get sync wrappers,
# so grpc runs them where it runs sync handlers. Their context cannot tell its code, so a
# proxy remembers the code the handler sets.


def _sync_call(
    behaviour: Any, start: Start, finish: Finish, request_streaming: bool
) -> Callable[[Any, Any], Any]:
    def wrapper(request: Any, context: Any) -> Any:
        call = start()
        if not request_streaming:
            call.saw(request)
        recording = _RecordingContext(context)
        with _finishing(call, finish, lambda error: _code(recording.code, error), context.peer):
            return behaviour(request, recording)

    return wrapper


def _sync_stream(
    behaviour: Any, start: Start, finish: Finish, request_streaming: bool
) -> Callable[[Any, Any], Iterator[Any]]:
    def wrapper(request: Any, context: Any) -> Iterator[Any]:
        call = start()
        if not request_streaming:
            call.saw(request)
        recording = _RecordingContext(context)
        with _finishing(call, finish, lambda error: _code(recording.code, error), context.peer):
            for response in behaviour(request, recording):
                call.sent_one()
                yield response

    return wrapper


class _RecordingContext:
    """A sync handler's context that remembers the status code set on it."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.code: grpc.StatusCode | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def set_code(self, code: grpc.StatusCode) -> None:
        """Remember the code, then set it."""
        self.code = code
        self._context.set_code(code)

    def abort(self, code: grpc.StatusCode, *args: Any, **kwargs: Any) -> Any:
        """Remember the code, then abort."""
        self.code = code
        return self._context.abort(code, *args, **kwargs)


def _saw(request: Any, call: _Call) -> Any:
    call.saw(request)
    return request


async def _seen(requests: AsyncIterator[Any], call: _Call) -> AsyncIterator[Any]:
    async for request in requests:
        call.saw(request)
        yield request
