"""Wire the application together in one place; tests pass fakes in, nothing is built at import."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import attrs

from sqm.domain.policy_archive import PolicyArchive
from sqm.domain.ports import Policy, Store
from sqm.rules import default_pack_dir
from sqm.server.app.needs import NeedService
from sqm.server.app.policies import ActivePolicy, start_policy
from sqm.server.app.policy_admin import PolicyAdministration
from sqm.server.app.policy_signoff import PolicySignoff
from sqm.server.app.requalification import Requalifier
from sqm.server.app.scheduler import DeadlineScheduler
from sqm.server.app.suppliers import SupplierService
from sqm.server.config import Database, PostgresUrl, Settings
from sqm.server.notifications.delivery import Backoff, DeliveryWorker, Webhooks, load_secret
from sqm.server.security.checkpoints import CheckpointWriter, load_private_key
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.sqlite import SqliteEventStore

DurableStore = SqliteEventStore | PostgresEventStore
"""A store :func:`open_store` opens: the ``Store`` port, and a context manager that restores."""
POLICY_FOLLOW_SECONDS = 1.0


def wall_clock() -> datetime:
    """The server's clock: the only place production time enters (at the boundary)."""
    return datetime.now(UTC)


@attrs.define
class App:
    """Everything a running server holds."""

    settings: Settings
    store: Store
    policy: ActivePolicy
    service: SupplierService
    executor: ThreadPoolExecutor
    clock: Callable[[], datetime]
    policy_admin: PolicyAdministration
    scheduler: DeadlineScheduler
    needs: NeedService
    signoff: PolicySignoff
    checkpoints: CheckpointWriter | None = None
    notifications: DeliveryWorker | None = None
    """Delivers the outbox to the configured webhooks (None: no webhook configured)."""
    # Set when a stopping server's grace is over, just before grpc cancels the calls left: an
    # upload whose stream ends then was cut off, not finished, and must store nothing.
    calls_cut_off: threading.Event = attrs.field(factory=threading.Event)
    reads: SqliteEventStore | None = None
    """The SQLite file's read connection for single-supplier reads (None: reads use ``store``)."""

    def close(self) -> None:
        """Finish queued work, then release the store."""
        self.executor.shutdown(wait=True)
        if self.reads is not None:
            self.reads.close()
        self.store.close()


def open_store(
    database: Database,
    *,
    clock: Callable[[], datetime] = wall_clock,
    migrate: bool = False,
    read_only: bool = False,
) -> DurableStore:
    """The store ``database`` names, opened; :class:`StoreUnavailable` says why it cannot be.

    A SQLite file is created and migrated as it opens (``read_only``: it must exist, and is
    left exactly as it is). A PostgreSQL schema is only checked unless ``migrate`` is given.
    """
    if isinstance(database, PostgresUrl):
        return PostgresEventStore(database.url, clock, migrate=migrate and not read_only)
    return _open_sqlite(database, clock, read_only=read_only)


def _open_sqlite(path: Path, clock: Callable[[], datetime], *, read_only: bool) -> SqliteEventStore:
    if read_only and not path.is_file():
        raise StoreUnavailable(f"{path}: no such database")
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteEventStore(path, clock=clock, read_only=read_only)
    except (OSError, sqlite3.Error) as error:
        raise StoreUnavailable(f"{path}: cannot open the SQLite database: {error}") from None


def build(
    settings: Settings,
    *,
    store: Store | None = None,
    policy: Policy | None = None,
    archive: PolicyArchive | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> App:
    """Build the application from settings; any part may be supplied (tests pass fakes).

    The store is the one ``settings.database`` names unless given (:func:`open_store`).
    The policy archive is the store's own unless given.
    Without a ``policy``, the archive's active version is restored, or else the configured
    pack is activated and archived; a given ``policy`` is used as is, not archived.
    """
    durable = store is None  # opened here: a SQLite file or a PostgreSQL database
    if store is None:
        store = open_store(settings.database, clock=clock, migrate=settings.migrate)
    if archive is None:
        archive = store
    if policy is None:
        configured = settings.policy_dir or default_pack_dir()
        explicit = settings.policy_dir is not None
        active = start_policy(archive, configured, clock(), explicit=explicit)
    else:
        active = ActivePolicy(policy, archive)
    if durable:
        # Processes may share the archive (several instances on PostgreSQL, or on one SQLite
        # file): an activation through any of them reaches all.
        active.follow_archive(POLICY_FOLLOW_SECONDS)
    # One worker: the SQLite connection and the rules engine are fed from a single thread.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqm-app")
    # A SQLite server checkpoints its WAL outside its commits, and answers a supplier read
    # on a connection of its own, on the event loop, not queued behind the worker's
    # commands (docs/performance.md, sixth round).
    reads = None
    if durable and isinstance(store, SqliteEventStore):
        store.checkpoint_in_background()
        reads = store.reader()
    service = SupplierService(store, active, snapshot_every=settings.snapshot_every, reads=reads)
    approvals = settings.policy_approvals
    requalify = Requalifier(store, snapshot_every=settings.snapshot_every)
    admin = PolicyAdministration(
        active, archive, clock, store=store, approvals_required=approvals, requalify=requalify
    )
    signoff = PolicySignoff(active, archive, store, clock, approvals, requalify=requalify)
    signoff.resume()  # what took effect while the server was down, and what is still due
    # Instances sharing a database take turns to tick (the store says whose turn it is).
    needs = NeedService(store, active, service)
    scheduler = DeadlineScheduler(
        service, executor, clock, settings.tick_seconds, store.tick_lock, needs=needs.advance_time
    )
    checkpoints = _checkpoints(settings, store, executor, clock)
    return App(
        settings,
        store,
        active,
        service,
        executor,
        clock,
        admin,
        scheduler,
        needs,
        signoff,
        checkpoints,
        _delivery(settings, store, clock),
        reads=reads,
    )


def _delivery(
    settings: Settings, store: Store, clock: Callable[[], datetime]
) -> DeliveryWorker | None:
    # Without webhooks the outbox still fills (nothing is lost); configuring one later
    # delivers what waited, oldest first.
    if not settings.webhook_urls or settings.webhook_secret_file is None:
        return None
    webhooks = Webhooks(
        settings.webhook_urls,
        load_secret(settings.webhook_secret_file),
        settings.webhook_kinds,
        settings.webhook_recipients,
    )
    backoff = Backoff(
        settings.delivery_attempts,
        settings.delivery_backoff_seconds,
        settings.delivery_max_backoff_seconds,
    )
    return DeliveryWorker(
        store, webhooks, backoff, clock, timeout_seconds=settings.delivery_timeout_seconds
    )


def _checkpoints(
    settings: Settings, store: Store, executor: ThreadPoolExecutor, clock: Callable[[], datetime]
) -> CheckpointWriter | None:
    if settings.checkpoint_key is None or settings.checkpoint_file is None:
        return None
    key = load_private_key(settings.checkpoint_key)
    return CheckpointWriter(
        store, key, settings.checkpoint_file, executor, clock, interval=settings.checkpoint_seconds
    )
