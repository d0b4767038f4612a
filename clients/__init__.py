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
from clients.connection import Connection, connection_from
from clients.csv_import import CsvInvalid, ImportReport, import_rows, read_measurements
from clients.errors import BadField, SqmError
from clients.process_calls import PenaltyLedger
from clients.sqm_client import SqmClient

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
