"""``sqm simulate run NEW --baseline OLD``: one seeded population under two packs.

The candidate opens a review at the second major breach in 30 days instead of the third.
Both sides must be exactly the runs ``sqm simulate run`` makes of each pack alone (the
comparison adds nothing and loses nothing), the suppliers whose fate changes must differ
in their fate, and sharing the work over processes must not change a byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqm.rules import PolicyPack, default_pack_dir, load_pack
from sqm.simulation.comparison import compare
from sqm.simulation.impact import Rates, simulate
from tests.commands import default_pack_variant, sqm

pytestmark = pytest.mark.integration

SIZE = {"suppliers": 24, "months": 12, "seed": 3}


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> tuple[PolicyPack, PolicyPack]:
    """The default pack, and the candidate with MON-002 at 2 major breaches."""
    candidate = default_pack_variant(
        tmp_path_factory.mktemp("packs") / "candidate",
        "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 2}',
    )
    return load_pack(default_pack_dir()), load_pack(candidate)


@pytest.fixture(scope="module")
def compared(packs: tuple[PolicyPack, PolicyPack]) -> dict:  # type: ignore[type-arg]
    """The comparison of the two packs, made once for the module."""
    baseline, candidate = packs
    return compare(candidate, baseline, Rates(), **SIZE)


def test_each_side_is_the_run_of_its_pack_alone(
    packs: tuple[PolicyPack, PolicyPack],
    compared: dict,  # type: ignore[type-arg]
) -> None:
    """The comparison's runs equal ``simulate`` of each pack: the same draws, the same life."""
    baseline, candidate = packs
    assert compared["runs"]["baseline"] == simulate(baseline, Rates(), **SIZE)
    assert compared["runs"]["candidate"] == simulate(candidate, Rates(), **SIZE)


def test_the_difference_is_counted_where_it_happens(compared: dict) -> None:  # type: ignore[type-arg]
    """MON-002 acts more often; states sum to the population on both sides; each changed
    supplier's fate differs, with the first decision that parts the two.
    """
    assert compared["format"] == "sqm.comparison/v1"
    mon_002 = compared["by_rule"]["MON-002"]
    assert mon_002["candidate"] > mon_002["baseline"]
    for side in ("baseline", "candidate"):
        assert sum(c[side] for c in compared["final_states"].values()) == SIZE["suppliers"]
        by_category = compared["by_category"].values()
        assert sum(c["suppliers"] for c in by_category) == SIZE["suppliers"]
    changed = compared["changed_suppliers"]
    assert changed
    for entry in changed:
        assert entry["baseline"] != entry["candidate"]
        assert entry["first_difference"]["time"]
    assert compared["reviews"]["candidate"] > compared["reviews"]["baseline"]


def test_sqm_simulate_run_baseline_writes_the_same_bytes_with_jobs(
    packs: tuple[PolicyPack, PolicyPack], tmp_path: Path
) -> None:
    """The command, on one and on two processes: byte-identical JSON, and a page."""
    candidate_dir = tmp_path / "candidate"
    default_pack_variant(
        candidate_dir, "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 2}',
    )  # fmt: skip
    outputs = []
    for jobs in ("1", "2"):
        target = tmp_path / f"compare-{jobs}.json"
        ran = sqm(
            "simulate", "run", str(candidate_dir), "--baseline", str(default_pack_dir()),
            "--suppliers", "12", "--months", "6", "--seed", "5", "--jobs", jobs,
            "--json", str(target), "--html", str(tmp_path / f"compare-{jobs}.html"),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert "under both packs" in ran.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["suppliers"] == 12
    page = (tmp_path / "compare-2.html").read_text(encoding="utf-8")
    assert "Policy comparison" in page


def test_a_raised_pass_mark_leaves_the_candidates_between_the_marks_unqualified(
    tmp_path: Path,
) -> None:
    """Candidates' scores spread around 80: with the pass mark at 75 instead of 70, those
    between the marks stay candidates, and the comparison says QUAL-001 is what differs.
    """
    raised = default_pack_variant(
        tmp_path / "raised", "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 75}',
    )  # fmt: skip
    rates = Rates(qualification_score_mean=80, qualification_score_sd=8)
    compared = compare(
        load_pack(raised), load_pack(default_pack_dir()), rates, suppliers=30, months=2, seed=1
    )
    candidates = compared["final_states"]["candidate"]
    assert candidates["candidate"] > candidates["baseline"]
    newly_unqualified = [
        entry for entry in compared["changed_suppliers"]
        if entry["candidate"]["final_state"] == "candidate"
    ]  # fmt: skip
    assert len(newly_unqualified) == candidates["candidate"] - candidates["baseline"]
    for entry in newly_unqualified:
        assert entry["first_difference"]["baseline"].startswith("QUAL-001")
