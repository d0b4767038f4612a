"""One retry policy for every client: transient failures are retried with the same request.

The request (and so its request id) is built once by the caller: every attempt sends the
same id, so the server answers a retry with the first result instead of recording twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self, TypeVar

import grpc

from sqm.client.errors import SqmError, from_rpc_error

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
Response = TypeVar("Response")


def call_with_retries(
    method: Callable[..., Response],
    request: Any,
    *,
    timeout: float,
    metadata: Sequence[tuple[str, str]],
    attempts: int,
    backoff: float,
) -> Response:
    """Call ``method``; retry UNAVAILABLE and DEADLINE_EXCEEDED with exponential backoff.

    Raises :class:`SqmError` carrying the server's reason on failure.
    """
    for attempt in range(1, attempts + 1):
        try:
            return method(request, timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            failure = from_rpc_error(error)
            if failure.code not in RETRYABLE or attempt == attempts:
                raise failure from None
            time.sleep(backoff * 2 ** (attempt - 1))
    raise SqmError(grpc.StatusCode.UNKNOWN, "no attempt made")  # attempts < 1


def call_metadata(actor: str | None, token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata every call of a client carries: who it says it is (believed only when
    the server runs without authentication) and its bearer token.
    """
    metadata: list[tuple[str, str]] = []
    if actor:
        metadata.append(("x-sqm-actor", actor))
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    return tuple(metadata)


class RetryingClient:
    """What every client shares: its channel (closed by :meth:`close` or a ``with`` block), the
    metadata its calls carry, and :func:`call_with_retries` with its settings.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        timeout: float,
        attempts: int,
        backoff: float,
        actor: str | None,
        token: str | None,
    ) -> None:
        self._channel = channel
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._metadata = call_metadata(actor, token)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _pages(self, method: Callable[..., Any], request: Any) -> Iterator[Any]:
        """Every page of a list: ``request`` sent again with each next page token."""
        while True:
            page = self._call(method, request)
            yield page
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    def _call(
        self, method: Callable[..., Response], request: Any, timeout: float | None = None
    ) -> Response:
        return call_with_retries(
            method, request, timeout=timeout or self._timeout, metadata=self._metadata,
            attempts=self._attempts, backoff=self._backoff,
        )  # fmt: skip
