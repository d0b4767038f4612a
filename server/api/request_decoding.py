"""Requests that are not valid protobuf are the caller's error: INVALID_ARGUMENT, not a crash.

grpc parses a request before the handler runs and, when the bytes do not parse, answers
UNKNOWN (a unary request) or INTERNAL (a streamed one) and logs a traceback, as if the
server had failed. :class:`DecodingInterceptor` swaps each handler's parser for one that
never raises: bytes that do not parse become an :class:`Undecodable` request, and the
handler's wrapper ends the call with INVALID_ARGUMENT naming the message type instead.

It goes last in the server's list: authentication still refuses first, and the access log
still sees (and counts) the call with its final status.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import grpc
from google.protobuf.message import DecodeError

from sqm.server.api.errors import MalformedRequest, abort
from sqm.server.security.auth import Continuation, Handler, ServerInterceptor, handler_shape

Context = grpc.aio.ServicerContext[Any, Any]


@attrs.frozen
class Undecodable:
    """A request whose bytes did not parse; ``problem`` says why (never the bytes)."""

    problem: str


def _tolerant(parse: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if parse is None:
        return None

    def parse_or_note(data: bytes) -> Any:
        try:
            return parse(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            return Undecodable(str(error))

    return parse_or_note


def _refusal(request: Undecodable) -> MalformedRequest:
    return MalformedRequest(request.problem)


class DecodingInterceptor(ServerInterceptor):
    """Answer requests that do not parse with INVALID_ARGUMENT, whatever the call's shape."""

    # The stubs say a handler is always found; at run time None means "no such method".
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """The same handler, parsing requests without raising."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        kind = (handler.request_streaming, handler.response_streaming)
        behaviour, factory = handler_shape(handler)
        if inspect.isasyncgenfunction(behaviour):
            wrapped: Callable[..., Any] = _checked_stream(behaviour, kind[0])
        elif inspect.iscoroutinefunction(behaviour):
            wrapped = _checked_call(behaviour, kind[0])
        elif not kind[0] and not kind[1]:  # a sync stub (grpc's own Health.List is one)
            wrapped = _checked_sync_call(behaviour)
        else:
            return handler
        parse = _tolerant(handler.request_deserializer)
        return factory(wrapped, parse, handler.response_serializer)


def _checked_call(behaviour: Any, request_streaming: bool) -> Callable[[Any, Context], Any]:
    async def wrapper(request: Any, context: Context) -> Any:
        if request_streaming:
            return await behaviour(_parsed_stream(request, context), context)
        if isinstance(request, Undecodable):
            await abort(context, _refusal(request))
        return await behaviour(request, context)

    return wrapper


def _checked_sync_call(behaviour: Any) -> Callable[[Any, Any], Any]:
    def wrapper(request: Any, context: Any) -> Any:
        if isinstance(request, Undecodable):
            # A sync handler ends with a status by setting it and returning no message
            # (raising would work too, but grpc then logs a traceback).
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details(str(_refusal(request)))
            return None
        return behaviour(request, context)

    return wrapper


def _checked_stream(
    behaviour: Any, request_streaming: bool
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
        if request_streaming:
            request = _parsed_stream(request, context)
        elif isinstance(request, Undecodable):
            await abort(context, _refusal(request))
        async for response in behaviour(request, context):
            yield response

    return wrapper


async def _parsed_stream(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, Undecodable):
            await abort(context, _refusal(request))
        yield request
