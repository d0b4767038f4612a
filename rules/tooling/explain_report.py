"""``sqm policy explain``: a pack evaluated against a supplier's history, in words.

The history is replayed to the moment asked for (events applied as recorded; commands, from
a history file, decided under the pack being explained), then the pack's rules of one stage
are evaluated there. Every rule is printed: fired or not, each condition with the fact's
actual value against its threshold, the message, and for a rule that did not fire, why not.

Time is explicit: without ``--at`` the moment is that of the last event in the history,
never the clock of the machine running the tool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

import attrs

from sqm.domain.commands import COMMAND_TYPES, Command
from sqm.domain.decide import decide
from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.events import DecisionRecorded, Event
from sqm.domain.evolve import apply, fold
from sqm.domain.model import ConditionOutcome, Decision, Stage, SupplierState
from sqm.domain.ports import DecisionContext, Evaluation, Policy
from sqm.domain.serialization import format_time
from sqm.rules.template import format_value


@attrs.frozen
class Replayed:
    """A supplier as of a moment, and the decisions recorded in its history up to then."""

    state: SupplierState | None
    at: datetime | None
    events: int
    recorded: tuple[Decision, ...] = ()


def replay_events(events: Iterable[Event], until: datetime | None = None) -> Replayed:
    """Apply recorded events in order, stopping before the first one later than ``until``."""
    state: SupplierState | None = None
    last: datetime | None = None
    count = 0
    recorded: list[Decision] = []
    for event in events:
        if until is not None and event.occurred_at > until:
            break
        state = apply(state, event)
        last, count = event.occurred_at, count + 1
        if isinstance(event, DecisionRecorded):
            recorded.append(event.decision)
    return Replayed(state, until or last, count, tuple(recorded))


def replay_items(
    items: Iterable[Command | Event], policy: Policy, until: datetime | None = None
) -> Replayed:
    """Replay a history file: events are applied, commands decided under ``policy`` first.

    Raises the domain's errors when a command is refused (as the service would).
    """
    commands = tuple(COMMAND_TYPES.values())
    events: list[Event] = []
    state: SupplierState | None = None
    for item in items:
        if until is not None and item.occurred_at > until:
            break
        # mypy narrows the command branch; the rest of the union is the events.
        new = decide(item, state, policy) if isinstance(item, commands) else [cast(Event, item)]
        events.extend(new)
        state = fold(new, state)
    return replay_events(events, until)


def evaluate_at(
    policy: Policy, state: SupplierState, at: datetime, stage: Stage = Stage.QUALIFICATION
) -> Evaluation:
    """Evaluate the rules of ``stage`` for ``state`` at ``at``.

    At the monitoring stage the latest measurement (and its breach, if it missed) is the
    record judged, as when it arrived; without one there is nothing to judge, and
    ``InvalidCommand`` names the stage.
    """
    context = DecisionContext(stage, state, at)
    if stage is Stage.MONITORING and not state.measurements:
        raise InvalidCommand(
            [
                FieldViolation(
                    "stage",
                    "the monitoring stage judges the latest measurement, and the supplier"
                    f" has none by {format_time(at)}",
                )
            ]
        )
    if stage is Stage.MONITORING:
        measurement = state.measurements[-1]
        breach = next(
            (
                b
                for b in reversed(state.breaches)
                if b.objective_id == measurement.objective_id
                and b.period_end == measurement.period_end
            ),
            None,
        )
        context = attrs.evolve(
            context, record_kind="measurement", measurement=measurement, breach=breach
        )
    return policy.evaluate(context)


def format_header(
    replayed: Replayed, policy_name: str, version: str, stage: Stage, at: datetime
) -> list[str]:
    """Who is explained, as of when, under which policy."""
    state = replayed.state
    who = (
        "no supplier"
        if state is None
        else (
            f"supplier {state.supplier_id} ({state.name}), {state.category.value},"
            f" {state.lifecycle.value}"
        )
    )
    noun = "event" if replayed.events == 1 else "events"
    return [
        f"{who}; {replayed.events} {noun} up to {show_time(at)}",
        f"policy {policy_name} version {version}; stage {stage.value}",
    ]


def show_time(moment: datetime) -> str:
    """RFC 3339 in UTC, without microseconds when there are none."""
    return format_time(moment).replace(".000000Z", "Z")


def format_evaluation(evaluation: Evaluation) -> list[str]:
    """Every rule's decision, fired ones first as the policy ordered them, then the others."""
    lines: list[str] = []
    for decision in (*evaluation.fired, *evaluation.not_fired):
        lines.extend(["", *format_decision(decision)])
    fired, not_fired = len(evaluation.fired), len(evaluation.not_fired)
    if not fired and not not_fired:
        lines.append("no rule applies at this stage")
    else:
        lines.extend(["", f"{fired} fired, {not_fired} did not fire"])
    return lines


def format_decision(decision: Decision, *, with_version: bool = False) -> list[str]:
    """One decision: verdict, rule, location, conditions against thresholds, message."""
    verdict = "FIRED    " if decision.fired else "NOT FIRED"
    version = f", version {decision.policy_version[:16]}" if with_version else ""
    lines = [
        f"{verdict} {decision.rule_id}  {decision.rule_title}"
        f"  ({decision.rule_file}:{decision.rule_line}, {decision.action.value}{version})"
    ]
    lines.extend(f"    {line}" for line in format_conditions(decision.conditions))
    label = "" if decision.fired else "why not: "
    lines.append(f"    {label}{decision.message}")
    return lines


def format_conditions(conditions: Sequence[ConditionOutcome]) -> list[str]:
    """Each condition: held or unmet, the comparison, and the actual value, aligned."""
    texts = [f"{c.fact} {c.operator} {_value(c.threshold)}" for c in conditions]
    width = max((len(t) for t in texts), default=0)
    return [
        f"{'held ' if c.held else 'unmet'}  {text:<{width}}  actual {_value(c.actual)}"
        for c, text in zip(conditions, texts, strict=True)
    ]


def format_recorded(decisions: Sequence[Decision]) -> list[str]:
    """Decisions as recorded in the history, each with the policy version that made it."""
    if not decisions:
        return ["no decisions recorded"]
    lines: list[str] = []
    for decision in decisions:
        lines.extend(["", *format_decision(decision, with_version=True)])
    return lines


def _value(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return format_value(value) if isinstance(value, bool | int | float) else str(value)
