"""The deadline scheduler: advances every supplier's clock on an interval.

Deadlines (an overdue improvement plan, an expired certificate, a missed report) must fire
without anyone calling: the scheduler ticks the application with the server's clock. The
domain itself never reads the clock; this is the boundary where production time enters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime

from server.application import AdvanceSummary, SupplierService

SCHEDULER_ACTOR = "scheduler"
log = logging.getLogger(__name__)


class DeadlineScheduler:
    """Runs ``service.advance_time(clock())`` every ``interval`` seconds until stopped."""

    def __init__(
        self,
        service: SupplierService,
        executor: Executor,
        clock: Callable[[], datetime],
        interval: float,
    ) -> None:
        self._service = service
        self._executor = executor
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking in the running event loop (a no-op for a non-positive interval)."""
        if self._interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sqm-scheduler")

    async def stop(self) -> None:
        """Stop ticking; a tick in progress finishes its current supplier first."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def tick(self, now: datetime | None = None) -> AdvanceSummary:
        """Advance time once (to ``now``, the clock's time by default) on the worker thread."""
        now = now or self._clock()
        loop = asyncio.get_running_loop()
        summary = await loop.run_in_executor(
            self._executor, self._service.advance_time, now, SCHEDULER_ACTOR
        )
        if summary.suppliers_changed:
            log.info(
                "tick at %s: %d suppliers checked, %d changed, %d decisions",
                now.isoformat(),
                summary.suppliers_checked,
                summary.suppliers_changed,
                len(summary.decisions),
            )
        return summary

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.tick()
            except Exception:
                log.exception("deadline tick failed")
