"""Wake-ups across instances: LISTEN on a connection of its own, call back on each NOTIFY.

An append NOTIFYs its store's channel inside its transaction (so the notification leaves
only on commit) with the new last global sequence as payload. A notification is only a
hint: watchers always read from the sequence, and keep polling slowly in case a
notification is lost (the listening connection dropped and is being re-established).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

Callback = Callable[[int], None]
RECONNECT_SECONDS = 1.0
_WAIT_SECONDS = 0.5  # how often the listening thread looks up to see whether it should stop


class AppendListener:
    """Calls every subscribed callback with the sequence each NOTIFY on ``channel`` carries.

    The listening thread starts with the first subscription and ends on :meth:`close`.
    After (re)connecting, callbacks are called with 0: anything may have been missed, so
    watchers read again.
    """

    def __init__(self, conninfo: str, channel: str) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._callbacks: dict[int, Callback] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_id = 0

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` on every append from now on; returns the way to stop that."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._callbacks[key] = callback
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="sqm-pg-listen", daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(key, None)

        return unsubscribe

    def close(self) -> None:
        """Stop listening and wait for the thread to end."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=RECONNECT_SECONDS + 2 * _WAIT_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning("listening for appends failed, retrying: %s", error)
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._fire(0)
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=_WAIT_SECONDS):
                    self._fire(_sequence(notice.payload))

    def _fire(self, sequence: int) -> None:
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(sequence)
            except Exception:  # one watcher's trouble must not silence the others
                log.exception("an append callback failed")


def _sequence(payload: str) -> int:
    with contextlib.suppress(ValueError):
        return int(payload)
    return 0
