"""Small builders for the API's messages from Python values: Decimal money, datetimes.

Money is built from :class:`~decimal.Decimal` or a decimal string, never from a float: a
float has already lost the exact amount before it reaches the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from google.protobuf import timestamp_pb2

from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

CENT = Decimal("0.01")


def supplier_name(supplier_id: str) -> str:
    """The resource name for a supplier id."""
    return f"suppliers/{supplier_id}"


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp message for an aware datetime (None stays None: the field is unset)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("give an aware datetime: the server refuses times without a zone")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def money(amount: Decimal | str | int, currency_code: str = "CNY") -> pb.Money:
    """A Money message: ``money(Decimal("125000"), "CNY")`` sends ``"125000.00"``.

    A float is refused (TypeError); an amount with more than two decimal places is
    refused (ValueError) rather than rounded, as the server would.
    """
    if isinstance(amount, float | bool):
        raise TypeError("give money as Decimal, str or int, never float")
    exact = Decimal(amount)
    if not exact.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    if exact != exact.quantize(CENT):
        raise ValueError(f"at most 2 decimal places: {amount!r}")
    return pb.Money(amount=format(exact.quantize(CENT), "f"), currency_code=currency_code)


def amount(message: pb.Money) -> Decimal:
    """The exact amount of a Money message, as a Decimal."""
    return Decimal(message.amount)


def sla_objective(
    objective_id: str,
    metric: str,
    comparator: pb.Comparator.ValueType,
    target: float,
    warning: float,
    *,
    tolerance: float = 0.0,
    grace_days: int = 0,
    period_days: int = 30,
) -> pb.SlaObjective:
    """An SLA objective message (targets are measurements, so plain numbers)."""
    return pb.SlaObjective(
        objective_id=objective_id,
        metric=metric,
        comparator=comparator,
        target=target,
        warning=warning,
        tolerance=tolerance,
        grace_days=grace_days,
        period_days=period_days,
    )


def contract(
    contract_id: str,
    *,
    monthly_fee: pb.Money | None = None,
    liability_limit: pb.Money | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    objectives: Sequence[pb.SlaObjective] = (),
    need_id: str = "",
) -> pb.Contract:
    """A Contract message; no objectives means the awarded need's standard (``need_id``),
    else the policy's defaults for the category.
    """
    return pb.Contract(
        contract_id=contract_id,
        monthly_fee=monthly_fee,
        liability_limit=liability_limit,
        start_time=timestamp(start_time),
        end_time=timestamp(end_time),
        objectives=list(objectives),
        need=f"needs/{need_id}" if need_id else "",
    )


def measurement(
    supplier_id: str,
    objective_id: str,
    value: float,
    unit: str,
    *,
    period_start: datetime,
    period_end: datetime,
    occur_time: datetime | None = None,
    request_id: str = "",
) -> api.RecordMeasurementRequest:
    """A RecordMeasurement request, also one row of an upload.

    An empty ``request_id`` is filled in by the client when the row is sent. Give
    ``occur_time`` when the same row may be sent again later: without it the server uses
    its own time, so a later resend is a different request.
    """
    return api.RecordMeasurementRequest(
        name=supplier_name(supplier_id),
        objective_id=objective_id,
        value=value,
        unit=unit,
        period_start_time=timestamp(period_start),
        period_end_time=timestamp(period_end),
        occur_time=timestamp(occur_time),
        request_id=request_id,
    )


def certificate(
    kind: str,
    number: str,
    issuer: str,
    valid_from: datetime,
    valid_until: datetime,
) -> pb.Certificate:
    """Build a certificate message from datetimes."""
    message = pb.Certificate(kind=kind, number=number, issuer=issuer)
    message.valid_from.FromDatetime(valid_from)
    message.valid_until.FromDatetime(valid_until)
    return message
