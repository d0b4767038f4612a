"""A real HTTP webhook receiver on a loopback port, in a thread: it checks every signature.

``up`` False answers 503, as a receiver down for maintenance does. Every request is kept:
whether its signature verified, its id header, its JSON body and what it was answered.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any

import attrs

from sqm.server.notifications.signing import ID_HEADER, verify

UNAVAILABLE = 503


@attrs.frozen
class Received:
    """One request the receiver got."""

    notification_id: str
    body: dict[str, Any]
    signature_ok: bool
    accepted: bool


class WebhookReceiver:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is where to POST."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.up = True
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                ok = verify(receiver.secret, headers, raw, time.time())
                accepted = receiver.up and ok
                with receiver._lock:
                    receiver.received.append(
                        Received(self.headers.get(ID_HEADER, ""), json.loads(raw), ok, accepted)
                    )
                self.send_response(204 if accepted else UNAVAILABLE if ok else 401)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass  # keep the test output quiet

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/sqm"

    def start(self) -> WebhookReceiver:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def snapshot(self) -> list[Received]:
        """Every request so far."""
        with self._lock:
            return list(self.received)

    def accepted_ids(self) -> list[str]:
        """The ids of the notifications answered 2xx, in arrival order (repeats kept)."""
        return [r.notification_id for r in self.snapshot() if r.accepted]

    def refused_ids(self) -> set[str]:
        """The ids of the notifications answered 503 at least once."""
        return {r.notification_id for r in self.snapshot() if not r.accepted}

    def wait_for(self, condition: Any, timeout: float = 20.0) -> None:
        """Poll until ``condition()`` is true, or fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received: {self.snapshot()}")
            time.sleep(0.05)
