"""Build the gRPC server: the API, health checking and reflection (a factory, for tests)."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer  # health.aio, spelled so type checkers see it
from grpc_reflection.v1alpha import reflection

from sqm.domain.ports import EventStore
from sqm.server.api.admin_servicer import AdminServicer
from sqm.server.api.audit_servicer import AuditServicer
from sqm.server.api.policy_servicer import PolicyServicer
from sqm.server.api.request_decoding import DecodingInterceptor
from sqm.server.api.supplier_servicer import SupplierServicer
from sqm.server.bootstrap import App
from sqm.server.config import (
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    DEFAULT_MAX_CONCURRENT_RPCS,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_STREAM_IDLE_SECONDS,
)
from sqm.server.observability.calls import Metrics, ObservabilityInterceptor, default_metrics
from sqm.server.security.admission import Admission, Budgets
from sqm.server.security.auth import AuthInterceptor, TokenTable
from sqm.server.security.supplier_scope import SupplierScopeInterceptor
from sqm.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    audit_service_pb2,
    audit_service_pb2_grpc,
    policy_service_pb2,
    policy_service_pb2_grpc,
    supplier_service_pb2,
    supplier_service_pb2_grpc,
)

SERVICE_NAME = supplier_service_pb2.DESCRIPTOR.services_by_name["SupplierService"].full_name
POLICY_SERVICE_NAME = policy_service_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name
ADMIN_SERVICE_NAME = admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
AUDIT_SERVICE_NAME = audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name
SERVICE_NAMES = (SERVICE_NAME, POLICY_SERVICE_NAME, ADMIN_SERVICE_NAME, AUDIT_SERVICE_NAME)
MAX_MESSAGE_BYTES = DEFAULT_MAX_MESSAGE_BYTES
log = logging.getLogger("sqm.server")
"""The largest answer; the upload's answer is sized to stay under it (measurement_upload)."""


# Dead peers and forever-connections: pings find the dead, age ends a connection (its calls
# get the grace to finish; a Watch resumes from its token), and clients may not ping flood.
CONNECTION_OPTIONS = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 30_000),
    ("grpc.http2.max_ping_strikes", 2),
    ("grpc.max_connection_idle_ms", 15 * 60_000),
    ("grpc.max_connection_age_ms", 60 * 60_000),
    ("grpc.max_connection_age_grace_ms", 60_000),
)


# grpc's own deadline for the calls in flight lies this far past ours, so ours always ends first.
_CUT_OFF_MARGIN_SECONDS = 5.0


def create_server(
    app: App,
    address: str,
    *,
    tokens: TokenTable | None = None,
    credentials: grpc.ServerCredentials | None = None,
    metrics: Metrics | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_concurrent_rpcs: int | None = None,
    drill: bool = False,
    max_clock_skew: timedelta = timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_SECONDS),
    public_reflection: bool = False,
    stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS,
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """A server with every service added and bound to ``address`` (port 0 picks one).

    ``tokens`` turns authentication on; ``credentials`` serve TLS (mutual TLS when they
    require client certificates). A request larger than ``max_message_bytes``, or a call
    beyond ``max_concurrent_rpcs`` in progress (None: no limit), is RESOURCE_EXHAUSTED.
    ``drill`` lets AdminService.AdvanceTime go beyond the wall clock plus ``max_clock_skew``.
    Returns the server, the bound port and the health servicer (serving is announced by
    the caller once the server has started).
    """
    # Admission (after authentication) keeps every budget well inside grpc's own limit, so
    # no caller and no crowd without a token can reach it (server/security/admission.py).
    limit = max_concurrent_rpcs or DEFAULT_MAX_CONCURRENT_RPCS
    admission = Admission(Budgets.within(limit, stream_idle_seconds))
    # Drill mode is a fact an operator must see at a glance: it is on the metrics endpoint.
    (metrics or default_metrics()).drill_mode.set(1 if drill else 0)
    server = grpc.aio.server(
        # Observability outermost, so calls that auth refuses are logged and counted too;
        # decoding after auth, so a request that does not parse is still refused auth first.
        interceptors=[
            ObservabilityInterceptor(metrics),
            AuthInterceptor(tokens, public_reflection=public_reflection, admission=admission),
            DecodingInterceptor(),
            # Innermost: it reads the parsed request, to keep a supplier to its own records.
            SupplierScopeInterceptor(),
        ],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *CONNECTION_OPTIONS,
        ],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    supplier_service_pb2_grpc.add_SupplierServiceServicer_to_server(
        SupplierServicer(app.service, app.executor, app.clock, app.needs, app.calls_cut_off),
        server,
    )
    policy_service_pb2_grpc.add_PolicyServiceServicer_to_server(
        PolicyServicer(app.policy_admin, app.executor, app.signoff), server
    )
    admin_service_pb2_grpc.add_AdminServiceServicer_to_server(
        AdminServicer(
            app.scheduler,
            app.clock,
            drill=drill,
            max_clock_skew=max_clock_skew,
            outbox=app.store,
        ),
        server,
    )
    audit_service_pb2_grpc.add_AuditServiceServicer_to_server(
        AuditServicer(app.service, app.store, app.executor, app.clock, app.checkpoints), server
    )
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    if credentials is not None:
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port, health_servicer


async def stop_serving(
    server: grpc.aio.Server, grace: float, calls_cut_off: threading.Event
) -> None:
    """Take no new calls, let those in flight finish for ``grace`` seconds, cancel the rest.

    ``calls_cut_off`` is set before grpc cancels anything: a cancelled upload's stream ends
    just like a finished one, and the flag is how its handler tells the two apart.
    """
    draining = asyncio.ensure_future(server.stop(grace + _CUT_OFF_MARGIN_SECONDS))
    finished, _ = await asyncio.wait({draining}, timeout=grace)
    if not finished:
        calls_cut_off.set()
        await server.stop(None)  # the smaller grace wins: cancel now
    await draining


async def set_serving(health_servicer: HealthServicer, serving: bool) -> None:
    """Announce the overall and per-service health status."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, status)


async def follow_storage(store: EventStore, health: HealthServicer, interval: float = 1.0) -> None:
    """Health follows the store's write faults until cancelled: NOT_SERVING while a full,
    read-only, failing or unreachable database refuses writes, SERVING again once it clears.
    Each change is one log line (the calls refused meanwhile log nothing).
    """
    faulty = False
    while True:
        await asyncio.sleep(interval)
        fault = await asyncio.to_thread(store.storage_fault)  # PostgreSQL's probe is a call
        if fault is not None and not faulty:
            log.error("writes refused, health NOT_SERVING: %s", fault)
            await set_serving(health, False)
        elif fault is None and faulty:
            log.warning("the database takes writes again: health SERVING")
            await set_serving(health, True)
        faulty = fault is not None
