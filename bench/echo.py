"""The ceiling for unary calls: a grpc.aio server that answers each request with its bytes.

Same framework, same machine, same client as ``sqm serve``; nothing else happens in it.
``python -m bench.echo --address 127.0.0.1:0`` prints ``echo: serving on HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio

import grpc

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def serve(address: str) -> None:
    """Serve the echo method until killed."""
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(address)
    await server.start()
    print(f"echo: serving on {address.rsplit(':', 1)[0]}:{port}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    """Parse ``--address`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo")
    parser.add_argument("--address", default="127.0.0.1:0")
    asyncio.run(serve(parser.parse_args().address))


if __name__ == "__main__":
    main()
