"""End to end: a real `sqm serve` with bearer tokens enforces roles on the real services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message_factory import GetMessageClass

from sqm.client import SqmClient, SqmError
from sqm.server.security.supplier_access import SUPPLIER_ACCESS
from sqm.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    audit_service_pb2,
    policy_service_pb2,
    supplier_service_pb2,
)
from sqm.v1 import audit_service_pb2 as audit_api
from tests.e2e.evidence import DECISION_TIME
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

TOKENS = {
    "integration": "integration-token-0123456789",
    "policy_admin": "policy-admin-token-0123456789",
    "auditor": "auditor-token-0123456789abcd",
    "read_only": "read-only-token-0123456789ab",
}
SUPPLIER_TOKENS = {"acme": "acme-portal-token-0123456789", "beta": "beta-portal-token-0123456789"}


def _tokens_file(tmp_path: Path) -> Path:
    """Every operator role's token, and a supplier token for each of acme and beta."""
    tokens_file = tmp_path / "tokens.yaml"
    entries = "".join(
        f"  - {{name: {role}-system, role: {role}, token: {token}}}\n"
        for role, token in TOKENS.items()
    ) + "".join(
        f"  - {{name: {supplier}-portal, role: supplier, supplier: {supplier}, token: {token}}}\n"
        for supplier, token in SUPPLIER_TOKENS.items()
    )
    tokens_file.write_text(f"tokens:\n{entries}", encoding="utf-8")
    tokens_file.chmod(0o600)
    return tokens_file


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that requires a token for everything but health."""
    tokens_file = _tokens_file(tmp_path)
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file", str(tokens_file)
    ).start()
    try:
        yield server
    finally:
        server.kill()


def _register(server: ServerProcess, token: str | None, supplier_id: str) -> None:
    with SqmClient(server.address, token=token) as client:
        client.register_supplier(supplier_id, supplier_id, "software", occur_time=DECISION_TIME)


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


# --- the supplier role, method by method ---------------------------------------------------

MODULES = (supplier_service_pb2, audit_service_pb2, policy_service_pb2, admin_service_pb2)
METHODS: dict[str, MethodDescriptor] = {
    f"{service.full_name}/{method.name}": method
    for module in MODULES
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
}
ALLOWED = sorted(m for m in METHODS if SUPPLIER_ACCESS[m].allowed)
DENIED = sorted(m for m in METHODS if not SUPPLIER_ACCESS[m].allowed)


@pytest.fixture(scope="module")
def suppliers_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the whole table, with suppliers acme and beta registered."""
    tmp_path = tmp_path_factory.mktemp("supplier-role")
    tokens_file = str(_tokens_file(tmp_path))
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--tokens-file", tokens_file
    ).start()
    try:
        for supplier in SUPPLIER_TOKENS:
            _register(server, TOKENS["integration"], supplier)
        yield server
    finally:
        server.kill()


def _request_naming(method: str, supplier: str) -> Any:
    """An otherwise empty request whose supplier fields name ``supplier``.

    For an allowed method, the fields its table line checks; for a denied one, every
    string field a supplier could be named in, so a refusal is not for a missing name.
    """
    descriptor = METHODS[method].input_type
    request = GetMessageClass(descriptor)()
    scope = SUPPLIER_ACCESS[method]
    fields = scope.fields or tuple(
        name
        for name in ("name", "parent", "supplier")
        if name in descriptor.fields_by_name
        and descriptor.fields_by_name[name].type == FieldDescriptor.TYPE_STRING
    )
    below = "/documents/" + "0" * 32 if method.endswith("/GetDocument") else ""
    for field in fields:
        setattr(request, field, f"suppliers/{supplier}{below}")
    return request


def _status_of(address: str, token: str, method: str, request: Any) -> grpc.StatusCode:
    """The status a call of ``method`` with ``request`` ends with (a stream: its first item)."""
    descriptor = METHODS[method]
    answer = GetMessageClass(descriptor.output_type)
    metadata = (("authorization", f"Bearer {token}"),)
    coders = {
        "request_serializer": type(request).SerializeToString,
        "response_deserializer": answer.FromString,
    }
    with grpc.insecure_channel(address) as channel:
        try:
            if descriptor.client_streaming:
                stub = channel.stream_unary(f"/{method}", **coders)
                stub(iter([request]), metadata=metadata, timeout=10)
            elif descriptor.server_streaming:
                stream = channel.unary_stream(f"/{method}", **coders)(
                    request, metadata=metadata, timeout=10
                )
                next(stream)
                stream.cancel()
            else:
                channel.unary_unary(f"/{method}", **coders)(request, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", ALLOWED)
def test_a_supplier_may_call_the_methods_it_is_allowed_on_its_own_supplier(
    suppliers_server: ServerProcess, method: str
) -> None:
    """On its own supplier the call gets past the access check (an empty request may still
    be INVALID_ARGUMENT or NOT_FOUND, never PERMISSION_DENIED).
    """
    request = _request_naming(method, "acme")
    code = _status_of(suppliers_server.address, SUPPLIER_TOKENS["acme"], method, request)
    assert code not in {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}


@pytest.mark.parametrize("method", ALLOWED)
def test_a_supplier_is_denied_every_allowed_method_on_another_supplier(
    suppliers_server: ServerProcess, method: str
) -> None:
    """The acme token naming beta is PERMISSION_DENIED, whatever the method."""
    request = _request_naming(method, "beta")
    code = _status_of(suppliers_server.address, SUPPLIER_TOKENS["acme"], method, request)
    assert code == grpc.StatusCode.PERMISSION_DENIED or SUPPLIER_ACCESS[method].answer_cut_to_caller


@pytest.mark.parametrize("named", ["acme", "beta"])
@pytest.mark.parametrize("method", DENIED)
def test_a_supplier_is_denied_every_other_method_on_any_supplier(
    suppliers_server: ServerProcess, method: str, named: str
) -> None:
    """Needs, policy, audit, admin and the operator's process methods: PERMISSION_DENIED."""
    request = _request_naming(method, named)
    code = _status_of(suppliers_server.address, SUPPLIER_TOKENS["acme"], method, request)
    assert code == grpc.StatusCode.PERMISSION_DENIED


def test_a_supplier_lists_only_itself(suppliers_server: ServerProcess) -> None:
    """ListSuppliers with acme's token returns acme alone; an operator's returns both."""
    with SqmClient(suppliers_server.address, token=SUPPLIER_TOKENS["acme"]) as portal:
        assert [s.supplier_id for s in portal.list_suppliers()] == ["acme"]
    with SqmClient(suppliers_server.address, token=TOKENS["read_only"]) as dashboard:
        assert [s.supplier_id for s in dashboard.list_suppliers()] == ["acme", "beta"]


def test_a_supplier_watches_only_its_own_events(suppliers_server: ServerProcess) -> None:
    """Watch needs the supplier filter set to its own supplier; it then streams acme's only."""
    metadata = (("authorization", f"Bearer {SUPPLIER_TOKENS['acme']}"),)
    with grpc.insecure_channel(suppliers_server.address) as channel:
        watch = channel.unary_stream(
            "/sqm.v1.AuditService/Watch",
            request_serializer=audit_api.WatchRequest.SerializeToString,
            response_deserializer=audit_api.WatchResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as refused:
            next(watch(audit_api.WatchRequest(), metadata=metadata, timeout=10))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        stream = watch(
            audit_api.WatchRequest(supplier="suppliers/acme"), metadata=metadata, timeout=10
        )
        first = next(stream)
        stream.cancel()
    assert first.event.supplier == "suppliers/acme"
