"""Python client library for SQM's gRPC API."""

from sqm.client.builders import (
    amount,
    certificate,
    contract,
    measurement,
    money,
    sla_objective,
    supplier_name,
)
from sqm.client.connection import Connection, connection_from
from sqm.client.csv_import import CsvInvalid, ImportReport, import_rows, read_measurements
from sqm.client.errors import BadField, SqmError
from sqm.client.process_calls import PenaltyLedger
from sqm.client.sqm_client import SqmClient

__all__ = [
    "BadField",
    "Connection",
    "CsvInvalid",
    "ImportReport",
    "PenaltyLedger",
    "SqmClient",
    "SqmError",
    "amount",
    "certificate",
    "connection_from",
    "contract",
    "import_rows",
    "measurement",
    "money",
    "read_measurements",
    "sla_objective",
    "supplier_name",
]
