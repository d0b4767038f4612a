"""From a schema-valid rule file to model objects, checking what the schema cannot.

The schema fixes the shape; here the content is checked against the service's fact catalogue
(facts and their types, operators per type, stages, actions allowed per stage and their
parameters, message placeholders, criteria weights) and against the pack's catalogue
(certificate kinds, service categories, metrics: :mod:`sqm.rules.pack_catalogue`).
The data sections (objectives, tiers, windows, penalties, improvement) are built by
:mod:`sqm.rules.build_sections`. Every problem is recorded with its position and what was
expected; building carries on so one load reports them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import attrs

from sqm.domain.invariants import Invariant
from sqm.domain.model import Action, FactValue, Stage
from sqm.domain.pack_catalogue import CategoryId, CertificateKindId, PackCatalogue
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment
from sqm.rules import build_invariants, build_scorecards, build_segments
from sqm.rules import build_sections as sections
from sqm.rules.build_scorecards import SECTION as SCORECARDS
from sqm.rules.build_sections import ALL_CATEGORIES, checked_member, listing
from sqm.rules.build_segments import SECTION as SEGMENTS
from sqm.rules.catalogue import OPERATORS, FactSpec, FactType, facts_at, value_fits
from sqm.rules.errors import PackError, Problems
from sqm.rules.model import (
    ACTION_PARAMETERS,
    ACTIONS_BY_STAGE,
    MESSAGE_ACTIONS,
    TOLD_ONCE_FACTS,
    CategoryIntervals,
    CertificateRequirements,
    CompensationTerms,
    Condition,
    ConditionGroup,
    CreditSchedule,
    Criterion,
    CriterionKind,
    GroupKind,
    ImprovementSchedule,
    MetricTiers,
    ObjectiveDefaults,
    Operator,
    Parameter,
    ParameterKind,
    Rule,
    TicketTargets,
    told_once,
)
from sqm.rules.pack_catalogue import known
from sqm.rules.template import TemplateError, format_value, placeholders
from sqm.rules.yaml_source import DocPath, SourceDoc, describe_value

_EXPECTED = {
    FactType.NUMBER: "a finite number",
    FactType.INTEGER: "a whole number",
    FactType.BOOLEAN: "true or false",
    FactType.STRING: "text",
}
_SAMPLES: dict[FactType, FactValue] = {
    FactType.NUMBER: 1.5,
    FactType.INTEGER: 1,
    FactType.BOOLEAN: True,
    FactType.STRING: "x",
}


@attrs.frozen
class FilePart:
    """What one rule file contributes to a pack; ``None`` for a section the file omits.

    Windows are built beforehand, for the whole pack (:func:`sqm.rules.build_sections.windows`):
    every file's rules may use any file's windows.
    """

    doc: SourceDoc
    criteria: tuple[Criterion, ...] | None
    certificates: CertificateRequirements | None
    rules: tuple[Rule, ...]
    objectives: ObjectiveDefaults | None = None
    tiers: tuple[MetricTiers, ...] | None = None
    credits: CreditSchedule | None = None
    compensation: CompensationTerms | None = None
    business_reviews: CategoryIntervals | None = None
    training: CategoryIntervals | None = None
    problem_tickets: TicketTargets | None = None
    contract_requires_need: bool | None = None
    improvement: ImprovementSchedule | None = None
    invariants: tuple[Invariant, ...] = ()
    scorecard: ScorecardSpec | None = None
    segments: tuple[Segment, ...] | None = None


def build_file(
    doc: SourceDoc,
    problems: Problems,
    specs: Mapping[str, FactSpec],
    catalogue: PackCatalogue,
) -> FilePart:
    """The model parts of a schema-valid rule file; problems go to ``problems``.

    ``specs`` are the facts rules may use: the fact catalogue and the pack's windows;
    ``catalogue`` is the pack's catalogue, against which every category, certificate kind
    and metric the file names is checked.
    """
    data = doc.data
    rules = (_rule(doc, index, specs, problems) for index in range(len(data.get("rules", []))))
    return FilePart(
        doc,
        criteria=_criteria(doc, problems) if "criteria" in data else None,
        certificates=(
            _certificates(doc, problems, catalogue) if "required_certificates" in data else None
        ),
        rules=tuple(r for r in rules if r is not None),
        objectives=sections.objectives(doc, problems, catalogue) if "objectives" in data else None,
        tiers=sections.severity_tiers(doc, problems, catalogue)
        if "severity_tiers" in data
        else None,
        credits=sections.penalties(doc, problems) if "penalties" in data else None,
        compensation=sections.compensation(doc),
        business_reviews=sections.intervals(doc, "business_reviews", problems, catalogue),
        training=sections.intervals(doc, "training", problems, catalogue),
        contract_requires_need=(
            bool(data["contracts"]["require_need"]) if "contracts" in data else None
        ),
        problem_tickets=(
            sections.ticket_targets(doc, problems) if "problem_tickets" in data else None
        ),
        improvement=sections.improvement(doc, problems) if "improvement" in data else None,
        invariants=build_invariants.invariants(doc, problems) if "invariants" in data else (),
        scorecard=build_scorecards.scorecards(doc, problems, catalogue)
        if SCORECARDS in data
        else None,
        segments=build_segments.segments(doc, problems, catalogue) if SEGMENTS in data else None,
    )


def _criteria(doc: SourceDoc, problems: Problems) -> tuple[Criterion, ...]:
    criteria: list[Criterion] = []
    for index, item in enumerate(doc.data["criteria"]):
        if item["id"] in (c.id for c in criteria):
            problems.add(
                doc.error(("criteria", index, "id"), f"duplicate criterion {item['id']!r}")
            )
        # The text form keeps 33.3 as 33.3: weights must sum to exactly 100, not nearly.
        weight = Decimal(str(item["weight"]))
        kind = CriterionKind(item.get("kind", CriterionKind.BENEFIT))
        criteria.append(Criterion(item["id"], weight, item.get("description", ""), kind))
    total = sum((c.weight for c in criteria), Decimal(0))
    if total != 100:
        terms = " + ".join(f"{c.id} {c.weight}" for c in criteria)
        message = f"weights must sum to exactly 100, got {total} ({terms})"
        problems.add(doc.error(("criteria",), message, key=True))
    return tuple(criteria)


def _certificates(
    doc: SourceDoc, problems: Problems, catalogue: PackCatalogue
) -> CertificateRequirements:
    common: tuple[CertificateKindId, ...] = ()
    by_category: list[tuple[CategoryId, tuple[CertificateKindId, ...]]] = []
    for key, names in doc.data["required_certificates"].items():
        path: DocPath = ("required_certificates", key)
        kinds = _kinds(doc, path, names, problems, catalogue)
        category = sections.category_key(doc, path, problems, catalogue)
        if key == ALL_CATEGORIES:
            common = kinds
        elif category is not None:
            by_category.append((category, kinds))
    return CertificateRequirements(common, tuple(by_category))


def _kinds(
    doc: SourceDoc, path: DocPath, names: list[str], problems: Problems, catalogue: PackCatalogue
) -> tuple[CertificateKindId, ...]:
    ids = catalogue.certificate_kind_ids
    what = "certificate kind"
    return tuple(
        name
        for index, name in enumerate(names)
        if known(doc, (*path, index), name, problems, what=what, ids=ids)
    )


def _rule(
    doc: SourceDoc, index: int, specs: Mapping[str, FactSpec], problems: Problems
) -> Rule | None:
    path: DocPath = ("rules", index)
    data = doc.get(path)
    stage = checked_member(doc, (*path, "stage"), Stage, "stage", problems)
    action = checked_member(doc, (*path, "then", "action"), Action, "action", problems)
    when = _group(doc, (*path, "when"), stage, specs, problems)
    for key in ("message", "not_fired_message"):
        if key in data:
            _check_template(doc, (*path, key), stage, specs, problems)
    once = when is not None and told_once(when)
    parameters = _parameters(
        doc, (*path, "then"), action, problems, stage=stage, specs=specs, once=once
    )
    if stage is None or action is None or when is None or parameters is None:
        return None
    return Rule(
        id=data["id"],
        title=data["title"],
        description=data.get("description", ""),
        stage=stage,
        when=when,
        action=action,
        message=data["message"],
        not_fired_message=data.get("not_fired_message"),
        file=doc.file,
        line=doc.position(path)[0],
        column=doc.position(path)[1],
        parameters=parameters,
    )


def _parameters(
    doc: SourceDoc,
    path: DocPath,
    action: Action | None,
    problems: Problems,
    *,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
    once: bool = False,
) -> tuple[tuple[str, str], ...] | None:
    """The action's parameters, checked: allowed at the stage, known, required, valid.

    ``once``: the rule's conditions count what it tells about once (see ``TOLD_ONCE_FACTS``),
    so escalate and notify may run on the deadline check too.
    """
    if action is None:
        return None
    found = len(problems.errors)
    told_once = once and stage is Stage.DEADLINES and action in MESSAGE_ACTIONS
    if stage is not None and action not in ACTIONS_BY_STAGE[stage] and not told_once:
        allowed = listing(a.value for a in Action if a in ACTIONS_BY_STAGE[stage])
        message = (
            f"action {action.value!r} is not allowed at stage {stage.value!r};"
            f" expected one of: {allowed}"
        )
        if stage is Stage.DEADLINES and action in MESSAGE_ACTIONS:
            message += (
                f" ({action.value} is, when the rule's 'all' has a condition on a fact that"
                f" counts each case once: {listing(sorted(TOLD_ONCE_FACTS))})"
            )
        problems.add(doc.error((*path, "action"), message))
    then = doc.get(path)
    takes = ACTION_PARAMETERS.get(action, {})
    for key in then:
        if key != "action" and key not in takes:
            expected = f"it takes: {listing(takes)}" if takes else "it takes none"
            message = f"action {action.value!r} has no parameter {key!r}; {expected}"
            problems.add(doc.error((*path, key), message, key=True))
    values: list[tuple[str, str]] = []
    for key, parameter in takes.items():
        if key in then:
            found_values = _parameter(
                doc, (*path, key), parameter, problems, stage=stage, specs=specs
            )
            values.extend(found_values)
        elif parameter.required:
            message = f"action {action.value!r} needs {key!r}: {_expected(parameter)}"
            problems.add(doc.error(path, message))
    if action is Action.ASSESS_PENALTY and stage is Stage.DEADLINES and "amount" not in then:
        message = (
            "at stage 'deadlines' assess_penalty needs 'amount' (the schedule credits a breach,"
            ' which the deadline check never brings): {fixed: "500.00"} or'
            " {percent_of_monthly_fee: 1}"
        )
        problems.add(doc.error(path, message))
    return tuple(values) if len(problems.errors) == found else None


_ROLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_FIXED_AMOUNT = re.compile(r"(?P<amount>\d+(?:\.\d{1,2})?)(?: (?P<currency>[A-Z]{3}))?")


def _expected(parameter: Parameter) -> str:
    if parameter.kind is ParameterKind.CHOICE and parameter.choices is not None:
        return f"one of {listing(parameter.choices)}"
    return {
        ParameterKind.ROLE: "a role name of letters, digits, '_', '-' or '.'"
        " (for instance procurement_director)",
        ParameterKind.TEXT: "a message",
        ParameterKind.AMOUNT: 'an amount, {fixed: "5000.00"} or {percent_of_monthly_fee: 5}',
    }[parameter.kind]


def _parameter(
    doc: SourceDoc,
    path: DocPath,
    parameter: Parameter,
    problems: Problems,
    *,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
) -> list[tuple[str, str]]:
    """The (key, text) pairs one parameter contributes, or none with its problems recorded."""
    key, value = str(path[-1]), doc.get(path)
    if parameter.kind is ParameterKind.CHOICE and parameter.choices is not None:
        chosen = checked_member(doc, path, parameter.choices, key, problems)
        return [] if chosen is None else [(key, chosen.value)]
    if parameter.kind is ParameterKind.TEXT:
        _check_template(doc, path, stage, specs, problems)
        return [(key, value)]
    if parameter.kind is ParameterKind.ROLE:
        if isinstance(value, str) and _ROLE_NAME.fullmatch(value):
            return [(key, value)]
        problems.add(doc.error(path, f"expected {_expected(parameter)}, got {value!r}"))
        return []
    return _amount(doc, path, problems)


def _amount(doc: SourceDoc, path: DocPath, problems: Problems) -> list[tuple[str, str]]:
    """``amount.fixed`` or ``amount.percent_of_monthly_fee``, as exact decimal text."""
    ((basis, value),) = doc.get(path).items()
    where = (*path, basis)
    if basis == "fixed":
        match = _FIXED_AMOUNT.fullmatch(str(value))
        if match is None or Decimal(match["amount"]) <= 0:
            message = (
                "expected an amount above 0 with at most two decimal places, optionally with"
                f' its currency, like "5000.00" or "5000.00 CNY"; got {value!r}'
            )
            problems.add(doc.error(where, message))
            return []
        return [(f"amount.{basis}", str(value))]
    percent = _decimal(value)
    if percent is None or not Decimal(0) < percent <= Decimal(100):
        message = f"expected a percentage above 0 and at most 100, got {value!r}"
        problems.add(doc.error(where, message))
        return []
    return [(f"amount.{basis}", str(percent))]


def _decimal(value: object) -> Decimal | None:
    # A YAML number is read as a float: its shortest text is the decimal the author wrote.
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _group(
    doc: SourceDoc,
    path: DocPath,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
    problems: Problems,
) -> ConditionGroup | None:
    ((kind, items),) = doc.get(path).items()
    built: list[Condition | ConditionGroup | None] = []
    for index, item in enumerate(items):
        item_path: DocPath = (*path, kind, index)
        if "fact" in item:
            built.append(_condition(doc, item_path, stage, specs, problems))
        else:
            built.append(_group(doc, item_path, stage, specs, problems))
    if any(item is None for item in built):
        return None
    return ConditionGroup(GroupKind(kind), tuple(item for item in built if item is not None))


def _condition(
    doc: SourceDoc,
    path: DocPath,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
    problems: Problems,
) -> Condition | None:
    item = doc.get(path)
    spec = _fact(doc, (*path, "fact"), item["fact"], stage=stage, specs=specs, problems=problems)
    if spec is None:
        return None
    operator = Operator(item["op"])
    found = [
        problem
        for problem in (
            _operator_problem(doc, (*path, "op"), spec, operator),
            _value_problem(doc, (*path, "value"), spec, item["value"]),
        )
        if problem is not None
    ]
    problems.extend(found)
    if found:
        return None
    line, column = doc.position(path)
    return Condition(spec.name, operator, item["value"], line, column)


def _fact(
    doc: SourceDoc,
    path: DocPath,
    name: str,
    *,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
    problems: Problems,
) -> FactSpec | None:
    spec = specs.get(name)
    if spec is not None and (stage is None or stage in spec.stages):
        return spec
    where = f" at stage {stage.value!r}" if stage else ""
    available = facts_at(stage, specs) if stage else tuple(specs)
    message = f"unknown fact {name!r}{where}; expected one of: {listing(available)}"
    if name not in specs and stage in (Stage.MONITORING, Stage.DEADLINES):
        message += " (or a window the pack declares under 'windows:')"
    problems.add(doc.error(path, message))
    return None


def _operator_problem(
    doc: SourceDoc, path: DocPath, spec: FactSpec, operator: Operator
) -> PackError | None:
    if operator in OPERATORS[spec.type]:
        return None
    allowed = listing(op.value for op in Operator if op in OPERATORS[spec.type])
    message = (
        f"operator {operator.value!r} does not apply to fact {spec.name!r} of type {spec.type};"
        f" expected one of: {allowed}"
    )
    return doc.error(path, message)


def _value_problem(
    doc: SourceDoc, path: DocPath, spec: FactSpec, value: object
) -> PackError | None:
    if not value_fits(spec, value):
        message = (
            f"fact {spec.name!r} has type {spec.type}; expected {_EXPECTED[spec.type]},"
            f" got {describe_value(value)}"
        )
        return doc.error(path, message)
    if spec.choices and value not in spec.choices:
        return doc.error(
            path, f"unknown {spec.name} {value!r}; expected one of: {listing(spec.choices)}"
        )
    return None


def _check_template(
    doc: SourceDoc,
    path: DocPath,
    stage: Stage | None,
    specs: Mapping[str, FactSpec],
    problems: Problems,
) -> None:
    try:
        found = placeholders(doc.get(path))
    except TemplateError as error:
        problems.add(doc.error(path, str(error)))
        return
    available = facts_at(stage, specs) if stage else tuple(specs)
    for placeholder in found:
        if placeholder.fact not in available:
            message = (
                f"placeholder {{{placeholder.fact}}} is not a fact; expected one of:"
                f" {listing(available)}"
            )
            problems.add(doc.error(path, message))
        elif placeholder.spec and not _spec_fits(specs[placeholder.fact], placeholder.spec):
            message = f"format ':{placeholder.spec}' does not apply to fact {placeholder.fact!r}"
            problems.add(doc.error(path, message))


def _spec_fits(spec: FactSpec, format_spec: str) -> bool:
    try:
        format_value(_SAMPLES[spec.type], format_spec)
    except (ValueError, TypeError):
        return False
    return True
