"""Append signals for the stores in one process: subscribers are called after each commit.

The memory and SQLite stores call :meth:`AppendSignal.fire` once their own transaction has
committed, so a woken watcher always finds the events. A SQLite file may be shared with other
processes, whose commits nothing here sees: given a ``poll``, a thread asks it every
:data:`POLL_SECONDS` while anyone listens, and fires with what it answers. (PostgreSQL has
LISTEN/NOTIFY instead, see ``postgres_listen``.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Callback = Callable[[int], None]
Poll = Callable[[], int | None]
"""The new last sequence when another process has committed since the last call, else None."""
POLL_SECONDS = 0.15


class AppendSignal:
    """Calls every subscribed callback with the new last sequence after a commit."""

    _thread_name = "sqm-poll"
    _join_seconds = 2 * POLL_SECONDS  # how long close waits for the thread

    def __init__(self, poll: Poll | None = None) -> None:
        self._poll = poll
        self._callbacks: dict[int, Callback] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_id = 0

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` after every commit from now on; returns the way to stop that."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._callbacks[key] = callback
            background = self._background()
            if background is not None and self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=background, name=self._thread_name, daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(key, None)

        return unsubscribe

    def fire(self, sequence: int) -> None:
        """Tell every subscriber the log now ends at ``sequence`` (call after the commit)."""
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(sequence)
            except Exception:  # one watcher's trouble must not silence the others
                log.exception("an append callback failed")

    def close(self) -> None:
        """Stop polling and wait for the thread to end (idempotent)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._join_seconds)

    def _background(self) -> Callable[[], None] | None:
        """What the thread that the first subscription starts runs (None: no thread)."""
        return None if self._poll is None else self._watch

    def _watch(self) -> None:
        assert self._poll is not None  # noqa: S101 - started only with a poll
        while not self._stop.wait(POLL_SECONDS):
            try:
                sequence = self._poll()
            except Exception:  # a closed or busy file: watchers keep their own slow poll
                log.debug("polling for other processes' appends failed", exc_info=True)
                continue
            if sequence is not None:
                self.fire(sequence)
