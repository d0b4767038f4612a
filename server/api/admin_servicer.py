"""The AdminService servicer: advancing time by hand, for drills and tests, and the
notifications whose delivery gave up (listed, and retried).

Outside drill mode (``sqm serve --drill``) time may only be advanced to the wall clock plus
a small skew: a production server must not be sent into the future, where deadlines would
fire and penalties fall due early. Every accepted advance is logged with its actor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqm.domain.ports import NotificationOutbox
from sqm.server.api import mapping, pagination
from sqm.server.api.errors import TimeTravelRefused, translated
from sqm.server.api.notification_mapping import outbox_notification
from sqm.server.api.proto_values import optional_time
from sqm.server.api.servicer_base import Context
from sqm.server.app.scheduler import DeadlineScheduler
from sqm.server.config import DEFAULT_MAX_CLOCK_SKEW_SECONDS
from sqm.server.security.auth import current_actor
from sqm.v1 import admin_service_pb2 as admin
from sqm.v1 import admin_service_pb2_grpc as admin_grpc

log = logging.getLogger("sqm.admin")


class AdminServicer(admin_grpc.AdminServiceServicer):
    """Advances the clock through the same path as the scheduler."""

    def __init__(
        self,
        scheduler: DeadlineScheduler,
        clock: Callable[[], datetime],
        *,
        drill: bool = False,
        max_clock_skew: timedelta = timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_SECONDS),
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        outbox: NotificationOutbox | None = None,
    ) -> None:
        self._outbox = outbox
        self._scheduler = scheduler
        self._clock = clock
        self._drill = drill
        self._max_clock_skew = max_clock_skew
        self._wall_clock = wall_clock

    @translated
    async def AdvanceTime(  # noqa: N802 - gRPC method names are PascalCase
        self, request: admin.AdvanceTimeRequest, context: Context
    ) -> admin.AdvanceTimeResponse:
        """Advance every supplier to the requested time (the server's time if unset).

        Beyond the wall clock plus the allowed skew: FAILED_PRECONDITION, unless drilling.
        """
        moment = _requested_time(request) or self._clock()
        limit = self._wall_clock() + self._max_clock_skew
        if moment > limit and not self._drill:
            raise TimeTravelRefused(moment, limit)
        log.info(
            "AdvanceTime to %s by %s%s",
            moment.isoformat(),
            current_actor().name,
            " (drill)" if moment > limit else "",
        )
        summary = await self._scheduler.tick(moment)
        return admin.AdvanceTimeResponse(
            suppliers_checked=summary.suppliers_checked,
            suppliers_changed=summary.suppliers_changed,
            decisions=mapping.decisions(summary.decisions),
        )

    @translated
    async def ListUndeliverableNotifications(  # noqa: N802
        self, request: admin.ListUndeliverableNotificationsRequest, context: Context
    ) -> admin.ListUndeliverableNotificationsResponse:
        """A page of the notifications whose delivery attempts ran out, oldest first."""
        size = pagination.page_size(request.page_size, _PAGE, _MAX_PAGE)
        after = pagination.decode_index(request.page_token, _UNDELIVERABLE)
        found = await asyncio.to_thread(
            self._require_outbox().list_notifications,
            undeliverable=True,
            after_seq=after,
            limit=size + 1,
        )
        page = found[:size]
        more = len(found) > size
        return admin.ListUndeliverableNotificationsResponse(
            notifications=[outbox_notification(entry) for entry in page],
            next_page_token=pagination.encode(_UNDELIVERABLE, page[-1].seq) if more else "",
        )

    @translated
    async def RetryUndeliverableNotifications(  # noqa: N802
        self, request: admin.RetryUndeliverableNotificationsRequest, context: Context
    ) -> admin.RetryUndeliverableNotificationsResponse:
        """Make undeliverable notifications pending again, due now."""
        retried = await asyncio.to_thread(
            self._require_outbox().retry_notifications,
            list(request.notification_ids),
            self._clock(),
        )
        log.info("%d undeliverable notifications retried by %s", retried, current_actor().name)
        return admin.RetryUndeliverableNotificationsResponse(retried=retried)

    def _require_outbox(self) -> NotificationOutbox:
        if self._outbox is None:  # pragma: no cover - every server built by bootstrap has one
            raise RuntimeError("this server has no store to list notifications from")
        return self._outbox


_UNDELIVERABLE = "undeliverable-notifications"
_PAGE, _MAX_PAGE = 100, 1000


def _requested_time(request: admin.AdvanceTimeRequest) -> datetime | None:
    bad = mapping.Violations()
    moment = optional_time(request, "time", "", bad)
    bad.raise_if_any()
    return moment
