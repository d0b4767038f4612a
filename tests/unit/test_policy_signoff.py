"""Policy sign-off through the application: effective times, restart, rollback, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.domain.commands import RegisterSupplier
from sqm.domain.errors import RequestIdReused
from sqm.domain.policy_changes import (
    POLICY_STREAM,
    ProposalStatus,
    SameApprover,
    SignoffRequired,
)
from sqm.rules.loader import read_pack_files
from sqm.server.app.integrity import audit
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.policies import ActivePolicy, start_policy
from sqm.server.app.policy_admin import PolicyAdministration
from sqm.server.app.policy_signoff import SIGNOFF_ACTOR, PolicySignoff
from sqm.server.app.suppliers import SupplierService
from sqm.server.config import settings_from
from sqm.server.storage.memory import MemoryEventStore
from tests.policy_fixtures import raise_threshold, write_pack
from tests.unit.test_policy_admin import fake_compile

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SetClock:
    """A clock that stays where a test puts it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        """The time set."""
        return self.now


@pytest.fixture
def clock() -> SetClock:
    """The clock at T0."""
    return SetClock()


@pytest.fixture
def store() -> MemoryEventStore:
    """An empty store, which is also the archive."""
    return MemoryEventStore()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The qualification pack on disk, activated at start."""
    return write_pack(tmp_path / "pack")


@pytest.fixture
def raised(folder: Path) -> dict[str, str]:
    """The pack with QUAL-001's threshold raised: another version."""
    files = read_pack_files(folder)
    return {**files, "qualification.yaml": raise_threshold(files["qualification.yaml"])}


def _server(
    store: MemoryEventStore, folder: Path, clock: SetClock, approvals: int = 2
) -> tuple[ActivePolicy, PolicySignoff]:
    active = start_policy(store, folder, clock(), fake_compile)
    signoff = PolicySignoff(active, store, store, clock, approvals, compile_=fake_compile)
    signoff.resume()
    return active, signoff


def test_a_scheduled_version_decides_from_its_time_and_not_before(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """Approved for T0+1h, the new version is handed out from exactly then, and recorded."""
    active, signoff = _server(store, folder, clock)
    old = active.version
    at = T0 + timedelta(hours=1)
    proposed = signoff.propose(raised, at, "alice", "p-1")
    approved = signoff.approve(1, "bob", "a-1")
    assert approved.proposal is not None
    assert approved.proposal.status is ProposalStatus.APPROVED

    clock.now = at - timedelta(microseconds=1)
    assert active().version == old
    assert store.active_version() == old

    clock.now = at
    assert proposed.proposal is not None
    assert active().version == proposed.proposal.version
    last = store.activations()[-1]
    assert (last.version, last.activated_at, last.actor) == (
        proposed.proposal.version,
        at,
        "alice (approved by bob)",
    )
    recorded = store.read_stream(POLICY_STREAM)
    assert [(r.event_type, r.actor) for r in recorded] == [
        ("PolicyProposed", "alice"),
        ("PolicyApproved", "bob"),
        ("PolicyActivated", SIGNOFF_ACTOR),
    ]


def test_the_proposer_cannot_approve_and_nothing_is_recorded(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """SAME_APPROVER refuses the proposer's approval; the stream holds the proposal alone."""
    _, signoff = _server(store, folder, clock)
    signoff.propose(raised, None, "alice", "p-1")

    with pytest.raises(SameApprover):
        signoff.approve(1, "alice", "a-1")

    assert [r.event_type for r in store.read_stream(POLICY_STREAM)] == ["PolicyProposed"]


def test_a_pending_schedule_survives_a_restart(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """A server started again before the time keeps the old version, then switches at it."""
    _, signoff = _server(store, folder, clock)
    at = T0 + timedelta(hours=1)
    new = signoff.propose(raised, at, "alice", "p-1").proposal
    signoff.approve(1, "bob", "a-1")

    assert new is not None
    clock.now = T0 + timedelta(minutes=30)
    active, _ = _server(store, folder, clock)
    assert active().version != new.version
    clock.now = at + timedelta(seconds=1)
    assert active().version == new.version


def test_a_version_due_while_the_server_was_down_is_recorded_at_its_time_on_start(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """Started after the time, the server records the activation at the stated time."""
    _, signoff = _server(store, folder, clock)
    at = T0 + timedelta(hours=1)
    signoff.propose(raised, at, "alice", "p-1")
    signoff.approve(1, "bob", "a-1")

    clock.now = at + timedelta(hours=5)
    active, _ = _server(store, folder, clock)
    assert store.activations()[-1].activated_at == at
    assert active.current().version == store.active_version()


def test_upon_approval_without_a_time_and_a_retry_changes_nothing(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """No time given: active once approved; the same request id again is a replay."""
    active, signoff = _server(store, folder, clock)
    signoff.propose(raised, None, "alice", "p-1")
    first = signoff.approve(1, "bob", "a-1")
    again = signoff.approve(1, "bob", "a-1")

    assert first.active_version == active.version
    assert first.proposal is not None
    assert first.proposal.status is ProposalStatus.ACTIVE
    assert again.replayed
    assert len(store.read_stream(POLICY_STREAM)) == 3


def test_rollback_returns_to_the_version_before_and_is_recorded_with_its_actor(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """After a change took effect, rollback makes the former version active again, once."""
    active, signoff = _server(store, folder, clock)
    old = active.version
    signoff.propose(raised, None, "alice", "p-1")
    signoff.approve(1, "bob", "a-1")

    rolled = signoff.rollback("carol", "r-1")
    retried = signoff.rollback("carol", "r-1")

    assert rolled.active_version == old
    assert active().version == old
    assert retried.replayed
    assert store.active_version() == old
    last = store.read_stream(POLICY_STREAM)[-1]
    assert (last.event_type, last.actor, last.payload["to_version"]) == (
        "PolicyRolledBack",
        "carol",
        old,
    )


def test_a_cancelled_schedule_never_takes_effect(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """Withdrawn before its time, an approved proposal leaves the active version alone."""
    active, signoff = _server(store, folder, clock)
    old = active.version
    signoff.propose(raised, T0 + timedelta(hours=1), "alice", "p-1")
    signoff.approve(1, "bob", "a-1")
    signoff.cancel(1, "alice", "c-1")

    clock.now = T0 + timedelta(hours=2)
    assert active().version == old
    assert signoff.proposal(1).status is ProposalStatus.CANCELLED


def test_direct_activation_is_refused_under_four_eyes(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """With two approvals required, ActivatePolicy says to propose instead."""
    active, _ = _server(store, folder, clock)
    admin = PolicyAdministration(active, store, clock, fake_compile, approvals_required=2)

    with pytest.raises(SignoffRequired, match="propose"):
        admin.activate(raised, "alice", "act-1")


def test_the_audit_check_folds_the_policy_stream(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """VerifyAuditChain finds nothing wrong with a store holding policy changes."""
    _, signoff = _server(store, folder, clock)
    signoff.propose(raised, None, "alice", "p-1")
    signoff.approve(1, "bob", "a-1")

    assert audit(store).findings == ()


def test_the_number_of_approvals_is_a_setting_of_at_least_one() -> None:
    """--policy-approvals over SQM_POLICY_APPROVALS over the default 1; 0 is refused."""
    environ = {"SQM_POLICY_APPROVALS": "2"}
    assert settings_from({}, {}).policy_approvals == 1
    assert settings_from({}, environ).policy_approvals == 2
    assert settings_from({"policy_approvals": "3"}, environ).policy_approvals == 3
    with pytest.raises(ValueError, match="policy_approvals"):
        settings_from({"policy_approvals": "0"}, {})


def test_an_instance_follows_a_change_another_instance_scheduled_and_then_went_down(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """Two servers share a store; the one that took the proposal is gone at the time: the
    other, following the archive, arms the change and makes it at its time, not before.
    """
    follower, follower_signoff = _server(store, folder, clock)
    follower.follow_archive(0)
    _, proposer = _server(store, folder, clock)
    at = T0 + timedelta(hours=1)
    new = proposer.propose(raised, at, "alice", "p-1").proposal
    proposer.approve(1, "bob", "a-1")
    assert new is not None

    clock.now = at - timedelta(seconds=1)
    assert follower().version != new.version
    clock.now = at
    assert follower().version == new.version
    assert store.activations()[-1].activated_at == at
    assert follower_signoff.proposal(1).status is ProposalStatus.ACTIVE


def test_suppliers_listed_and_ticked_leave_the_policy_stream_alone(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """With no need recorded, the policy stream sorts right after the suppliers: listing
    suppliers and the deadline tick stop before it.
    """
    active, signoff = _server(store, folder, clock)
    signoff.propose(raised, None, "alice", "p-1")
    suppliers = SupplierService(store, active)
    suppliers.execute(
        RegisterSupplier("zte-nx", "ZTE", "network_equipment", T0),
        RequestContext("r-1", "ops"),
    )

    assert [s.supplier_id for s in suppliers.list_suppliers("", 10)] == ["zte-nx"]
    assert suppliers.advance_time(T0 + timedelta(days=1), "scheduler").suppliers_checked <= 1


def test_a_rollback_reusing_an_activations_request_id_is_refused(
    store: MemoryEventStore, folder: Path, clock: SetClock, raised: dict[str, str]
) -> None:
    """The request id of a direct activation names that request: a rollback under it is
    REQUEST_ID_REUSED, and nothing is rolled back.
    """
    active, signoff = _server(store, folder, clock)
    admin = PolicyAdministration(active, store, clock, fake_compile)
    new = admin.activate(raised, "alice", "same-id").activation.version

    with pytest.raises(RequestIdReused):
        signoff.rollback("bob", "same-id")

    assert active().version == new
    assert store.read_stream(POLICY_STREAM) == []
