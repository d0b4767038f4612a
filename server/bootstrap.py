"""Wire the application together in one place; tests pass fakes in, nothing is built at import."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import attrs

from domain.ports import EventStore, Policy
from rules import default_pack_dir, load_policy
from server.application import SupplierService
from server.config import Settings
from server.policies import ActivePolicy
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

    def close(self) -> None:
        """Finish queued work, then release the store."""
        self.executor.shutdown(wait=True)
        self.store.close()


def build(
    settings: Settings,
    *,
    store: EventStore | None = None,
    policy: Policy | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> App:
    """Build the application from settings; any part may be supplied (tests pass fakes)."""
    if policy is None:
        policy = load_policy(settings.policy_dir or default_pack_dir())
    if store is None:
        settings.database.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteEventStore(settings.database, clock=clock)
    active = ActivePolicy(policy)
    # One worker: the SQLite connection and the rules engine are fed from a single thread.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqm-app")
    return App(settings, store, active, SupplierService(store, active), executor, clock)
