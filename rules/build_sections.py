"""Building the data sections of a rule file: objectives, severity tiers, windows, penalties
and improvement deadlines, each checked against the pack's catalogue and for sense
(tiers without gaps or overlaps, warnings on the safe side of targets, credits that do not
fall as severity rises). Like :mod:`sqm.rules.build`, every problem is recorded at its position
and building carries on.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from sqm.domain.corrective_records import ExtensionLimits
from sqm.domain.model import Comparator, Severity, SlaObjective
from sqm.domain.objectives import objective_problems
from sqm.domain.pack_catalogue import CategoryId, MetricId, PackCatalogue
from sqm.rules.errors import Problems
from sqm.rules.model import (
    CategoryIntervals,
    CompensationTerms,
    CreditSchedule,
    ImprovementSchedule,
    MetricTiers,
    ObjectiveDefaults,
    SeverityTier,
    TicketTargets,
    Window,
    WindowKind,
)
from sqm.rules.pack_catalogue import known
from sqm.rules.yaml_source import DocPath, SourceDoc

ALL_CATEGORIES = "all"
"""The key of a per-category section that applies to every service category."""

_E = TypeVar("_E", bound=enum.StrEnum)
_SEVERITIES = tuple(Severity)  # minor, major, critical: rising


def member(enum_type: type[_E], value: str) -> _E | None:
    """The member of ``enum_type`` with value ``value``, or None."""
    try:
        return enum_type(value)
    except ValueError:
        return None


def checked_member(
    doc: SourceDoc, path: DocPath, enum_type: type[_E], what: str, problems: Problems
) -> _E | None:
    """The member at ``path``, or None with an "unknown <what>" problem listing the choices."""
    value = doc.get(path)
    found = member(enum_type, value)
    if found is None:
        expected = listing(m.value for m in enum_type)
        problems.add(doc.error(path, f"unknown {what} {value!r}; expected one of: {expected}"))
    return found


def listing(names: Iterable[str]) -> str:
    """Names as an error message lists them."""
    return ", ".join(names)


def category_key(
    doc: SourceDoc, path: DocPath, problems: Problems, catalogue: PackCatalogue
) -> CategoryId | None:
    """The category a per-category key names (None for 'all' or an unknown one, reported)."""
    key = str(path[-1])
    if key == ALL_CATEGORIES:
        return None
    ids = catalogue.category_ids
    what = "service category"
    if not known(doc, path, key, problems, what=what, ids=ids, key=True, also=[ALL_CATEGORIES]):
        return None
    return key


def _finite(doc: SourceDoc, path: DocPath, problems: Problems) -> bool:
    value = doc.get(path)
    if math.isfinite(value):
        return True
    problems.add(doc.error(path, f"expected a finite number, got {value!r}"))
    return False


def _decimal(value: float) -> Decimal:
    # The text form keeps 0.1 as 0.1: boundaries and percentages are exact.
    return Decimal(str(value))


# --- objectives --------------------------------------------------------------------------


def objectives(doc: SourceDoc, problems: Problems, catalogue: PackCatalogue) -> ObjectiveDefaults:
    """The ``objectives:`` section: default SLA objectives per category."""
    common: tuple[SlaObjective, ...] = ()
    by_category = []
    for key, items in doc.data["objectives"].items():
        path: DocPath = ("objectives", key)
        built = _objective_list(doc, path, items, problems, catalogue)
        category = category_key(doc, path, problems, catalogue)
        if key == ALL_CATEGORIES:
            common = built
        elif category is not None:
            by_category.append((category, built))
    return ObjectiveDefaults(common, tuple(by_category))


def _objective_list(
    doc: SourceDoc,
    path: DocPath,
    items: list[Mapping[str, Any]],
    problems: Problems,
    catalogue: PackCatalogue,
) -> tuple[SlaObjective, ...]:
    built: list[SlaObjective] = []
    for index, item in enumerate(items):
        if item["id"] in (o.objective_id for o in built):
            message = f"objective {item['id']!r} is listed twice for {path[-1]}"
            problems.add(doc.error((*path, index, "id"), message))
        objective = _objective(doc, (*path, index), item, problems, catalogue)
        if objective is not None:
            built.append(objective)
    return tuple(built)


def _objective(
    doc: SourceDoc,
    path: DocPath,
    item: Mapping[str, Any],
    problems: Problems,
    catalogue: PackCatalogue,
) -> SlaObjective | None:
    metric = _metric(doc, (*path, "metric"), problems, catalogue)
    numbers = [key for key in ("target", "warning", "tolerance") if key in item]
    finite = [_finite(doc, (*path, key), problems) for key in numbers]  # report each one
    if not all(finite) or metric is None:
        return None
    objective = SlaObjective(
        objective_id=item["id"],
        metric=metric,
        comparator=Comparator(item["comparator"]),
        target=float(item["target"]),
        warning=float(item["warning"]),
        tolerance=float(item.get("tolerance", 0.0)),
        grace_days=item.get("grace_days", 0),
        period_days=item.get("period_days", 30),
    )
    found = len(problems.errors)
    # The same checks the API runs on a contract's objectives (domain/validation.py).
    for key, message in objective_problems(objective, catalogue):
        problems.add(doc.error((*path, key), message))
    return objective if len(problems.errors) == found else None


def _metric(
    doc: SourceDoc, path: DocPath, problems: Problems, catalogue: PackCatalogue
) -> MetricId | None:
    value = doc.get(path)
    return (
        value
        if known(doc, path, value, problems, what="metric", ids=catalogue.metric_ids)
        else None
    )


# --- severity tiers --------------------------------------------------------------------------


def severity_tiers(
    doc: SourceDoc, problems: Problems, catalogue: PackCatalogue
) -> tuple[MetricTiers, ...]:
    """The ``severity_tiers:`` section, for every metric of the catalogue."""
    built = []
    ids = catalogue.metric_ids
    for key, items in doc.data["severity_tiers"].items():
        path: DocPath = ("severity_tiers", key)
        metric = key if known(doc, path, key, problems, what="metric", ids=ids, key=True) else None
        tiers = _tiers(doc, path, items, problems)
        if metric is not None and tiers is not None:
            built.append(MetricTiers(metric, tiers))
    missing = [m for m in ids if m not in doc.data["severity_tiers"]]
    if missing:
        message = f"every metric needs severity tiers; missing: {listing(missing)}"
        problems.add(doc.error(("severity_tiers",), message, key=True))
    return tuple(built)


def _tiers(
    doc: SourceDoc, path: DocPath, items: list[Mapping[str, Any]], problems: Problems
) -> tuple[SeverityTier, ...] | None:
    found = len(problems.errors)
    tiers: list[SeverityTier] = []
    for index, item in enumerate(items):
        here: DocPath = (*path, index)
        severity = checked_member(doc, (*here, "severity"), Severity, "severity", problems)
        bounds = [key for key in ("above", "up_to") if key in item]
        finite = [_finite(doc, (*here, key), problems) for key in bounds]  # report each one
        if not all(finite) or severity is None:
            continue
        up_to = _decimal(item["up_to"]) if "up_to" in item else None
        tier = SeverityTier(severity, _decimal(item["above"]), up_to)
        _check_tier(doc, here, tier, tiers[-1] if tiers else None, problems)
        tiers.append(tier)
        if index == len(items) - 1 and up_to is not None:
            message = f"the top tier must be open-ended: leave out up_to (got {up_to})"
            problems.add(doc.error((*here, "up_to"), message))
    return tuple(tiers) if len(problems.errors) == found else None


def _check_tier(
    doc: SourceDoc,
    path: DocPath,
    tier: SeverityTier,
    previous: SeverityTier | None,
    problems: Problems,
) -> None:
    if previous is None and tier.above != 0:
        message = f"the first tier must start at 0 (above: 0), got above: {tier.above}"
        problems.add(doc.error((*path, "above"), message))
    if previous is not None:
        if previous.up_to is None:
            message = "only the top tier may leave out up_to; this tier follows an open-ended one"
            problems.add(doc.error(path, message))
        elif tier.above > previous.up_to:
            message = (
                f"gap between tiers: the previous tier ends at {previous.up_to}"
                f" but this one starts above {tier.above}"
            )
            problems.add(doc.error((*path, "above"), message))
        elif tier.above < previous.up_to:
            message = (
                f"tiers overlap: the previous tier runs up to {previous.up_to}"
                f" but this one starts above {tier.above}"
            )
            problems.add(doc.error((*path, "above"), message))
        if tier.severity.rank <= previous.severity.rank:
            message = (
                f"tiers rise from minor to critical: {tier.severity.value!r} cannot follow"
                f" {previous.severity.value!r}"
            )
            problems.add(doc.error((*path, "severity"), message))
    if tier.up_to is not None and tier.up_to <= tier.above:
        message = f"up_to {tier.up_to} must be greater than above {tier.above}"
        problems.add(doc.error((*path, "up_to"), message))


# --- windows ---------------------------------------------------------------------------------

_COMMON_WINDOW_KEYS = frozenset({"id", "kind", "description"})
_WINDOW_KEYS: Mapping[WindowKind, tuple[frozenset[str], frozenset[str]]] = {
    # kind: (required keys, optional keys)
    WindowKind.BREACH_COUNT: (frozenset({"days"}), frozenset({"min_severity", "objective"})),
    WindowKind.CONSECUTIVE_MISSES: (frozenset({"metric"}), frozenset()),
    WindowKind.SATISFACTION_MEAN: (frozenset({"days"}), frozenset()),
    WindowKind.SURVEY_COUNT: (frozenset({"days"}), frozenset()),
    WindowKind.FAILED_INSPECTIONS: (frozenset({"days"}), frozenset()),
    WindowKind.TICKET_RESOLUTION_BREACHES: (frozenset({"days"}), frozenset()),
}


def windows(doc: SourceDoc, problems: Problems, catalogue: PackCatalogue) -> tuple[Window, ...]:
    """The ``windows:`` section of one file."""
    count = len(doc.data["windows"])
    built = (_window(doc, ("windows", i), problems, catalogue) for i in range(count))
    return tuple(w for w in built if w is not None)


def _window(
    doc: SourceDoc, path: DocPath, problems: Problems, catalogue: PackCatalogue
) -> Window | None:
    item = doc.get(path)
    kind = checked_member(doc, (*path, "kind"), WindowKind, "window kind", problems)
    if kind is None:
        return None
    required, optional = _WINDOW_KEYS[kind]
    for key in sorted(required - set(item)):
        problems.add(doc.error(path, f"a {kind.value} window needs {key!r}"))
    for key in item:
        if key not in required | optional | _COMMON_WINDOW_KEYS:
            takes = listing(sorted(required | optional))
            message = f"{key!r} does not apply to a {kind.value} window; it takes: {takes}"
            problems.add(doc.error((*path, key), message, key=True))
    if "days" in item:
        _finite(doc, (*path, "days"), problems)
    # A window with problems is still built (they are recorded, the pack will not load), so
    # rules using it are not also told it does not exist.
    severity = Severity.MINOR
    if "min_severity" in item:
        severity = (
            checked_member(doc, (*path, "min_severity"), Severity, "severity", problems) or severity
        )
    metric = None
    if "metric" in item:
        metric = _metric(doc, (*path, "metric"), problems, catalogue)
    return Window(
        id=item["id"],
        kind=kind,
        file=doc.file,
        line=doc.position(path)[0],
        days=float(item.get("days", 0.0)),
        min_severity=severity,
        objective=item.get("objective", ""),
        metric=metric,
        description=item.get("description", ""),
    )


# --- penalties and improvement -------------------------------------------------------------


def penalties(doc: SourceDoc, problems: Problems) -> CreditSchedule | None:
    """The ``penalties:`` section: the service credit schedule."""
    path: DocPath = ("penalties", "service_credits")
    data = doc.get(path)
    found = len(problems.errors)
    caps = ("period_cap_percent", "contract_cap_percent")
    for key in caps:
        _finite(doc, (*path, key), problems)
    for index in range(len(data["repeat_multipliers"])):
        _finite(doc, (*path, "repeat_multipliers", index), problems)
    if len(problems.errors) != found:
        return None
    percents = [(s, _decimal(data["percent_of_monthly_fee"][s.value])) for s in _SEVERITIES]
    for (lower, low), (higher, high) in itertools.pairwise(percents):
        if high < low:
            message = (
                f"a {higher.value} breach credits {high}%, less than a {lower.value} one"
                f" ({low}%): credits must not fall as severity rises"
            )
            problems.add(doc.error((*path, "percent_of_monthly_fee", higher.value), message))
    multipliers = [_decimal(m) for m in data["repeat_multipliers"]]
    for index in range(1, len(multipliers)):
        if multipliers[index] < multipliers[index - 1]:
            message = (
                f"the multiplier of breach {index + 1} ({multipliers[index]}) is below that of"
                f" breach {index} ({multipliers[index - 1]}): repeats must not cost less"
            )
            problems.add(doc.error((*path, "repeat_multipliers", index), message))
    return CreditSchedule(
        tuple(percents),
        tuple(multipliers),
        _decimal(data["period_cap_percent"]),
        _decimal(data["contract_cap_percent"]),
    )


def compensation(doc: SourceDoc) -> CompensationTerms | None:
    """The ``penalties.compensation`` section (its range is the schema's to check)."""
    terms = doc.data.get("penalties", {}).get("compensation")
    return None if terms is None else CompensationTerms(int(terms["claim_window_days"]))


def intervals(
    doc: SourceDoc, section: str, problems: Problems, catalogue: PackCatalogue
) -> CategoryIntervals | None:
    """A per-category ``every_days`` section (``business_reviews:``, ``training:``), None
    when the file has none; unknown categories are reported at their key, the days are the
    schema's to check.
    """
    if section not in doc.data:
        return None
    path: DocPath = (section, "every_days")
    entries: list[tuple[CategoryId | None, int]] = []
    for key, days in doc.get(path).items():
        category = category_key(doc, (*path, key), problems, catalogue)
        if category is not None or key == ALL_CATEGORIES:
            entries.append((category, int(days)))
    return CategoryIntervals(tuple(entries))


def ticket_targets(doc: SourceDoc, problems: Problems) -> TicketTargets:
    """The ``problem_tickets:`` section: resolution targets in hours by severity, never
    longer for a higher severity.
    """
    path: DocPath = ("problem_tickets", "resolution_target_hours")
    hours = doc.get(path)
    for severity in _SEVERITIES:
        _finite(doc, (*path, severity.value), problems)
    for lower, higher in itertools.pairwise(_SEVERITIES):
        if hours[higher.value] > hours[lower.value]:
            message = (
                f"a {higher.value} ticket cannot have longer to be resolved than a"
                f" {lower.value} one ({hours[higher.value]} > {hours[lower.value]} hours)"
            )
            problems.add(doc.error((*path, higher.value), message))
    return TicketTargets(tuple((s, float(hours[s.value])) for s in _SEVERITIES))


def improvement(doc: SourceDoc, problems: Problems) -> ImprovementSchedule:
    """The ``improvement:`` section: plan deadlines by severity."""
    path: DocPath = ("improvement", "plan_due_days")
    days = doc.get(path)
    for lower, higher in itertools.pairwise(_SEVERITIES):
        if days[higher.value] > days[lower.value]:
            message = (
                f"a plan after a {higher.value} breach cannot be due later than after a"
                f" {lower.value} one ({days[higher.value]} > {days[lower.value]} days)"
            )
            problems.add(doc.error((*path, higher.value), message))
    section = doc.get(("improvement",))
    business = section.get("plan_due_in", "days") == "business_days"
    schedule = tuple((s, int(days[s.value])) for s in _SEVERITIES)
    limits = _extension_limits(doc, problems) if "corrective_actions" in section else None
    return ImprovementSchedule(schedule, business, limits or ExtensionLimits())


def _extension_limits(doc: SourceDoc, problems: Problems) -> ExtensionLimits:
    """``improvement.corrective_actions``: how many extensions, and how long each."""
    path: DocPath = ("improvement", "corrective_actions")
    limits = doc.get(path)
    count = int(limits["max_extensions"])
    days = limits.get("max_extension_days")
    if count == 0 and days is not None:
        message = "max_extension_days limits extensions that max_extensions: 0 never allows"
        problems.add(doc.error((*path, "max_extension_days"), message))
    return ExtensionLimits(count, None if days is None else int(days))


def pack_windows(
    docs: Iterable[SourceDoc],
    reserved: Iterable[str],
    problems: Problems,
    catalogue: PackCatalogue,
    *,
    complete: bool,
) -> tuple[Window, ...]:
    """The windows of every file of a pack, their ids unique and unlike ``reserved`` (the
    catalogue's facts), each ``objective`` one of the pack's default objectives (checked only
    when the pack is ``complete``: every file read and schema-valid, so that a broken file
    does not make its objectives look missing).
    """
    docs = list(docs)
    taken = frozenset(reserved)
    objective_ids = {
        item["id"]
        for doc in docs
        for items in doc.data.get("objectives", {}).values()
        for item in items
    }
    first: dict[str, str] = {}
    built: list[Window] = []
    for doc in (d for d in docs if "windows" in d.data):
        for index, item in enumerate(doc.data["windows"]):
            path: DocPath = ("windows", index)
            name = item["id"]
            if name in taken:
                message = f"window {name!r} has the name of a fact of the catalogue; rename it"
                problems.add(doc.error((*path, "id"), message))
            elif name in first:
                message = f"duplicate window {name!r}; first declared at {first[name]}"
                problems.add(doc.error((*path, "id"), message))
            first.setdefault(name, f"{doc.file}:{doc.position(path)[0]}")
            if complete and "objective" in item and item["objective"] not in objective_ids:
                expected = listing(sorted(objective_ids)) or "none (the pack defines none)"
                message = (
                    f"objective {item['objective']!r} is not one of the pack's objectives;"
                    f" expected one of: {expected}"
                )
                problems.add(doc.error((*path, "objective"), message))
        built.extend(windows(doc, problems, catalogue))
    return tuple(built)
