"""Selection ranking: weighted sum and TOPSIS, exact, deterministic and explained."""

from __future__ import annotations

import decimal
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqm.rules.selection import KINDS, Candidate, Criterion, EvaluationReport, Kind, rank

D = Decimal


def criteria(*specs: tuple[str, int | str, Kind]) -> list[Criterion]:
    """Criteria from (id, weight, kind) triples."""
    return [Criterion(cid, D(weight), kind) for cid, weight, kind in specs]


def candidates(rows: Mapping[str, Mapping[str, int | str]]) -> list[Candidate]:
    """Candidates from {candidate id: {criterion id: value}}."""
    return [
        Candidate(cid, {key: D(value) for key, value in values.items()})
        for cid, values in rows.items()
    ]


# --- TOPSIS against independent computations ---------------------------------------------

# The car-buying example found in many TOPSIS tutorials: four cars, three benefit criteria
# and one cost criterion, weights already summing to 1.
CAR_WEIGHTS = {"style": "0.1", "reliability": "0.4", "fuel_economy": "0.3", "cost": "0.2"}
CAR_KINDS: dict[str, Kind] = {
    "style": "benefit",
    "reliability": "benefit",
    "fuel_economy": "benefit",
    "cost": "cost",
}
CAR_MATRIX = {
    "civic": (7, 9, 9, 8),
    "saturn": (8, 7, 8, 7),
    "ford": (9, 6, 8, 9),
    "mazda": (6, 7, 8, 6),
}


def float_topsis(
    matrix: Mapping[str, Sequence[float]], weights: Sequence[float], benefit: Sequence[bool]
) -> dict[str, float]:
    """Textbook TOPSIS in plain floats, written out step by step as a reference."""
    names = list(matrix)
    columns = list(zip(*(matrix[n] for n in names), strict=True))
    norms = [math.sqrt(sum(x * x for x in column)) for column in columns]
    weighted = {
        n: [w * x / norm for w, x, norm in zip(weights, matrix[n], norms, strict=True)]
        for n in names
    }
    weighted_columns = list(zip(*(weighted[n] for n in names), strict=True))
    ideal = [max(c) if b else min(c) for c, b in zip(weighted_columns, benefit, strict=True)]
    anti = [min(c) if b else max(c) for c, b in zip(weighted_columns, benefit, strict=True)]
    closeness = {}
    for n in names:
        d_plus = math.dist(weighted[n], ideal)
        d_minus = math.dist(weighted[n], anti)
        closeness[n] = d_minus / (d_plus + d_minus)
    return closeness


def car_report() -> EvaluationReport:
    """The car-buying example ranked by the module."""
    specs = [(cid, CAR_WEIGHTS[cid], CAR_KINDS[cid]) for cid in CAR_WEIGHTS]
    rows = {car: dict(zip(CAR_WEIGHTS, values, strict=True)) for car, values in CAR_MATRIX.items()}
    return rank(criteria(*specs), candidates(rows))


def test_textbook_car_example_closeness_matches_an_independent_float_computation() -> None:
    """Closeness of the four cars agrees with a plain-float TOPSIS to 1e-9."""
    expected = float_topsis(
        CAR_MATRIX,
        [float(w) for w in CAR_WEIGHTS.values()],
        [kind == "benefit" for kind in CAR_KINDS.values()],
    )
    report = car_report()
    for car, closeness in expected.items():
        assert float(report.result(car).closeness) == pytest.approx(closeness, abs=1e-9)


def test_textbook_car_example_topsis_ranks_follow_closeness() -> None:
    """The TOPSIS order of the cars is the float reference's closeness order."""
    expected = float_topsis(
        CAR_MATRIX,
        [float(w) for w in CAR_WEIGHTS.values()],
        [kind == "benefit" for kind in CAR_KINDS.values()],
    )
    best_first = sorted(expected, key=lambda car: -expected[car])
    assert [r.candidate_id for r in car_report().topsis_order] == best_first


# Chosen so that every norm and distance is a whole number of tenths:
# capability (0, 3, 4) and price (3, 0, 4) have norm 5; with equal weights the weighted
# points are alpha (0, .3), bravo (.3, 0), charlie (.4, .4); ideal (.4, 0), anti-ideal (0, .4).
HAND_CASE = {
    "alpha": {"capability": 0, "price": 3},
    "bravo": {"capability": 3, "price": 0},
    "charlie": {"capability": 4, "price": 4},
}


def hand_report() -> EvaluationReport:
    """The small hand-checked case ranked by the module."""
    specs = criteria(("capability", 1, "benefit"), ("price", 1, "cost"))
    return rank(specs, candidates(HAND_CASE))


def test_small_case_has_the_hand_computed_ideal_and_anti_ideal_points() -> None:
    """Ideal takes the highest capability and lowest price; anti-ideal the opposite."""
    report = hand_report()
    assert dict(report.ideal) == {"capability": D("0.4"), "price": D(0)}
    assert dict(report.anti_ideal) == {"capability": D(0), "price": D("0.4")}


def test_small_case_has_the_hand_computed_distances_and_closeness() -> None:
    """d+ 0.5/0.1/0.4 and d- 0.1/0.5/0.4 give closeness 1/6, 5/6 and 1/2."""
    report = hand_report()
    got = {
        r.candidate_id: (r.distance_to_ideal, r.distance_to_anti_ideal, r.closeness)
        for r in report.candidates
    }
    assert got == {
        "alpha": (D("0.5"), D("0.1"), D("0.166666666667")),
        "bravo": (D("0.1"), D("0.5"), D("0.833333333333")),
        "charlie": (D("0.4"), D("0.4"), D("0.5")),
    }


def test_small_case_has_the_hand_computed_weighted_scores_and_ranks() -> None:
    """Weighted scores 12.5, 87.5 and 50 rank bravo, charlie, alpha by both methods."""
    report = hand_report()
    got = {
        r.candidate_id: (r.weighted_score, r.weighted_rank, r.topsis_rank)
        for r in report.candidates
    }
    assert got == {
        "alpha": (D("12.5"), 3, 3),
        "bravo": (D("87.5"), 1, 1),
        "charlie": (D(50), 2, 2),
    }
    assert report.methods_agree


# --- weighted sum ------------------------------------------------------------------------


def test_weighted_sum_normalises_benefit_upwards_and_cost_downwards() -> None:
    """The best value on a criterion normalises to 1 and the worst to 0, whichever its kind."""
    specs = criteria(("capability", 3, "benefit"), ("price", 1, "cost"))
    rows = {
        "low": {"capability": 50, "price": 100},
        "mid": {"capability": 75, "price": 200},
        "high": {"capability": 100, "price": 300},
    }
    report = rank(specs, candidates(rows))
    normalised = {r.candidate_id: dict(r.normalised) for r in report.candidates}
    assert normalised == {
        "low": {"capability": 0, "price": 1},
        "mid": {"capability": D("0.5"), "price": D("0.5")},
        "high": {"capability": 1, "price": 0},
    }


def test_weighted_score_is_the_weighted_mean_of_normalised_values_out_of_100() -> None:
    """Weights 3:1 give (3 * capability + 1 * price) / 4 * 100, split into contributions."""
    specs = criteria(("capability", 3, "benefit"), ("price", 1, "cost"))
    rows = {
        "low": {"capability": 50, "price": 100},
        "mid": {"capability": 75, "price": 200},
        "high": {"capability": 100, "price": 300},
    }
    report = rank(specs, candidates(rows))
    assert {r.candidate_id: r.weighted_score for r in report.candidates} == {
        "low": 25,
        "mid": 50,
        "high": 75,
    }
    assert dict(report.result("mid").contributions) == {"capability": D("37.5"), "price": 12.5}


def test_a_criterion_everyone_equals_gives_everyone_full_marks() -> None:
    """Equal values normalise to 1 for all and leave TOPSIS unaffected, with no division by 0."""
    specs = criteria(("capability", 1, "benefit"), ("lead_time", 1, "cost"))
    rows = {
        "fast": {"capability": 80, "lead_time": 10},
        "slow": {"capability": 80, "lead_time": 30},
    }
    report = rank(specs, candidates(rows))
    assert [r.normalised["capability"] for r in report.candidates] == [1, 1]
    assert report.ideal["capability"] == report.anti_ideal["capability"]
    assert [(r.candidate_id, r.weighted_score, r.closeness) for r in report.candidates] == [
        ("fast", D(100), D(1)),
        ("slow", D(50), D(0)),
    ]


def test_a_criterion_everyone_scores_zero_on_is_handled() -> None:
    """An all-zero column has no vector norm; it is treated as equal, not divided by zero."""
    specs = criteria(("penalties", 1, "cost"), ("capability", 1, "benefit"))
    rows = {"a": {"penalties": 0, "capability": 1}, "b": {"penalties": 0, "capability": 2}}
    report = rank(specs, candidates(rows))
    assert [(r.candidate_id, r.closeness) for r in report.candidates] == [("b", D(1)), ("a", D(0))]


def test_a_single_candidate_gets_full_marks_and_rank_one() -> None:
    """Alone on the shortlist: weighted 100, closeness 1, first by both methods."""
    specs = criteria(("capability", 2, "benefit"), ("price", 1, "cost"))
    report = rank(specs, candidates({"solo": {"capability": 60, "price": 5000}}))
    (solo,) = report.candidates
    assert (solo.weighted_score, solo.closeness) == (D(100), D(1))
    assert (solo.weighted_rank, solo.topsis_rank) == (1, 1)
    assert report.deciding_criteria == ()
    assert report.methods_agree
    assert report.summary()[-1] == "1. solo (weighted 100.00, TOPSIS 1.0000)"


def test_identical_candidates_all_get_full_marks_and_share_rank_one() -> None:
    """When nobody differs anywhere both methods score everyone as the best."""
    specs = criteria(("capability", 1, "benefit"), ("price", 1, "cost"))
    same = {"capability": 70, "price": 900}
    report = rank(specs, candidates({"b": same, "a": same, "c": same}))
    assert [(r.candidate_id, r.weighted_rank, r.topsis_rank) for r in report.candidates] == [
        ("a", 1, 1),
        ("b", 1, 1),
        ("c", 1, 1),
    ]
    assert {r.closeness for r in report.candidates} == {1}


# --- ranks and determinism ---------------------------------------------------------------

TIE_CRITERIA = criteria(("capability", 1, "benefit"), ("delivery", 1, "benefit"))


def test_a_weighted_sum_tie_is_broken_by_topsis_closeness() -> None:
    """Equal weighted scores are ordered by closeness, and get distinct ranks."""
    rows = {
        "a": {"capability": 0, "delivery": 10},
        "b": {"capability": 10, "delivery": 0},
        "c": {"capability": 4, "delivery": 6},
    }
    report = rank(TIE_CRITERIA, candidates(rows))
    assert {r.weighted_score for r in report.candidates} == {50}
    closeness = [r.closeness for r in report.candidates]
    assert closeness == sorted(closeness, reverse=True)
    assert len(set(closeness)) == 3
    assert [r.weighted_rank for r in report.candidates] == [1, 2, 3]


def test_full_ties_share_a_rank_listed_by_id_and_the_next_rank_skips() -> None:
    """Candidates equal by both methods share a rank (1, 1, 3) and are listed by id."""
    rows = {
        "zulu": {"capability": 9, "delivery": 9},
        "yankee": {"capability": 9, "delivery": 9},
        "x-ray": {"capability": 1, "delivery": 1},
    }
    report = rank(TIE_CRITERIA, candidates(rows))
    assert [(r.candidate_id, r.weighted_rank, r.topsis_rank) for r in report.candidates] == [
        ("yankee", 1, 1),
        ("zulu", 1, 1),
        ("x-ray", 3, 3),
    ]
    assert report.summary()[2] == (
        "1. yankee (weighted 100.00, TOPSIS 1.0000): tied with zulu by both methods"
    )


def test_reordering_the_candidates_does_not_change_the_report() -> None:
    """Every permutation of the input gives an equal report and the same summary."""
    specs = [Criterion(cid, D(w), CAR_KINDS[cid]) for cid, w in CAR_WEIGHTS.items()]
    rows = {car: dict(zip(CAR_WEIGHTS, values, strict=True)) for car, values in CAR_MATRIX.items()}
    pool = candidates(rows)
    first = rank(specs, pool)
    for permutation in itertools.permutations(pool):
        report = rank(specs, permutation)
        assert report == first
        assert report.summary() == first.summary()


def test_the_callers_decimal_context_does_not_change_the_report() -> None:
    """A caller's low-precision, truncating context leaves the arithmetic untouched."""
    expected = car_report()
    with decimal.localcontext(prec=5, rounding=decimal.ROUND_DOWN):
        assert car_report() == expected
        assert car_report().summary() == expected.summary()


def test_reported_numbers_have_a_fixed_number_of_places() -> None:
    """Scores, closeness and distances are quantized to 12 decimal places."""
    report = car_report()
    for result in report.candidates:
        for value in (result.weighted_score, result.closeness, result.distance_to_ideal):
            assert value.as_tuple().exponent == -12


# --- explanation -------------------------------------------------------------------------

DECIDING_CRITERIA = criteria(
    ("capability", 4, "benefit"), ("price", 3, "cost"), ("lead_time", 1, "cost")
)


def test_deciding_criteria_name_the_criterion_that_separates_two_candidates() -> None:
    """Equal on price, far apart on capability, slightly behind on lead time: capability decides."""
    rows = {
        "acme": {"capability": 95, "price": 100_000, "lead_time": 31},
        "beta": {"capability": 40, "price": 100_000, "lead_time": 30},
        "gamma": {"capability": 10, "price": 200_000, "lead_time": 60},
    }
    report = rank(DECIDING_CRITERIA, candidates(rows))
    first = report.deciding_criteria[0]
    assert (first.ahead, first.behind) == ("acme", "beta")
    assert [d.criterion_id for d in first.deciding] == ["capability"]
    assert [d.criterion_id for d in first.offsetting] == ["lead_time"]
    total = sum(d.points for d in (*first.deciding, *first.offsetting))
    assert abs(total - first.margin) <= D("1e-11")


def test_deciding_criteria_list_gains_largest_first() -> None:
    """Between beta and gamma, price gains more points than capability or lead time."""
    rows = {
        "acme": {"capability": 95, "price": 100_000, "lead_time": 31},
        "beta": {"capability": 40, "price": 100_000, "lead_time": 30},
        "gamma": {"capability": 10, "price": 200_000, "lead_time": 60},
    }
    second = rank(DECIDING_CRITERIA, candidates(rows)).deciding_criteria[1]
    assert (second.ahead, second.behind) == ("beta", "gamma")
    assert [d.criterion_id for d in second.deciding] == ["price", "capability", "lead_time"]
    points = [d.points for d in second.deciding]
    assert points == sorted(points, reverse=True)
    assert second.offsetting == ()


def test_summary_reads_as_an_evaluation_report() -> None:
    """The summary lists weights, agreement, and each candidate's scores and reasons."""
    rows = {
        "acme": {"capability": 95, "price": 100_000, "lead_time": 31},
        "beta": {"capability": 40, "price": 100_000, "lead_time": 30},
    }
    lines = rank(DECIDING_CRITERIA, candidates(rows)).summary()
    assert lines == [
        "Evaluation of 2 candidates by weighted sum and TOPSIS on: "
        "capability (benefit, weight 4), price (cost, weight 3), lead_time (cost, weight 1)",
        "Both methods rank acme first.",
        "1. acme (weighted 87.50, TOPSIS 0.9893): ahead of beta on capability (+50.00); "
        "behind on lead_time (-12.50)",
        "2. beta (weighted 50.00, TOPSIS 0.0107)",
    ]


def test_summary_says_when_the_methods_disagree_on_the_winner() -> None:
    """Weighted sum prefers lima, TOPSIS prefers mike: the report flags it."""
    specs = criteria(("capability", 1, "benefit"), ("price", 1, "cost"))
    rows = {
        "kilo": {"capability": 7, "price": 7},
        "lima": {"capability": 10, "price": 6},
        "mike": {"capability": 3, "price": 1},
    }
    report = rank(specs, candidates(rows))
    assert not report.methods_agree
    assert report.summary()[1] == (
        "The methods disagree: weighted sum ranks lima first, TOPSIS ranks mike first."
    )
    assert report.summary()[2].startswith("1. lima (weighted 58.33, TOPSIS 0.5127, TOPSIS rank 2)")


# --- validation --------------------------------------------------------------------------

PRICE = Criterion("price", D(1), "cost")
OK = Candidate("acme", {"price": D(10)})


@pytest.mark.parametrize(
    ("specs", "pool", "message"),
    [
        pytest.param([], [OK], "no criteria", id="no-criteria"),
        pytest.param([PRICE], [], "no candidates", id="no-candidates"),
        pytest.param(
            [Criterion("price", D(0), "cost")],
            [OK],
            "criterion 'price': weight must be positive, got 0",
            id="zero-weight",
        ),
        pytest.param(
            [Criterion("price", D(-2), "cost")],
            [OK],
            "criterion 'price': weight must be positive, got -2",
            id="negative-weight",
        ),
        pytest.param(
            [Criterion("price", D("NaN"), "cost")],
            [OK],
            "criterion 'price': weight NaN is not finite",
            id="nan-weight",
        ),
        pytest.param([PRICE, PRICE], [OK], "duplicate criterion id 'price'", id="dup-criterion"),
        pytest.param([PRICE], [OK, OK], "duplicate candidate id 'acme'", id="dup-candidate"),
        pytest.param(
            [PRICE],
            [Candidate("acme", {"cost": D(10)})],
            "candidate 'acme', criterion 'price': no value",
            id="missing-value",
        ),
        pytest.param(
            [PRICE],
            [Candidate("acme", {"price": D("Infinity")})],
            "candidate 'acme', criterion 'price': value Infinity is not finite",
            id="infinite-value",
        ),
        pytest.param(
            [PRICE],
            [Candidate("acme", {"price": D("NaN")})],
            "candidate 'acme', criterion 'price': value NaN is not finite",
            id="nan-value",
        ),
        pytest.param(
            [PRICE],
            [Candidate("acme", {"price": D(-5)})],
            "candidate 'acme', criterion 'price': value -5 is negative; "
            "TOPSIS's vector normalisation needs non-negative values",
            id="negative-value",
        ),
        pytest.param(
            [Criterion("price", D(1), "cheap")],  # type: ignore[arg-type]
            [OK],
            "criterion 'price': unknown kind 'cheap' (expected 'benefit' or 'cost')",
            id="unknown-kind",
        ),
        pytest.param(
            [PRICE],
            [Candidate("acme", {"price": 9.5})],  # type: ignore[dict-item]
            "candidate 'acme', criterion 'price': value must be a Decimal, got float 9.5",
            id="float-value",
        ),
    ],
)
def test_invalid_input_raises_value_error_naming_the_culprit(
    specs: list[Criterion], pool: list[Candidate], message: str
) -> None:
    """Each kind of bad input is refused with a message naming the criterion or candidate."""
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        rank(specs, pool)


# --- properties --------------------------------------------------------------------------

VALUES = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
POSITIVE_VALUES = st.decimals(min_value=1, max_value=10_000, places=2, allow_nan=False)
WEIGHTS = st.integers(min_value=1, max_value=10).map(Decimal)


@st.composite
def problems(
    draw: st.DrawFn, values: st.SearchStrategy[Decimal] = VALUES
) -> tuple[list[Criterion], list[Candidate]]:
    """One to four criteria of random kinds and weights, one to six candidates."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    specs = [Criterion(f"k{i}", draw(WEIGHTS), kind) for i, kind in enumerate(kinds)]
    count = draw(st.integers(min_value=1, max_value=6))
    pool = [Candidate(f"c{j}", {c.id: draw(values) for c in specs}) for j in range(count)]
    return specs, pool


@given(problems())
def test_scores_stay_within_their_ranges(problem: tuple[list[Criterion], list[Candidate]]) -> None:
    """Closeness is always in [0, 1], weighted scores in [0, 100], ranks in 1..n."""
    specs, pool = problem
    report = rank(specs, pool)
    for result in report.candidates:
        assert 0 <= result.closeness <= 1
        assert 0 <= result.weighted_score <= 100
        assert 1 <= result.weighted_rank <= len(pool)
        assert 1 <= result.topsis_rank <= len(pool)


@given(problems(), st.data())
def test_candidate_order_never_matters(
    problem: tuple[list[Criterion], list[Candidate]], data: st.DataObject
) -> None:
    """Any permutation of the candidates gives an equal report."""
    specs, pool = problem
    shuffled = data.draw(st.permutations(pool))
    assert rank(specs, shuffled) == rank(specs, pool)


@given(problems(values=POSITIVE_VALUES))
def test_a_candidate_dominating_everyone_ranks_first_by_both_methods(
    problem: tuple[list[Criterion], list[Candidate]],
) -> None:
    """Strictly better than every other candidate on every criterion means rank 1 twice."""
    specs, pool = problem
    best = {}
    for criterion in specs:
        column = [p.values[criterion.id] for p in pool]
        # Values are at least 1, so one less than the lowest cost is still non-negative.
        best[criterion.id] = max(column) + 1 if criterion.kind == "benefit" else min(column) - 1
    # An id sorting after every other: winning must not come from the id tie-break.
    report = rank(specs, [*pool, Candidate("zz-dominant", best)])
    dominant = report.result("zz-dominant")
    assert (dominant.weighted_rank, dominant.topsis_rank) == (1, 1)


@given(
    problems(),
    st.data(),
    st.decimals(min_value=D("0.01"), max_value=1000, places=2, allow_nan=False),
)
def test_scaling_a_criterion_leaves_topsis_ranks_unchanged(
    problem: tuple[list[Criterion], list[Candidate]], data: st.DataObject, factor: Decimal
) -> None:
    """Vector normalisation makes TOPSIS blind to a criterion's unit (yuan or thousands)."""
    specs, pool = problem
    scaled_id = data.draw(st.sampled_from([c.id for c in specs]))
    scaled = [
        Candidate(p.candidate_id, {**p.values, scaled_id: p.values[scaled_id] * factor})
        for p in pool
    ]
    before = {r.candidate_id: r.topsis_rank for r in rank(specs, pool).candidates}
    after = {r.candidate_id: r.topsis_rank for r in rank(specs, scaled).candidates}
    assert after == before
