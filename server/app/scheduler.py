"""The deadline scheduler: advances every supplier's clock on an interval.

Deadlines (an overdue improvement plan, an expired certificate, a missed report) must fire
without anyone calling: the scheduler ticks the application with the server's clock. The
domain itself never reads the clock; this is the boundary where production time enters.

Several instances on one database take turns: a scheduled tick runs only while it holds the
store's tick lock (a PostgreSQL advisory lock), so the others skip instead of repeating the
work. Correctness does not rest on the lock: a tick's request ids and the stream versions
record each deadline once even when two ticks overlap (``AdminService.AdvanceTime`` calls,
which are not skipped, or an instance whose lock connection failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from datetime import datetime

import attrs

from sqm.server.app.suppliers import AdvanceSummary, SupplierService

NeedTicker = Callable[[datetime, str], AdvanceSummary]
"""Advances the open needs' clocks (``NeedService.advance_time``)."""

SCHEDULER_ACTOR = "scheduler"
log = logging.getLogger(__name__)
TickLock = Callable[[], AbstractContextManager[bool]]
"""Enter to learn whether this instance may tick now; leave to let others."""


def always_granted() -> AbstractContextManager[bool]:
    """The tick lock of a server that shares its database with nobody."""
    return contextlib.nullcontext(True)


class DeadlineScheduler:
    """Runs ``service.advance_time(clock())`` every ``interval`` seconds until stopped, and
    ``needs(clock())`` after it: the open needs' deadlines (selection rules) fall due too.
    """

    def __init__(
        self,
        service: SupplierService,
        executor: Executor,
        clock: Callable[[], datetime],
        interval: float,
        tick_lock: TickLock | None = None,
        *,
        needs: NeedTicker | None = None,
    ) -> None:
        self._service = service
        self._needs = needs
        self._executor = executor
        self._clock = clock
        self._interval = interval
        self._tick_lock = tick_lock or always_granted
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

    async def tick(
        self, now: datetime | None = None, *, take_turns: bool = False
    ) -> AdvanceSummary:
        """Advance time once (to ``now``, the clock's time by default) on the worker thread.

        With ``take_turns`` (the scheduler's own ticks), nothing is done while another
        instance holds the tick lock: the summary then counts nothing.
        """
        now = now or self._clock()
        loop = asyncio.get_running_loop()
        summary = await loop.run_in_executor(self._executor, self._advance, now, take_turns)
        if summary.suppliers_changed:
            log.info(
                "tick at %s: %d suppliers checked, %d changed, %d decisions",
                now.isoformat(),
                summary.suppliers_checked,
                summary.suppliers_changed,
                len(summary.decisions),
            )
        return summary

    def _advance(self, now: datetime, take_turns: bool) -> AdvanceSummary:
        if not take_turns:
            return self._advance_all(now)
        with self._tick_lock() as held:
            if not held:
                log.debug("tick at %s skipped: another instance is ticking", now.isoformat())
                return AdvanceSummary(0, 0, ())
            return self._advance_all(now)

    def _advance_all(self, now: datetime) -> AdvanceSummary:
        # The counts are the suppliers'; the needs' decisions come after theirs.
        suppliers = self._service.advance_time(now, SCHEDULER_ACTOR)
        if self._needs is None:
            return suppliers
        needs = self._needs(now, SCHEDULER_ACTOR)
        return attrs.evolve(suppliers, decisions=(*suppliers.decisions, *needs.decisions))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.tick(take_turns=True)
            except Exception:
                log.exception("deadline tick failed")
