"""The penalty schedule applied: service credits for breaches, compensation for losses.

All arithmetic is in :class:`~decimal.Decimal` in the contract's currency; every amount is
quantized to 0.01 with ROUND_HALF_UP (the commercial rounding contracts use) at the step where
it is stated, so the words of ``basis`` and the amount always agree.

Service credit for a breach, in order:

1. ``percent(severity)`` of the contract's monthly fee;
2. times the multiplier for the n-th breach of the same objective in the breach's calendar
   month (``sqm.domain.history.repeats_in_period``): the 1st, 2nd, ... multiplier, the last one
   for every later breach;
3. no more than what is left of the period cap (percent of the monthly fee, per calendar
   month of assessment, across every credit of the contract) and of the contract cap
   (percent of the monthly fee, over the contract's life). ``cap_applied`` names the cap that
   bit: the tighter one, ``"period"`` when both leave the same.

A penalty rule may state its own amount instead (``then: {action: assess_penalty, amount:
...}``): a fixed amount, or a percentage of the monthly fee, for any failure its conditions
describe (a breach, a failed inspection, a missed report). It is a service credit like the
others: no repeat multiplier (the rule says what it costs), and the same period and contract
caps, which every service credit of the contract counts against together.

Compensation: the documented loss claimed, no more than the contract's liability limit minus
the compensation already assessed under the contract (``cap_applied`` ``"liability_limit"``).
Service credits do not count against the liability limit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqm.domain.calendar import UTC_CALENDAR, Calendar
from sqm.domain.history import credited, repeats_in_period
from sqm.domain.model import (
    AmountBasis,
    Breach,
    Contract,
    Money,
    Penalty,
    StatedAmount,
    SupplierState,
)
from sqm.domain.ports import PenaltyQuote
from sqm.rules.model import CreditSchedule

SERVICE_CREDIT = "service_credit"
COMPENSATION = "compensation"
PERIOD_CAP = "period"
CONTRACT_CAP = "contract"
LIABILITY_CAP = "liability_limit"

CENTS = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to 0.01."""
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def quote_service_credit(
    schedule: CreditSchedule,
    supplier: SupplierState,
    breach: Breach,
    now: datetime,
    calendar: Calendar = UTC_CALENDAR,
) -> PenaltyQuote:
    """The service credit ``schedule`` sets for ``breach``, given the ledger so far; months
    (for repeats and the period cap) are ``calendar``'s local months.

    Raises ``ValueError`` when the supplier has no contract.
    """
    contract = _contract(supplier)
    fee, currency = contract.monthly_fee.amount, contract.monthly_fee.currency
    percent = schedule.percent(breach.severity)
    nth = repeats_in_period(supplier, breach, calendar) + 1
    multiplier = schedule.multiplier(nth)
    base = cents(fee * percent / 100)
    escalated = cents(fee * percent * multiplier / 100)
    show = _Shown(currency)
    basis = (
        f"{_num(percent)}% of the monthly fee {show(fee)} for a {breach.severity.value} breach of"
        f" {breach.objective_id} = {show(base)}; x{_num(multiplier)} for the {_ordinal(nth)}"
        f" breach of {breach.objective_id} in {calendar.period_of(breach.detected_at)}"
        f" = {show(escalated)}"
    )
    return _capped(escalated, basis, schedule, supplier, calendar.period_of(now))


def quote_stated_credit(
    schedule: CreditSchedule | None,
    supplier: SupplierState,
    stated: StatedAmount,
    ground: str,
    *,
    now: datetime,
    calendar: Calendar = UTC_CALENDAR,
) -> PenaltyQuote:
    """The amount a rule states for ``ground``, within the caps of ``schedule`` (none without
    one). Raises ``ValueError`` without a contract, or for a fixed amount in another currency
    than the contract's.
    """
    contract = _contract(supplier)
    fee, currency = contract.monthly_fee.amount, contract.monthly_fee.currency
    show = _Shown(currency)
    if stated.basis is AmountBasis.FIXED:
        if stated.currency not in {"", currency}:
            raise ValueError(f"a fixed amount in {stated.currency} for a contract in {currency}")
        amount = cents(stated.value)
        basis = f"fixed amount {show(amount)} for {ground}"
    else:
        amount = cents(fee * stated.value / 100)
        basis = (
            f"{_num(stated.value)}% of the monthly fee {show(fee)} for {ground} = {show(amount)}"
        )
    if schedule is None:
        return PenaltyQuote(Money(amount, currency), "", basis)
    return _capped(amount, basis, schedule, supplier, calendar.period_of(now))


def _capped(
    amount: Decimal, basis: str, schedule: CreditSchedule, supplier: SupplierState, period: str
) -> PenaltyQuote:
    """``amount`` within what the period and contract caps leave, every credit counted."""
    contract = _contract(supplier)
    fee, currency = contract.monthly_fee.amount, contract.monthly_fee.currency
    ledger = _ledger(supplier, contract)
    caps = (
        _Cap(
            PERIOD_CAP, schedule.period_cap_percent, fee, credited(ledger, SERVICE_CREDIT, period)
        ),
        _Cap(CONTRACT_CAP, schedule.contract_cap_percent, fee, credited(ledger, SERVICE_CREDIT)),
    )
    binding = None
    for cap in caps:
        if cap.room < amount:
            amount, binding = cap.room, cap
    show = _Shown(currency)
    if binding is None:
        limits = " and the ".join(cap.describe(show, period) for cap in caps)
        basis += f"; within the {limits}"
    else:
        basis += f"; capped by the {binding.describe(show, period)} to {show(amount)}"
    return PenaltyQuote(Money(amount, currency), binding.name if binding else "", basis)


def quote_compensation(supplier: SupplierState, claimed: Money) -> PenaltyQuote:
    """Compensation for ``claimed`` losses, capped by what is left of the liability limit.

    Raises ``ValueError`` when the supplier has no contract, or the claim is negative or in
    another currency than the contract's.
    """
    contract = _contract(supplier)
    limit = contract.liability_limit
    if claimed.currency != limit.currency:
        raise ValueError(f"a claim in {claimed.currency} against a contract in {limit.currency}")
    if claimed.amount < 0:
        raise ValueError(f"a claim cannot be negative, got {claimed}")
    show = _Shown(limit.currency)
    asked = cents(claimed.amount)
    assessed = credited(_ledger(supplier, contract), COMPENSATION)
    room = max(cents(limit.amount) - assessed, Decimal("0.00"))
    basis = (
        f"{show(asked)} claimed; liability limit {show(limit.amount)}, {show(assessed)} already"
        f" assessed as compensation, {show(room)} left"
    )
    if asked <= room:
        return PenaltyQuote(Money(asked, limit.currency), "", basis + ": paid in full")
    return PenaltyQuote(
        Money(room, limit.currency), LIABILITY_CAP, basis + f": capped at {show(room)}"
    )


class _Cap:
    """A cap in percent of the monthly fee, and what the ledger already used of it."""

    def __init__(self, name: str, percent: Decimal, fee: Decimal, used: Decimal) -> None:
        self.name, self.percent = name, percent
        self.limit = cents(fee * percent / 100)
        self.used = used
        self.room = max(self.limit - used, Decimal("0.00"))

    def describe(self, show: _Shown, period: str) -> str:
        where = f"in {period}" if self.name == PERIOD_CAP else "under the contract"
        return (
            f"{self.name} cap of {_num(self.percent)}% of the monthly fee ({show(self.limit)},"
            f" {show(self.used)} already credited {where})"
        )


class _Shown:
    """Formats amounts of one currency as the ledger shows them: ``5000.00 CNY``."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, amount: Decimal) -> str:
        return f"{cents(amount)} {self.currency}"


def _contract(supplier: SupplierState) -> Contract:
    if supplier.contract is None:
        raise ValueError(f"supplier {supplier.supplier_id!r} has no contract to penalise under")
    return supplier.contract


def _ledger(supplier: SupplierState, contract: Contract) -> list[Penalty]:
    return [p for p in supplier.penalties if p.contract_id == contract.contract_id]


def _num(value: Decimal) -> str:
    """``2`` for 2.0, ``1.5`` for 1.50, ``100`` for 1E+2: a factor as a person writes it."""
    return f"{value.normalize():f}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
