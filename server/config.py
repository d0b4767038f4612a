"""Settings enter once, as a frozen object.

Precedence, highest first: command-line flag, environment variable (``SQM_*``), default.
The default store is the embedded SQLite file, so ``sqm serve`` needs no set-up; a
``postgresql://`` URL selects the PostgreSQL store shared by several instances.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from sqm.domain.notifications import KINDS
from sqm.server.app.pipeline import DEFAULT_SNAPSHOT_EVERY
from sqm.server.storage.urls import is_postgres_url, redact_url, url_scheme

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATABASE = Path("var/sqm.sqlite3")

ENVIRONMENT = {
    "address": "SQM_ADDRESS",
    "database": "SQM_DATABASE",
    "policy_dir": "SQM_POLICY_DIR",
    "log_level": "SQM_LOG_LEVEL",
    "tick_seconds": "SQM_TICK_SECONDS",
    "tokens_file": "SQM_TOKENS_FILE",
    "tls_cert": "SQM_TLS_CERT",
    "tls_key": "SQM_TLS_KEY",
    "tls_client_ca": "SQM_TLS_CLIENT_CA",
    "metrics_port": "SQM_METRICS_PORT",
    "migrate": "SQM_MIGRATE",
    "max_message_bytes": "SQM_MAX_MESSAGE_BYTES",
    "max_concurrent_rpcs": "SQM_MAX_CONCURRENT_RPCS",
    "shutdown_grace_seconds": "SQM_SHUTDOWN_GRACE_SECONDS",
    "drill": "SQM_DRILL",
    "max_clock_skew_seconds": "SQM_MAX_CLOCK_SKEW_SECONDS",
    "log_format": "SQM_LOG_FORMAT",
    "checkpoint_key": "SQM_CHECKPOINT_KEY",
    "checkpoint_file": "SQM_CHECKPOINT_FILE",
    "checkpoint_seconds": "SQM_CHECKPOINT_SECONDS",
    "public_reflection": "SQM_PUBLIC_REFLECTION",
    "stream_idle_seconds": "SQM_STREAM_IDLE_SECONDS",
    "snapshot_every": "SQM_SNAPSHOT_EVERY",
    "workers": "SQM_WORKERS",
    "policy_approvals": "SQM_POLICY_APPROVALS",
    "webhook_urls": "SQM_WEBHOOK_URLS",
    "webhook_secret_file": "SQM_WEBHOOK_SECRET_FILE",
    "webhook_kinds": "SQM_WEBHOOK_KINDS",
    "webhook_recipients": "SQM_WEBHOOK_RECIPIENTS",
    "delivery_attempts": "SQM_DELIVERY_ATTEMPTS",
    "delivery_backoff_seconds": "SQM_DELIVERY_BACKOFF_SECONDS",
    "delivery_max_backoff_seconds": "SQM_DELIVERY_MAX_BACKOFF_SECONDS",
    "delivery_timeout_seconds": "SQM_DELIVERY_TIMEOUT_SECONDS",
    "gc_metrics": "SQM_GC_METRICS",
}
DEFAULT_TICK_SECONDS = 60.0
DEFAULT_POLICY_APPROVALS = 1
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_CONCURRENT_RPCS = 1000
DEFAULT_SHUTDOWN_GRACE_SECONDS = 5.0
DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300.0
DEFAULT_CHECKPOINT_SECONDS = 60.0
DEFAULT_STREAM_IDLE_SECONDS = 300.0
DEFAULT_DELIVERY_ATTEMPTS = 12
DEFAULT_DELIVERY_BACKOFF_SECONDS = 5.0
DEFAULT_DELIVERY_MAX_BACKOFF_SECONDS = 3600.0
DEFAULT_DELIVERY_TIMEOUT_SECONDS = 10.0
LOG_FORMATS = ("text", "json")
# The least each limit may be set to: a server that takes no request is a mistake.
_MINIMUMS = {
    "workers": 1,
    "snapshot_every": 1,
    "policy_approvals": 1,
    "max_message_bytes": 1024,
    "max_concurrent_rpcs": 1,
    "shutdown_grace_seconds": 0,
    "max_clock_skew_seconds": 0,
    "checkpoint_seconds": 0,
    "stream_idle_seconds": 0,
    "delivery_attempts": 1,
    "delivery_backoff_seconds": 0,
    "delivery_max_backoff_seconds": 0,
    "delivery_timeout_seconds": 1,
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@attrs.frozen
class PostgresUrl:
    """A PostgreSQL database, named by a libpq URL (``postgresql://user@host/db?...``)."""

    url: str = attrs.field(repr=redact_url)

    def __str__(self) -> str:
        return redact_url(self.url)


Database = Path | PostgresUrl
"""Where events are kept: a SQLite file, or a PostgreSQL database."""


def database_from(text: str) -> Database:
    """The database ``text`` names: a ``postgresql://`` URL, or else a SQLite file path."""
    if is_postgres_url(text):
        return PostgresUrl(text)
    if url_scheme(text):
        raise ValueError(
            f"database (env {ENVIRONMENT['database']}) must be a SQLite file path or a"
            f" postgresql:// URL, got {redact_url(text)!r}"
        )
    return Path(text)


def database_setting(flag: str | None, environ: Mapping[str, str] = os.environ) -> Database:
    """The database from a ``--database`` flag, else ``SQM_DATABASE``, else the default file."""
    given = flag or environ.get(ENVIRONMENT["database"]) or None
    return DEFAULT_DATABASE if given is None else database_from(given)


@attrs.frozen
class Settings:
    """Everything the server needs to start."""

    address: str = DEFAULT_ADDRESS
    database: Database = DEFAULT_DATABASE
    policy_dir: Path | None = None  # None: the default telecom pack shipped in rules/packs
    log_level: str = "INFO"
    tick_seconds: float = DEFAULT_TICK_SECONDS  # the deadline scheduler's interval; 0: off
    tokens_file: Path | None = (
        None  # SQM_TOKENS (inline) is read by sqm.server.security.auth, not kept here
    )
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # given: mutual TLS, clients must present a certificate
    metrics_port: int | None = None  # None: no metrics endpoint; 0 picks a free port
    migrate: bool = False  # PostgreSQL: apply missing schema migrations at start-up
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # a larger request: RESOURCE_EXHAUSTED
    # Calls in progress at once, Watch streams included; one more: RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = DEFAULT_MAX_CONCURRENT_RPCS
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS  # for in-flight calls
    # Drills and tests only: AdminService.AdvanceTime may move the clock past the wall clock
    # by more than max_clock_skew_seconds (otherwise FAILED_PRECONDITION).
    drill: bool = False
    max_clock_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS
    log_format: str = "text"  # "json": one JSON object per log line (the access log too)
    # Signed checkpoints of the record's head (Ed25519 PEM key, kept outside the database),
    # appended to checkpoint_file every checkpoint_seconds (0: only at stop) when the head moved.
    checkpoint_key: Path | None = None
    checkpoint_file: Path | None = None
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    public_reflection: bool = False  # with tokens on: reflection without a token
    # A stream (Watch, upload) that sends and receives nothing this long is ended; 0: never.
    stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS
    # A supplier's snapshot is rewritten when its version reaches a multiple of this (every
    # command at 1); reading a supplier never folds more than this many events past it.
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    # Server processes sharing the port (SO_REUSEPORT), each with its own engine and worker
    # thread, on one database (server/cli/workers.py).
    workers: int = 1
    # People who must sign off a policy change, the proposer counted: 2 is four eyes (the
    # proposer cannot approve, and ActivatePolicy is refused). 1 keeps one person able to
    # activate directly, as servers did before sign-off existed.
    policy_approvals: int = DEFAULT_POLICY_APPROVALS
    # Notifications (server/notifications): POSTed to each URL, signed with the secret in
    # the file; only those of the kinds and recipients listed, when lists are given.
    webhook_urls: tuple[str, ...] = ()
    webhook_secret_file: Path | None = None
    webhook_kinds: tuple[str, ...] = ()
    webhook_recipients: tuple[str, ...] = ()
    # A failed delivery is tried again after the backoff, doubled each time up to the
    # maximum (with jitter), until it has been tried this many times: then undeliverable.
    delivery_attempts: int = DEFAULT_DELIVERY_ATTEMPTS
    delivery_backoff_seconds: float = DEFAULT_DELIVERY_BACKOFF_SECONDS
    delivery_max_backoff_seconds: float = DEFAULT_DELIVERY_MAX_BACKOFF_SECONDS
    # One POST's time limit; a worker's claim on a notification lasts twice this and a
    # second, so a worker that dies mid-delivery holds it up no longer than that.
    delivery_timeout_seconds: float = DEFAULT_DELIVERY_TIMEOUT_SECONDS
    # Diagnosis: time every garbage collection into a metric and log it
    # (server/observability/gc_pauses.py).
    gc_metrics: bool = False


def settings_from(
    flags: Mapping[str, object | None], environ: Mapping[str, str] = os.environ
) -> Settings:
    """Build settings from parsed flags (None means "not given") over the environment."""
    values: dict[str, object] = {}
    for field, variable in ENVIRONMENT.items():
        given = flags.get(field)
        if given is None:
            given = environ.get(variable) or None
        if given is not None:
            values[field] = given
    if "database" in values:
        values["database"] = database_from(str(values["database"]))
    for flag_field in ("migrate", "drill", "public_reflection", "gc_metrics"):
        if flag_field in values:
            values[flag_field] = _flag(flag_field, values[flag_field])
    if "log_format" in values and values["log_format"] not in LOG_FORMATS:
        raise ValueError(
            f"log_format (env {ENVIRONMENT['log_format']}) must be text or json,"
            f" got {values['log_format']!r}"
        )
    _paths_and_lists(values)
    for number_field, kind in _NUMBERS:
        if number_field in values:
            values[number_field] = _number(number_field, kind, values[number_field])
    if ("checkpoint_key" in values) != ("checkpoint_file" in values):
        raise ValueError(
            f"checkpoint_key (env {ENVIRONMENT['checkpoint_key']}) and checkpoint_file"
            f" (env {ENVIRONMENT['checkpoint_file']}) are given together or not at all"
        )
    _check_webhooks(values)
    return Settings(**values)  # type: ignore[arg-type]


def _paths_and_lists(values: dict[str, object]) -> None:
    for path_field in (
        "policy_dir",
        "tokens_file",
        "tls_cert",
        "tls_key",
        "tls_client_ca",
        "checkpoint_key",
        "checkpoint_file",
        "webhook_secret_file",
    ):
        if path_field in values:
            values[path_field] = Path(str(values[path_field]))
    for list_field in ("webhook_urls", "webhook_kinds", "webhook_recipients"):
        if list_field in values:
            values[list_field] = _list(values[list_field])


def _flag(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{field} (env {ENVIRONMENT[field]}) must be true or false, got {value!r}")


_NUMBERS: tuple[tuple[str, type[int] | type[float]], ...] = (
    ("tick_seconds", float),
    ("metrics_port", int),
    ("max_message_bytes", int),
    ("max_concurrent_rpcs", int),
    ("shutdown_grace_seconds", float),
    ("max_clock_skew_seconds", float),
    ("checkpoint_seconds", float),
    ("stream_idle_seconds", float),
    ("snapshot_every", int),
    ("workers", int),
    ("policy_approvals", int),
    ("delivery_attempts", int),
    ("delivery_backoff_seconds", float),
    ("delivery_max_backoff_seconds", float),
    ("delivery_timeout_seconds", float),
)


def _number(field: str, kind: type[int] | type[float], given: object) -> int | float:
    where = f"{field} (env {ENVIRONMENT[field]})"
    try:
        value = kind(str(given))
    except ValueError:
        raise ValueError(f"{where} must be a number, got {given!r}") from None
    least = _MINIMUMS.get(field)
    if least is not None and not value >= least:  # "not >=": NaN is refused too
        raise ValueError(f"{where} must be at least {least}, got {given!r}")
    return value


def _list(given: object) -> tuple[str, ...]:
    # A comma-separated flag or variable, or a list already split.
    items = given.split(",") if isinstance(given, str) else list(given)  # type: ignore[call-overload]
    return tuple(item.strip() for item in items if item.strip())


def _check_webhooks(values: Mapping[str, object]) -> None:
    urls = values.get("webhook_urls", ())
    assert isinstance(urls, tuple)  # noqa: S101 - made by _list
    bad = [url for url in urls if url_scheme(url) not in ("http", "https")]
    if bad:
        raise ValueError(
            f"webhook_urls (env {ENVIRONMENT['webhook_urls']}) must be http:// or https://"
            f" URLs, got {redact_url(bad[0])!r}"
        )
    unknown = [kind for kind in values.get("webhook_kinds", ()) if kind not in KINDS]  # type: ignore[attr-defined]
    if unknown:
        raise ValueError(
            f"webhook_kinds (env {ENVIRONMENT['webhook_kinds']}) must be among"
            f" {', '.join(KINDS)}, got {unknown[0]!r}"
        )
    if bool(urls) != ("webhook_secret_file" in values):
        raise ValueError(
            f"webhook_urls (env {ENVIRONMENT['webhook_urls']}) and webhook_secret_file"
            f" (env {ENVIRONMENT['webhook_secret_file']}) are given together or not at all"
        )
