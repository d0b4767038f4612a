"""End to end: a real `sqm serve` with bearer tokens enforces roles on the real services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, SqmError
from sqm.v1 import admin_service_pb2, admin_service_pb2_grpc
from sqm.v1 import resources_pb2 as pb
from tests.e2e.evidence import DECISION_TIME
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

TOKENS = {
    "integration": "integration-token-0123456789",
    "policy_admin": "policy-admin-token-0123456789",
    "auditor": "auditor-token-0123456789abcd",
    "read_only": "read-only-token-0123456789ab",
}


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that requires a token for everything but health."""
    tokens_file = tmp_path / "tokens.yaml"
    entries = "".join(
        f"  - {{name: {role}-system, role: {role}, token: {token}}}\n"
        for role, token in TOKENS.items()
    )
    tokens_file.write_text(f"tokens:\n{entries}", encoding="utf-8")
    tokens_file.chmod(0o600)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file", str(tokens_file)
    ).start()
    try:
        yield server
    finally:
        server.kill()


def _register(server: ServerProcess, token: str | None, supplier_id: str) -> None:
    with SqmClient(server.address, token=token) as client:
        client.register_supplier(
            supplier_id, supplier_id, pb.SERVICE_CATEGORY_SOFTWARE, occur_time=DECISION_TIME
        )


def test_a_call_without_a_token_is_unauthenticated(secured: ServerProcess) -> None:
    """No token: UNAUTHENTICATED with a stable reason, and nothing is written."""
    with pytest.raises(SqmError) as raised:
        _register(secured, None, "anon-co")
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.reason == "UNAUTHENTICATED"
    with SqmClient(secured.address, token=TOKENS["read_only"]) as reader:
        assert list(reader.list_suppliers()) == []


def test_health_needs_no_token(secured: ServerProcess) -> None:
    """Load balancers check health without credentials."""
    assert secured.health() == 1


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("integration", True), ("policy_admin", False), ("auditor", False), ("read_only", False)],
)
def test_only_the_integration_role_changes_suppliers(
    secured: ServerProcess, role: str, allowed: bool
) -> None:
    """Registering a supplier needs the integration role; others get PERMISSION_DENIED."""
    if allowed:
        _register(secured, TOKENS[role], f"{role.replace('_', '-')}-co")
        return
    with pytest.raises(SqmError) as raised:
        _register(secured, TOKENS[role], f"{role.replace('_', '-')}-co")
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert raised.value.reason == "PERMISSION_DENIED"


@pytest.mark.parametrize("role", list(TOKENS))
def test_every_role_may_read_suppliers(secured: ServerProcess, role: str) -> None:
    """Get and List are open to every role."""
    _register(secured, TOKENS["integration"], "readable-co")
    with SqmClient(secured.address, token=TOKENS[role]) as client:
        assert client.get_supplier("readable-co").supplier_id == "readable-co"


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("policy_admin", grpc.StatusCode.OK),
        ("integration", grpc.StatusCode.PERMISSION_DENIED),
        ("read_only", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_advancing_time_is_for_policy_administrators(
    secured: ServerProcess, role: str, code: grpc.StatusCode
) -> None:
    """AdminService.AdvanceTime is refused to every role but policy_admin."""
    with grpc.insecure_channel(secured.address) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        metadata = (("authorization", f"Bearer {TOKENS[role]}"),)
        try:
            stub.AdvanceTime(admin_service_pb2.AdvanceTimeRequest(), metadata=metadata, timeout=10)
            got = grpc.StatusCode.OK
        except grpc.RpcError as error:
            got = error.code()
    assert got == code


def test_the_token_names_the_actor_in_the_record(secured: ServerProcess) -> None:
    """Events carry the token's name as their actor, not anything the caller claims."""
    _register(secured, TOKENS["integration"], "actor-co")
    with SqmClient(secured.address, token=TOKENS["auditor"]) as client:
        events = list(client.list_supplier_events("actor-co"))
    assert [e.actor for e in events] == ["integration-system"]
    assert all(token not in "\n".join(secured.output) for token in TOKENS.values())
