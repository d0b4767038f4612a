"""Build the gRPC server: the API, health checking and reflection (a factory, for tests)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer  # health.aio, spelled so type checkers see it
from grpc_reflection.v1alpha import reflection

from server.bootstrap import App
from server.servicer import SupplierServicer
from sqm.v1 import supplier_service_pb2, supplier_service_pb2_grpc

SERVICE_NAME = supplier_service_pb2.DESCRIPTOR.services_by_name["SupplierService"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def create_server(app: App, address: str) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """A server with every service added and bound to ``address`` (port 0 picks one).

    Returns the server, the bound port and the health servicer (serving is announced by the
    caller once the server has started).
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
    )
    supplier_service_pb2_grpc.add_SupplierServiceServicer_to_server(
        SupplierServicer(app.service, app.executor, app.clock), server
    )
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port, health_servicer


async def set_serving(health_servicer: HealthServicer, serving: bool) -> None:
    """Announce the overall and per-service health status."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, status)
