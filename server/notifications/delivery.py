"""The delivery worker: the outbox's notifications POSTed to the configured webhooks.

An asyncio task started with the server. It wakes when an append commits (and at least every
second, for retries falling due), claims the notifications due, and POSTs each one's JSON to
every webhook whose filter it passes, signed (see :mod:`.signing`). A notification every
webhook answered with a 2xx is marked delivered; otherwise the attempt is counted and the
notification is due again after a backoff that doubles each time (with jitter, so receivers
coming back are not hit by every sender at once), until its attempts run out and it is
kept as undeliverable, listed by ``sqm notifications list --undeliverable`` and retried by
hand.

Delivery is at least once: a notification a webhook took may be posted again (the server
died before marking it, or another webhook failed and the attempt is repeated for all),
always with the same ``SQM-Notification-Id``, on which receivers deduplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import attrs
import httpx

from sqm.domain.notifications import wanted
from sqm.domain.ports import NotificationOutbox, OutboxEntry
from sqm.server.notifications.signing import signed_headers
from sqm.server.observability.calls import Metrics, default_metrics

log = logging.getLogger("sqm.notifications")

POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0
BATCH = 50
COUNTS_EVERY_SECONDS = 5.0


class Outbox(NotificationOutbox, Protocol):
    """The store as the worker uses it: the outbox, and word of new appends."""

    def subscribe_appends(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback`` after appends; returns unsubscribe."""
        ...


@attrs.frozen
class Webhooks:
    """Where notifications go: the URLs, the shared secret, and which ones each receives."""

    urls: tuple[str, ...]
    secret: bytes = attrs.field(repr=False)
    kinds: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()

    def wants(self, entry: OutboxEntry) -> bool:
        """Whether ``entry`` passes the filter (an empty list lets every value through)."""
        return wanted(entry.kind, entry.recipient, self.kinds, self.recipients)


@attrs.frozen
class Backoff:
    """When a failed notification is tried again, and when it is given up."""

    attempts: int
    first_seconds: float
    max_seconds: float

    def retry_at(
        self, attempts_made: int, now: datetime, jitter: Callable[[], float] = random.random
    ) -> datetime | None:
        """The time of the next attempt after ``attempts_made``, or None: give up.

        The delay doubles with each attempt up to the maximum; a random half of it is taken
        off ("equal jitter"), so senders retrying together drift apart.
        """
        if attempts_made >= self.attempts:
            return None
        delay = min(self.max_seconds, self.first_seconds * 2 ** (attempts_made - 1))
        return now + timedelta(seconds=delay * (1 - jitter() / 2))


class DeliveryWorker:
    """Delivers the outbox's notifications until stopped (see the module's description)."""

    def __init__(
        self,
        outbox: Outbox,
        webhooks: Webhooks,
        backoff: Backoff,
        clock: Callable[[], datetime],
        *,
        metrics: Metrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._outbox = outbox
        self._webhooks = webhooks
        self._backoff = backoff
        self._clock = clock
        self._metrics = metrics or default_metrics()
        self._transport = transport
        self._timeout = timeout_seconds
        # A claim outlasts one attempt (its POSTs run side by side, each within the
        # timeout): no other worker takes the notification while this one may still post.
        self._lease = 2 * timeout_seconds + 1
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._counted_at = 0.0
        self._failing = False

    def start(self) -> None:
        """Start delivering in the running event loop; appends wake the worker at once."""
        loop = asyncio.get_running_loop()

        def wake(_last_seq: int) -> None:  # from the store's thread
            loop.call_soon_threadsafe(self._wake.set)

        self._unsubscribe = self._outbox.subscribe_appends(wake)
        self._task = loop.create_task(self._run(), name="sqm-notifications")

    async def stop(self) -> None:
        """Stop after the attempt in progress is cut off; its claim runs out by itself."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        poll = min(POLL_SECONDS, max(self._backoff.first_seconds, 0.05))
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
            while True:
                self._wake.clear()
                try:
                    delivered = await self.deliver_due(client)
                    await self._count()
                except Exception as error:  # the store is down, say: try again next round
                    self._failed(error)
                    delivered = 0
                else:
                    self._recovered()
                if delivered >= BATCH:
                    continue  # more may be waiting
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)

    def _failed(self, error: Exception) -> None:
        # Once per outage: a database down for an hour is one line, not one a second.
        if not self._failing:
            log.warning("notification delivery paused: %s: %s", type(error).__name__, error)
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("notification delivery resumed")
        self._failing = False

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """One round: claim what is due and attempt each; how many were claimed."""
        claimed = await asyncio.to_thread(
            self._outbox.claim_notifications, self._clock(), self._lease, BATCH
        )
        await asyncio.gather(*(self._attempt(client, entry) for entry in claimed))
        return len(claimed)

    async def _attempt(self, client: httpx.AsyncClient, entry: OutboxEntry) -> None:
        urls = self._webhooks.urls if self._webhooks.wants(entry) else ()
        errors = [
            e for e in await asyncio.gather(*(self._post(client, u, entry) for u in urls)) if e
        ]
        now = self._clock()
        if not errors:
            await asyncio.to_thread(self._outbox.mark_delivered, entry.notification_id, now)
            self._metrics.notifications_delivered.labels(kind=entry.kind).inc()
            return
        retry_at = self._backoff.retry_at(entry.attempts + 1, now)
        await asyncio.to_thread(
            self._outbox.record_failed_attempt, entry.notification_id, "; ".join(errors), retry_at
        )
        self._metrics.notification_failures.labels(kind=entry.kind).inc()
        if retry_at is None:
            log.warning("notification %s undeliverable: %s", entry.notification_id, errors)

    async def _post(self, client: httpx.AsyncClient, url: str, entry: OutboxEntry) -> str:
        """Empty when ``url`` took the notification, else why not."""
        body = entry.body.encode()
        headers = signed_headers(
            self._webhooks.secret, entry.notification_id, int(time.time()), body
        )
        try:
            answer = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return f"{url}: {type(error).__name__}: {error}"
        if 200 <= answer.status_code < 300:
            return ""
        return f"{url}: HTTP {answer.status_code}"

    async def _count(self) -> None:
        # The gauges need a count of the whole outbox: now and then, not every round.
        if time.monotonic() - self._counted_at < COUNTS_EVERY_SECONDS:
            return
        self._counted_at = time.monotonic()
        counts = await asyncio.to_thread(self._outbox.outbox_counts)
        self._metrics.notifications_pending.set(counts.pending)
        self._metrics.notifications_undeliverable.set(counts.undeliverable)


def load_secret(path: Path) -> bytes:
    """The webhook secret from its file, without the trailing newline editors add."""
    secret = path.read_bytes().strip()
    if not secret:
        raise ValueError(f"{path}: the webhook secret file is empty")
    return secret
