"""Call any method of the API generically, by its descriptor: messages, streams or raw bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor

UNARY_DEADLINE = 30.0  # a unary call this slow is a hang
STREAM_DEADLINE = 0.2  # a watch with nothing to send yet waits: that is not a failure


def path(method: MethodDescriptor) -> str:
    """The method's gRPC path, ``/sqm.v1.SupplierService/GetSupplier``."""
    return f"/{method.containing_service.full_name}/{method.name}"


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def send(
    channel: grpc.Channel,
    method: MethodDescriptor,
    request: Any,
    metadata: Sequence[tuple[str, str]] = (),
) -> grpc.RpcError | None:
    """Call ``method`` with ``request`` (a message, a list for a client stream, or raw bytes).

    Returns the error the server answered with, None for success. A server stream is
    cancelled after its first message: the server answered, and a watch never ends.
    """
    raw = isinstance(request, bytes)
    serializer = None if raw else _serialize
    output = message_factory.GetMessageClass(method.output_type).FromString
    where = path(method)
    try:
        if method.server_streaming:
            call = channel.unary_stream(where, serializer, output)
            if method.client_streaming:  # no such method in our API yet; kept general
                call = channel.stream_stream(where, serializer, output)
                request = iter(request if isinstance(request, list) else [request])
            responses = call(request, timeout=STREAM_DEADLINE, metadata=metadata)
            next(responses, None)
            responses.cancel()
        elif method.client_streaming:
            messages = [request] if raw else request
            call = channel.stream_unary(where, serializer, output)
            call(iter(messages), timeout=UNARY_DEADLINE, metadata=metadata)
        else:
            call = channel.unary_unary(where, serializer, output)
            call(request, timeout=UNARY_DEADLINE, metadata=metadata)
    except grpc.RpcError as error:
        return error
    return None


def empty_request(method: MethodDescriptor) -> Any:
    """The method's request with nothing set (a list of none for a client stream)."""
    message = message_factory.GetMessageClass(method.input_type)()
    return [message] if method.client_streaming else message
