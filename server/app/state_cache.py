"""Recently used streams' states (suppliers', needs'), kept while their streams do not move.

Rebuilding a supplier from its snapshot (JSON, then cattrs) costs about as much as deciding
a command on it once its history is a few hundred records long, and a busy supplier is
loaded again for every command. A state is reused only while the stream's version is the
one it was built at, which the store tells without reading the state, so a write by
another process (or instance) is never missed. States are immutable: sharing is safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

STATE_CACHE_SIZE = 256
"""States kept: a busy supplier stays, memory stays bounded (a long history is ~0.2 MB)."""


S = TypeVar("S")


class StateCache(Generic[S]):
    """The latest state of up to ``size`` streams, least recently used dropped first."""

    def __init__(self, size: int = STATE_CACHE_SIZE) -> None:
        self._size = size
        self._states: OrderedDict[str, tuple[int, S]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stream_id: str, version: int) -> S | None:
        """The state of ``stream_id`` at ``version``, if kept."""
        with self._lock:
            kept = self._states.get(stream_id)
            if kept is None or kept[0] != version:
                return None
            self._states.move_to_end(stream_id)
            return kept[1]

    def latest(self, stream_id: str) -> S | None:
        """The last state kept for ``stream_id``, whatever its version (the caller checks)."""
        with self._lock:
            kept = self._states.get(stream_id)
            if kept is None:
                return None
            self._states.move_to_end(stream_id)
            return kept[1]

    def put(self, stream_id: str, version: int, state: S) -> None:
        """Keep ``state`` as the stream's state at ``version``, unless a later one is kept
        (a read on a connection of its own may finish after a write moved the stream on).
        """
        with self._lock:
            kept = self._states.get(stream_id)
            if kept is not None and kept[0] > version:
                return
            self._states[stream_id] = (version, state)
            self._states.move_to_end(stream_id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)
