"""Needs in the pure domain: who can be shortlisted, what a ranking must cover, the award."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from sqm.domain.catalogue_checks import validate_ids
from sqm.domain.errors import InvalidCommand, SupplierNotFound
from sqm.domain.model import (
    Certificate,
    Comparator,
    LifecycleState,
    Money,
    SlaObjective,
    SupplierState,
)
from sqm.domain.needs import (
    AwardNeed,
    NeedAlreadyExists,
    NeedAwarded,
    NeedNotFound,
    NeedPrecondition,
    NeedState,
    NeedStatus,
    OpenNeed,
    RankedCandidate,
    Ranking,
    RankShortlist,
    RecordRanking,
    ShortlistSupplier,
    decide_need,
    fold_need,
    is_need_stream,
    need_stream,
)
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId
from sqm.domain.serialization import need_from_dict, need_to_dict
from sqm.rules.pack_catalogue import default_catalogue

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
NETWORK = "network_equipment"


def _supplier(
    supplier_id: str,
    *,
    category: CategoryId = NETWORK,
    lifecycle: LifecycleState = LifecycleState.QUALIFIED,
    certificates: tuple[CertificateKindId, ...] = ("tl_9000",),
    blacklisted: bool = False,
) -> SupplierState:
    held = tuple(
        Certificate(kind, f"N-{kind}", "issuer", T0 - timedelta(days=30), T0 + timedelta(days=30))
        for kind in certificates
    )
    return SupplierState(
        supplier_id,
        supplier_id.title(),
        category,
        lifecycle=lifecycle,
        certificates=held,
        blacklisted=blacklisted,
    )


def _opened(
    required: frozenset[CertificateKindId] = frozenset({"tl_9000"}),
) -> NeedState:
    events = decide_need(OpenNeed("core-routers", "Core routers", NETWORK, T0, required), None, {})
    return fold_need(events, None)


def _shortlisted(need: NeedState, *suppliers: SupplierState) -> NeedState:
    for supplier in suppliers:
        command = ShortlistSupplier(need.need_id, supplier.supplier_id, T0)
        need = fold_need(decide_need(command, need, {supplier.supplier_id: supplier}), need)
    return need


def _ranking(*order: str, number: int = 1) -> Ranking:
    candidates = tuple(
        RankedCandidate(
            s, Decimal(90 - 10 * i), i + 1, Decimal("0.5"), i + 1, {"price": Decimal(1)}
        )
        for i, s in enumerate(order)
    )
    return Ranking(number, T0, "v" * 64, candidates, methods_agree=True, report=("1. ...",))


def _ranked(need: NeedState, *order: str) -> NeedState:
    command = RecordRanking(need.need_id, _ranking(*order), T0)
    return fold_need(decide_need(command, need, {}), need)


def test_a_need_opens_once_in_its_own_stream() -> None:
    """A need opens once in its own stream."""
    need = _opened()

    assert need.status is NeedStatus.OPEN
    assert need.version == 1
    assert is_need_stream(need_stream("core-routers"))
    assert not is_need_stream("core-routers")
    with pytest.raises(NeedAlreadyExists):
        decide_need(OpenNeed("core-routers", "Again", NETWORK, T0), need, {})


def test_need_streams_sort_after_every_supplier_id() -> None:
    """Listing suppliers in id order stops at the first need (see sqm.domain.needs)."""
    assert need_stream("a") > "z" * 63


def test_a_command_for_an_unknown_need_is_not_found() -> None:
    """A command for an unknown need is not found."""
    with pytest.raises(NeedNotFound):
        decide_need(ShortlistSupplier("nothing", "acme", T0), None, {"acme": _supplier("acme")})


def test_bad_fields_are_all_named() -> None:
    """Bad fields are all named."""
    with pytest.raises(InvalidCommand) as raised:
        decide_need(OpenNeed("Bad Id", " ", NETWORK, T0.replace(tzinfo=None)), None, {})

    assert {v.field for v in raised.value.violations} == {"need_id", "title", "occurred_at"}


def test_a_qualified_supplier_meeting_the_need_is_shortlisted() -> None:
    """A qualified supplier meeting the need is shortlisted."""
    need = _shortlisted(_opened(), _supplier("acme"), _supplier("bolt"))

    assert need.shortlist == ("acme", "bolt")
    assert not need.ranking_is_current


@pytest.mark.parametrize(
    ("supplier", "why"),
    [
        (_supplier("acme", category="software"), "provides software"),
        (_supplier("acme", lifecycle=LifecycleState.CANDIDATE), "it is candidate"),
        (_supplier("acme", lifecycle=LifecycleState.REMEDIATION), "it is remediation"),
        (_supplier("acme", blacklisted=True), "not blacklisted"),
        (_supplier("acme", certificates=()), "no valid tl_9000"),
    ],
)
def test_an_ineligible_supplier_is_refused_with_the_reason(
    supplier: SupplierState, why: str
) -> None:
    """An ineligible supplier is refused with the reason."""
    with pytest.raises(NeedPrecondition, match=why) as raised:
        decide_need(ShortlistSupplier("core-routers", "acme", T0), _opened(), {"acme": supplier})

    assert raised.value.subject == "suppliers/acme"


def test_an_expired_certificate_does_not_count() -> None:
    """An expired certificate does not count."""
    command = ShortlistSupplier("core-routers", "acme", T0 + timedelta(days=31))

    with pytest.raises(NeedPrecondition, match="no valid tl_9000"):
        decide_need(command, _opened(), {"acme": _supplier("acme")})


def test_shortlisting_an_unknown_or_listed_supplier_is_refused() -> None:
    """Shortlisting an unknown or listed supplier is refused."""
    need = _shortlisted(_opened(), _supplier("acme"))

    with pytest.raises(SupplierNotFound):
        decide_need(ShortlistSupplier(need.need_id, "ghost", T0), need, {})
    with pytest.raises(NeedPrecondition, match="already on the shortlist"):
        decide_need(ShortlistSupplier(need.need_id, "acme", T0), need, {"acme": _supplier("acme")})


def test_a_ranking_must_cover_the_whole_shortlist() -> None:
    """A ranking must cover the whole shortlist."""
    need = _shortlisted(_opened(), _supplier("acme"), _supplier("bolt"))

    with pytest.raises(NeedPrecondition, match="whole shortlist"):
        decide_need(RecordRanking(need.need_id, _ranking("acme"), T0), need, {})
    with pytest.raises(NeedPrecondition, match="shortlist is empty"):
        decide_need(RecordRanking(need.need_id, _ranking(), T0), _opened(), {})


def test_award_needs_a_ranking_of_the_current_shortlist() -> None:
    """Award needs a ranking of the current shortlist."""
    need = _shortlisted(_opened(), _supplier("acme"), _supplier("bolt"))
    award = AwardNeed(need.need_id, "acme", LATER)

    with pytest.raises(NeedPrecondition, match="rank the current shortlist"):
        decide_need(award, need, {})
    ranked = _ranked(need, "acme", "bolt")
    assert ranked.ranking_is_current
    # A supplier shortlisted after the ranking makes it stale again.
    stale = _shortlisted(ranked, _supplier("core"))
    assert not stale.ranking_is_current
    with pytest.raises(NeedPrecondition, match="rank the current shortlist"):
        decide_need(award, stale, {})


def test_the_first_ranked_supplier_is_awarded_without_a_reason() -> None:
    """The first ranked supplier is awarded without a reason."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme"), _supplier("bolt")), "bolt", "acme")

    events = decide_need(AwardNeed(need.need_id, "bolt", LATER), need, {})
    awarded = fold_need(events, need)

    assert events == [NeedAwarded(LATER, "bolt", 1, 1, "")]
    assert awarded.status is NeedStatus.AWARDED
    assert awarded.awarded_supplier_id == "bolt"


def test_departing_from_the_ranking_needs_a_reason() -> None:
    """Departing from the ranking needs a reason."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme"), _supplier("bolt")), "bolt", "acme")

    with pytest.raises(InvalidCommand, match="ranked 2") as raised:
        decide_need(AwardNeed(need.need_id, "acme", LATER), need, {})
    assert [v.field for v in raised.value.violations] == ["reason"]

    events = decide_need(AwardNeed(need.need_id, "acme", LATER, "local support"), need, {})
    assert events == [NeedAwarded(LATER, "acme", 2, 2, "local support")]


def test_an_awarded_need_is_closed() -> None:
    """An awarded need is closed."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme")), "acme")
    awarded = fold_need(decide_need(AwardNeed(need.need_id, "acme", LATER), need, {}), need)

    with pytest.raises(NeedPrecondition, match="was awarded to 'acme'"):
        decide_need(ShortlistSupplier(need.need_id, "bolt", LATER), awarded, {})


def test_awarding_a_supplier_off_the_shortlist_is_refused() -> None:
    """Awarding a supplier off the shortlist is refused."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme")), "acme")

    with pytest.raises(NeedPrecondition, match="not on the shortlist"):
        decide_need(AwardNeed(need.need_id, "bolt", LATER, "why not"), need, {})


def test_time_only_moves_forward_on_a_need() -> None:
    """Time only moves forward on a need."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme")), "acme")
    need = attrs.evolve(need, updated_at=LATER)

    with pytest.raises(InvalidCommand, match="earlier than the need's last recorded event"):
        decide_need(AwardNeed(need.need_id, "acme", T0), need, {})


def test_the_server_decides_a_rank_request_not_the_domain() -> None:
    """The server decides a rank request not the domain."""
    with pytest.raises(TypeError, match="decided by the server"):
        decide_need(RankShortlist("core-routers", T0), _opened(), {})


def test_a_need_survives_its_snapshot() -> None:
    """A need survives its snapshot."""
    need = _ranked(_shortlisted(_opened(), _supplier("acme"), _supplier("bolt")), "acme", "bolt")

    assert need_from_dict(need_to_dict(need)) == need


STANDARD = SlaObjective("availability", "availability", Comparator.AT_LEAST, 99.9, 99.95)


def test_a_need_keeps_its_service_standard_quantity_budget_and_date() -> None:
    """The terms of OpenNeed are on the need and survive its snapshot."""
    budget = Money(Decimal("9000000.00"), "CNY")
    command = OpenNeed(
        "ran", "5G RAN", NETWORK, T0, frozenset(), (STANDARD,), 120, budget, T0 + timedelta(days=90)
    )
    need = fold_need(decide_need(command, None, {}), None)
    assert (need.objectives, need.quantity, need.budget) == ((STANDARD,), 120, budget)
    assert need_from_dict(need_to_dict(need)) == need


def test_a_need_s_bad_terms_are_each_named() -> None:
    """A negative quantity, a budget of nothing, a date before the need, a bad objective."""
    backwards = attrs.evolve(STANDARD, warning=99.0)
    command = OpenNeed(
        "ran", "5G RAN", NETWORK, T0, frozenset(), (backwards,), -1,
        Money(Decimal("0.00"), "CNY"), T0 - timedelta(days=1),
    )  # fmt: skip
    with pytest.raises(InvalidCommand) as raised:
        decide_need(command, None, {})
    fields = {v.field for v in raised.value.violations}
    assert {"quantity", "budget.amount", "required_by"} <= fields
    # The objective is judged against the active policy's catalogue (the service does both).
    with pytest.raises(InvalidCommand) as raised:
        validate_ids(command, default_catalogue())
    assert [v.field for v in raised.value.violations] == ["objectives[0].warning"]
