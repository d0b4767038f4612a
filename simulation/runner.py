"""Play a scenario through the domain under a policy, checking invariants after each command.

The runner is the domain's own path (``decide`` then ``fold``) without a store: a store adds
durability and the hash chain, not decisions, and a simulation of thousands of suppliers
should not pay for fsyncs. Time is the scenario's: each step happens ``after_days`` after
the previous one, and the scheduler's tick (``AdvanceTime``) runs at that moment first, as
the server's scheduler would have. A command the process refuses (a plan submitted when
none is due) is kept in the timeline as refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import singledispatch

import attrs

from sqm.domain.commands import (
    AcceptDeliverable,
    AdvanceTime,
    ClaimCompensation,
    CloseCorrectiveAction,
    Command,
    CompleteCorrectiveActionItem,
    CompleteImprovementPlan,
    CompleteMilestone,
    ConcludeReview,
    DecideCorrectiveActionExtension,
    OpenProblemTicket,
    RecordInspection,
    RecordKickOff,
    RecordMarketResearch,
    RecordMeasurement,
    RecordSatisfactionSurvey,
    RecordTraining,
    RegisterSupplier,
    RequestCorrectiveActionExtension,
    ResolveProblemTicket,
    SignContract,
    SubmitCorrectiveAction,
    SubmitImprovementPlan,
    SubmitProgressReport,
    SubmitQualificationEvidence,
    SubmitSelfCheck,
    VerifyCorrectiveActionItem,
)
from sqm.domain.corrective_records import (
    ActionProgress,
    CorrectiveActionContent,
    CorrectiveActionItem,
)
from sqm.domain.decide import decide_and_fold, fold
from sqm.domain.errors import DomainError
from sqm.domain.events import Event
from sqm.domain.invariants import Checkpoint, Invariant, violation
from sqm.domain.model import (
    Certificate,
    Comparator,
    Milestone,
    Money,
    Severity,
    SlaObjective,
    SupplierState,
)
from sqm.domain.pack_catalogue import CertificateKindId
from sqm.domain.ports import Policy
from sqm.simulation import scenarios as sc

CERTIFICATE_HISTORY = timedelta(days=365)


@attrs.frozen
class Entry:
    """One command of a run: what was asked, what it recorded, or why it was refused."""

    command: Command
    events: tuple[Event, ...] = ()
    refused: str = ""


@attrs.frozen
class Broken:
    """An invariant broken by the command at ``index`` of the timeline."""

    invariant: Invariant
    index: int
    why: str


@attrs.frozen
class Outcome:
    """A scenario played: every command, the supplier at the end, the first broken invariant."""

    timeline: tuple[Entry, ...]
    state: SupplierState | None
    broken: Broken | None = None


def run_scenario(
    policy: Policy,
    scenario: sc.Scenario,
    invariants: Sequence[Invariant] = (),
    criteria: Sequence[str] = (),
) -> Outcome:
    """Play ``scenario`` under ``policy``; stop at the first broken invariant, if any.

    ``criteria`` are the evaluation criteria the qualification evidence scores (the pack's).
    The timeline keeps every command, quiet ticks included: under another pack they might
    not be quiet, so a replay must run them too.
    """
    return Player(policy, scenario, invariants, criteria).play()


class Player:
    """One run's state: the supplier, its history and the timeline so far."""

    def __init__(
        self,
        policy: Policy,
        scenario: sc.Scenario,
        invariants: Sequence[Invariant],
        criteria: Sequence[str],
    ) -> None:
        self._policy = policy
        self._scenario = scenario
        self._invariants = tuple(invariants)
        self._criteria = tuple(criteria)
        self._state: SupplierState | None = None
        self._history: list[Event] = []
        self._timeline: list[Entry] = []
        self._values: dict[tuple[str, Severity | None], float] = {}

    def play(self) -> Outcome:
        """Run every command of the scenario in order."""
        for command in self.commands():
            broken = self.execute(command)
            if broken is not None:
                return Outcome(tuple(self._timeline), self._state, broken)
        return Outcome(tuple(self._timeline), self._state)

    def commands(self) -> Iterator[Command]:
        """The scenario's commands, each made from the state it meets."""
        profile, now = self._scenario.profile, self._scenario.start
        yield from self._onboarding(profile, now)
        for step in self._scenario.steps:
            now += timedelta(days=step.after_days)
            yield AdvanceTime(profile.supplier_id, now)
            command = command_for(step.intent, self, now)
            if command is not None:
                yield command

    def execute(self, command: Command) -> Broken | None:
        """Decide ``command``, apply what it records, check every invariant."""
        before = self._state
        try:
            # The state after is folded on from the folds deciding made, not from scratch.
            decided, after = decide_and_fold(command, before, self._policy)
        except DomainError as error:
            self._timeline.append(Entry(command, refused=f"{error.reason}: {error}"))
            return None
        events = tuple(decided)
        self._timeline.append(Entry(command, events))
        self._state = after if events else before
        self._history.extend(events)
        if self._state is None:
            return None  # nothing registered yet: nothing to check
        checkpoint = Checkpoint(
            command.occurred_at, type(command).__name__, before, self._state, events, self._history
        )
        for invariant in self._invariants:
            why = violation(invariant, checkpoint)
            if why:
                return Broken(invariant, len(self._timeline) - 1, why)
        return None

    def keep_recorded(self, command: Command, events: Sequence[Event]) -> None:
        """Take ``command``'s outcome as it was recorded: ``events`` applied, nothing decided
        (a backtest's commands from before the candidate takes effect).
        """
        self._timeline.append(Entry(command, tuple(events)))
        self._state = fold(events, self._state)
        self._history.extend(events)

    @property
    def timeline(self) -> tuple[Entry, ...]:
        """Every command run so far, with what it recorded or why it was refused."""
        return tuple(self._timeline)

    @property
    def policy(self) -> Policy:
        """The policy the run decides under."""
        return self._policy

    @property
    def state(self) -> SupplierState | None:
        """The supplier as it stands."""
        return self._state

    def measurement_value(self, objective: SlaObjective, severity: Severity | None) -> float:
        """A value of ``objective``'s metric that the policy classifies as ``severity``."""
        key = (objective.objective_id, severity)
        if key not in self._values:
            self._values[key] = value_with_severity(self._policy, objective, severity)
        return self._values[key]

    def _onboarding(self, profile: sc.SupplierProfile, now: datetime) -> Iterator[Command]:
        yield RegisterSupplier(
            profile.supplier_id, profile.supplier_id.title(), profile.category, now
        )
        yield SubmitQualificationEvidence(
            profile.supplier_id,
            now,
            scores=dict.fromkeys(self._criteria, profile.score),
            certificates=certificates(profile, now, self._policy.catalogue.certificate_kind_ids),
            site_audit_passed=profile.site_audit_passed,
        )
        if profile.researched:  # while qualified, before the contract
            yield RecordMarketResearch(
                profile.supplier_id,
                "simulated capability",
                "simulated past performance",
                now,
                ("simulated reference",),
            )
        fee = Money(profile.monthly_fee, profile.currency)
        limit = Money(profile.liability_limit, profile.currency)
        ends_at = (
            now + timedelta(days=profile.contract_days)
            if profile.contract_days is not None
            else None
        )
        yield SignContract(
            profile.supplier_id, f"CT-{profile.supplier_id}", now, fee, limit, ends_at=ends_at
        )


def certificates(
    profile: sc.SupplierProfile, now: datetime, kinds: Sequence[CertificateKindId]
) -> tuple[Certificate, ...]:
    """A certificate of every kind in ``kinds`` (the pack's), the first expiring as the
    profile says.
    """
    start = now - CERTIFICATE_HISTORY
    long_end = now + timedelta(days=max(profile.certificates_valid_days, 730))
    short_end = now + timedelta(days=profile.certificates_valid_days)
    return tuple(
        Certificate(kind, f"{kind}-1", "simulated issuer", start, end)
        for kind, end in zip(kinds, [short_end, *[long_end] * (len(kinds) - 1)], strict=True)
    )


def value_with_severity(
    policy: Policy, objective: SlaObjective, severity: Severity | None
) -> float:
    """The least miss of ``objective`` the policy classifies as ``severity`` (met for None).

    Shortfalls are tried on a 1-2-5 ladder from 1e-4 to 1e5 units, within the metric's range;
    a severity no shortfall reaches falls back to the worst found.
    """
    spec = policy.catalogue.metric(objective.metric)
    if severity is None or spec is None:
        return objective.target
    found = objective.target
    for shortfall in _ladder():
        value = _missed_by(objective, shortfall)
        if not spec.minimum <= value <= spec.maximum:
            break
        classified = policy.classify(objective, value)
        if classified is not None:
            found = value
            if classified.rank >= severity.rank:
                return value
    return found


def _missed_by(objective: SlaObjective, shortfall: float) -> float:
    beyond = objective.tolerance + shortfall
    if objective.comparator is Comparator.AT_LEAST:
        return objective.target - beyond
    return objective.target + beyond


def _ladder() -> Iterator[float]:
    for exponent in range(-4, 6):
        for mantissa in (1, 2, 5):
            yield float(Decimal(mantissa).scaleb(exponent))


# --- intents to commands -------------------------------------------------------------------

Maker = Callable[[sc.Intent, Player, datetime], Command | None]


@singledispatch
def command_for(intent: sc.Intent, player: Player, now: datetime) -> Command | None:
    """The command ``intent`` becomes at ``now`` for the supplier as it stands."""
    raise TypeError(f"no command for {intent!r}")


def _supplier_id(player: Player) -> str:
    state = player.state
    return state.supplier_id if state is not None else ""


@command_for.register
def _(intent: sc.Measure, player: Player, now: datetime) -> Command | None:
    state = player.state
    if state is None or state.contract is None or not state.contract.objectives:
        return None  # nothing to measure against
    objectives = state.contract.objectives
    objective = objectives[intent.objective % len(objectives)]
    value = player.measurement_value(objective, intent.severity)
    start = now - timedelta(days=objective.period_days)
    spec = player.policy.catalogue.metric(objective.metric)
    unit = spec.unit if spec is not None else ""  # refused: the pack lacks the metric
    return RecordMeasurement(
        state.supplier_id, objective.objective_id, value, unit, start, now, now
    )


@command_for.register
def _(intent: sc.Survey, player: Player, now: datetime) -> Command | None:
    return RecordSatisfactionSurvey(_supplier_id(player), intent.score, now)


@command_for.register
def _(intent: sc.Inspect, player: Player, now: datetime) -> Command | None:
    findings = "" if intent.passed else "simulated findings"
    return RecordInspection(_supplier_id(player), intent.passed, now, findings)


@command_for.register
def _(intent: sc.Report, player: Player, now: datetime) -> Command | None:
    return SubmitProgressReport(_supplier_id(player), "monthly progress", now)


@command_for.register
def _(intent: sc.SelfCheck, player: Player, now: datetime) -> Command | None:
    return SubmitSelfCheck(_supplier_id(player), intent.passed, now)


@command_for.register
def _(intent: sc.Conclude, player: Player, now: datetime) -> Command | None:
    return ConcludeReview(_supplier_id(player), intent.outcome, now, "simulated review")


@command_for.register
def _(intent: sc.SubmitPlan, player: Player, now: datetime) -> Command | None:
    return SubmitImprovementPlan(_supplier_id(player), ("simulated measure",), "supplier", now)


@command_for.register
def _(intent: sc.CompletePlan, player: Player, now: datetime) -> Command | None:
    return CompleteImprovementPlan(_supplier_id(player), now)


@command_for.register
def _(intent: sc.Claim, player: Player, now: datetime) -> Command | None:
    state = player.state
    if state is None or state.contract is None:
        return None
    limit = state.contract.liability_limit
    amount = (limit.amount * Decimal(str(intent.share))).quantize(Decimal("0.01"))
    if amount <= 0:
        return None
    return ClaimCompensation(
        state.supplier_id, Money(amount, limit.currency), "simulated loss", now
    )


@command_for.register
def _(intent: sc.Train, player: Player, now: datetime) -> Command | None:
    return RecordTraining(_supplier_id(player), "simulated training", 10, now)


@command_for.register
def _(intent: sc.OpenTicket, player: Player, now: datetime) -> Command | None:
    state = player.state
    if state is None:
        return None
    ticket_id = f"PT-{state.version + 1}"  # the version only grows: never an open id
    return OpenProblemTicket(state.supplier_id, ticket_id, "simulated fault", intent.severity, now)


@command_for.register
def _(intent: sc.ResolveTicket, player: Player, now: datetime) -> Command | None:
    state = player.state
    open_ones = [t for t in state.tickets if t.resolved_at is None] if state else []
    if state is None or not open_ones:
        return None
    return ResolveProblemTicket(state.supplier_id, open_ones[0].ticket_id, "simulated fix", now)


@command_for.register
def _(intent: sc.KickOff, player: Player, now: datetime) -> Command | None:
    milestones = tuple(
        Milestone(f"M{i + 1}", now + timedelta(days=days))
        for i, days in enumerate(intent.milestone_days)
    )
    return RecordKickOff(_supplier_id(player), "simulated goals", now, milestones)


def _milestone(player: Player, index: int) -> str | None:
    state = player.state
    if state is None or not state.milestones:
        return None
    return state.milestones[index % len(state.milestones)].name


@command_for.register
def _(intent: sc.FinishMilestone, player: Player, now: datetime) -> Command | None:
    name = _milestone(player, intent.index)
    return CompleteMilestone(_supplier_id(player), name, now) if name else None


@command_for.register
def _(intent: sc.AcceptMilestone, player: Player, now: datetime) -> Command | None:
    name = _milestone(player, intent.index)
    return AcceptDeliverable(_supplier_id(player), name, now) if name else None


@command_for.register
def _(intent: sc.Research, player: Player, now: datetime) -> Command | None:
    return RecordMarketResearch(
        _supplier_id(player), "simulated capability", "simulated past performance", now
    )


@command_for.register
def _(intent: sc.SubmitCorrective, player: Player, now: datetime) -> Command | None:
    count = max(1, intent.actions)
    actions = tuple(
        CorrectiveActionItem(
            f"A{n}", f"simulated measure {n}", "simulated owner",
            now + timedelta(days=intent.days * n / count),
        )
        for n in range(1, count + 1)
    )  # fmt: skip
    content = CorrectiveActionContent(
        team=("simulated quality lead",),
        problem="simulated problem",
        containment="simulated containment",
        root_causes=("simulated root cause",),
        actions=actions,
        prevention="simulated prevention",
    )
    return SubmitCorrectiveAction(_supplier_id(player), content, now)


def _corrective_item(player: Player, index: int) -> ActionProgress | None:
    state = player.state
    record = state.corrective_action if state is not None else None
    if record is None or not record.actions:
        return None
    return record.actions[index % len(record.actions)]


@command_for.register
def _(intent: sc.CompleteCorrectiveItem, player: Player, now: datetime) -> Command | None:
    item = _corrective_item(player, intent.index)
    if item is None:
        return None
    return CompleteCorrectiveActionItem(_supplier_id(player), item.action_id, now, "simulated")


@command_for.register
def _(intent: sc.VerifyCorrectiveItem, player: Player, now: datetime) -> Command | None:
    item = _corrective_item(player, intent.index)
    if item is None:
        return None
    return VerifyCorrectiveActionItem(
        _supplier_id(player), item.action_id, "simulated verifier", now, "simulated evidence"
    )


@command_for.register
def _(intent: sc.RequestCorrectiveExtension, player: Player, now: datetime) -> Command | None:
    item = _corrective_item(player, intent.index)
    if item is None:
        return None
    due_at = item.due_at + timedelta(days=intent.days)
    return RequestCorrectiveActionExtension(
        _supplier_id(player), item.action_id, due_at, "simulated delay", now
    )


@command_for.register
def _(intent: sc.DecideCorrectiveExtension, player: Player, now: datetime) -> Command | None:
    item = _corrective_item(player, intent.index)
    if item is None:
        return None
    return DecideCorrectiveActionExtension(
        _supplier_id(player), item.action_id, intent.approved, now
    )


@command_for.register
def _(intent: sc.CloseCorrective, player: Player, now: datetime) -> Command | None:
    state = player.state
    if state is None or state.corrective_action is None:
        return None
    return CloseCorrectiveAction(state.supplier_id, now, "simulated closure")


@command_for.register
def _(intent: sc.Wait, player: Player, now: datetime) -> Command | None:
    return None  # the tick before the step is all that happens
