"""Group commit for the process methods: concurrent calls share one commit.

Every call's command joins a queue; a job on the service's single worker thread takes what
has queued (at most :data:`MAX_BATCH`) and runs it through
:meth:`SupplierService.execute_batch`: decided in arrival order, appended in one transaction,
each call answered once that transaction is durable. Under load the fsync per call, the
ceiling of one-command transactions, is shared by the batch; alone, a call is a batch of one.

Each batch is its own job on the worker, so other work queued meanwhile (uploads, reads,
ticks) takes its turn between batches.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor

import attrs

from sqm.domain.commands import Command
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService

MAX_BATCH = 64
"""Commands in one transaction at most: bounds how long the first of them waits."""


@attrs.frozen
class _Waiting:
    command: Command
    context: RequestContext
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[CommandResult]


class GroupCommit:
    """Runs commands for concurrent callers in batches on ``executor`` (one worker)."""

    def __init__(self, service: SupplierService, executor: Executor) -> None:
        self._service = service
        self._executor = executor
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._scheduled = False

    async def execute(self, command: Command, context: RequestContext) -> CommandResult:
        """Execute ``command`` as :meth:`SupplierService.execute` would, in a batch."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(command, context, loop, loop.create_future())
        with self._lock:
            self._queue.append(waiting)
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            self._schedule()
        return await waiting.answer

    def _schedule(self) -> None:
        try:
            self._executor.submit(self._run_batch)
        except RuntimeError as error:  # the worker is shut down: nobody waits forever
            with self._lock:
                stranded, self._queue = self._queue, []
                self._scheduled = False
            for waiting in stranded:
                waiting.loop.call_soon_threadsafe(_settle, waiting.answer, error)

    def _run_batch(self) -> None:
        # On the worker thread.
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            outcomes: list[CommandResult | BaseException] = list(
                self._service.execute_batch([(w.command, w.context) for w in batch])
            )
        except BaseException as error:  # the commit itself failed: every caller hears it
            outcomes = [error] * len(batch)
        finally:
            with self._lock:
                self._scheduled = more = bool(self._queue)
            if more:
                self._schedule()
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.loop.call_soon_threadsafe(_settle, waiting.answer, outcome)


def _settle(answer: asyncio.Future[CommandResult], outcome: CommandResult | BaseException) -> None:
    if answer.done():  # the caller was cancelled; the command ran all the same
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
