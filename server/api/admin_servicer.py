"""The AdminService servicer: advancing time by hand, for drills and tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import grpc

from server.api import mapping
from server.api.errors import translated
from server.api.proto_values import optional_time
from server.app.scheduler import DeadlineScheduler
from sqm.v1 import admin_service_pb2 as admin
from sqm.v1 import admin_service_pb2_grpc as admin_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class AdminServicer(admin_grpc.AdminServiceServicer):
    """Advances the clock through the same path as the scheduler."""

    def __init__(self, scheduler: DeadlineScheduler, clock: Callable[[], datetime]) -> None:
        self._scheduler = scheduler
        self._clock = clock

    @translated
    async def AdvanceTime(  # noqa: N802 - gRPC method names are PascalCase
        self, request: admin.AdvanceTimeRequest, context: Context
    ) -> admin.AdvanceTimeResponse:
        """Advance every supplier to the requested time (the server's time if unset)."""
        summary = await self._scheduler.tick(_requested_time(request) or self._clock())
        return admin.AdvanceTimeResponse(
            suppliers_checked=summary.suppliers_checked,
            suppliers_changed=summary.suppliers_changed,
            decisions=mapping.decisions(summary.decisions),
        )


def _requested_time(request: admin.AdvanceTimeRequest) -> datetime | None:
    bad = mapping.Violations()
    moment = optional_time(request, "time", "", bad)
    bad.raise_if_any()
    return moment
