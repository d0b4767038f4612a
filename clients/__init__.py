"""Python client library for SQM's gRPC API."""

from clients.errors import BadField, SqmError
from clients.sqm_client import SqmClient, certificate, supplier_name

__all__ = ["BadField", "SqmClient", "SqmError", "certificate", "supplier_name"]
