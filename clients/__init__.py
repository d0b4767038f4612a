"""Python client library for SQM's gRPC API."""

from clients.builders import (
    amount,
    certificate,
    contract,
    measurement,
    money,
    sla_objective,
    supplier_name,
)
from clients.errors import BadField, SqmError
from clients.process_calls import PenaltyLedger
from clients.sqm_client import SqmClient

__all__ = [
    "BadField",
    "PenaltyLedger",
    "SqmClient",
    "SqmError",
    "amount",
    "certificate",
    "contract",
    "measurement",
    "money",
    "sla_objective",
    "supplier_name",
]
