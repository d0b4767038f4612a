"""End to end: a pack that applies its qualification changes to qualified suppliers, taking
effect on a real `sqm serve`. Suppliers still qualified are evaluated again then; one under
the new pass mark goes back to candidate, recorded with the rule and the version; a
contracted one keeps its contract. A pack that applies only to new evaluations (the
default) leaves every recorded qualification standing (既往不咎).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqm.client import SqmClient, contract
from sqm.client.policy_client import PolicyClient
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.tooling.testfile import TEST_FOLDER
from sqm.v1 import resources_pb2 as pb
from tests.e2e.evidence import DECISION_TIME
from tests.e2e.server_process import ServerProcess
from tests.e2e.test_policy_activation import MIDDLING_SCORES, qualify
from tests.policy_fixtures import raise_threshold

pytestmark = pytest.mark.e2e
LEAD = timedelta(seconds=8)
"""How far ahead a pack is scheduled: room for the checks made before its time."""
HIGH_SCORES = dict.fromkeys(MIDDLING_SCORES, 90.0)


def _pass_mark_80(folder: Path, applies_to: str | None) -> Path:
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    rules = folder / "qualification.yaml"
    rules.write_text(raise_threshold(rules.read_text(encoding="utf-8")), encoding="utf-8")
    if applies_to is not None:
        manifest = folder / "manifest.yaml"
        setting = f"qualification_changes_apply_to: {applies_to}\n"
        manifest.write_text(manifest.read_text(encoding="utf-8") + setting, encoding="utf-8")
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A running `sqm serve` where one approval (the proposer's own) is enough."""
    running = ServerProcess(tmp_path / "sqm.sqlite3", "--tick-seconds", "0").start()
    try:
        yield running
    finally:
        running.kill()


def _take_effect(address: str, pack: Path) -> None:
    with PolicyClient(address, actor="alice") as alice:
        number = alice.propose_directory(pack).proposal.number
        alice.approve(number)


def _states(client: SqmClient, *supplier_ids: str) -> dict[str, int]:
    return {s: client.get_supplier(s).state for s in supplier_ids}


def test_qualified_suppliers_are_re_evaluated_when_such_a_pack_takes_effect(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Pass mark 70 -> 80: under new_evaluations nothing moves; under qualified_suppliers
    the qualified supplier at 75 is revoked, the one at 90 and the contracted one stay.
    """
    with SqmClient(server.address) as client:
        qualify(client, "low-nx", MIDDLING_SCORES)
        qualify(client, "high-nx", HIGH_SCORES)
        qualify(client, "signed-nx", MIDDLING_SCORES)
        client.sign_contract("signed-nx", contract("C-1"), occur_time=DECISION_TIME)
        ids = ("low-nx", "high-nx", "signed-nx")
        recorded = _states(client, *ids)

        _take_effect(server.address, _pass_mark_80(tmp_path / "new", "new_evaluations"))
        assert _states(client, *ids) == recorded

        reaching = _pass_mark_80(tmp_path / "reaching", "qualified_suppliers")
        _take_effect(server.address, reaching)
        after = _states(client, *ids)
        revocation = [
            e for e in client.list_supplier_events("low-nx")
            if e.HasField("decision") and "revoked" in e.decision.message
        ]  # fmt: skip

    assert recorded == {
        "low-nx": pb.LIFECYCLE_STATE_QUALIFIED,
        "high-nx": pb.LIFECYCLE_STATE_QUALIFIED,
        "signed-nx": pb.LIFECYCLE_STATE_CONTRACTED,
    }
    assert after == {**recorded, "low-nx": pb.LIFECYCLE_STATE_CANDIDATE}
    (event,) = revocation
    assert event.decision.rule_id == "QUAL-001"
    assert event.decision.policy_version == load_pack(reaching).version
    assert "weighted_score >= 80 (actual 75)" in event.decision.message


def test_a_direct_activation_re_evaluates_qualified_suppliers_too(
    server: ServerProcess, tmp_path: Path
) -> None:
    """`ActivatePolicy` (a server without four eyes) takes effect at once: the same
    re-evaluation, recorded by the server as it activates; a retry records nothing more.
    """
    reaching = _pass_mark_80(tmp_path / "reaching", "qualified_suppliers")
    with SqmClient(server.address) as client:
        qualify(client, "low-nx", MIDDLING_SCORES)
        with PolicyClient(server.address, actor="alice") as alice:
            alice.activate_directory(reaching, request_id="activate-80")
            alice.activate_directory(reaching, request_id="activate-80")
        events = list(client.list_supplier_events("low-nx"))
        state = client.get_supplier("low-nx").state

    assert state == pb.LIFECYCLE_STATE_CANDIDATE
    revocations = [e for e in events if e.HasField("decision") and "revoked" in e.decision.message]
    assert len(revocations) == 1


def test_a_scheduled_pack_re_evaluates_at_its_effective_time_and_not_before(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Approved for T: the supplier stays qualified until T; the first request after T
    finds it back to candidate, the revocation recorded at T.
    """
    reaching = _pass_mark_80(tmp_path / "reaching", "qualified_suppliers")
    at = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    with SqmClient(server.address) as client:
        qualify(client, "low-nx", MIDDLING_SCORES)
        with PolicyClient(server.address, actor="alice") as alice:
            number = alice.propose_directory(reaching, effective_at=at).proposal.number
            alice.approve(number)
            before = client.get_supplier("low-nx").state
            assert datetime.now(UTC) < at, "the machine was too slow to check before the time"
            time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.2)
            alice.list_proposals()  # any read of the policy after T makes the change
        after = client.get_supplier("low-nx").state
        events = list(client.list_supplier_events("low-nx"))

    assert before == pb.LIFECYCLE_STATE_QUALIFIED
    assert after == pb.LIFECYCLE_STATE_CANDIDATE
    (revocation,) = [
        e for e in events if e.HasField("decision") and "revoked" in e.decision.message
    ]
    assert revocation.occur_time.ToDatetime(UTC) == at
