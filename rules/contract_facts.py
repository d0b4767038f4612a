"""Facts of the monitoring and deadlines stages, and of the pack's windows.

Everything is computed from the decision context with ``sqm.domain.history``'s helpers at the
context's ``now``: no clock, no I/O, the same context gives the same facts. Where there is
nothing to report (no measurement, no plan, no survey), a fact takes the neutral value the
catalogue documents, never None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from sqm.domain import contract_term, corrective_action, history, milestones, tickets
from sqm.domain.errors import FieldViolation, InvalidCommand, PolicyError
from sqm.domain.model import FactValue, Severity, SupplierState
from sqm.domain.pack_catalogue import CertificateKindId
from sqm.domain.ports import DecisionContext
from sqm.domain.segments import segment_of
from sqm.rules import sla
from sqm.rules.catalogue import (
    FAR_AWAY_DAYS,
    NO_SURVEY_SCORE,
    NONE_TEXT,
    RECORD_KINDS,
    SEVERITY_RANKS,
)
from sqm.rules.model import PolicyPack, Window, WindowKind
from sqm.rules.scorecard_facts import scorecard_facts


def monitoring_facts(pack: PolicyPack, context: DecisionContext) -> dict[str, FactValue]:
    """The facts of a monitoring record just applied to the supplier (``context.supplier``
    already includes it), and the pack's windows.
    """
    supplier, kind = context.supplier, context.record_kind
    if kind not in RECORD_KINDS:
        raise PolicyError(f"record kind {kind!r} is not one of {', '.join(RECORD_KINDS)}")
    facts: dict[str, FactValue] = {
        "category": supplier.category,
        "lifecycle": supplier.lifecycle.value,
        "segment": segment_of(pack.segments, supplier),
        "record_kind": kind,
        **_measurement_facts(pack, context),
        "satisfaction_score": _latest_survey(supplier) if kind == "survey" else NO_SURVEY_SCORE,
        "inspection_passed": _latest_inspection(supplier) if kind == "inspection" else True,
        **_ticket_resolution_facts(pack, supplier, kind),
        "self_check_passed": supplier.last_self_check_passed if kind == "self_check" else True,
    }
    facts.update(window_values(pack.windows, supplier, context.now))
    return facts


def deadlines_facts(pack: PolicyPack, context: DecisionContext) -> dict[str, FactValue]:
    """The facts of time having advanced to ``context.now``, and the pack's windows."""
    supplier, now = context.supplier, context.now
    check_certificate_times(supplier)
    plan = supplier.plan
    due = history.days_until_plan_due(supplier, now)
    clean = history.clean_days_since_plan_completed(supplier, now)
    required = pack.certificates.for_category(supplier.category)
    expired_count, expiry = history.required_certificates_valid(supplier, required, now)
    valid = supplier.valid_certificate_kinds(now)
    review = supplier.review
    facts: dict[str, FactValue] = {
        "category": supplier.category,
        "lifecycle": supplier.lifecycle.value,
        "segment": segment_of(pack.segments, supplier),
        "plan_pending": due is not None,
        "plan_submitted": plan is not None and plan.submitted_at is not None,
        "days_until_plan_due": due if due is not None else FAR_AWAY_DAYS,
        "days_plan_overdue": max(-due, 0.0) if due is not None else 0.0,
        "plan_completed": plan is not None and plan.completed_at is not None,
        "clean_days_since_plan_completed": clean if clean is not None else 0.0,
        "required_certificates_expired": expired_count,
        "expired_certificates": _names(k for k in required if k not in valid),
        "days_to_certificate_expiry": expiry if expiry is not None else FAR_AWAY_DAYS,
        "expiring_certificate": _first_expiring(supplier, required, now),
        "days_since_progress_report": history.days_since_progress_report(supplier, now),
        "days_since_self_check": history.days_since_self_check(supplier, now),
        **_contract_term_facts(supplier, now),
        **_milestone_facts(supplier, now),
        **corrective_action_facts(supplier, now),
        **_resource_plan_facts(supplier, now),
        **_contract_archive_facts(supplier, now),
        **_business_review_facts(pack, supplier, now),
        **_training_facts(pack, supplier, now),
        "open_tickets": len(supplier.open_tickets),
        "oldest_open_ticket_days": tickets.oldest_open_days(supplier, now),
        "overdue_open_tickets": tickets.overdue_open(supplier, now, _ticket_target(pack)),
        "review_open": review is not None,
        "review_open_days": max(history.days_between(review.opened_at, now), 0.0)
        if review is not None
        else 0.0,
    }
    facts.update(window_values(pack.windows, supplier, now))
    facts.update(scorecard_facts(supplier, now))
    return facts


def _contract_term_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    contract = supplier.contract
    if contract is None:
        return {"contract_days_to_end": FAR_AWAY_DAYS, "contract_ended": False}
    return {
        "contract_days_to_end": history.days_between(now, contract.ends_at),
        "contract_ended": contract_term.has_ended(contract, now),
    }


def _milestone_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    late = milestones.overdue(supplier, now)
    ahead = milestones.next_due(supplier, now)
    return {
        "overdue_milestones": len(late),
        "days_milestone_overdue": milestones.days_overdue(supplier, now),
        "overdue_milestone": late[0].name if late else NONE_TEXT,
        "days_to_next_milestone": history.days_between(now, ahead.due_at)
        if ahead
        else FAR_AWAY_DAYS,
        "next_milestone": ahead.name if ahead else NONE_TEXT,
        "overdue_milestone_kind": (late[0].kind if late else "") or NONE_TEXT,
        "next_milestone_kind": (ahead.kind if ahead else "") or NONE_TEXT,
    }


def corrective_action_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    """The open corrective-action record's actions: overdue, due next, awaiting verification,
    extended (every count 0 and every deadline far away without an open record).
    """
    record = corrective_action.open_record(supplier)
    actions = record.actions if record is not None else ()
    late = corrective_action.overdue_actions(supplier, now)
    ahead = corrective_action.next_due(supplier, now)
    return {
        "corrective_action_open": record is not None,
        "corrective_actions_overdue": len(late),
        "corrective_actions_overdue_unescalated": len(
            corrective_action.unescalated_overdue(supplier, now)
        ),
        "days_corrective_action_overdue": history.days_between(late[0].due_at, now)
        if late
        else 0.0,
        "overdue_corrective_action": late[0].action_id if late else NONE_TEXT,
        "days_to_next_corrective_action": history.days_between(now, ahead.due_at)
        if ahead
        else FAR_AWAY_DAYS,
        "next_corrective_action": ahead.action_id if ahead else NONE_TEXT,
        "corrective_actions_unverified": sum(
            1 for a in actions if a.completed_at is not None and a.verified_at is None
        ),
        "corrective_action_extensions": sum(a.extensions_granted for a in actions),
        "corrective_action_extensions_pending": sum(
            1 for a in actions if a.pending_extension is not None
        ),
    }


def _resource_plan_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    kicked_off = supplier.kicked_off_at
    return {
        "kick_off_recorded": kicked_off is not None,
        # 0 without a kick-off: no "N days after the kick-off" threshold can hold.
        "days_since_kick_off": max(history.days_between(kicked_off, now), 0.0)
        if kicked_off is not None
        else 0.0,
        "resource_plan_submitted": supplier.resource_plan_at is not None,
    }


def _contract_archive_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    contract = supplier.contract
    if contract is None:
        return {"contract_document_archived": False, "days_since_contract_signed": 0.0}
    archived = supplier.contract_archived_at
    return {
        # A contract document archived before this contract was signed is an earlier one's.
        "contract_document_archived": archived is not None and archived >= contract.signed_at,
        "days_since_contract_signed": max(history.days_between(contract.signed_at, now), 0.0),
    }


def _business_review_facts(
    pack: PolicyPack, supplier: SupplierState, now: datetime
) -> dict[str, FactValue]:
    schedule = pack.business_reviews
    every = (schedule.days_for(supplier.category) if schedule else None) or 0
    latest = supplier.scorecards[-1] if supplier.scorecards else None
    if latest is not None and latest.review_every_days:
        every = latest.review_every_days  # the standing's interval overrides the category's
    since = history.days_since_review(supplier, now)
    return {
        "days_since_last_review": since,
        "business_review_days": every,
        "business_review_due": bool(every) and supplier.contract is not None and since >= every,
    }


def _training_facts(
    pack: PolicyPack, supplier: SupplierState, now: datetime
) -> dict[str, FactValue]:
    schedule = pack.training
    every = (schedule.days_for(supplier.category) if schedule else None) or 0
    since = history.days_since_training(supplier, now)
    due = every - since if every and supplier.contract is not None else None
    return {
        "days_since_training": since,
        "training_every_days": every,
        "days_to_training_due": FAR_AWAY_DAYS if due is None else due,
        "training_overdue": due is not None and due < 0,
    }


def _ticket_target(pack: PolicyPack) -> Callable[[Severity], float | None]:
    targets = pack.problem_tickets
    return lambda severity: None if targets is None else targets.hours_for(severity)


_NO_TICKET: Mapping[str, FactValue] = {
    "ticket_resolution_hours": 0.0,
    "ticket_resolution_target_hours": 0.0,
    "ticket_resolution_breach": False,
    "ticket_severity": NONE_TEXT,
}


def _ticket_resolution_facts(
    pack: PolicyPack, supplier: SupplierState, kind: str
) -> Mapping[str, FactValue]:
    ticket = tickets.last_resolved(supplier) if kind == "ticket_resolution" else None
    if ticket is None or ticket.resolved_at is None:
        return _NO_TICKET
    taken = tickets.hours_between(ticket.opened_at, ticket.resolved_at)
    target = _ticket_target(pack)(ticket.severity)
    return {
        "ticket_resolution_hours": taken,
        "ticket_resolution_target_hours": target or 0.0,
        "ticket_resolution_breach": target is not None and taken > target,
        "ticket_severity": ticket.severity.value,
    }


def window_values(
    windows: Iterable[Window], supplier: SupplierState, now: datetime
) -> dict[str, FactValue]:
    """Each window's value for ``supplier`` at ``now``, by window id."""
    return {w.id: _WINDOWS[w.kind](w, supplier, now) for w in windows}


def _breach_count(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    return history.breaches_within(
        supplier, now, window.days, window.min_severity, window.objective
    )


def _consecutive_misses(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    metric = window.metric
    if metric is None:  # pragma: no cover - the loader requires a metric for this kind
        raise PolicyError(f"window {window.id!r} names no metric")
    return history.consecutive_misses(supplier, metric)


def _satisfaction_mean(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    mean = history.mean_survey_score(supplier, now, window.days)
    return NO_SURVEY_SCORE if mean is None else float(mean)


def _survey_count(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    return len(history.surveys_within(supplier, now, window.days))


def _failed_inspections(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    return history.failed_inspections_within(supplier, now, window.days)


def _ticket_misses(window: Window, supplier: SupplierState, now: datetime) -> FactValue:
    return tickets.misses_within(supplier, now, window.days)


_WINDOWS: Mapping[WindowKind, Callable[[Window, SupplierState, datetime], FactValue]] = {
    WindowKind.BREACH_COUNT: _breach_count,
    WindowKind.CONSECUTIVE_MISSES: _consecutive_misses,
    WindowKind.SATISFACTION_MEAN: _satisfaction_mean,
    WindowKind.SURVEY_COUNT: _survey_count,
    WindowKind.FAILED_INSPECTIONS: _failed_inspections,
    WindowKind.TICKET_RESOLUTION_BREACHES: _ticket_misses,
}

_NO_MEASUREMENT: Mapping[str, FactValue] = {
    "metric": NONE_TEXT,
    "objective": NONE_TEXT,
    "unit": NONE_TEXT,
    "value": 0.0,
    "target": 0.0,
    "warning": 0.0,
    "shortfall": 0.0,
    "breach_severity_rank": 0,
    "breach_severity": NONE_TEXT,
    "in_grace": False,
    "in_warning": False,
}


def _measurement_facts(pack: PolicyPack, context: DecisionContext) -> Mapping[str, FactValue]:
    measurement = context.measurement
    if measurement is None:
        if context.record_kind == "measurement":
            raise PolicyError("a measurement record came without its measurement")
        return _NO_MEASUREMENT
    contract = context.supplier.contract
    objective = contract.objective(measurement.objective_id) if contract else None
    if contract is None or objective is None:
        raise PolicyError(
            f"measurement of objective {measurement.objective_id!r}: the supplier's contract"
            " has no such objective"
        )
    severity = context.breach.severity.value if context.breach else NONE_TEXT
    grace_end = contract.starts_at + timedelta(days=objective.grace_days)
    return {
        "metric": measurement.metric,
        "objective": measurement.objective_id,
        "unit": _unit(pack, measurement.metric),
        "value": float(measurement.value),
        "target": float(objective.target),
        "warning": float(objective.warning),
        "shortfall": float(sla.shortfall(objective, measurement.value)),
        "breach_severity_rank": SEVERITY_RANKS[severity],
        "breach_severity": severity,
        "in_grace": measurement.period_end <= grace_end,
        "in_warning": sla.in_warning(objective, measurement.value),
    }


def _latest_survey(supplier: SupplierState) -> float:
    if not supplier.surveys:
        raise PolicyError("a survey record came, but the supplier has no survey")
    return float(supplier.surveys[-1].value)


def _latest_inspection(supplier: SupplierState) -> bool:
    if not supplier.inspections:
        raise PolicyError("an inspection record came, but the supplier has no inspection")
    return supplier.inspections[-1].passed


def _first_expiring(
    supplier: SupplierState, required: tuple[CertificateKindId, ...], now: datetime
) -> str:
    # Per kind the latest expiry counts (a renewal uploaded early); then the earliest kind.
    latest: dict[CertificateKindId, datetime] = {}
    for cert in supplier.certificates:
        if cert.kind in required and cert.is_valid_at(now):
            latest[cert.kind] = max(latest.get(cert.kind, cert.valid_until), cert.valid_until)
    if not latest:
        return NONE_TEXT
    return min(latest, key=lambda kind: (latest[kind], required.index(kind)))


def _names(kinds: Iterable[CertificateKindId]) -> str:
    return ", ".join(kinds) or NONE_TEXT


def check_certificate_times(supplier: SupplierState) -> None:
    """Raise ``InvalidCommand`` naming each certificate time without a time zone.

    A naive time cannot be compared with the aware decision time: name it instead of failing
    with a TypeError deep in the comparison.
    """
    violations = [
        FieldViolation(f"certificates[{index}].{name}", "must carry a time zone")
        for index, certificate in enumerate(supplier.certificates)
        for name in ("valid_from", "valid_until")
        if getattr(certificate, name).tzinfo is None
    ]
    if violations:
        raise InvalidCommand(violations)


def _unit(pack: PolicyPack, metric: str) -> str:
    spec = pack.catalogue.metric(metric)
    return spec.unit if spec is not None else NONE_TEXT
