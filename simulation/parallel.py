"""Work spread over processes, answers kept in the order asked: what ``--jobs N`` runs on.

Suppliers are independent in a simulation and in a backtest, so they are split over worker
processes and their results merged in a fixed order: the output is byte for byte that of
one process. Workers are started with ``spawn``, each with its own compiled policy (the
rules engine keeps process-wide state that a ``fork`` would copy half-made), and at most a
few tasks per worker are in flight, so a long history is never read into memory at once.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from sqm.rules import CompiledPolicy, PolicyPack

T = TypeVar("T")
R = TypeVar("R")

TASKS_IN_FLIGHT_PER_JOB = 4

_worker_policies: tuple[tuple[CompiledPolicy, PolicyPack], ...] = ()


def ordered_map(
    function: Callable[[T], R],
    items: Iterable[T],
    *,
    jobs: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    process_per_item: bool = False,
) -> Iterator[R]:
    """``function(item)`` for each item, computed in ``jobs`` processes, yielded in order.

    ``process_per_item``: each item in a new process of its own, for work whose result may
    depend on what the process did before (see ``sqm.simulation.check``).
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=initializer,
        initargs=initargs,
        max_tasks_per_child=1 if process_per_item else None,
    ) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= jobs * TASKS_IN_FLIGHT_PER_JOB:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter): itertools.batched, 3.12."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def compile_in_worker(*packs: PolicyPack) -> None:
    """A worker's initializer: compile ``packs`` once for every task the worker runs."""
    global _worker_policies  # noqa: PLW0603 - the policies of one worker process, by design
    _worker_policies = tuple((CompiledPolicy(pack), pack) for pack in packs)


def worker_policies() -> tuple[tuple[CompiledPolicy, PolicyPack], ...]:
    """The policies :func:`compile_in_worker` compiled in this process, in its order."""
    if not _worker_policies:
        raise RuntimeError("not in a worker started by ordered_map with compile_in_worker")
    return _worker_policies


def worker_policy() -> tuple[CompiledPolicy, PolicyPack]:
    """The one policy :func:`compile_in_worker` compiled in this process."""
    (only,) = worker_policies()
    return only
