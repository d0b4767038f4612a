"""End to end: policy versions on a real server. Activation through the gRPC admin method and
`sqm policy activate`, no restart, old decisions keeping their version, invalid packs refused
with located errors, the activated version surviving a restart; lint and test on the pack.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sqm.client import SqmClient
from sqm.client.errors import SqmError
from sqm.client.policy_client import PolicyClient, pack_problems
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.tooling.testfile import TEST_FOLDER
from sqm.v1 import resources_pb2 as pb
from tests.commands import sqm
from tests.e2e.evidence import DECISION_TIME, GOOD_SCORES, certificates_for_network_equipment
from tests.e2e.server_process import ServerProcess
from tests.policy_fixtures import raise_threshold

pytestmark = pytest.mark.e2e

# Weighted 75: qualifies under a threshold of 70, not under 80.
MIDDLING_SCORES = dict.fromkeys(GOOD_SCORES, 75.0)


@pytest.fixture
def raised_pack(tmp_path: Path) -> Path:
    """The default pack with QUAL-001's weighted score threshold raised from 70 to 80."""
    folder = tmp_path / "raised"
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    rules = folder / "qualification.yaml"
    rules.write_text(raise_threshold(rules.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


@pytest.fixture
def broken_pack(raised_pack: Path, tmp_path: Path) -> Path:
    """The raised pack with an unknown fact in one condition and an unknown action."""
    folder = tmp_path / "broken"
    shutil.copytree(raised_pack, folder)
    rules = folder / "qualification.yaml"
    text = rules.read_text(encoding="utf-8")
    text = text.replace("{fact: weighted_score, op:", "{fact: weighted_scor, op:", 1)
    text = text.replace("then: {action: disqualify}", "then: {action: disqualifyy}", 1)
    rules.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ServerProcess]:
    """A running `sqm serve` on a fresh SQLite file (stopped afterwards, whatever happens)."""
    server = ServerProcess(tmp_path / "sqm.sqlite3").start()
    try:
        yield server
    finally:
        server.kill()


def qualify(client: SqmClient, supplier_id: str, scores: dict[str, float]) -> list[pb.Decision]:
    """Register a network-equipment supplier and submit evidence; the decisions made."""
    client.register_supplier(
        supplier_id, "华为网络设备有限公司", "network_equipment",
        occur_time=DECISION_TIME,
    )  # fmt: skip
    response = client.submit_qualification_evidence(
        supplier_id,
        scores=scores,
        certificates=certificates_for_network_equipment(),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=DECISION_TIME,
    )
    return list(response.decisions)


def recorded_decisions(client: SqmClient, supplier_id: str) -> list[pb.Decision]:
    """The decisions in the supplier's history."""
    return [e.decision for e in client.list_supplier_events(supplier_id) if e.HasField("decision")]


def _fired(decisions: Iterable[pb.Decision]) -> set[str]:
    return {d.rule_id for d in decisions if d.fired}


def test_the_policy_service_is_healthy_and_listed_by_reflection(live: ServerProcess) -> None:
    """Health checking and reflection know sqm.v1.PolicyService."""
    assert live.health("sqm.v1.PolicyService") == health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(live.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
    assert "sqm.v1.PolicyService" in {s.name for s in response.list_services_response.service}


def test_activation_changes_the_policy_without_restart_and_keeps_old_decisions(
    live: ServerProcess, raised_pack: Path
) -> None:
    """New decisions record the new version; old ones keep theirs; both versions explain."""
    old_version = load_pack(default_pack_dir()).version
    with (
        SqmClient(live.address) as client,
        PolicyClient(live.address, actor="wang.fang") as policies,
    ):
        before = qualify(client, "first-nx", GOOD_SCORES)
        assert {d.policy_version for d in before} == {old_version}

        activated = policies.activate_directory(raised_pack)

        new_version = activated.policy_version.version
        assert new_version == load_pack(raised_pack).version != old_version
        assert activated.previous_version == old_version
        assert activated.actor == "wang.fang"
        after = qualify(client, "second-nx", MIDDLING_SCORES)
        assert {d.policy_version for d in after} == {new_version}
        assert client.get_supplier("second-nx").state == pb.LIFECYCLE_STATE_CANDIDATE
        (first_decision,) = [d for d in recorded_decisions(client, "first-nx") if d.fired]
        assert first_decision.policy_version == old_version
        assert first_decision.rule_id == "QUAL-001"
        assert ">= 70" in first_decision.message
        threshold = next(c for c in first_decision.conditions if c.fact == "weighted_score")
        assert threshold.threshold.number_value == 70.0
        under_old = policies.explain_supplier("second-nx", policy_version=old_version)
        under_new = policies.explain_supplier("second-nx")
        assert under_old.policy_version == old_version
        assert under_new.policy_version == new_version
        assert _fired(under_old.decisions) == {"QUAL-001"}
        assert "QUAL-001" not in _fired(under_new.decisions)
        versions = {v.version: v for v in policies.list_versions()}
        assert versions[new_version].active
        assert not versions[old_version].active
        assert set(policies.get_version(old_version).files) >= {"manifest.yaml"}


def test_an_invalid_pack_is_refused_with_located_errors_and_the_active_policy_stays(
    live: ServerProcess, raised_pack: Path, broken_pack: Path
) -> None:
    """INVALID_ARGUMENT, POLICY_INVALID, each problem at files["..."] with line:column."""
    with PolicyClient(live.address) as policies:
        good = policies.activate_directory(raised_pack).policy_version.version

        with pytest.raises(SqmError) as refused:
            policies.activate_directory(broken_pack)

        assert refused.value.reason == "POLICY_INVALID"
        problems = pack_problems(refused.value)
        assert len(problems) >= 2
        assert all(p.file == "qualification.yaml" and p.line > 0 for p in problems)
        assert any("weighted_scor" in p.message for p in problems)
        assert any("disqualifyy" in p.message for p in problems)
        active = [v.version for v in policies.list_versions() if v.active]
        assert active == [good]


def test_a_restart_keeps_the_activated_version(tmp_path: Path, raised_pack: Path) -> None:
    """Stop the server, start it on the same file: the activated version still decides."""
    database = tmp_path / "restart.sqlite3"
    server = ServerProcess(database).start()
    try:
        with PolicyClient(server.address) as policies:
            new_version = policies.activate_directory(raised_pack).policy_version.version
        assert server.stop() == 0
        server = ServerProcess(database).start()
        with SqmClient(server.address) as client, PolicyClient(server.address) as policies:
            assert [v.version for v in policies.list_versions() if v.active] == [new_version]
            decisions = qualify(client, "after-restart", MIDDLING_SCORES)
            assert {d.policy_version for d in decisions} == {new_version}
    finally:
        server.kill()


def test_sqm_policy_activate_prints_the_new_version_or_the_located_errors(
    live: ServerProcess, raised_pack: Path, broken_pack: Path
) -> None:
    """The command line activates a folder; a broken one exits 1 with file:line:column lines."""
    new_version = load_pack(raised_pack).version

    done = sqm("policy", "activate", str(raised_pack), "--server", live.address)
    refused = sqm("policy", "activate", str(broken_pack), "--server", live.address)
    listed = sqm("policy", "versions", "--server", live.address)

    assert done.returncode == 0, done.stderr
    assert f"activated {new_version}" in done.stdout
    assert refused.returncode == 1
    assert f"{broken_pack}/qualification.yaml:" in refused.stdout
    assert ": error: " in refused.stdout
    assert "the active policy is unchanged" in refused.stderr
    assert f"* {new_version}" in listed.stdout


def test_sqm_policy_lint_and_test_pass_on_the_default_pack() -> None:
    """The shipped pack lints without errors, its tests pass and every rule is covered."""
    lint = sqm("policy", "lint", str(default_pack_dir()))
    tested = sqm("policy", "test", str(default_pack_dir()))

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert tested.returncode == 0, tested.stdout + tested.stderr
    total = len(load_pack(default_pack_dir()).rules)
    assert tested.stdout.splitlines()[-1] == f"covered {total}/{total} rules"
