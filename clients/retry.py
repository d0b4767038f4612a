"""One retry policy for every client: transient failures are retried with the same request.

The request (and so its request id) is built once by the caller: every attempt sends the
same id, so the server answers a retry with the first result instead of recording twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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
