"""What a standing changes: a supplier whose latest scorecard is in a band that blocks
shortlisting cannot be shortlisted, with the standing named; a later, better period lifts it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from sqm.domain.model import Certificate, LifecycleState, Stage, SupplierState
from sqm.domain.needs import (
    AwardNeed,
    NeedAwarded,
    NeedPrecondition,
    NeedState,
    OpenNeed,
    RankedCandidate,
    Ranking,
    RecordRanking,
    ShortlistSupplier,
    SupplierShortlisted,
    decide_need,
    fold_need,
)
from sqm.domain.ports import DecisionContext
from sqm.domain.scorecard_records import Scorecard
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.contract_facts import deadlines_facts

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
NETWORK = "network_equipment"


def _card(period: str, score: float, standing: str, *, blocks: bool) -> Scorecard:
    start = datetime(2026, int(period[-2:]), 1, tzinfo=UTC)
    return Scorecard(
        period, start, start + timedelta(days=30), score, standing, f"{standing} (标题)", (), "",
        blocks_shortlisting=blocks, blocks_award=blocks,
    )  # fmt: skip


def _contracted(*cards: Scorecard) -> SupplierState:
    licence = Certificate(
        "tl_9000", "N-1", "issuer", T0 - timedelta(days=30), T0 + timedelta(days=30)
    )
    return SupplierState(
        "acme", "Acme", NETWORK, LifecycleState.CONTRACTED, certificates=(licence,),
        scorecards=cards,
    )  # fmt: skip


def _opened() -> NeedState:
    required = frozenset({"tl_9000"})
    opened = decide_need(OpenNeed("core-routers", "Core routers", NETWORK, T0, required), None, {})
    return fold_need(opened, None)


def _shortlist(supplier: SupplierState) -> list[object]:
    command = ShortlistSupplier("core-routers", "acme", T0)
    return list(decide_need(command, _opened(), {"acme": supplier}))


def _ranked_with(supplier: SupplierState) -> NeedState:
    """A need with ``supplier`` shortlisted and ranked first."""
    need = _opened()
    shortlisted = ShortlistSupplier(need.need_id, "acme", T0)
    need = fold_need(decide_need(shortlisted, need, {"acme": supplier}), need)
    candidate = RankedCandidate("acme", Decimal(90), 1, Decimal("0.5"), 1, {"price": Decimal(1)})
    ranking = Ranking(1, T0, "v" * 64, (candidate,), methods_agree=True, report=("1. acme",))
    return fold_need(decide_need(RecordRanking(need.need_id, ranking, T0), need, {}), need)


def test_a_standing_that_blocks_shortlisting_refuses_the_supplier_naming_it() -> None:
    """Latest scorecard poor (blocks shortlisting): refused, the standing and score named."""
    supplier = _contracted(_card("2026-04", 41.5, "poor", blocks=True))

    with pytest.raises(NeedPrecondition, match=r"standing is poor \(poor \(标题\)\), score 41.5"):
        _shortlist(supplier)


def test_only_the_latest_scorecard_counts() -> None:
    """Poor in March, fair in April: shortlisted."""
    supplier = _contracted(
        _card("2026-03", 41.5, "poor", blocks=True), _card("2026-04", 66.0, "fair", blocks=False)
    )

    assert [type(e) for e in _shortlist(supplier)] == [SupplierShortlisted]


def test_a_supplier_without_scorecards_is_not_blocked() -> None:
    """No scorecard yet (just qualified, say): nothing to block on."""
    assert [type(e) for e in _shortlist(_contracted())] == [SupplierShortlisted]


def test_a_standing_that_blocks_an_award_refuses_it_naming_the_standing() -> None:
    """Shortlisted and ranked first while fair, then scored poor: the award is refused."""
    fair = _contracted(_card("2026-03", 66.0, "fair", blocks=False))
    need = _ranked_with(fair)
    poor = _contracted(fair.scorecards[0], _card("2026-04", 41.5, "poor", blocks=True))

    with pytest.raises(NeedPrecondition, match="cannot be awarded: its standing is poor"):
        decide_need(AwardNeed(need.need_id, "acme", T0), need, {"acme": poor})
    awarded = decide_need(AwardNeed(need.need_id, "acme", T0), need, {"acme": fair})
    assert [type(e) for e in awarded] == [NeedAwarded]


def _warning_card(period: str) -> Scorecard:
    card = _card(period, 66.0, "fair", blocks=False)
    return attrs.evolve(card, warns_shortlisting=True, warns_award=True)


def test_a_standing_that_warns_on_shortlisting_accepts_with_the_warning_on_the_event() -> None:
    """Fair (warns): shortlisted, the event saying why with a warning."""
    (event,) = _shortlist(_contracted(_warning_card("2026-04")))

    assert isinstance(event, SupplierShortlisted)
    assert event.warning == (
        "accepted with a warning: its standing is fair (fair (标题)), score 66 in 2026-04,"
        " and that standing warns on shortlisting"
    )
    assert _shortlist(_contracted())[0] == SupplierShortlisted(T0, "acme")


def test_a_standing_that_warns_on_an_award_accepts_it_with_the_warning_on_the_event() -> None:
    """Ranked first and fair (warns on an award): awarded, the warning recorded."""
    supplier = _contracted(_warning_card("2026-04"))
    need = _ranked_with(supplier)

    (event,) = decide_need(AwardNeed(need.need_id, "acme", T0), need, {"acme": supplier})

    assert isinstance(event, NeedAwarded)
    assert event.warning.endswith("and that standing warns on an award")


def test_a_standings_review_interval_replaces_the_categorys_for_business_reviews() -> None:
    """The default pack reviews network equipment every 180 days; a fair month makes it 60."""
    pack = load_pack(default_pack_dir())
    card = attrs.evolve(_warning_card("2026-04"), review_every_days=60)
    context = DecisionContext(Stage.DEADLINES, _contracted(card), T0)
    without = DecisionContext(Stage.DEADLINES, _contracted(), T0)

    assert deadlines_facts(pack, context)["business_review_days"] == 60
    assert deadlines_facts(pack, without)["business_review_days"] == 180
