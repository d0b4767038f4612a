"""The supplier's method table: every method of every service decided, fields that exist."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor

from sqm.server.security.auth import AccessPolicy, Role
from sqm.server.security.supplier_access import (
    SUPPLIER_ACCESS,
    Scope,
    foreign_field,
    grants,
    supplier_named,
)
from sqm.v1 import (
    admin_service_pb2,
    audit_service_pb2,
    policy_service_pb2,
    supplier_service_pb2,
)
from sqm.v1 import supplier_service_pb2 as api

MODULES = (supplier_service_pb2, audit_service_pb2, policy_service_pb2, admin_service_pb2)
METHODS: dict[str, MethodDescriptor] = {
    f"{service.full_name}/{method.name}": method
    for module in MODULES
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
}


def test_every_method_of_every_service_is_decided_in_the_supplier_table() -> None:
    """A method added to a service without a line in the table fails here, not in production."""
    assert sorted(set(METHODS) - set(SUPPLIER_ACCESS)) == []


def test_the_supplier_table_names_only_methods_the_services_have() -> None:
    """A renamed method leaves no stale line behind."""
    assert sorted(set(SUPPLIER_ACCESS) - set(METHODS)) == []


@pytest.mark.parametrize(
    "method", [m for m, scope in SUPPLIER_ACCESS.items() if scope.allowed and scope.fields]
)
def test_each_field_the_table_checks_is_a_string_field_of_the_request(method: str) -> None:
    """A misspelt field would name no supplier and so refuse every call: caught here first."""
    request = METHODS[method].input_type
    for field in SUPPLIER_ACCESS[method].fields:
        assert request.fields_by_name[field].type == FieldDescriptor.TYPE_STRING


def test_no_allowed_method_takes_a_stream_of_requests() -> None:
    """A stream cannot be checked before its handler reads it; such methods stay denied."""
    streamed = [m for m, d in METHODS.items() if d.client_streaming]
    assert streamed
    assert not [m for m in streamed if grants(SUPPLIER_ACCESS, m)]


def test_an_allowed_method_must_name_its_fields_or_cut_its_answer() -> None:
    """An allowed scope that checks nothing and filters nothing would leak every supplier."""
    with pytest.raises(ValueError, match="must name its supplier fields"):
        Scope(allowed=True)


def test_the_role_table_lets_a_supplier_call_exactly_what_its_table_allows() -> None:
    """The supplier role appears in a method's roles only where the supplier table allows it."""
    access = AccessPolicy()
    for method, scope in SUPPLIER_ACCESS.items():
        assert (Role.SUPPLIER in access.roles_for(f"/{method}")) == scope.allowed, method


@pytest.mark.parametrize(
    ("value", "supplier"),
    [
        ("suppliers/acme", "acme"),
        ("suppliers/acme/documents/0a1b", "acme"),
        ("suppliers/", None),
        ("acme", None),
        ("", None),
        ("needs/n-1", None),
    ],
)
def test_the_supplier_a_resource_name_names(value: str, supplier: str | None) -> None:
    """A supplier's resource name, or one under it; anything else names no supplier."""
    assert supplier_named(value) == supplier


def test_a_request_naming_another_supplier_is_found_out_by_its_field() -> None:
    """The first field that does not name the caller's supplier is the one reported."""
    scope = SUPPLIER_ACCESS["sqm.v1.SupplierService/GetSupplier"]
    assert foreign_field(scope, api.GetSupplierRequest(name="suppliers/acme"), "acme") is None
    assert foreign_field(scope, api.GetSupplierRequest(name="suppliers/beta"), "acme") == "name"
    assert foreign_field(scope, api.GetSupplierRequest(), "acme") == "name"
