"""From a schema-valid rule file to model objects, checking what the schema cannot.

The schema fixes the shape; here the content is checked against the service's catalogues:
facts and their types, operators per type, stages, actions, certificate kinds, service
categories, message placeholders, criteria weights. Every problem is recorded with its
position and what was expected; building carries on so one load reports them all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

import attrs

from domain.model import Action, CertificateKind, FactValue, ServiceCategory, Stage
from rules.errors import PackError, Problems
from rules.facts import CATALOGUE, OPERATORS, FactSpec, FactType, facts_at, value_fits
from rules.model import (
    CertificateRequirements,
    Condition,
    ConditionGroup,
    Criterion,
    GroupKind,
    Operator,
    Rule,
)
from rules.template import TemplateError, format_value, placeholders
from rules.yaml_source import DocPath, SourceDoc, describe_value

ALL_CATEGORIES = "all"
"""The ``required_certificates`` key that applies to every service category."""

_E = TypeVar("_E", bound=enum.StrEnum)
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
    """What one rule file contributes to a pack; ``None`` for a section the file omits."""

    doc: SourceDoc
    criteria: tuple[Criterion, ...] | None
    certificates: CertificateRequirements | None
    rules: tuple[Rule, ...]


def build_file(doc: SourceDoc, problems: Problems) -> FilePart:
    """The model parts of a schema-valid rule file; problems go to ``problems``."""
    data = doc.data
    criteria = _criteria(doc, problems) if "criteria" in data else None
    certificates = _certificates(doc, problems) if "required_certificates" in data else None
    rules = (_rule(doc, index, problems) for index in range(len(data.get("rules", []))))
    return FilePart(doc, criteria, certificates, tuple(r for r in rules if r is not None))


def _criteria(doc: SourceDoc, problems: Problems) -> tuple[Criterion, ...]:
    criteria: list[Criterion] = []
    for index, item in enumerate(doc.data["criteria"]):
        if item["id"] in (c.id for c in criteria):
            problems.add(
                doc.error(("criteria", index, "id"), f"duplicate criterion {item['id']!r}")
            )
        # The text form keeps 33.3 as 33.3: weights must sum to exactly 100, not nearly.
        weight = Decimal(str(item["weight"]))
        criteria.append(Criterion(item["id"], weight, item.get("description", "")))
    total = sum((c.weight for c in criteria), Decimal(0))
    if total != 100:
        terms = " + ".join(f"{c.id} {c.weight}" for c in criteria)
        message = f"weights must sum to exactly 100, got {total} ({terms})"
        problems.add(doc.error(("criteria",), message, key=True))
    return tuple(criteria)


def _certificates(doc: SourceDoc, problems: Problems) -> CertificateRequirements:
    common: tuple[CertificateKind, ...] = ()
    by_category: list[tuple[ServiceCategory, tuple[CertificateKind, ...]]] = []
    for key, names in doc.data["required_certificates"].items():
        path: DocPath = ("required_certificates", key)
        kinds = _kinds(doc, path, names, problems)
        if key == ALL_CATEGORIES:
            common = kinds
            continue
        category = _member(ServiceCategory, key)
        if category is None:
            expected = ", ".join([ALL_CATEGORIES, *ServiceCategory])
            message = f"unknown service category {key!r}; expected one of: {expected}"
            problems.add(doc.error(path, message, key=True))
        else:
            by_category.append((category, kinds))
    return CertificateRequirements(common, tuple(by_category))


def _kinds(
    doc: SourceDoc, path: DocPath, names: list[str], problems: Problems
) -> tuple[CertificateKind, ...]:
    kinds = []
    for index, name in enumerate(names):
        kind = _member(CertificateKind, name)
        if kind is None:
            expected = ", ".join(CertificateKind)
            message = f"unknown certificate kind {name!r}; expected one of: {expected}"
            problems.add(doc.error((*path, index), message))
        else:
            kinds.append(kind)
    return tuple(kinds)


def _rule(doc: SourceDoc, index: int, problems: Problems) -> Rule | None:
    path: DocPath = ("rules", index)
    data = doc.get(path)
    stage = _checked_member(doc, (*path, "stage"), Stage, "stage", problems)
    action = _checked_member(doc, (*path, "then", "action"), Action, "action", problems)
    when = _group(doc, (*path, "when"), stage, problems)
    for key in ("message", "not_fired_message"):
        if key in data:
            _check_template(doc, (*path, key), stage, problems)
    if stage is None or action is None or when is None:
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
    )


def _group(
    doc: SourceDoc, path: DocPath, stage: Stage | None, problems: Problems
) -> ConditionGroup | None:
    ((kind, items),) = doc.get(path).items()
    built: list[Condition | ConditionGroup | None] = []
    for index, item in enumerate(items):
        item_path: DocPath = (*path, kind, index)
        if "fact" in item:
            built.append(_condition(doc, item_path, stage, problems))
        else:
            built.append(_group(doc, item_path, stage, problems))
    if any(item is None for item in built):
        return None
    return ConditionGroup(GroupKind(kind), tuple(item for item in built if item is not None))


def _condition(
    doc: SourceDoc, path: DocPath, stage: Stage | None, problems: Problems
) -> Condition | None:
    item = doc.get(path)
    spec = _fact(doc, (*path, "fact"), item["fact"], stage, problems)
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
    doc: SourceDoc, path: DocPath, name: str, stage: Stage | None, problems: Problems
) -> FactSpec | None:
    spec = CATALOGUE.get(name)
    if spec is not None and (stage is None or spec.stage is stage):
        return spec
    where = f" at stage {stage.value!r}" if stage else ""
    available = facts_at(stage) if stage else tuple(CATALOGUE)
    problems.add(
        doc.error(path, f"unknown fact {name!r}{where}; expected one of: {_list(available)}")
    )
    return None


def _operator_problem(
    doc: SourceDoc, path: DocPath, spec: FactSpec, operator: Operator
) -> PackError | None:
    if operator in OPERATORS[spec.type]:
        return None
    allowed = _list(op.value for op in Operator if op in OPERATORS[spec.type])
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
            path, f"unknown {spec.name} {value!r}; expected one of: {_list(spec.choices)}"
        )
    return None


def _check_template(doc: SourceDoc, path: DocPath, stage: Stage | None, problems: Problems) -> None:
    try:
        found = placeholders(doc.get(path))
    except TemplateError as error:
        problems.add(doc.error(path, str(error)))
        return
    available = facts_at(stage) if stage else tuple(CATALOGUE)
    for placeholder in found:
        if placeholder.fact not in available:
            message = (
                f"placeholder {{{placeholder.fact}}} is not a fact; expected one of:"
                f" {_list(available)}"
            )
            problems.add(doc.error(path, message))
        elif placeholder.spec and not _spec_fits(CATALOGUE[placeholder.fact], placeholder.spec):
            message = f"format ':{placeholder.spec}' does not apply to fact {placeholder.fact!r}"
            problems.add(doc.error(path, message))


def _spec_fits(spec: FactSpec, format_spec: str) -> bool:
    try:
        format_value(_SAMPLES[spec.type], format_spec)
    except (ValueError, TypeError):
        return False
    return True


def _checked_member(
    doc: SourceDoc, path: DocPath, enum_type: type[_E], what: str, problems: Problems
) -> _E | None:
    value = doc.get(path)
    member = _member(enum_type, value)
    if member is None:
        expected = _list(m.value for m in enum_type)
        problems.add(doc.error(path, f"unknown {what} {value!r}; expected one of: {expected}"))
    return member


def _member(enum_type: type[_E], value: str) -> _E | None:
    try:
        return enum_type(value)
    except ValueError:
        return None


def _list(names: Iterable[str]) -> str:
    return ", ".join(names)
