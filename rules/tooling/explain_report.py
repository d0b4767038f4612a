"""``sqm policy explain``: a pack evaluated against a supplier's history, in words.

The history is replayed to the moment asked for (events applied as recorded; commands, from
a history file, decided under the pack being explained), then the pack's rules of one stage
are evaluated there. Every rule is printed: fired or not, each condition with the fact's
actual value against its threshold, the message, and for a rule that did not fire, why not.

Time is explicit: without ``--at`` the moment is that of the last event in the history,
never the clock of the machine running the tool. When that moment is the one at which the
history's latest decisions were made, the rules are evaluated against the supplier as they
saw it then, before those decisions acted: a record that opened a review is explained
against the contracted supplier it judged, not the supplier under review it left behind.
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
    recorded: tuple[DecisionRecorded, ...] = ()
    seen: SupplierState | None = None
    """The supplier as the rules saw it when the latest decisions were made at ``at``, before
    they acted; None when no decision was made at ``at``."""

    @property
    def judged(self) -> SupplierState | None:
        """The state to evaluate at ``at``: what the rules saw there, else the state."""
        return self.seen if self.seen is not None else self.state


def replay_events(events: Iterable[Event], until: datetime | None = None) -> Replayed:
    """Apply recorded events in order, stopping before the first one later than ``until``."""
    state: SupplierState | None = None
    last: datetime | None = None
    count = 0
    recorded: list[DecisionRecorded] = []
    # A command's decisions come after its record and before their own effects, all at the
    # command's time: the state just before the first of them is what the rules judged.
    seen: SupplierState | None = None
    deciding_at: datetime | None = None
    for event in events:
        if until is not None and event.occurred_at > until:
            break
        if isinstance(event, DecisionRecorded):
            if event.occurred_at != deciding_at:
                seen, deciding_at = state, event.occurred_at
            recorded.append(event)
        state = apply(state, event)
        last, count = event.occurred_at, count + 1
    at = until or last
    judged = seen if deciding_at is not None and deciding_at == at else None
    return Replayed(state, at, count, tuple(recorded), judged)


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
    ``InvalidCommand`` names the stage, as it does for the selection stage (a need's).
    """
    context = DecisionContext(stage, state, at)
    if stage is Stage.SELECTION:
        raise InvalidCommand(
            [
                FieldViolation(
                    "stage",
                    "the selection stage judges a need (GetNeed shows its notices), not a supplier",
                )
            ]
        )
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
            f"supplier {state.supplier_id} ({state.name}), {state.category},"
            f" {state.lifecycle.value}"
        )
    )
    noun = "event" if replayed.events == 1 else "events"
    lines = [
        f"{who}; {replayed.events} {noun} up to {show_time(at)}",
        f"policy {policy_name} version {version}; stage {stage.value}",
    ]
    seen = replayed.seen
    if seen is not None and state is not None and seen.lifecycle is not state.lifecycle:
        lines.append(
            f"evaluated as the rules saw it, before its decisions at {show_time(at)}:"
            f" {seen.lifecycle.value}"
        )
    return lines


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
    if decision.parameters:
        given = ", ".join(f"{key} {_value(v)}" for key, v in decision.parameters.items())
        lines.append(f"    then: {given}")
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


def format_recorded(recorded: Sequence[DecisionRecorded]) -> list[str]:
    """Decisions as recorded in the history, each with the policy version that made it,
    and, for a fired rule whose action could not apply, why it had no effect.
    """
    if not recorded:
        return ["no decisions recorded"]
    lines: list[str] = []
    for event in recorded:
        lines.extend(["", *format_decision(event.decision, with_version=True)])
        if event.no_effect:
            lines.append(f"    {event.no_effect}")
    return lines


def _value(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return format_value(value) if isinstance(value, bool | int | float) else str(value)
