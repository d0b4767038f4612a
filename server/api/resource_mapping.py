"""Domain state and records to API resources: suppliers, contracts, reviews, plans, events.

Nothing here reads a request; :mod:`sqm.server.api.mapping` re-exports the functions servicers use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeAlias

from google.protobuf import struct_pb2

from sqm.domain.events import DecisionRecorded, Escalated, NotificationIssued
from sqm.domain.model import (
    Certificate,
    Contract,
    Decision,
    FactValue,
    ImprovementPlan,
    LifecycleState,
    Milestone,
    Money,
    Penalty,
    ProblemTicket,
    Review,
    Severity,
    SlaObjective,
    SupplierState,
)
from sqm.domain.needs import NEED_STREAM_PREFIX, is_need_stream
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.policy_changes import is_policy_stream
from sqm.domain.ports import RecordedEvent
from sqm.domain.segments import Segment, segment_of
from sqm.domain.serialization import event_from_payload
from sqm.server.api import scorecard_mapping
from sqm.server.api.corrective_action_view import corrective_action_record
from sqm.server.api.proto_values import enum_to_proto, money_to_proto, set_time
from sqm.server.app.suppliers import CommandResult
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

PENALTY_KINDS = ("service_credit", "compensation")


def supplier_name(supplier_id: str) -> str:
    """The resource name of a supplier."""
    return f"suppliers/{supplier_id}"


def etag(state: SupplierState) -> str:
    """An opaque etag for the supplier at its current version."""
    return f"v{state.version}"


SupplierView: TypeAlias = pb.SupplierView.ValueType
VIEWS = frozenset({pb.SUPPLIER_VIEW_BASIC, pb.SUPPLIER_VIEW_FULL})


def supplier_view(requested: SupplierView, default: SupplierView) -> SupplierView:
    """The view an answer is built in: the one asked for, else the method's default."""
    return default if requested == pb.SUPPLIER_VIEW_UNSPECIFIED else requested


class ActiveTerms(Protocol):
    """What the active policy lends a supplier's view: its catalogue, its segments and its
    tickets' resolution targets.
    """

    @property
    def catalogue(self) -> PackCatalogue:
        """Names each milestone kind's deliverable."""
        ...

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Places the supplier in its segment."""
        ...

    def ticket_target_hours(self, severity: Severity) -> float | None:
        """Hours a problem ticket of ``severity`` should be resolved in (None: no target)."""
        ...


def supplier(
    state: SupplierState,
    view: SupplierView = pb.SUPPLIER_VIEW_FULL,
    terms: ActiveTerms | None = None,
) -> pb.Supplier:
    """The API view of a supplier: with ``SUPPLIER_VIEW_BASIC`` its name, state and etag
    only (what a writer needs to go on); in full with its contract, open review, plan,
    kick-off milestones and problem tickets, each milestone's deliverable named as the active
    policy's catalogue (``terms``) names its kind, each ticket due as that policy's resolution
    target for its severity dates it, and its segment under that policy.
    """
    if view == pb.SUPPLIER_VIEW_BASIC:
        return pb.Supplier(
            name=supplier_name(state.supplier_id),
            state=enum_to_proto(pb.LifecycleState, LifecycleState(state.lifecycle)),
            etag=etag(state),
        )
    message = pb.Supplier(
        name=supplier_name(state.supplier_id),
        supplier_id=state.supplier_id,
        display_name=state.name,
        category=state.category,
        state=enum_to_proto(pb.LifecycleState, LifecycleState(state.lifecycle)),
        version=state.version,
        etag=etag(state),
        scores=dict(state.scores),
        certificates=[_certificate(c) for c in state.certificates],
        site_audit_result=_site_audit(state.site_audit_passed),
        latest_decisions=[decision(d) for d in state.last_decisions],
        blacklisted=state.blacklisted,
        scorecards=scorecard_mapping.scorecards(state.scorecards),
    )
    set_time(message.register_time, state.registered_at)
    set_time(message.update_time, state.updated_at)
    if state.contract is not None:
        message.contract.CopyFrom(contract(state.contract))
    if state.review is not None:
        message.review.CopyFrom(review(state.review))
    if state.plan is not None:
        message.improvement_plan.CopyFrom(improvement_plan(state.plan))
    if state.corrective_action is not None and view == pb.SUPPLIER_VIEW_FULL:
        message.corrective_action.CopyFrom(corrective_action_record(state.corrective_action))
    if view == pb.SUPPLIER_VIEW_FULL:
        catalogue = terms.catalogue if terms is not None else None
        message.milestones.extend(milestone(m, state, catalogue) for m in state.milestones)
        message.problem_tickets.extend(problem_ticket(t, terms) for t in state.tickets)
        if terms is not None:
            message.segment = segment_of(terms.segments, state)
    return message


def milestone(
    value: Milestone, state: SupplierState, catalogue: PackCatalogue | None = None
) -> pb.Milestone:
    """A kick-off milestone with its kind, its deliverable's name (when ``catalogue``
    declares the kind), its completion and whether its deliverable was accepted.
    """
    kind = catalogue.milestone_kind(value.kind) if catalogue and value.kind else None
    message = pb.Milestone(
        name=value.name,
        kind=value.kind,
        deliverable_name_zh=kind.deliverable_zh if kind else "",
        deliverable_name_en=kind.deliverable_en if kind else "",
        deliverable_accepted=value.name in state.deliverables_accepted,
    )
    set_time(message.due_time, value.due_at)
    completed = state.milestone_completions.get(value.name)
    if completed is not None:
        set_time(message.complete_time, completed)
    return message


def problem_ticket(value: ProblemTicket, terms: ActiveTerms | None = None) -> pb.ProblemTicket:
    """A problem ticket with its times and, when the active policy (``terms``) sets a
    resolution target for its severity, the time it is due to be resolved by.
    """
    message = pb.ProblemTicket(
        ticket_id=value.ticket_id, severity=enum_to_proto(pb.Severity, value.severity)
    )
    set_time(message.open_time, value.opened_at)
    set_time(message.resolve_time, value.resolved_at)
    set_time(message.review_open_time, value.review_opened_at)
    hours = terms.ticket_target_hours(value.severity) if terms is not None else None
    if hours is not None:
        set_time(message.resolution_due_time, value.opened_at + timedelta(hours=hours))
    return message


def contract(value: Contract) -> pb.Contract:
    """The API view of a contract and its SLA objectives."""
    message = pb.Contract(
        contract_id=value.contract_id,
        monthly_fee=money_to_proto(value.monthly_fee),
        liability_limit=money_to_proto(value.liability_limit),
        objectives=[objective(o) for o in value.objectives],
        need=f"needs/{value.need_id}" if value.need_id else "",
    )
    set_time(message.start_time, value.starts_at)
    set_time(message.end_time, value.ends_at)
    set_time(message.sign_time, value.signed_at)
    return message


def objective(value: SlaObjective) -> pb.SlaObjective:
    """The API view of an SLA objective."""
    return pb.SlaObjective(
        objective_id=value.objective_id,
        metric=value.metric,
        comparator=enum_to_proto(pb.Comparator, value.comparator),
        target=value.target,
        warning=value.warning,
        tolerance=value.tolerance,
        grace_days=value.grace_days,
        period_days=value.period_days,
    )


def review(value: Review) -> pb.Review:
    """The API view of an open review."""
    message = pb.Review(
        reason=value.reason,
        rule_id=value.rule_id,
        objective_id=value.objective_id,
        ticket_id=value.ticket_id,
    )
    if value.severity is not None:
        message.severity = enum_to_proto(pb.Severity, value.severity)
    set_time(message.open_time, value.opened_at)
    return message


def improvement_plan(value: ImprovementPlan) -> pb.ImprovementPlan:
    """The API view of a pending improvement plan."""
    message = pb.ImprovementPlan(
        objective_id=value.objective_id,
        measures=list(value.measures),
        owner=value.owner,
        ticket_id=value.ticket_id,
    )
    set_time(message.require_time, value.required_at)
    set_time(message.due_time, value.due_at)
    set_time(message.submit_time, value.submitted_at)
    set_time(message.complete_time, value.completed_at)
    return message


def penalty(value: Penalty, dispute_status: str = "") -> pb.Penalty:
    """The API view of an entry of the penalties ledger; ``dispute_status`` is its dispute's
    (``open``, ``upheld``, ``accepted``; empty when never disputed).
    """
    message = pb.Penalty(
        penalty_id=value.penalty_id,
        kind=value.kind,
        contract_id=value.contract_id,
        amount=money_to_proto(value.amount),
        period=value.period,
        rule_id=value.rule_id,
        cap_applied=value.cap_applied,
        objective_id=value.objective_id,
        dispute_status=dispute_status,
    )
    set_time(message.assess_time, value.assessed_at)
    return message


def penalties(state: SupplierState, entries: Sequence[Penalty]) -> list[pb.Penalty]:
    """The API views of ``entries`` of ``state``'s ledger, each with its dispute's status."""
    return [penalty(p, state.penalty_disputes.get(p.penalty_id, "")) for p in entries]


def penalty_totals(state: SupplierState) -> dict[str, Money]:
    """The whole ledger's total per kind, exact, in the contract's currency.

    Empty when the supplier has no contract (and so no ledger and no currency).
    """
    if state.contract is None:
        return {}
    currency = state.contract.monthly_fee.currency
    totals = dict.fromkeys(PENALTY_KINDS, Decimal("0.00"))
    for entry in state.penalties:
        # A ledger entry in another currency would make the sum meaningless; the domain
        # only assesses in the contract's currency, so this is a defect, not input.
        if entry.amount.currency != currency:
            raise ValueError(f"{entry.penalty_id} is in {entry.amount.currency}, not {currency}")
        totals[entry.kind] = totals.get(entry.kind, Decimal("0.00")) + entry.amount.amount
    return {kind: Money(total, currency) for kind, total in totals.items()}


def decision(value: Decision) -> pb.Decision:
    """The API view of a recorded decision."""
    return pb.Decision(
        rule_id=value.rule_id,
        rule_title=value.rule_title,
        rule_file=value.rule_file,
        rule_line=value.rule_line,
        policy_version=value.policy_version,
        action=value.action.value,
        fired=value.fired,
        message=value.message,
        facts={name: _value(v) for name, v in value.facts.items()},
        conditions=[
            pb.ConditionOutcome(
                fact=c.fact,
                operator=c.operator,
                threshold=_value(c.threshold),
                actual=_value(c.actual),
                held=c.held,
            )
            for c in value.conditions
        ],
        parameters={name: str(v) for name, v in value.parameters.items()},
    )


def decisions(values: Iterable[Decision]) -> list[pb.Decision]:
    """The API view of several decisions."""
    return [decision(d) for d in values]


_NOTICE_KINDS = {Escalated.__name__: "escalated", NotificationIssued.__name__: "notified"}
"""The events that tell a role something, and the notice kind each is mapped to."""


def supplier_event(recorded: RecordedEvent) -> pb.SupplierEvent:
    """The API view of one recorded event, with its decision typed when it has one."""
    need = is_need_stream(recorded.stream_id)
    policy = is_policy_stream(recorded.stream_id)
    message = pb.SupplierEvent(
        sequence=recorded.global_seq,
        supplier="" if need or policy else supplier_name(recorded.stream_id),
        need=recorded.stream_id.replace(NEED_STREAM_PREFIX, "needs/", 1) if need else "",
        version=recorded.version,
        type=recorded.event_type,
        actor=recorded.actor,
        request_id=recorded.request_id,
        policy_version=recorded.policy_version,
        hash=recorded.hash,
        previous_hash=recorded.prev_hash,
        payload=_struct(recorded.payload),
    )
    set_time(message.occur_time, recorded.occurred_at)
    set_time(message.record_time, recorded.recorded_at)
    if recorded.event_type == DecisionRecorded.__name__:
        event = event_from_payload(recorded.event_type, recorded.payload)
        assert isinstance(event, DecisionRecorded)  # noqa: S101 - by its type name
        message.decision.CopyFrom(decision(event.decision))
    kind = _NOTICE_KINDS.get(recorded.event_type)
    if kind is not None:
        told = recorded.payload
        message.notice.CopyFrom(
            pb.RoleNotice(
                kind=kind, to=told["to"], message=told["message"], rule_id=told["rule_id"]
            )
        )
    return message


def process_result(
    result: CommandResult,
    view: SupplierView = pb.SUPPLIER_VIEW_BASIC,
    terms: ActiveTerms | None = None,
) -> api.ProcessResult:
    """What every mutating process method returns: supplier (in ``view``, under the active
    policy's ``terms``), decisions and recorded events.
    """
    return api.ProcessResult(
        supplier=supplier(result.supplier, view, terms),
        decisions=decisions(result.decisions),
        events=[supplier_event(e) for e in result.events],
    )


def _certificate(value: Certificate) -> pb.Certificate:
    message = pb.Certificate(
        kind=value.kind,
        number=value.number,
        issuer=value.issuer,
    )
    set_time(message.valid_from, value.valid_from)
    set_time(message.valid_until, value.valid_until)
    return message


def _site_audit(passed: bool | None) -> pb.SiteAuditResult.ValueType:
    if passed is None:
        return pb.SITE_AUDIT_RESULT_UNSPECIFIED
    return pb.SITE_AUDIT_RESULT_PASSED if passed else pb.SITE_AUDIT_RESULT_FAILED


def _value(value: FactValue) -> struct_pb2.Value:
    message = struct_pb2.Value()
    if isinstance(value, bool):
        message.bool_value = value
    elif isinstance(value, int | float):
        message.number_value = value
    else:
        message.string_value = value
    return message


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message
