"""``sqm serve --workers N``: N server processes on one port and one database.

grpc's Python server runs the application on one core. Each worker here is a whole server
(its own engine, worker thread and group commit), started with ``spawn`` like the workers
of grpc's multiprocessing example, and the kernel spreads new connections over them:
SO_REUSEPORT, which grpc sets on Linux. They share the database as separate instances do
(SQLite in WAL mode across processes, or PostgreSQL): a write that raced another worker's
on the same supplier is caught by the stream's version check, and the deadline scheduler
takes turns through the store's tick lock. Worker 0 alone signs checkpoints at their
interval (every worker still verifies against the checkpoint file, and signs the head once
more when it stops). Every worker delivers notifications from the outbox: a claim with a
lease keeps two of them from posting one notification at once.

Metrics cover every worker: each keeps its own in files of a private directory
(prometheus_client's multiprocess mode, ``server/observability/worker_metrics.py``), and
this process serves ``--metrics-port`` from them, counters and histograms summed over the
workers, gauges merged as each one's mode says (``GAUGE_MODES`` in
``server/observability/calls.py``).

This process reserves the port (a bound socket that never listens holds it, so port 0
works), starts the workers, prints the serving line once every worker serves, passes
SIGTERM and SIGINT on, and exits 0 when every worker stopped cleanly. A worker that dies
stops the rest: a supervisor then restarts the whole service.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

import attrs

from sqm.server.config import Settings
from sqm.server.observability.calls import MetricsServer, start_metrics_server
from sqm.server.observability.worker_metrics import MetricFiles, metric_files

log = logging.getLogger("sqm.workers")
START_SECONDS = 60.0
_SPAWN = multiprocessing.get_context("spawn")
Serve = Callable[[Settings, Callable[[str], None] | None], int]


def serve_workers(settings: Settings, serve: Serve) -> int:
    """Run ``settings.workers`` processes each calling ``serve``; the exit status."""
    with _reserved(settings.address) as address, metric_files() as files:
        try:
            metrics = _metrics_server(settings.metrics_port, files)
        except OSError as error:
            print(f"sqm: metrics port {settings.metrics_port}: {error}", file=sys.stderr)
            return 2
        try:
            return _run(settings, serve, address, files)
        finally:
            if metrics is not None:
                metrics.close()


def _metrics_server(port: int | None, files: MetricFiles) -> MetricsServer | None:
    """Serve every worker's metrics from ``files`` on ``port`` (None: no endpoint)."""
    if port is None:
        return None
    server = start_metrics_server(port, files.registry())
    url = f"http://127.0.0.1:{server.port}/metrics"
    print(f"sqm: metrics on {url} (every worker's)", file=sys.stderr, flush=True)
    return server


def _run(settings: Settings, serve: Serve, address: str, files: MetricFiles) -> int:
    ready = [_SPAWN.Event() for _ in range(settings.workers)]
    workers = [
        _SPAWN.Process(
            target=_worker,
            args=(serve, _for_worker(settings, address, index), ready[index]),
            name=f"sqm-worker-{index}",
        )
        for index in range(settings.workers)
    ]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with files.for_children():  # each worker's metrics go to the files
        for worker in workers:
            worker.start()
    if not _all_ready(workers, ready, stop):
        return _stopped(workers, files) or 2
    print(f"sqm: serving on {address}", flush=True)
    while not stop.wait(0.2):
        dead = [worker for worker in workers if not worker.is_alive()]
        if dead:
            print("sqm: a worker stopped; stopping the others", file=sys.stderr)
            _marked_dead(dead, files)
            _stopped(workers, files)
            return 1
    return _stopped(workers, files)


def _for_worker(settings: Settings, address: str, index: int) -> Settings:
    # This process serves the metrics endpoint, for every worker.
    if index == 0:
        return attrs.evolve(settings, address=address, workers=1, metrics_port=None)
    return attrs.evolve(
        settings, address=address, workers=1, metrics_port=None, checkpoint_seconds=0
    )


def _worker(serve: Serve, settings: Settings, ready: Event) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent passes a terminal's Ctrl-C on
    sys.exit(serve(settings, lambda _: ready.set()))


def _all_ready(
    workers: Sequence[BaseProcess], ready: Sequence[Event], stop: threading.Event
) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while not all(event.is_set() for event in ready):
        if stop.is_set() or time.monotonic() > deadline:
            return False
        if any(worker.exitcode is not None for worker in workers):
            return False  # it said why on stderr (a bad pack, a database it cannot open)
        time.sleep(0.05)
    return True


def _stopped(workers: Sequence[BaseProcess], files: MetricFiles) -> int:
    """SIGTERM every worker still running, wait for each; 0 when all exited cleanly."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join()
    _marked_dead(workers, files)
    return 0 if all(worker.exitcode == 0 for worker in workers) else 1


def _marked_dead(workers: Sequence[BaseProcess], files: MetricFiles) -> None:
    """Drop the live gauges of ``workers``, which have stopped (their counters stay)."""
    for worker in workers:
        if worker.pid is not None:
            files.mark_dead(worker.pid)


@contextlib.contextmanager
def _reserved(address: str) -> Iterator[str]:
    """Hold ``address``'s port (picking one for port 0) with a socket that never listens."""
    host, _, port = address.rpartition(":")
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((bare, int(port)))
        yield f"{host}:{holder.getsockname()[1]}"
