"""Keep a supplier's token to its own supplier: the request check the method table drives.

The authentication interceptor decides whether a supplier may call a method at all; this
one, innermost, sees the parsed request and refuses (PERMISSION_DENIED) a supplier's call
whose request names any supplier but its own, in any of the fields
:data:`~sqm.server.security.supplier_access.SUPPLIER_ACCESS` lists for the method. Calls of
the operator's roles pass through untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from sqm.server.api.errors import ForeignSupplier, abort
from sqm.server.security.auth import (
    Continuation,
    Handler,
    ServerInterceptor,
    current_actor,
    handler_shape,
)
from sqm.server.security.supplier_access import (
    SUPPLIER_ACCESS,
    Scope,
    SupplierAccess,
    foreign_field,
)

Context = grpc.aio.ServicerContext[Any, Any]
Check = Callable[[Any, Context], Any]
SQM_PACKAGE = "sqm."


class SupplierScopeInterceptor(ServerInterceptor):
    """Refuse a supplier's request that names another supplier than the one it is bound to."""

    def __init__(self, access: SupplierAccess = SUPPLIER_ACCESS) -> None:
        self._access = access

    # The stubs say a handler is always found; at run time None means "no such method".
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """The same handler, checking the request first when the caller is a supplier."""
        handler = await continuation(handler_call_details)
        supplier = current_actor().supplier
        method = handler_call_details.method.lstrip("/")
        # Health and reflection name no supplier: the role table alone decides them.
        if handler is None or supplier is None or not method.startswith(SQM_PACKAGE):
            return handler
        scope = self._access.get(method)
        behaviour, factory = handler_shape(handler)
        if handler.request_streaming or scope is None or not scope.allowed:
            # Fail closed: a method the table does not allow, or a stream of requests, which
            # cannot be checked before its handler reads it.
            wrapped = _refusing(ForeignSupplier(method, "", supplier))
        elif inspect.isasyncgenfunction(behaviour):
            wrapped = _checked_stream(_checker(method, scope, supplier), behaviour)
        else:
            wrapped = _checked_call(_checker(method, scope, supplier), behaviour)
        return factory(wrapped, handler.request_deserializer, handler.response_serializer)


def _checker(method: str, scope: Scope, supplier: str) -> Check:
    async def check(request: Any, context: Context) -> None:
        field = foreign_field(scope, request, supplier)
        if field is not None:
            await abort(context, ForeignSupplier(method, field, supplier))

    return check


def _refusing(refusal: ForeignSupplier) -> Callable[..., Any]:
    async def refuse(request: Any, context: Context) -> None:
        await abort(context, refusal)

    return refuse


def _checked_call(check: Check, behaviour: Any) -> Callable[..., Any]:
    async def wrapper(request: Any, context: Context) -> Any:
        await check(request, context)
        return await behaviour(request, context)

    return wrapper


def _checked_stream(check: Check, behaviour: Any) -> Callable[..., AsyncIterator[Any]]:
    async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
        await check(request, context)
        async for response in behaviour(request, context):
            yield response

    return wrapper
