"""Admission per caller: no single caller, and no crowd without a token, takes every slot.

grpc's ``maximum_concurrent_rpcs`` is one pool for everyone: forty held ``Health.Watch``
streams, or one client's idle streams, made every other call ``RESOURCE_EXHAUSTED``, the
health check and authenticated writes included. Admission runs after authentication (the
:class:`~sqm.server.security.auth.AuthInterceptor` calls :meth:`Admission.admit` once it
knows who is calling) and gives each kind of caller a budget of its own:

- callers without a token reach only the public methods (health), under a small budget of
  their own, with unary calls and streams counted apart (held ``Watch`` streams never stop a
  ``Check``);
- each token holder has a quota of unary calls and one of streams;
- streams (``Watch``, uploads, reflection) of everyone together have a budget apart from
  unary calls, and a stream that sends and receives nothing for ``stream_idle_seconds`` is
  ended (``UNAVAILABLE``; a ``Watch`` resumes from its last token).

A call beyond its budget is refused at once with ``RESOURCE_EXHAUSTED``, naming the budget;
it holds nothing. grpc's global limit stays, above the sum of these, as a backstop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import grpc

Context = grpc.aio.ServicerContext[Any, Any]
PUBLIC_CALLER = ""  # the key of callers without a token


@attrs.frozen
class Budgets:
    """How many calls may be in progress at once, by kind of caller."""

    public_calls: int = 32  # unary calls without a token (health checks), all together
    public_streams: int = 16  # streams without a token (Health.Watch), all together
    calls_per_caller: int = 64  # unary calls of one token holder
    streams_per_caller: int = 16  # streams of one token holder
    streams_total: int = 256  # the streams of all token holders together
    stream_idle_seconds: float = 300.0  # a stream silent both ways this long is ended

    @classmethod
    def within(cls, limit: int, stream_idle_seconds: float = 300.0) -> Budgets:
        """Budgets whose held streams stay well inside grpc's overall ``limit``."""
        share = max(1, limit // 16)
        return cls(
            public_calls=share,
            public_streams=share,
            calls_per_caller=max(1, limit // 8),
            streams_per_caller=share,
            streams_total=max(1, limit // 4),
            stream_idle_seconds=stream_idle_seconds,
        )


class BudgetExhausted(Exception):
    """A call beyond its budget (the message names which)."""


class Admission:
    """Counts calls in progress per budget; an event loop's worth of state, no locks needed."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self._held: dict[tuple[str, str], int] = {}

    def _take(self, caller: str | None, streaming: bool) -> Callable[[], None]:
        """Take a slot in each budget the call counts against; returns how to give them back."""
        keys = self._keys(caller, streaming)
        for key, limit in keys:
            if self._held.get(key, 0) >= limit:
                raise BudgetExhausted(_describe(key, limit))
        for key, _ in keys:
            self._held[key] = self._held.get(key, 0) + 1

        def release() -> None:
            for key, _ in keys:
                self._held[key] -= 1

        return release

    def _keys(self, caller: str | None, streaming: bool) -> list[tuple[tuple[str, str], int]]:
        b = self.budgets
        if caller is None:  # authentication off: no identity, so only the shared stream budget
            return [(("*", "streams"), b.streams_total)] if streaming else []
        if caller == PUBLIC_CALLER:
            if streaming:
                return [(("public", "streams"), b.public_streams)]
            return [(("public", "calls"), b.public_calls)]
        if streaming:
            return [
                ((caller, "streams"), b.streams_per_caller),
                (("*", "streams"), b.streams_total),
            ]
        return [((caller, "calls"), b.calls_per_caller)]

    def held(self) -> dict[tuple[str, str], int]:
        """Calls in progress per budget (for tests and metrics)."""
        return {key: count for key, count in self._held.items() if count}

    def admit(self, handler: Any, caller: str | None) -> Any:
        """``handler`` wrapped so that it runs only within ``caller``'s budget."""
        streaming = handler.request_streaming or handler.response_streaming
        from sqm.server.security.auth import handler_shape  # noqa: PLC0415 - auth imports us

        behaviour, factory = handler_shape(handler)
        if inspect.iscoroutinefunction(behaviour):
            wrapped: Callable[..., Any] = self._call(behaviour, caller, streaming, handler)
        elif inspect.isasyncgenfunction(behaviour):
            wrapped = self._stream(behaviour, caller, handler)
        elif not streaming:
            wrapped = self._sync_call(behaviour, caller)
        else:
            return handler  # a sync stream: none is served here
        return factory(wrapped, handler.request_deserializer, handler.response_serializer)

    async def _enter(self, caller: str | None, streaming: bool, context: Context) -> Any:
        try:
            return self._take(caller, streaming)
        except BudgetExhausted as error:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))

    def _call(self, behaviour: Any, caller: str | None, streaming: bool, handler: Any) -> Any:
        idle = self.budgets.stream_idle_seconds

        async def admitted(request: Any, context: Context) -> Any:
            release = await self._enter(caller, streaming, context)
            try:
                if not streaming or idle <= 0:
                    return await behaviour(request, context)
                return await _watched(behaviour, request, context, handler, idle)
            finally:
                release()

        return admitted

    def _sync_call(self, behaviour: Any, caller: str | None) -> Any:
        def admitted(request: Any, context: Any) -> Any:
            try:
                release = self._take(caller, streaming=False)
            except BudgetExhausted as error:
                context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
                context.set_details(str(error))
                return None
            try:
                return behaviour(request, context)
            finally:
                release()

        return admitted

    def _stream(self, behaviour: Any, caller: str | None, handler: Any) -> Any:
        idle = self.budgets.stream_idle_seconds

        async def admitted(request: Any, context: Context) -> AsyncIterator[Any]:
            release = await self._enter(caller, True, context)
            try:
                responses = behaviour(request, context)
                while True:
                    try:
                        pending = responses.__anext__()
                        response = await (asyncio.wait_for(pending, idle) if idle > 0 else pending)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        await context.abort(grpc.StatusCode.UNAVAILABLE, _idle_message(idle))
                    yield response
            finally:
                release()

        return admitted


class _Activity:
    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


class _WatchedContext:
    """The call's context, noting each message written or read."""

    def __init__(self, context: Context, activity: _Activity) -> None:
        self._context = context
        self._activity = activity

    async def write(self, message: Any) -> None:
        self._activity.touch()
        await self._context.write(message)

    async def read(self) -> Any:
        message = await self._context.read()
        self._activity.touch()
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


async def _touching(requests: AsyncIterator[Any], activity: _Activity) -> AsyncIterator[Any]:
    async for request in requests:
        activity.touch()
        yield request


async def _watched(
    behaviour: Any, request: Any, context: Context, handler: Any, idle: float
) -> Any:
    """Run a stream's coroutine behaviour, ending it once silent for ``idle`` seconds.

    The behaviour runs in the call's own task, as without admission (a write after grpc
    has released the call must not happen); a watchdog task cancels it when silent.
    """
    activity = _Activity()
    if handler.request_streaming:
        request = _touching(request, activity)
    call = asyncio.current_task()
    assert call is not None  # noqa: S101 - grpc runs every handler in a task
    silenced = asyncio.Event()
    watchdog = asyncio.ensure_future(_watchdog(activity, idle, call, silenced))
    try:
        return await behaviour(request, _WatchedContext(context, activity))
    except asyncio.CancelledError:
        if not silenced.is_set():
            raise
        call.uncancel()
        await context.abort(grpc.StatusCode.UNAVAILABLE, _idle_message(idle))
    finally:
        watchdog.cancel()


async def _watchdog(
    activity: _Activity, idle: float, call: asyncio.Task[Any], silenced: asyncio.Event
) -> None:
    while True:
        wait = activity.last + idle - time.monotonic()
        if wait <= 0:
            silenced.set()
            call.cancel()
            return
        await asyncio.sleep(wait)


def _idle_message(idle: float) -> str:
    return (
        f"stream ended: nothing sent or received for {idle:g} s (the server's idle timeout);"
        " a Watch resumes from its last resume_token"
    )


def _describe(key: tuple[str, str], limit: int) -> str:
    who, kind = key
    if who == "public":
        whose = "callers without a token"
    elif who == "*":
        whose = "all token holders together"
    else:
        whose = f"caller {who!r}"
    noun = "streams" if kind == "streams" else "unary calls"
    return f"too many {noun} in progress for {whose} (budget {limit}); try again later"
