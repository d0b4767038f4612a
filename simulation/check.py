"""``sqm simulate check``: search generated scenarios for one that breaks a pack's invariants.

Hypothesis generates scenarios (:mod:`sqm.simulation.scenarios`), each played under the
pack (:mod:`sqm.simulation.runner`); the first that breaks an invariant is shrunk to the
smallest story that still breaks one. About half the scenarios are generic, half steered to
the pack's own edges (``scenarios.steered_scenarios``: bursts at a window's count, credits
piled up to a cap, ticks about a plan's due date, claims at the liability limit, scores at a
pass mark), so a cap or deadline broken by a few units is found at the CI example count.
The search is bounded by ``max_examples`` and made repeatable by ``seed``: the same pack,
seed and bound find the same counterexample.

A counterexample is written two ways: a readable timeline, and a policy test file whose one
case replays its commands and requires the invariants (``sqm policy test`` then fails on the
broken pack at the same command, and passes once the pack is fixed; ``sqm policy explain
--events`` reads it too).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import yaml
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from sqm.domain.commands import AdvanceTime
from sqm.domain.serialization import converter
from sqm.rules import CompiledPolicy, PolicyPack
from sqm.rules.tooling.testfile import TEST_FORMAT
from sqm.simulation import parallel
from sqm.simulation import scenarios as sc
from sqm.simulation.runner import Entry, Outcome, run_scenario

SEARCH_SHARDS = 4
"""The search is this many independent searches, each of an equal share of the examples with
a seed of its own drawn from the one given; the first of them (in order) that finds a
counterexample gives the answer.

Given ``jobs``, each part runs in a new process of its own, whatever the number of jobs:
Hypothesis's generation, for a given seed, still depends on what the process did before
(measured: importing one more module before the search changed the ninth scenario drawn).
In fresh processes the parts are the same searches one after another (``--jobs 1``) or side
by side (``--jobs N``), so the output does not depend on the jobs. Without ``jobs`` they run
here, one after another, as a library caller's property tests would."""


@attrs.frozen
class CheckResult:
    """What a search found: the examples tried, and the smallest counterexample if any."""

    pack: PolicyPack
    examples: int
    seed: int
    scenario: sc.Scenario | None = None
    outcome: Outcome | None = None

    @property
    def held(self) -> bool:
        """True when no scenario broke an invariant."""
        return self.outcome is None


@attrs.frozen
class _Shard:
    """One of the searches a check is made of: its share of the examples and its seed."""

    max_examples: int
    seed: str
    max_steps: int


@attrs.frozen
class _ShardResult:
    examples: int
    scenario: sc.Scenario | None


def check_pack(
    pack: PolicyPack,
    *,
    max_examples: int,
    seed: int,
    max_steps: int = 40,
    progress: Callable[[int], None] | None = None,
    jobs: int | None = None,
) -> CheckResult:
    """Search up to ``max_examples`` scenarios for one breaking an invariant of ``pack``:
    here, or each part in a new process, ``jobs`` at a time (the same for any number).
    """
    shards = _shards(max_examples, seed, max_steps)
    if jobs is None:
        results = _one_after_another(pack, shards, progress)
    else:
        results = _side_by_side(pack, shards, jobs, progress)
    tried = sum(result.examples for result in results)
    found = results[-1].scenario
    if found is None:
        return CheckResult(pack, tried, seed)
    outcome = run_scenario(CompiledPolicy(pack), found, pack.invariants, pack.criterion_ids)
    return CheckResult(pack, tried, seed, found, outcome)


def _shards(max_examples: int, seed: int, max_steps: int) -> list[_Shard]:
    count = min(SEARCH_SHARDS, max_examples)
    share, extra = divmod(max_examples, count)
    return [_Shard(share + (i < extra), f"{seed}/{i}", max_steps) for i in range(count)]


def _one_after_another(
    pack: PolicyPack, shards: list[_Shard], progress: Callable[[int], None] | None
) -> list[_ShardResult]:
    """The shards' results in order, up to the first that found a counterexample."""
    policy = CompiledPolicy(pack)
    tried = 0

    def tried_one() -> None:
        nonlocal tried
        tried += 1
        if progress is not None:
            progress(tried)

    results: list[_ShardResult] = []
    for shard in shards:
        results.append(_search(policy, pack, shard, tried_one))
        if results[-1].scenario is not None:
            break
    return results


def _side_by_side(
    pack: PolicyPack, shards: list[_Shard], jobs: int, progress: Callable[[int], None] | None
) -> list[_ShardResult]:
    """The shards' results in order, each searched in a new process, ``jobs`` at a time."""
    results: list[_ShardResult] = []
    searched = parallel.ordered_map(
        _search_in_worker, shards, jobs=jobs,
        initializer=parallel.compile_in_worker, initargs=(pack,), process_per_item=True,
    )  # fmt: skip
    for result in searched:
        results.append(result)
        if progress is not None:
            progress(sum(r.examples for r in results))
        if result.scenario is not None:
            break  # later shards' answers are not needed (the pool still lets them finish)
    return results


def _search_in_worker(shard: _Shard) -> _ShardResult:
    policy, pack = parallel.worker_policy()
    return _search(policy, pack, shard)


def _search(
    policy: CompiledPolicy,
    pack: PolicyPack,
    shard: _Shard,
    tried_one: Callable[[], None] | None = None,
) -> _ShardResult:
    """One shard's search: the smallest breaking scenario it finds, if any."""
    tried = 0

    def breaks(scenario: sc.Scenario) -> bool:
        nonlocal tried
        tried += 1
        if tried_one is not None:
            tried_one()
        outcome = run_scenario(policy, scenario, pack.invariants, pack.criterion_ids)
        return outcome.broken is not None

    budget = settings(
        max_examples=shard.max_examples,
        database=None,  # a counterexample depends on the pack and seed alone, not on history
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    try:
        smallest = find(
            st.one_of(
                sc.scenarios(max_steps=shard.max_steps),
                sc.steered_scenarios(pack, max_steps=shard.max_steps),
            ),
            breaks,
            settings=budget,
            random=random.Random(shard.seed),  # noqa: S311 - a repeatable search, not a secret
        )
    except NoSuchExample:
        return _ShardResult(tried, None)
    return _ShardResult(tried, smallest)


# --- the counterexample, written out --------------------------------------------------------


def timeline_lines(outcome: Outcome) -> list[str]:
    """The counterexample as a story: each command, what it recorded, where it broke."""
    lines = []
    number = 0
    for index, entry in enumerate(outcome.timeline):
        broken_here = outcome.broken is not None and outcome.broken.index == index
        if _quiet(entry) and not broken_here:
            continue  # a tick with nothing due says nothing to a reader (the file keeps it)
        number += 1
        when = entry.command.occurred_at.strftime("%Y-%m-%d %H:%M")
        lines.append(f"{number:>3}. {when}  {describe(entry)}")
        if broken_here and outcome.broken is not None:
            broken = outcome.broken
            lines.append(f"     ^ breaks {broken.invariant.id} ({broken.invariant.title})")
            lines.append(f"       {broken.why}")
    return lines


def _quiet(entry: Entry) -> bool:
    return isinstance(entry.command, AdvanceTime) and not entry.events and not entry.refused


def describe(entry: Entry) -> str:
    """One command and its effect, in a line."""
    name = type(entry.command).__name__
    detail = _detail(entry.command)
    if entry.refused:
        return f"{name}{detail} -> refused ({entry.refused.split(':')[0]})"
    recorded = ", ".join(_event_text(e) for e in entry.events) or "nothing due"
    return f"{name}{detail} -> {recorded}"


def _detail(command: Any) -> str:
    fields = []
    names = ("objective_id", "value", "outcome", "score", "passed", "milestone", "action_id")
    for name in (*names, "approved"):
        if hasattr(command, name):
            value = getattr(command, name)
            fields.append(f"{name}={getattr(value, 'value', value)}")
    if hasattr(command, "due_at"):  # an extension asked for
        fields.append(f"due_at={command.due_at:%Y-%m-%d %H:%M}")
    if hasattr(command, "content"):  # a corrective-action record's actions and due dates
        due = (f"{a.action_id} by {a.due_at:%Y-%m-%d}" for a in command.content.actions)
        fields.append(f"actions={', '.join(due)}")
    if hasattr(command, "amount"):
        fields.append(f"amount={command.amount.amount} {command.amount.currency}")
    return f" ({', '.join(fields)})" if fields else ""


def _event_text(event: Any) -> str:
    name = type(event).__name__
    if name == "LifecycleTransitioned":
        return f"{event.from_state} -> {event.to_state}"
    if name == "DecisionRecorded":
        if event.no_effect:
            return f"{event.decision.rule_id} fired, {event.no_effect}"
        return f"{event.decision.rule_id} fired"
    if name == "BreachDetected":
        return f"{event.breach.severity} breach"
    if name == "PenaltyAssessed":
        return f"penalty {event.penalty.amount.amount} {event.penalty.amount.currency}"
    return name


def test_file(result: CheckResult) -> str:
    """A policy test file replaying the counterexample and requiring every invariant."""
    assert result.outcome is not None  # noqa: S101 - only written for a counterexample
    outcome = result.outcome
    broken = outcome.broken
    title = f"{broken.invariant.id}: {broken.why}" if broken else "counterexample"
    case = {
        "name": f"counterexample found by sqm simulate check (seed {result.seed})",
        "description": title,
        "supplier": outcome.timeline[0].command.supplier_id,
        "commands": list(_commands(outcome)),
        "expect": {"invariants": [i.id for i in result.pack.invariants]},
    }
    document = {
        "format": TEST_FORMAT,
        "description": f"The smallest scenario found that breaks pack {result.pack.name}.",
        "cases": [case],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _commands(outcome: Outcome) -> Iterator[dict[str, Any]]:
    for entry in outcome.timeline:
        fields = _plain(converter.unstructure(entry.command))
        item = {"type": type(entry.command).__name__, **_without_empty(fields)}
        if entry.refused:
            item["expect_error"] = entry.refused.split(":")[0]
        yield item


def _plain(data: Any) -> Any:
    # Enums become their values, as a test file writes them.
    return json.loads(json.dumps(data))


def _without_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != []}
