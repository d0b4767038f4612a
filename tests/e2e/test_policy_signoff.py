"""End to end: policy sign-off on a real `sqm serve` over gRPC. A scheduled pack takes effect
at its time and not before (across a restart); the proposer cannot approve under four eyes;
direct activation is refused there; the CLI signs and rolls back.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient
from sqm.client.errors import SqmError, from_rpc_error
from sqm.client.policy_client import PolicyClient
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.tooling.testfile import TEST_FOLDER
from sqm.v1 import policy_service_pb2 as api
from sqm.v1 import policy_service_pb2_grpc as api_grpc
from tests.commands import sqm
from tests.e2e.server_process import ServerProcess
from tests.e2e.test_policy_activation import MIDDLING_SCORES, qualify
from tests.policy_fixtures import raise_threshold

pytestmark = pytest.mark.e2e
FOUR_EYES = ("--tick-seconds", "0", "--policy-approvals", "2")
LEAD = timedelta(seconds=12)
"""How far ahead a pack is scheduled: room for the checks made before its time."""


@pytest.fixture
def raised_pack(tmp_path: Path) -> Path:
    """The default pack with QUAL-001's weighted score threshold raised from 70 to 80."""
    folder = tmp_path / "raised"
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    rules = folder / "qualification.yaml"
    rules.write_text(raise_threshold(rules.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where the server keeps its record."""
    return tmp_path / "sqm.sqlite3"


@pytest.fixture
def four_eyes(database: Path) -> Iterator[ServerProcess]:
    """A running `sqm serve --policy-approvals 2` (killed afterwards, whatever happens)."""
    server = ServerProcess(database, *FOUR_EYES).start()
    try:
        yield server
    finally:
        server.kill()


def _decided_under(address: str, supplier_id: str) -> set[str]:
    with SqmClient(address) as client:
        return {d.policy_version for d in qualify(client, supplier_id, MIDDLING_SCORES)}


def _before(moment: datetime) -> None:
    """Fail loudly when a check meant for before ``moment`` comes too late to mean anything."""
    assert datetime.now(UTC) < moment, "the machine was too slow to check before the time"


def test_a_scheduled_pack_takes_effect_at_its_time_and_not_before_even_across_a_restart(
    four_eyes: ServerProcess, database: Path, raised_pack: Path
) -> None:
    """Proposed and approved for T, the old version decides until T (a restart in between
    changes nothing), the new one from T; activation history says T; decisions keep theirs.
    """
    old, new = load_pack(default_pack_dir()).version, load_pack(raised_pack).version
    at = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    with PolicyClient(four_eyes.address, actor="alice") as alice:
        proposed = alice.propose_directory(raised_pack, effective_at=at)
    with PolicyClient(four_eyes.address, actor="bob") as bob:
        approved = bob.approve(proposed.proposal.number)
    assert approved.proposal.state == api.POLICY_PROPOSAL_STATE_APPROVED
    assert approved.proposal.take_effect_time.ToDatetime(UTC) == at
    assert _decided_under(four_eyes.address, "early-nx") == {old}
    _before(at)

    four_eyes.stop()
    restarted = ServerProcess(database, *FOUR_EYES).start()
    try:
        assert _decided_under(restarted.address, "restart-nx") == {old}
        _before(at)
        time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.2)

        assert _decided_under(restarted.address, "late-nx") == {new}
        with PolicyClient(restarted.address) as policies:
            versions = {v.version: v for v in policies.list_versions()}
            (proposal,) = policies.list_proposals().proposals
        assert versions[new].active
        assert versions[new].last_activate_time.ToDatetime(UTC) == at
        assert proposal.state == api.POLICY_PROPOSAL_STATE_ACTIVE
        with SqmClient(restarted.address) as client:
            early = [e for e in client.list_supplier_events("early-nx") if e.HasField("decision")]
        assert {e.decision.policy_version for e in early} == {old}
    finally:
        restarted.kill()


def test_the_proposer_cannot_approve_their_own_pack(
    four_eyes: ServerProcess, raised_pack: Path
) -> None:
    """The proposer approving their own: FAILED_PRECONDITION, SAME_APPROVER; another passes."""
    with PolicyClient(four_eyes.address, actor="alice") as alice:
        number = alice.propose_directory(raised_pack).proposal.number
        with pytest.raises(SqmError) as refused:
            alice.approve(number)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "SAME_APPROVER"

    server = ("--server", four_eyes.address)
    own = sqm("policy", "approve", str(number), *server, "--actor", "alice")
    other = sqm("policy", "approve", str(number), *server, "--actor", "bob")

    assert own.returncode == 1, own.stderr
    assert "SAME_APPROVER" in own.stderr
    assert other.returncode == 0, other.stderr
    assert f"active version {load_pack(raised_pack).version}" in other.stdout


def test_direct_activation_is_refused_under_four_eyes(
    four_eyes: ServerProcess, raised_pack: Path
) -> None:
    """ActivatePolicy on a four-eyes server says to propose; the active policy stays."""
    with PolicyClient(four_eyes.address, actor="alice") as alice:
        with pytest.raises(SqmError) as refused:
            alice.activate_directory(raised_pack)
        active = {v.version for v in alice.list_versions() if v.active}
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "SIGNOFF_REQUIRED"
    assert active == {load_pack(default_pack_dir()).version}


def test_a_small_team_signs_alone_and_rolls_back_from_the_command_line(
    database: Path, raised_pack: Path
) -> None:
    """With one approval, the proposer approves; rollback restores the former version."""
    old, new = load_pack(default_pack_dir()).version, load_pack(raised_pack).version
    server = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        where = ("--server", server.address, "--actor", "li.na")
        proposed = sqm("policy", "propose", str(raised_pack), *where)
        approved = sqm("policy", "approve", "1", *where)
        after_approval = _decided_under(server.address, "signed-nx")
        rolled = sqm("policy", "rollback", *where)
        listed = sqm("policy", "proposals", "--server", server.address)
        after_rollback = _decided_under(server.address, "rolled-nx")
    finally:
        server.kill()

    assert proposed.returncode == 0, proposed.stderr
    assert "policyProposals/1 pending" in proposed.stdout
    assert approved.returncode == 0, approved.stderr
    assert after_approval == {new}
    assert rolled.returncode == 0, rolled.stderr
    assert f"active version {old}" in rolled.stdout
    assert after_rollback == {old}
    assert "approvals required on this server: 1" in listed.stdout
    assert "policyProposals/1 active" in listed.stdout


def test_with_tokens_the_signer_is_the_token_and_other_roles_cannot_sign(
    tmp_path: Path, raised_pack: Path
) -> None:
    """A proposer cannot pose as someone else to approve their own pack: the token names
    the signer, not the actor header; an auditor's approval is PERMISSION_DENIED.
    """
    tokens = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdefgh"}
    auditor = "auditor-token-0123456789abcd"
    entries = "".join(
        f"  - {{name: {name}, role: policy_admin, token: {token}}}\n"
        for name, token in tokens.items()
    )
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text(
        f"tokens:\n{entries}  - {{name: audit, role: auditor, token: {auditor}}}\n",
        encoding="utf-8",
    )
    tokens_file.chmod(0o600)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", *FOUR_EYES, "--tokens-file", str(tokens_file)
    ).start()
    try:
        with PolicyClient(server.address, actor="alice", token=tokens["alice"]) as alice:
            number = alice.propose_directory(raised_pack).proposal.number
        with (
            PolicyClient(server.address, actor="bob", token=tokens["alice"]) as posing,
            pytest.raises(SqmError) as same,
        ):
            posing.approve(number)
        with PolicyClient(server.address, token=auditor) as audit, pytest.raises(SqmError) as no:
            audit.approve(number)
        with PolicyClient(server.address, token=tokens["bob"]) as bob:
            approved = bob.approve(number)
    finally:
        server.kill()

    assert same.value.reason == "SAME_APPROVER"
    assert no.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert list(approved.proposal.approvers) == ["bob"]
    assert approved.proposal.proposer == "alice"
    assert [e.actor for e in approved.events] == ["bob"]


def test_every_bad_field_of_a_sign_off_request_is_named_in_one_answer(
    four_eyes: ServerProcess,
) -> None:
    """A malformed proposal name, no request id and no time: INVALID_ARGUMENT naming all."""
    with grpc.insecure_channel(four_eyes.address) as channel:
        stub = api_grpc.PolicyServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.SchedulePolicy(api.SchedulePolicyRequest(name="proposals/x"), timeout=10)
        with pytest.raises(grpc.RpcError) as unknown:
            stub.ApprovePolicy(
                api.ApprovePolicyRequest(name="policyProposals/9", request_id="r-1"), timeout=10
            )

    error = from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {b.field for b in error.bad_fields} == {"name", "request_id", "effective_time"}
    assert from_rpc_error(unknown.value).reason == "POLICY_PROPOSAL_NOT_FOUND"
