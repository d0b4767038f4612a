"""A gRPC proxy that loses answers: the server did the work, the client never hears of it.

Every call is passed to the real server as bytes; for the first ``drop`` calls of each
method the server's answer is thrown away and the client gets UNAVAILABLE instead, as when
a connection breaks after the server committed. The client's retry (same request, same
request id) then goes through. This is the case request ids exist for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

Metadata = tuple[tuple[str, str | bytes], ...]


class LossyProxy(grpc.GenericRpcHandler):
    """Forwards unary and client-streaming calls; drops the first answers of each method."""

    def __init__(self, upstream: str, drop: int) -> None:
        self._channel = grpc.insecure_channel(upstream)
        self._drop = drop
        self.calls: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8), handlers=[self])
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self) -> LossyProxy:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop(grace=None)
        self._channel.close()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        """A pass-through handler for every method (the method is known per call)."""
        method = handler_call_details.method
        if method.endswith("/UploadMeasurements"):
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: self._stream(method, requests, context)
            )
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self._unary(method, request, context)
        )

    def _unary(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        answer = self._channel.unary_unary(method)(
            request, metadata=_forwarded(context), timeout=context.time_remaining()
        )
        return self._deliver_or_lose(method, answer, context)

    def _stream(
        self, method: str, requests: Iterator[bytes], context: grpc.ServicerContext
    ) -> bytes:
        answer = self._channel.stream_unary(method)(
            requests, metadata=_forwarded(context), timeout=context.time_remaining()
        )
        return self._deliver_or_lose(method, answer, context)

    def _deliver_or_lose(self, method: str, answer: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.calls[method] += 1
            lose = self.calls[method] <= self._drop
            self.dropped[method] += lose
        if lose:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost (the proxy dropped it)")
        return answer


def _forwarded(context: grpc.ServicerContext) -> Metadata:
    # The server's own headers (user agent, ...) are not ours to pass on.
    return tuple(
        (key, value)
        for key, value in context.invocation_metadata()
        if key in ("authorization", "x-sqm-actor")
    )
