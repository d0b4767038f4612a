"""Wire the application together in one place; tests pass fakes in, nothing is built at import."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import attrs

from domain.policy_archive import PolicyArchive
from domain.ports import EventStore, Policy
from rules import default_pack_dir
from server.application import SupplierService
from server.config import Settings
from server.needs import NeedService
from server.policies import ActivePolicy, start_policy
from server.policy_admin import PolicyAdministration
from server.scheduler import DeadlineScheduler
from server.storage.memory import MemoryEventStore
from server.storage.sqlite import SqliteEventStore


def wall_clock() -> datetime:
    """The server's clock: the only place production time enters (at the boundary)."""
    return datetime.now(UTC)


@attrs.define
class App:
    """Everything a running server holds."""

    settings: Settings
    store: EventStore
    policy: ActivePolicy
    service: SupplierService
    executor: ThreadPoolExecutor
    clock: Callable[[], datetime]
    policy_admin: PolicyAdministration
    scheduler: DeadlineScheduler
    needs: NeedService

    def close(self) -> None:
        """Finish queued work, then release the store."""
        self.executor.shutdown(wait=True)
        self.store.close()


def build(
    settings: Settings,
    *,
    store: EventStore | None = None,
    policy: Policy | None = None,
    archive: PolicyArchive | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> App:
    """Build the application from settings; any part may be supplied (tests pass fakes).

    The policy archive is the store's own (SQLite and memory stores are both) unless given.
    Without a ``policy``, the archive's active version is restored, or else the configured
    pack is activated and archived; a given ``policy`` is used as is, not archived.
    """
    if store is None:
        settings.database.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteEventStore(settings.database, clock=clock)
    if archive is None:
        archive = store if isinstance(store, PolicyArchive) else MemoryEventStore(clock=clock)
    if policy is None:
        configured = settings.policy_dir or default_pack_dir()
        explicit = settings.policy_dir is not None
        active = start_policy(archive, configured, clock(), explicit=explicit)
    else:
        active = ActivePolicy(policy, archive)
    # One worker: the SQLite connection and the rules engine are fed from a single thread.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqm-app")
    service = SupplierService(store, active)
    admin = PolicyAdministration(active, archive, clock, store=store)
    scheduler = DeadlineScheduler(service, executor, clock, settings.tick_seconds)
    needs = NeedService(store, active, service)
    return App(settings, store, active, service, executor, clock, admin, scheduler, needs)
