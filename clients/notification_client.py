"""A client for the outbox's undeliverable notifications (``sqm.v1.AdminService``).

::

    from sqm.client.notification_client import NotificationClient

    with NotificationClient("127.0.0.1:50051", token=token) as outbox:
        for notification in outbox.list_undeliverable():
            print(notification.id, notification.last_error)
        outbox.retry_undeliverable()          # every one of them, due now
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from sqm.client.retry import RetryingClient
from sqm.v1 import admin_service_pb2 as api
from sqm.v1 import admin_service_pb2_grpc as api_grpc
from sqm.v1 import resources_pb2 as pb


class NotificationClient(RetryingClient):
    """Lists and retries undeliverable notifications; both calls are safe to retry."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.2,
        actor: str | None = None,
        token: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        channel = channel or grpc.insecure_channel(target)
        super().__init__(
            channel, timeout=timeout, attempts=attempts, backoff=backoff, actor=actor, token=token
        )
        self._stub = api_grpc.AdminServiceStub(channel)

    def list_undeliverable(self, page_size: int = 0) -> Iterator[pb.OutboxNotification]:
        """Every undeliverable notification, oldest first, fetched page by page."""
        request = api.ListUndeliverableNotificationsRequest(page_size=page_size)
        for page in self._pages(self._stub.ListUndeliverableNotifications, request):
            yield from page.notifications

    def retry_undeliverable(self, notification_ids: Sequence[str] = ()) -> int:
        """Make those named (every one when none is) pending again; how many were."""
        request = api.RetryUndeliverableNotificationsRequest(notification_ids=notification_ids)
        return self._call(self._stub.RetryUndeliverableNotifications, request).retried
