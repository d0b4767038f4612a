"""The ``sqm`` command line: ``sqm serve``, ``sqm lifecycle``, ``sqm policy ...``,
``sqm db ...``, ``sqm simulate ...`` and ``sqm backtest``, and the client commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import grpc

from sqm.client.cli import add_client_commands
from sqm.domain import lifecycle
from sqm.domain.action_table import action_table
from sqm.domain.errors import InvalidCommand
from sqm.domain.notifications import KINDS
from sqm.rules import PackInvalid
from sqm.server.api.grpc_server import create_server, follow_storage, set_serving, stop_serving
from sqm.server.app.pipeline import DEFAULT_SNAPSHOT_EVERY
from sqm.server.bootstrap import build
from sqm.server.cli.audit import add_audit_commands
from sqm.server.cli.db import DATABASE_HELP, MIGRATE_HELP, add_db_commands
from sqm.server.cli.policy import add_policy_commands
from sqm.server.cli.policy_signoff import add_signoff_commands
from sqm.server.cli.simulate import add_simulation_commands
from sqm.server.cli.workers import serve_workers
from sqm.server.config import (
    DEFAULT_ADDRESS,
    DEFAULT_CHECKPOINT_SECONDS,
    DEFAULT_DELIVERY_ATTEMPTS,
    DEFAULT_DELIVERY_BACKOFF_SECONDS,
    DEFAULT_DELIVERY_MAX_BACKOFF_SECONDS,
    DEFAULT_DELIVERY_TIMEOUT_SECONDS,
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    DEFAULT_MAX_CONCURRENT_RPCS,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_POLICY_APPROVALS,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    DEFAULT_STREAM_IDLE_SECONDS,
    DEFAULT_TICK_SECONDS,
    ENVIRONMENT,
    LOG_FORMATS,
    Settings,
    settings_from,
)
from sqm.server.observability.calls import default_metrics, start_metrics_server
from sqm.server.observability.gc_pauses import GcPauses
from sqm.server.observability.gc_tuning import tune_after_start_up
from sqm.server.observability.logs import configure_logging
from sqm.server.observability.tracing import configure_tracing
from sqm.server.security.auth import TokenConfigError, TokenTable, load_tokens
from sqm.server.security.checkpoints import CheckpointError
from sqm.server.security.tls import TlsConfigError, optional_server_credentials
from sqm.server.storage.errors import StoreUnavailable

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
    serve.add_argument("--database", help=DATABASE_HELP)
    serve.add_argument("--migrate", action="store_true", default=None, help=MIGRATE_HELP)
    serve.add_argument(
        "--policy-dir",
        help=f"policy pack folder (env {ENVIRONMENT['policy_dir']},"
        " default: the telecom pack shipped with SQM)",
    )
    serve.add_argument(
        "--tick-seconds",
        help=f"how often the deadline scheduler advances time; 0 turns it off"
        f" (env {ENVIRONMENT['tick_seconds']}, default {DEFAULT_TICK_SECONDS:g})",
    )
    serve.add_argument(
        "--workers",
        help=f"server processes sharing the port and the database, each on a core of its own"
        f" (env {ENVIRONMENT['workers']}, default 1)",
    )
    serve.add_argument(
        "--snapshot-every",
        help=f"write a supplier's snapshot every N versions; reading one then folds at most"
        f" N events past it (env {ENVIRONMENT['snapshot_every']},"
        f" default {DEFAULT_SNAPSHOT_EVERY})",
    )
    serve.add_argument(
        "--policy-approvals",
        help=f"people who must sign off a policy change, the proposer counted; 2 or more is"
        f" four eyes and refuses direct activation (env {ENVIRONMENT['policy_approvals']},"
        f" default {DEFAULT_POLICY_APPROVALS})",
    )
    serve.add_argument(
        "--tokens-file",
        help=f"YAML file of bearer tokens and their roles; turns authentication on"
        f" (env {ENVIRONMENT['tokens_file']}, or SQM_TOKENS='name:role:token,...')",
    )
    serve.add_argument(
        "--tls-cert", help=f"server certificate, PEM (env {ENVIRONMENT['tls_cert']})"
    )
    serve.add_argument("--tls-key", help=f"server private key, PEM (env {ENVIRONMENT['tls_key']})")
    serve.add_argument(
        "--tls-client-ca",
        help=f"CA for client certificates: mutual TLS (env {ENVIRONMENT['tls_client_ca']})",
    )
    serve.add_argument(
        "--metrics-port",
        help=f"serve Prometheus metrics on 127.0.0.1:PORT, every worker's under --workers"
        f" (env {ENVIRONMENT['metrics_port']})",
    )
    serve.add_argument(
        "--gc-metrics",
        action="store_true",
        default=None,
        help="time every garbage collection into the sqm_gc_pause_seconds metric and log it"
        f" (env {ENVIRONMENT['gc_metrics']})",
    )
    _add_limits(serve)
    _add_checkpoints(serve)
    _add_webhooks(serve)
    serve.add_argument(
        "--public-reflection",
        action="store_true",
        default=None,
        help=f"with tokens on, let callers without a token use server reflection"
        f" (env {ENVIRONMENT['public_reflection']}; off: reflection needs a token)",
    )
    serve.add_argument(
        "--drill",
        action="store_true",
        default=None,
        help=f"drill mode: AdminService.AdvanceTime may move time beyond the wall clock"
        f" (env {ENVIRONMENT['drill']}; off by default)",
    )
    serve.add_argument(
        "--max-clock-skew-seconds",
        help=f"outside drill mode, how far past the wall clock AdvanceTime may go"
        f" (env {ENVIRONMENT['max_clock_skew_seconds']},"
        f" default {DEFAULT_MAX_CLOCK_SKEW_SECONDS:g})",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help=f"text (readable) or json (one object per line) (env {ENVIRONMENT['log_format']},"
        " default text)",
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
    diagram.add_argument(
        "--actions",
        action="store_true",
        help="print instead what each rule action does in each state (a Markdown table)",
    )
    diagram.set_defaults(handler=_lifecycle_command)

    add_signoff_commands(add_policy_commands(commands))
    add_db_commands(commands)
    add_audit_commands(commands)
    add_simulation_commands(commands)
    add_client_commands(commands)
    return parser


def _add_limits(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--max-message-bytes",
        help=f"largest request message accepted; larger: RESOURCE_EXHAUSTED"
        f" (env {ENVIRONMENT['max_message_bytes']}, default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    serve.add_argument(
        "--max-concurrent-rpcs",
        help=f"calls in progress at once, Watch streams included; one more:"
        f" RESOURCE_EXHAUSTED (env {ENVIRONMENT['max_concurrent_rpcs']},"
        f" default {DEFAULT_MAX_CONCURRENT_RPCS})",
    )
    serve.add_argument(
        "--stream-idle-seconds",
        help=f"end a stream (Watch, upload) that sends and receives nothing this long; 0: never"
        f" (env {ENVIRONMENT['stream_idle_seconds']}, default {DEFAULT_STREAM_IDLE_SECONDS:g})",
    )
    serve.add_argument(
        "--shutdown-grace-seconds",
        help=f"on SIGTERM, how long calls in flight may take to finish"
        f" (env {ENVIRONMENT['shutdown_grace_seconds']},"
        f" default {DEFAULT_SHUTDOWN_GRACE_SECONDS:g})",
    )


def _add_webhooks(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--webhook-urls",
        help=f"comma-separated http(s) URLs the notifications are POSTed to, signed"
        f" (env {ENVIRONMENT['webhook_urls']}; none: notifications wait in the outbox)",
    )
    serve.add_argument(
        "--webhook-secret-file",
        help=f"file holding the secret that signs deliveries (HMAC-SHA256); required with"
        f" --webhook-urls (env {ENVIRONMENT['webhook_secret_file']})",
    )
    serve.add_argument(
        "--webhook-kinds",
        help=f"only these kinds, comma-separated: {', '.join(KINDS)}"
        f" (env {ENVIRONMENT['webhook_kinds']}; default all)",
    )
    serve.add_argument(
        "--webhook-recipients",
        help=f"only for these recipients, comma-separated roles or supplier:ID"
        f" (env {ENVIRONMENT['webhook_recipients']}; default all)",
    )
    serve.add_argument(
        "--delivery-attempts",
        help=f"attempts before a notification is undeliverable"
        f" (env {ENVIRONMENT['delivery_attempts']}, default {DEFAULT_DELIVERY_ATTEMPTS})",
    )
    serve.add_argument(
        "--delivery-backoff-seconds",
        help=f"wait before the first retry, doubled each time"
        f" (env {ENVIRONMENT['delivery_backoff_seconds']},"
        f" default {DEFAULT_DELIVERY_BACKOFF_SECONDS:g})",
    )
    serve.add_argument(
        "--delivery-max-backoff-seconds",
        help=f"the longest wait between retries"
        f" (env {ENVIRONMENT['delivery_max_backoff_seconds']},"
        f" default {DEFAULT_DELIVERY_MAX_BACKOFF_SECONDS:g})",
    )
    serve.add_argument(
        "--delivery-timeout-seconds",
        help=f"one POST's time limit; a worker's claim lasts twice this and a second"
        f" (env {ENVIRONMENT['delivery_timeout_seconds']},"
        f" default {DEFAULT_DELIVERY_TIMEOUT_SECONDS:g})",
    )


def _add_checkpoints(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--checkpoint-key",
        help=f"Ed25519 private key (PEM, kept outside the database) that signs checkpoints of"
        f" the record's head; with --checkpoint-file (env {ENVIRONMENT['checkpoint_key']})",
    )
    serve.add_argument(
        "--checkpoint-file",
        help=f"where signed checkpoints are appended, one JSON line each"
        f" (env {ENVIRONMENT['checkpoint_file']})",
    )
    serve.add_argument(
        "--checkpoint-seconds",
        help=f"how often the head is signed when it moved; 0: only at stop"
        f" (env {ENVIRONMENT['checkpoint_seconds']}, default {DEFAULT_CHECKPOINT_SECONDS:g})",
    )


def _pack_problem(folder: Path | None, error: PackInvalid | InvalidCommand) -> str:
    """A bad pack at start-up in one located line, pointing at ``sqm policy lint``."""
    where = f"policy pack {folder or 'default'}"
    if isinstance(error, PackInvalid):
        problems = [str(problem) for problem in error.errors] or [str(error)]
    else:
        problems = [f"{v.field}: {v.description}" for v in error.violations] or [str(error)]
    more = len(problems) - 1
    suffix = f" (and {more} more; see `sqm policy lint {folder}`)" if more else ""
    return f"{where}: {problems[0]}{suffix}"


def _lifecycle_command(args: argparse.Namespace) -> int:
    sys.stdout.write(action_table() if args.actions else lifecycle.mermaid())
    return 0


def _serve_command(args: argparse.Namespace) -> int:
    flags = {field: getattr(args, field, None) for field in ENVIRONMENT}
    try:
        settings = settings_from(flags)
    except ValueError as error:
        print(f"sqm: {error}", file=sys.stderr)
        return 2
    if settings.workers > 1:
        return serve_workers(settings, run_server)
    return run_server(settings)


def run_server(settings: Settings, announce: Callable[[str], None] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; the exit status (2: could not start, said in one line).

    ``announce`` is told the address once serving (default: print the line operators and
    tests read).
    """
    configure_logging(settings.log_level, settings.log_format)
    tracer_provider = configure_tracing()  # only when the OTEL_* environment asks
    try:
        tokens = load_tokens(settings.tokens_file)
        credentials = optional_server_credentials(
            settings.tls_cert, settings.tls_key, settings.tls_client_ca
        )
    except (TokenConfigError, TlsConfigError) as error:
        print(f"sqm: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings, tokens, credentials, announce or _print_address))
    except (StoreUnavailable, CheckpointError) as error:  # found before serving
        print(f"sqm: {error}", file=sys.stderr)
        return 2
    except (PackInvalid, InvalidCommand) as error:  # the configured pack, found before serving
        print(f"sqm: {_pack_problem(settings.policy_dir, error)}", file=sys.stderr)
        return 2
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()  # flushes the spans still batched
    return 0


def _print_address(address: str) -> None:
    # The e2e tests and operators read this line to find the bound port.
    print(f"sqm: serving on {address}", flush=True)


async def serve(
    settings: Settings,
    tokens: TokenTable | None = None,
    credentials: grpc.ServerCredentials | None = None,
    announce: Callable[[str], None] = _print_address,
) -> None:
    """Serve until SIGTERM or SIGINT, then drain: NOT_SERVING first, in-flight calls finish."""
    app = build(settings)
    server, port, health = create_server(
        app,
        settings.address,
        tokens=tokens,
        credentials=credentials,
        max_message_bytes=settings.max_message_bytes,
        max_concurrent_rpcs=settings.max_concurrent_rpcs,
        drill=settings.drill,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
        public_reflection=settings.public_reflection,
        stream_idle_seconds=settings.stream_idle_seconds,
    )
    metrics_server = (
        start_metrics_server(settings.metrics_port) if settings.metrics_port is not None else None
    )
    if metrics_server is not None:
        log.info("metrics on http://127.0.0.1:%d/metrics", metrics_server.port)
    await server.start()
    await set_serving(health, True)
    storage = asyncio.get_running_loop().create_task(follow_storage(app.store, health))
    app.scheduler.start()
    if app.checkpoints is not None:
        app.checkpoints.start()
    if app.notifications is not None:
        app.notifications.start()
    tune_after_start_up()
    gc_pauses = GcPauses(default_metrics().registry) if settings.gc_metrics else None
    host = settings.address.rsplit(":", 1)[0]
    announce(f"{host}:{port}")
    log.info(
        "store=%s policy=%s version=%s drill=%s max_clock_skew_seconds=%g log_format=%s",
        settings.database,
        settings.policy_dir or "default",
        app.policy().version,
        "on" if settings.drill else "off",
        settings.max_clock_skew_seconds,
        settings.log_format,
    )
    if settings.drill:
        log.warning("drill mode: AdvanceTime may move every supplier's clock into the future")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    storage.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await storage
    await set_serving(health, False)
    await app.scheduler.stop()
    await stop_serving(server, settings.shutdown_grace_seconds, app.calls_cut_off)
    if app.notifications is not None:
        await app.notifications.stop()  # what it had not delivered waits in the outbox
    if app.checkpoints is not None:
        await app.checkpoints.stop()  # the head as the last call left it
    if metrics_server is not None:
        metrics_server.close()
    if gc_pauses is not None:
        gc_pauses.close()
    app.close()
    log.info("stopped")
