"""The server's re-evaluation of qualified suppliers as a version takes effect, on a real
SQLite store and the real rules engine: done again, it records nothing twice; a supplier
with a record later than the effective time is judged at its own last time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sqm.domain.commands import RecordMarketResearch
from sqm.domain.model import LifecycleState
from sqm.domain.ports import Policy
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.requalification import Requalifier
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.sqlite import SqliteEventStore
from tests.integration.test_backtest_grandfathering import (
    QUALIFIED_AT,
    pass_mark_75,
    qualify_at,
)

pytestmark = pytest.mark.integration
AT = QUALIFIED_AT + timedelta(days=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """A real SQLite store, closed afterwards."""
    opened = SqliteEventStore(tmp_path / "sqm.sqlite3", clock=lambda: QUALIFIED_AT)
    yield opened
    opened.close()


@pytest.fixture
def reaching(tmp_path: Path) -> Policy:
    """A pass mark of 75 for qualified suppliers."""
    return CompiledPolicy(load_pack(pass_mark_75(tmp_path / "p75", "qualified_suppliers")))


def _service(store: SqliteEventStore) -> SupplierService:
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    return SupplierService(store, lambda: policy)


def test_re_evaluating_again_for_the_same_activation_records_nothing_more(
    store: SqliteEventStore, reaching: Policy
) -> None:
    """The second run (a restart after a crash) finds only the one that passed."""
    service = _service(store)
    qualify_at(service, "low", 72.0, QUALIFIED_AT)
    qualify_at(service, "high", 80.0, QUALIFIED_AT)
    requalify = Requalifier(store)

    first = requalify(reaching, AT, "policy-activation:1")
    events = len(store.read_stream("low"))
    second = requalify(reaching, AT, "policy-activation:1")

    assert (first.evaluated, first.revoked, first.failed) == (2, ("low",), ())
    assert (second.evaluated, second.revoked) == (1, ())
    assert len(store.read_stream("low")) == events
    assert service.get("high").lifecycle is LifecycleState.QUALIFIED


def test_a_supplier_recorded_after_the_effective_time_is_judged_at_its_last_record(
    store: SqliteEventStore, reaching: Policy
) -> None:
    """Time only moves forward along a stream: the re-evaluation is not refused as early."""
    service = _service(store)
    qualify_at(service, "low", 72.0, QUALIFIED_AT)
    later = AT + timedelta(hours=3)
    research = RecordMarketResearch("low", "capable", "good", later)
    service.execute(research, RequestContext("research", "test"))

    done = Requalifier(store)(reaching, AT, "policy-activation:1")

    assert done.revoked == ("low",)
    assert store.read_stream("low")[-1].occurred_at == later


def test_a_version_for_new_evaluations_re_evaluates_nobody(store: SqliteEventStore) -> None:
    """Grandfathering: nothing is even listed."""
    qualify_at(_service(store), "low", 72.0, QUALIFIED_AT)

    done = Requalifier(store)(CompiledPolicy(load_pack(default_pack_dir())), AT, "a:1")

    assert done.evaluated == 0
    assert _service(store).get("low").lifecycle is LifecycleState.QUALIFIED
