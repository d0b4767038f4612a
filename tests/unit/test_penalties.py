"""The default pack's penalty schedule applied: exact Decimal amounts, escalation, caps,
compensation against the liability limit, currency and rounding.

The schedule (penalties.yaml): 2% / 5% / 10% of the monthly fee for a minor / major / critical
breach; x1, x1.5, x2 for the 1st, 2nd, 3rd and later breach of an objective in a month; at
most 20% of the monthly fee per month and 120% over the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sqm.domain.model import (
    AmountBasis,
    Breach,
    Contract,
    Money,
    Penalty,
    Severity,
    StatedAmount,
    SupplierState,
)
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.model import CreditSchedule
from sqm.rules.penalties import (
    cents,
    quote_compensation,
    quote_service_credit,
    quote_stated_credit,
)

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)  # ledger period 2025-06
FEE = Money(Decimal("100000.00"), "CNY")
LIMIT = Money(Decimal("500000.00"), "CNY")


@pytest.fixture(scope="module")
def schedule() -> CreditSchedule:
    """The default pack's service credit schedule."""
    credits = load_pack(default_pack_dir()).credits
    assert credits is not None
    return credits


def contract(fee: Money = FEE, limit: Money = LIMIT, contract_id: str = "C-1") -> Contract:
    """A contract started at the beginning of the year."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return Contract(contract_id, start, start, start + timedelta(days=365), fee, limit)


def breach(
    severity: Severity = Severity.MAJOR, at: datetime = NOW, objective: str = "availability"
) -> Breach:
    """A breach of ``objective`` detected at ``at``."""
    return Breach(objective, "availability", severity, 99.5, 99.9, 0.4, at, at)


def credit(
    amount: str, period: str = "2025-06", kind: str = "service_credit", contract_id: str = "C-1"
) -> Penalty:
    """A ledger entry of ``amount`` CNY counted against ``period``."""
    return Penalty(
        f"P-{amount}-{period}",
        kind,
        contract_id,
        Money(Decimal(amount), "CNY"),
        period,
        "PEN-001",
        "",
        NOW,
    )


def supplier(
    *,
    terms: Contract | None = None,
    breaches: tuple[Breach, ...] = (),
    penalties: tuple[Penalty, ...] = (),
) -> SupplierState:
    """A contracted supplier with the given history (the breach being quoted included)."""
    return SupplierState(
        "acme",
        "Acme",
        "network_services",
        contract=terms if terms is not None else contract(),
        breaches=breaches,
        penalties=penalties,
    )


@pytest.mark.parametrize(
    ("severity", "amount"),
    [(Severity.MINOR, "2000.00"), (Severity.MAJOR, "5000.00"), (Severity.CRITICAL, "10000.00")],
)
def test_a_first_breach_is_credited_its_severity_percentage_of_the_monthly_fee(
    schedule: CreditSchedule, severity: Severity, amount: str
) -> None:
    """2%, 5%, 10% of 100,000.00 CNY, no cap reached."""
    current = breach(severity)
    quote = quote_service_credit(schedule, supplier(breaches=(current,)), current, NOW)
    assert quote.amount == Money(Decimal(amount), "CNY")
    assert quote.cap_applied == ""


def test_the_basis_explains_the_arithmetic(schedule: CreditSchedule) -> None:
    """An auditor reads the percentage, the fee, the multiplier and both caps."""
    current = breach(Severity.MAJOR)
    quote = quote_service_credit(schedule, supplier(breaches=(current,)), current, NOW)
    assert quote.basis == (
        "5% of the monthly fee 100000.00 CNY for a major breach of availability = 5000.00 CNY;"
        " x1 for the 1st breach of availability in 2025-06 = 5000.00 CNY; within the period"
        " cap of 20% of the monthly fee (20000.00 CNY, 0.00 CNY already credited in 2025-06)"
        " and the contract cap of 120% of the monthly fee (120000.00 CNY, 0.00 CNY already"
        " credited under the contract)"
    )


def test_repeats_of_one_objective_in_a_month_escalate(schedule: CreditSchedule) -> None:
    """The 2nd major breach of availability in June is x1.5, the 3rd and 4th x2."""
    june = [breach(Severity.MAJOR, NOW - timedelta(days=d)) for d in (15, 10, 5, 0)]
    amounts = [
        quote_service_credit(schedule, supplier(breaches=tuple(june[: i + 1])), b, NOW).amount
        for i, b in enumerate(june)
    ]
    assert [a.amount for a in amounts] == [
        Decimal("5000.00"),
        Decimal("7500.00"),
        Decimal("10000.00"),
        Decimal("10000.00"),
    ]


def test_repeats_of_another_objective_or_month_do_not_escalate(schedule: CreditSchedule) -> None:
    """A May breach of availability and a June breach of restore time are not repeats."""
    current = breach(Severity.MAJOR)
    history = (
        breach(Severity.MAJOR, datetime(2025, 5, 31, 23, 0, tzinfo=UTC)),
        breach(Severity.MAJOR, NOW - timedelta(days=1), objective="mean_time_to_restore"),
        current,
    )
    quote = quote_service_credit(schedule, supplier(breaches=history), current, NOW)
    assert quote.amount.amount == Decimal("5000.00")
    assert "x1 for the 1st breach" in quote.basis


def test_the_period_cap_limits_the_credit(schedule: CreditSchedule) -> None:
    """15,000 already credited in June leaves 5,000 of the 20,000 monthly cap."""
    current = breach(Severity.CRITICAL)
    ledger = (credit("10000.00"), credit("5000.00"), credit("90000.00", period="2025-05"))
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=ledger), current, NOW
    )
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("5000.00"), "period")
    assert quote.basis.endswith(
        "capped by the period cap of 20% of the monthly fee (20000.00 CNY, 15000.00 CNY"
        " already credited in 2025-06) to 5000.00 CNY"
    )


def test_the_contract_cap_limits_the_credit(schedule: CreditSchedule) -> None:
    """117,000 credited over the contract leaves 3,000 of its 120,000 cap."""
    current = breach(Severity.CRITICAL)
    ledger = tuple(credit("19500.00", period=f"2025-0{m}") for m in range(1, 7))
    assert sum(p.amount.amount for p in ledger) == Decimal("117000.00")
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=ledger), current, NOW
    )
    # June's own room is 500.00 (19,500 of 20,000 used): the tighter cap is the period's.
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("500.00"), "period")
    earlier = (
        credit("19500.00", period="2024-12"),
        *(credit("19500.00", period=f"2025-0{m}") for m in range(1, 6)),
    )
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=earlier), current, NOW
    )
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("3000.00"), "contract")


def test_an_exhausted_cap_credits_nothing(schedule: CreditSchedule) -> None:
    """Once June's 20,000 are used, a further breach in June is credited 0.00."""
    current = breach(Severity.MINOR)
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=(credit("20000.00"),)), current, NOW
    )
    assert (quote.amount, quote.cap_applied) == (Money(Decimal("0.00"), "CNY"), "period")


def test_credits_under_another_contract_do_not_count(schedule: CreditSchedule) -> None:
    """The caps are per contract: a previous contract's ledger does not use them up."""
    current = breach(Severity.CRITICAL)
    ledger = (credit("20000.00", contract_id="C-0"),)
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=ledger), current, NOW
    )
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("10000.00"), "")


def test_amounts_carry_the_contract_currency(schedule: CreditSchedule) -> None:
    """A contract in EUR is credited in EUR."""
    current = breach(Severity.MAJOR)
    terms = contract(fee=Money(Decimal("8000.00"), "EUR"), limit=Money(Decimal("50000"), "EUR"))
    quote = quote_service_credit(schedule, supplier(terms=terms, breaches=(current,)), current, NOW)
    assert quote.amount == Money(Decimal("400.00"), "EUR")
    assert "8000.00 EUR" in quote.basis


@pytest.mark.parametrize(
    ("fee", "severity", "nth", "amount"),
    [
        ("12345.25", Severity.MINOR, 1, "246.91"),  # 246.905: half-up, not half-even (246.90)
        ("33333.33", Severity.MINOR, 1, "666.67"),  # 666.6666
        ("99999.99", Severity.MAJOR, 2, "7500.00"),  # 7499.99925
        ("0.10", Severity.MINOR, 1, "0.00"),  # 0.002
    ],
)
def test_amounts_are_rounded_half_up_to_cents(
    schedule: CreditSchedule, fee: str, severity: Severity, nth: int, amount: str
) -> None:
    """Every amount is quantized to 0.01 with ROUND_HALF_UP, once, after escalation."""
    history = tuple(breach(severity, NOW - timedelta(hours=n)) for n in range(nth - 1, -1, -1))
    terms = contract(fee=Money(Decimal(fee), "CNY"))
    quote = quote_service_credit(
        schedule, supplier(terms=terms, breaches=history), history[-1], NOW
    )
    assert quote.amount.amount == Decimal(amount)
    assert quote.amount.amount.as_tuple().exponent == -2


def test_the_same_history_gives_the_same_quote(schedule: CreditSchedule) -> None:
    """Quotes are pure: no clock, no state."""
    current = breach(Severity.CRITICAL)
    state = supplier(breaches=(current,), penalties=(credit("12345.67"),))
    assert quote_service_credit(schedule, state, current, NOW) == quote_service_credit(
        schedule, state, current, NOW
    )


def test_a_supplier_without_a_contract_has_no_credit_to_quote(schedule: CreditSchedule) -> None:
    """The domain never asks without a contract; if it did, it is a ValueError."""
    current = breach()
    state = SupplierState("acme", "Acme", "network_services", breaches=(current,))
    with pytest.raises(ValueError, match="has no contract"):
        quote_service_credit(schedule, state, current, NOW)
    with pytest.raises(ValueError, match="has no contract"):
        quote_compensation(state, Money(Decimal(1), "CNY"))


# --- compensation -------------------------------------------------------------------------


def test_compensation_within_the_liability_limit_is_paid_in_full() -> None:
    """A claim of 80,000.004 CNY against an untouched 500,000 limit is 80,000.00."""
    quote = quote_compensation(supplier(), Money(Decimal("80000.004"), "CNY"))
    assert (quote.amount, quote.cap_applied) == (Money(Decimal("80000.00"), "CNY"), "")
    assert quote.basis == (
        "80000.00 CNY claimed; liability limit 500000.00 CNY, 0.00 CNY already assessed as"
        " compensation, 500000.00 CNY left: paid in full"
    )


def test_compensation_is_capped_by_what_is_left_of_the_liability_limit() -> None:
    """450,000 already assessed leaves 50,000; service credits do not count against it."""
    ledger = (
        credit("300000.00", kind="compensation", period="2025-03"),
        credit("150000.00", kind="compensation", period="2025-05"),
        credit("20000.00"),
    )
    quote = quote_compensation(supplier(penalties=ledger), Money(Decimal("80000.00"), "CNY"))
    assert (quote.amount, quote.cap_applied) == (
        Money(Decimal("50000.00"), "CNY"),
        "liability_limit",
    )
    assert quote.basis.endswith(
        "450000.00 CNY already assessed as compensation, 50000.00 CNY left: capped at 50000.00 CNY"
    )


def test_compensation_beyond_an_exhausted_limit_is_nothing() -> None:
    """With the limit used up, any claim is assessed at 0.00."""
    ledger = (credit("500000.00", kind="compensation"),)
    quote = quote_compensation(supplier(penalties=ledger), Money(Decimal("1.00"), "CNY"))
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("0.00"), "liability_limit")


def test_a_claim_in_another_currency_is_refused() -> None:
    """Amounts are never converted: a USD claim on a CNY contract is a ValueError."""
    with pytest.raises(ValueError, match="a claim in USD against a contract in CNY"):
        quote_compensation(supplier(), Money(Decimal("10.00"), "USD"))


def test_cents_rounds_half_up() -> None:
    """0.005 rounds to 0.01, 0.015 to 0.02, -0.005 to -0.01: commercial rounding."""
    assert [cents(Decimal(v)) for v in ("0.005", "0.015", "-0.005", "2.675")] == [
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("-0.01"),
        Decimal("2.68"),
    ]


# --- amounts a rule states ------------------------------------------------------------------

FIXED_5000 = StatedAmount(AmountBasis.FIXED, Decimal("5000.00"))


def test_a_fixed_amount_is_entered_as_stated(schedule: CreditSchedule) -> None:
    """5000.00 CNY whatever the fee, with the rule's ground in the basis, within the caps."""
    quote = quote_stated_credit(schedule, supplier(), FIXED_5000, "a failed inspection", now=NOW)
    assert (quote.amount, quote.cap_applied) == (Money(Decimal("5000.00"), "CNY"), "")
    assert quote.basis.startswith("fixed amount 5000.00 CNY for a failed inspection; within")


def test_a_percentage_is_of_the_monthly_fee_rounded_half_up() -> None:
    """2.345% of 100,000.00 is 2345.00; of 12,345.67 it is 289.51 (289.505... half up)."""
    stated = StatedAmount(AmountBasis.PERCENT_OF_MONTHLY_FEE, Decimal("2.345"))
    terms = contract(fee=Money(Decimal("12345.67"), "CNY"))
    assert quote_stated_credit(None, supplier(), stated, "x", now=NOW).amount.amount == Decimal(
        "2345.00"
    )
    quote = quote_stated_credit(None, supplier(terms=terms), stated, "x", now=NOW)
    assert quote.amount.amount == Decimal("289.51")
    assert quote.basis == "2.345% of the monthly fee 12345.67 CNY for x = 289.51 CNY"


def test_stated_amounts_and_schedule_credits_share_the_period_cap(
    schedule: CreditSchedule,
) -> None:
    """18,000 of schedule credits in June leave 2,000 for a fixed 5,000."""
    ledger = (credit("10000.00"), credit("8000.00"))
    quote = quote_stated_credit(schedule, supplier(penalties=ledger), FIXED_5000, "x", now=NOW)
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("2000.00"), "period")


def test_a_schedule_credit_after_stated_amounts_is_capped_by_them(
    schedule: CreditSchedule,
) -> None:
    """Stated amounts count against the cap a breach's credit meets later: all credits together."""
    stated = Penalty(
        "P-fixed", "service_credit", "C-1", Money(Decimal("19000.00"), "CNY"), "2025-06",
        "PEN-002", "", NOW,
    )  # fmt: skip
    current = breach(Severity.CRITICAL)
    quote = quote_service_credit(
        schedule, supplier(breaches=(current,), penalties=(stated,)), current, NOW
    )
    assert (quote.amount.amount, quote.cap_applied) == (Decimal("1000.00"), "period")


def test_a_fixed_amount_in_another_currency_is_refused() -> None:
    """The rule said USD; the contract is in CNY: nothing is converted."""
    stated = StatedAmount(AmountBasis.FIXED, Decimal("700.00"), "USD")
    with pytest.raises(ValueError, match="a fixed amount in USD for a contract in CNY"):
        quote_stated_credit(None, supplier(), stated, "x", now=NOW)
