"""The ``sqm`` command line: ``sqm serve`` and ``sqm lifecycle``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from domain import lifecycle
from server.bootstrap import build
from server.config import DEFAULT_ADDRESS, DEFAULT_DATABASE, ENVIRONMENT, Settings, settings_from
from server.grpc_server import create_server, set_serving

SHUTDOWN_GRACE_SECONDS = 5.0
log = logging.getLogger("sqm")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sqm`` command; returns the process exit code."""
    args = _parser().parse_args(argv)
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqm", description="Supplier service-quality management for telecom operators."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the gRPC server",
        description="Run the gRPC server. Flags override SQM_* environment variables.",
    )
    serve.add_argument(
        "--address",
        help=f"host:port to listen on; port 0 picks a free one"
        f" (env {ENVIRONMENT['address']}, default {DEFAULT_ADDRESS})",
    )
    serve.add_argument(
        "--database",
        help=f"SQLite file of the event store, created if missing"
        f" (env {ENVIRONMENT['database']}, default {DEFAULT_DATABASE})",
    )
    serve.add_argument(
        "--policy-dir",
        help=f"policy pack folder (env {ENVIRONMENT['policy_dir']},"
        " default: the telecom pack shipped with SQM)",
    )
    serve.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=f"(env {ENVIRONMENT['log_level']}, default INFO)",
    )
    serve.set_defaults(handler=_serve_command)

    diagram = commands.add_parser(
        "lifecycle", help="print the supplier lifecycle as a Mermaid state diagram"
    )
    diagram.set_defaults(handler=_lifecycle_command)
    return parser


def _lifecycle_command(_: argparse.Namespace) -> int:
    sys.stdout.write(lifecycle.mermaid())
    return 0


def _serve_command(args: argparse.Namespace) -> int:
    settings = settings_from(
        {
            "address": args.address,
            "database": args.database,
            "policy_dir": args.policy_dir,
            "log_level": args.log_level,
        }
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(settings))
    return 0


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then drain: NOT_SERVING first, in-flight calls finish."""
    app = build(settings)
    server, port, health = create_server(app, settings.address)
    await server.start()
    await set_serving(health, True)
    host = settings.address.rsplit(":", 1)[0]
    # The e2e tests and operators read this line to find the bound port.
    print(f"sqm: serving on {host}:{port}", flush=True)
    log.info(
        "store=%s policy=%s version=%s",
        settings.database,
        settings.policy_dir or "default",
        app.policy().version,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await set_serving(health, False)
    await server.stop(grace=SHUTDOWN_GRACE_SECONDS)
    app.close()
    log.info("stopped")
