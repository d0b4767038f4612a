"""Proto values <-> domain values: times, enums and money, with every bad field collected.

Money travels as a decimal string and stays a :class:`~decimal.Decimal` all the way: it is
never parsed through a float. An amount is digits with an optional ``.`` and at most two
decimal places (``"125000"``, ``"125000.5"``, ``"125000.00"``), optionally negative (the
domain then says whether a negative amount is allowed); it is normalised to exactly two
places. More than two places is refused rather than rounded: rounding someone's money
silently is worse than asking again, and the operator's currencies (CNY, USD, EUR, ...) have
two. Exponents, spaces, thousands separators, ``NaN`` and ``Infinity`` are refused.
"""

from __future__ import annotations

import enum
import functools
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import Money
from sqm.v1 import resources_pb2 as pb

E = TypeVar("E", bound=enum.Enum)

# [0-9], not \d: \d also matches other scripts' digits, which Decimal would accept.
AMOUNT = re.compile(r"-?(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
MAX_DECIMAL_PLACES = 2
MAX_WHOLE_DIGITS = 15  # a trillion and more: beyond any contract, short of absurd input
CENT = Decimal("0.01")


MAX_SHOWN = 64
"""Characters of a caller's value quoted back in a violation: statuses travel in trailers."""


def shown(value: str) -> str:
    """``value`` quoted for a message, cut short when long (a 1 MB name is not echoed)."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)"


class IncompleteRequest(InvalidCommand):
    """Bad fields found while mapping a request, with the command as far as it could be built.

    ``partial`` holds a placeholder wherever a field was bad, so the domain's own checks can
    still name every other bad field in the same answer; their findings at or under a path
    in ``unchecked`` (a bad field, or one a placeholder stands in for) are not reported.
    """

    def __init__(
        self, violations: list[FieldViolation], partial: object, unchecked: frozenset[str]
    ) -> None:
        super().__init__(violations)
        self.partial = partial
        self.unchecked = unchecked


class Violations:
    """Collects field violations while a request is mapped; raises them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []
        self._unchecked: set[str] = set()

    def add(self, field: str, description: str) -> None:
        """Record one bad field."""
        self.items.append(FieldViolation(field, description))

    def skip(self, field: str) -> None:
        """Leave the domain's findings at or under ``field`` out: a placeholder stands there."""
        self._unchecked.add(field)

    def raise_if_any(self, partial: object | None = None) -> None:
        """Raise ``InvalidCommand`` if anything was recorded.

        With ``partial`` (the command built with placeholders for the bad fields) it is an
        :class:`IncompleteRequest`, so the domain's checks can add what they find.
        """
        if not self.items:
            return
        if partial is None:
            raise InvalidCommand(self.items)
        unchecked = frozenset(self._unchecked | {item.field for item in self.items})
        raise IncompleteRequest(self.items, partial, unchecked)


def covered(field: str, paths: frozenset[str]) -> bool:
    """True when ``field`` is one of ``paths`` or lies under one (``a.b`` under ``a``)."""
    return any(
        field == path or (field.startswith(path) and field[len(path)] in ".[") for path in paths
    )


# --- times ------------------------------------------------------------------------------


def timestamp(value: timestamp_pb2.Timestamp, field: str, bad: Violations) -> datetime | None:
    """A timestamp as an aware UTC datetime; out of range is recorded as a violation."""
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as error:
        bad.add(field, f"not a valid timestamp: {error}")
        return None


def required_time(message: Any, part: str, field: str, bad: Violations) -> datetime | None:
    """``message.part`` as a datetime; recorded as ``{field}.{part}: required`` when unset."""
    path = f"{field}.{part}" if field else part
    if not message.HasField(part):
        bad.add(path, "required")
        return None
    return timestamp(getattr(message, part), path, bad)


def optional_time(message: Any, part: str, field: str, bad: Violations) -> datetime | None:
    """``message.part`` as a datetime, or None when unset."""
    if not message.HasField(part):
        return None
    return timestamp(getattr(message, part), f"{field}.{part}" if field else part, bad)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def set_time(target: timestamp_pb2.Timestamp, moment: datetime | None) -> None:
    """Fill ``target`` from ``moment`` (left unset for None).

    The arithmetic ``Timestamp.FromDatetime`` does through a time tuple, done directly: a
    full supplier carries a dozen times or more, and this was a tenth of mapping one.
    Domain times are always aware (the domain refuses naive ones).
    """
    if moment is not None:
        since = moment - _EPOCH
        target.seconds = since.days * 86_400 + since.seconds
        target.nanos = since.microseconds * 1_000


# --- enums ------------------------------------------------------------------------------


def enum_from_proto(
    domain_enum: type[E], proto_enum: Any, value: int, field: str, bad: Violations
) -> E | None:
    """The domain member named like the proto value (``COMPARATOR_AT_LEAST`` -> AT_LEAST).

    ``*_UNSPECIFIED`` and numbers the API does not define are recorded as violations that
    list the expected names.
    """
    prefix = enum_prefix(proto_enum)
    names = {number: name.removeprefix(prefix) for name, number in proto_enum.items()}
    member = domain_enum.__members__.get(names.get(value, "")) if value != 0 else None
    if member is None:
        expected = ", ".join(n for n, v in proto_enum.items() if v != 0)
        got = "nothing (unspecified)" if value == 0 else f"unknown value {value}"
        bad.add(field, f"expected one of {expected}; got {got}")
    return member


@functools.cache
def enum_prefix(proto_enum: Any) -> str:
    """The prefix every value of a proto enum shares (``METRIC_``)."""
    unspecified: str = proto_enum.Name(0)
    return unspecified.removesuffix("UNSPECIFIED")


@functools.cache  # a handful of enums with a few members each, looked up on every answer
def enum_to_proto(proto_enum: Any, value: enum.Enum) -> Any:
    """The proto number of a domain member, by name (``Comparator.AT_LEAST`` -> 1).

    Any: each proto enum has its own ValueType; the name lookup is what ties them.
    """
    return proto_enum.Value(enum_prefix(proto_enum) + value.name)


# --- money ------------------------------------------------------------------------------


def amount_from_text(text: str, field: str, bad: Violations) -> Decimal | None:
    """An exact amount from a decimal string (see the module's docstring for the format)."""
    match = AMOUNT.fullmatch(text)
    if match is None:
        bad.add(field, _amount_problem(text))
        return None
    fraction = match["fraction"] or ""
    if len(fraction) > MAX_DECIMAL_PLACES:
        bad.add(
            field,
            f"at most {MAX_DECIMAL_PLACES} decimal places, got {len(fraction)} in {shown(text)};"
            " amounts are not rounded",
        )
        return None
    if len(match["whole"].lstrip("0")) > MAX_WHOLE_DIGITS:
        bad.add(field, f"at most {MAX_WHOLE_DIGITS} digits before the decimal point")
        return None
    amount = Decimal(text).quantize(CENT)
    return abs(amount) if amount.is_zero() else amount  # no "-0.00"


def _amount_problem(text: str) -> str:
    if not text:
        return "required: a decimal string such as '125000.00'"
    try:
        special = not Decimal(text.strip()).is_finite()
    except InvalidOperation:
        special = False
    if special:
        return f"NaN and Infinity are not amounts, got {shown(text)}"
    return (
        f"expected a decimal string such as '125000.00' (digits, optionally '.' and up to"
        f" {MAX_DECIMAL_PLACES} decimals; no exponent, spaces or separators), got {shown(text)}"
    )


def money_from_proto(message: pb.Money, field: str, bad: Violations) -> Money | None:
    """A Money message as domain Money; each bad part is named (``{field}.amount``...)."""
    amount = amount_from_text(message.amount, f"{field}.amount", bad)
    currency = message.currency_code
    if not CURRENCY_CODE.fullmatch(currency):
        bad.add(
            f"{field}.currency_code",
            f"expected an ISO 4217 code of 3 upper-case letters such as CNY, got {shown(currency)}",
        )
        return None
    return Money(amount, currency) if amount is not None else None


def amount_text(amount: Decimal) -> str:
    """The exact decimal text of an amount, never in exponent form (``"125000.00"``)."""
    return format(amount, "f")


def money_to_proto(value: Money) -> pb.Money:
    """Domain Money as its API message."""
    return pb.Money(amount=amount_text(value.amount), currency_code=value.currency)
