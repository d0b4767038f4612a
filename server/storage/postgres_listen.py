"""Wake-ups across instances: LISTEN on a connection of its own, call back on each NOTIFY.

An append NOTIFYs its store's channel inside its transaction (so the notification leaves
only on commit) with the new last global sequence as payload. A notification is only a
hint: watchers always read from the sequence, and keep polling slowly in case a
notification is lost (the listening connection dropped and is being re-established).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql

from sqm.server.storage.signals import AppendSignal

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
_WAIT_SECONDS = 0.5  # how often the listening thread looks up to see whether it should stop


class AppendListener(AppendSignal):
    """Calls every subscribed callback with the sequence each NOTIFY on ``channel`` carries.

    The listening thread starts with the first subscription and ends on :meth:`close`.
    Once (re)connected and listening, callbacks are called with the log's head as it is
    then: an append that committed before the LISTEN took hold (the first subscriber's own,
    or any during a reconnection) sent its notification to nobody, and is covered so.
    """

    _thread_name = "sqm-pg-listen"
    _join_seconds = RECONNECT_SECONDS + 2 * _WAIT_SECONDS

    def __init__(self, conninfo: str, channel: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._channel = channel

    def _background(self) -> Callable[[], None]:
        return self._run

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
            head = conn.execute("SELECT last_seq FROM log_head").fetchone()
            self.fire(int(head[0]) if head else 0)
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=_WAIT_SECONDS):
                    self.fire(_sequence(notice.payload))


def _sequence(payload: str) -> int:
    with contextlib.suppress(ValueError):
        return int(payload)
    return 0
