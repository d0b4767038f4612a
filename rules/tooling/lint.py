"""``sqm policy lint``: every error of a pack, and the warnings a policy team wants to hear.

Errors are what the loader refuses (the pack cannot be activated). Warnings are about packs
that load but probably do not say what their authors meant:

- a rule that can never fire (contradictory conditions, or a condition no value of the fact
  can meet), and an alternative of an ``any`` group that can never hold;
- a rule shadowed by another of the same stage and action: whenever it holds, the other
  holds too, so it adds nothing;
- two monitoring penalty rules that can fire on the same record: each assesses a penalty,
  so the supplier is charged twice for it (:mod:`sqm.rules.tooling.double_charges`);
- a condition that always holds where it stands (implied by another, or by the fact's
  range), which only adds noise;
- a stage with qualification rules none of which can qualify anyone;
- certificate requirements repeated (a category listing what ``all`` already requires);
- a message that quotes a number no condition of its rule uses (a threshold changed, the
  text did not);
- a rule that can fire in lifecycle states (or on records) where its action cannot take
  effect (:mod:`sqm.rules.tooling.reach`).

One finding here is an error although the pack loads: a rule whose action can never take
effect wherever it can fire (a silent rule). ``sqm policy lint`` fails on it; the loader
still accepts it, so versions archived before the check keep loading.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterator, Sequence

import attrs

from sqm.domain.model import Action, QualificationChanges, Stage
from sqm.domain.pack_catalogue import PackCatalogue
from sqm.domain.scorecard_records import ScorecardSpec
from sqm.domain.segments import Segment
from sqm.rules.errors import PackInvalid
from sqm.rules.loader import MANIFEST, load_pack
from sqm.rules.model import Condition, ConditionGroup, GroupKind, PolicyPack, Rule, Window
from sqm.rules.tooling.conditions import (
    Ranges,
    alternatives,
    conflict,
    group_implies,
    render,
)
from sqm.rules.tooling.double_charges import double_charges
from sqm.rules.tooling.reach import silences
from sqm.rules.yaml_source import DocPath, SourceDoc, parse_yaml

ALL_CATEGORIES = "all"
"""The ``required_certificates`` key that applies to every service category."""


class Severity(enum.StrEnum):
    """How bad a finding is: an error stops the pack loading, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@attrs.frozen(order=True)
class Finding:
    """One located finding. ``line`` and ``column`` are 0 when it concerns a whole file."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str

    def format(self, directory: str = "") -> str:
        """``file:line:column: severity: message``, the file under ``directory`` if given."""
        path = f"{directory.rstrip('/')}/{self.file}" if directory else self.file
        where = f"{path}:{self.line}:{self.column}" if self.line else path
        return f"{where}: {self.severity}: {self.message}"


@attrs.frozen
class LintReport:
    """What lint found in one pack; ``version`` is None when the pack does not load."""

    findings: tuple[Finding, ...]
    version: str | None = None
    qualification_changes_apply_to: QualificationChanges | None = None
    """The pack's setting (None when it does not load)."""
    scorecard: ScorecardSpec | None = None
    """The pack's scorecard (None when it declares none or does not load)."""
    catalogue: PackCatalogue | None = None
    """The pack's catalogue (None when the pack does not load)."""
    catalogue_file: str | None = None
    """The file the manifest names as its catalogue (None: the legacy catalogue)."""
    segments: tuple[Segment, ...] = ()
    """The pack's segments, in order (none when it declares none or does not load)."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that stop the pack loading."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings that do not."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)


def lint_pack(directory: str | os.PathLike[str]) -> LintReport:
    """Load the pack in ``directory``: its errors if it does not load, else its warnings."""
    try:
        pack = load_pack(directory)
    except PackInvalid as invalid:
        return LintReport(tuple(error_findings(invalid)))
    return LintReport(
        tuple(pack_warnings(pack)),
        pack.version,
        pack.qualification_changes_apply_to,
        pack.scorecard,
        pack.catalogue,
        pack.catalogue_file,
        pack.segments,
    )


def error_findings(invalid: PackInvalid) -> Iterator[Finding]:
    """The loader's problems as error findings, in the loader's order."""
    for error in invalid.errors:
        yield Finding(error.file, error.line, error.column, Severity.ERROR, error.message)


def pack_warnings(pack: PolicyPack) -> list[Finding]:
    """Every warning about a pack that loads, sorted by file and position."""
    sources = _Sources(pack)
    ranges = Ranges(pack)
    reachable = [rule for rule in pack.rules if not _never_fires(rule, ranges)]
    found = [
        *_unreachable(pack.rules, ranges),
        *_redundant_conditions(reachable, ranges),
        *_shadowed(reachable, ranges),
        *_charged_twice(reachable, ranges),
        *_nothing_qualifies(pack, reachable, sources),
        *_repeated_certificates(pack, sources),
        *_segments_without_catch_all(pack, sources),
        *_stale_numbers(pack.rules, sources),
        *_stale_window_days(pack, sources),
        *_stale_rule_days(pack, sources),
        *_silent(pack),
    ]
    catalogue = [pack.catalogue_file] if pack.catalogue_file else []
    order = {name: index for index, name in enumerate([MANIFEST, *catalogue, *pack.files])}
    return sorted(
        dict.fromkeys(found), key=lambda f: (order.get(f.file, len(order)), f.line, f.column)
    )


def _warning(file: str, line: int, column: int, message: str) -> Finding:
    return Finding(file, line, column, Severity.WARNING, message)


def _never_fires(rule: Rule, ranges: Ranges) -> bool:
    return all(conflict(a, ranges) is not None for a in alternatives(rule.when))


# --- rules that fire where their action cannot apply ----------------------------------------


def _silent(pack: PolicyPack) -> Iterator[Finding]:
    for found in silences(pack):
        severity = Severity.ERROR if found.never else Severity.WARNING
        rule = found.rule
        yield Finding(rule.file, rule.line, rule.column, severity, found.message())


# --- rules that can never fire -----------------------------------------------------------


def _unreachable(rules: Sequence[Rule], ranges: Ranges) -> Iterator[Finding]:
    for rule in rules:
        conflicts = [conflict(a, ranges) for a in alternatives(rule.when)]
        found = {c.reason: c for c in conflicts if c is not None}
        if not found:
            continue
        if all(c is not None for c in conflicts):
            first = next(iter(found.values()))
            message = f"rule {rule.id} can never fire: {first.reason}"
            yield _warning(rule.file, first.condition.line, first.condition.column, message)
            continue
        for dead in found.values():
            message = f"rule {rule.id}: {dead.reason}, so one of its alternatives never applies"
            yield _warning(rule.file, dead.condition.line, dead.condition.column, message)


# --- conditions that always hold where they stand -----------------------------------------


def _redundant_conditions(rules: Sequence[Rule], ranges: Ranges) -> Iterator[Finding]:
    for rule in rules:
        yield from _redundant_in(rule, rule.when, ranges)


def _redundant_in(rule: Rule, group: ConditionGroup, ranges: Ranges) -> Iterator[Finding]:
    conditions = [item for item in group.items if isinstance(item, Condition)]
    kept = list(conditions)
    # Later conditions first: of two equivalent conditions, the second is the one reported.
    for condition in reversed(conditions):
        fact_range = ranges.of(condition.fact)
        meets = fact_range.values.constrain(condition)
        if fact_range.values.within(meets):
            kept.remove(condition)
            message = _always_holds(rule, group, condition, fact_range.reason)
            yield _warning(rule.file, condition.line, condition.column, message)
            continue
        if group.kind is GroupKind.ANY:
            continue  # in an 'any' group the other conditions need not hold
        siblings = [c for c in kept if c is not condition and c.fact == condition.fact]
        given = ranges.narrowed(condition.fact, siblings)
        if siblings and not given.is_empty() and given.within(meets):
            kept.remove(condition)
            others = " and ".join(f"{render(c)} (line {c.line})" for c in siblings)
            message = (
                f"rule {rule.id}: {render(condition)} is implied by {others}; it can be removed"
            )
            yield _warning(rule.file, condition.line, condition.column, message)
    for item in group.items:
        if isinstance(item, ConditionGroup):
            yield from _redundant_in(rule, item, ranges)


def _always_holds(rule: Rule, group: ConditionGroup, condition: Condition, reason: str) -> str:
    because = f" ({reason})" if reason else ""
    if group.kind is GroupKind.ANY:
        return (
            f"rule {rule.id}: {render(condition)} always holds{because}, so its 'any' group"
            " always holds"
        )
    return f"rule {rule.id}: {render(condition)} always holds{because}; it can be removed"


# --- rules that add nothing ---------------------------------------------------------------


def _shadowed(rules: Sequence[Rule], ranges: Ranges) -> Iterator[Finding]:
    for index, rule in enumerate(rules):
        if rule.action is Action.ASSESS_PENALTY and rule.stage is Stage.MONITORING:
            continue  # a second penalty rule charges again: _charged_twice says so
        for other in rules:
            if other is rule or not _same_effect(rule, other):
                continue
            if not group_implies(rule.when, other.when, ranges):
                continue
            equivalent = group_implies(other.when, rule.when, ranges)
            if equivalent and rules.index(other) > index:
                continue  # of two equivalent rules, the later one is reported
            yield _warning(
                rule.file, rule.line, rule.column, _why_shadowed(rule, other, equivalent)
            )
            break


def _charged_twice(rules: Sequence[Rule], ranges: Ranges) -> Iterator[Finding]:
    for found in double_charges(rules, ranges):
        rule = found.rule
        yield _warning(rule.file, rule.line, rule.column, found.message())


def _same_effect(rule: Rule, other: Rule) -> bool:
    # Parameters (when rules have them) are part of what a rule asks for.
    same_parameters = getattr(rule, "parameters", None) == getattr(other, "parameters", None)
    return rule.stage is other.stage and rule.action is other.action and same_parameters


def _why_shadowed(rule: Rule, other: Rule, equivalent: bool) -> str:
    where = f"{other.file}:{other.line}"
    if equivalent:
        return (
            f"rule {rule.id} has the same conditions as {other.id} ({where}) and also asks to"
            f" {rule.action.value}; it adds nothing"
        )
    return (
        f"rule {rule.id} is shadowed by {other.id} ({where}): whenever {rule.id}'s conditions"
        f" hold, {other.id}'s hold too, and both ask to {rule.action.value}; {rule.id} adds"
        " nothing"
    )


def _nothing_qualifies(
    pack: PolicyPack, reachable: Sequence[Rule], sources: _Sources
) -> Iterator[Finding]:
    if not pack.rules_for(Stage.QUALIFICATION):
        return
    if any(r.stage is Stage.QUALIFICATION and r.action is Action.QUALIFY for r in reachable):
        return
    line, column = sources.position(MANIFEST, ("files",), key=True)
    yield _warning(
        MANIFEST,
        line,
        column,
        "no qualification rule that can fire asks to qualify: no candidate can ever become"
        " qualified under this pack",
    )


# --- certificate requirements ------------------------------------------------------------


def _repeated_certificates(pack: PolicyPack, sources: _Sources) -> Iterator[Finding]:
    file = sources.file_defining("required_certificates")
    if file is None:
        return
    doc = sources.doc(file)
    assert doc is not None  # noqa: S101 - file_defining found it in a parsed document
    common = set(pack.certificates.common)
    for key, names in doc.data["required_certificates"].items():
        seen: set[str] = set()
        for index, name in enumerate(names):
            path: DocPath = ("required_certificates", key, index)
            line, column = doc.position(path)
            if name in seen:
                message = f"required_certificates.{key}: {name} is listed twice"
                yield _warning(file, line, column, message)
            elif key != ALL_CATEGORIES and name in common:
                message = (
                    f"required_certificates.{key}: {name} is already required of every"
                    f" category ('{ALL_CATEGORIES}')"
                )
                yield _warning(file, line, column, message)
            seen.add(name)


def _segments_without_catch_all(pack: PolicyPack, sources: _Sources) -> Iterator[Finding]:
    file = sources.file_defining("segments")
    if file is None or not pack.segments:
        return
    last = pack.segments[-1]
    if last.categories or last.min_monthly_fee is not None or last.standings:
        line, column = sources.position(file, ("segments", len(pack.segments) - 1, "id"))
        message = (
            f"segments: the last segment {last.id!r} has conditions, so a supplier no segment"
            " takes is in segment 'none'; end with a segment without conditions"
        )
        yield _warning(file, line, column, message)


# --- numbers in messages -----------------------------------------------------------------

_TEXT_KEYS = ("title", "description", "message", "not_fired_message")
_COMPARED = re.compile(
    r"(?:>=|<=|>|<|==|!=|=|≥|≤|低于|高于|不低于|不少于|至少|超过|不超过|达到"
    r"|(?<!\w)(?:at least|at most|needs?|below|above|under|over|more than|fewer than"
    r"|less than|floor of|ceiling of|threshold(?: of)?|minimum(?: of)?|maximum(?: of)?))"
    r"\s*(\d+(?:\.\d+)?)(?![\d.])"
    # "over 90 days" is a window's length, not a threshold.
    r"(?!\s*(?:days?|weeks?|months?|years?|hours?|minutes?|天|日|周|个月|月|年|小时|分钟))",
    re.IGNORECASE,
)


def _stale_numbers(rules: Sequence[Rule], sources: _Sources) -> Iterator[Finding]:
    for rule in rules:
        thresholds = {
            float(c.value)
            for c in rule.conditions
            if isinstance(c.value, int | float) and not isinstance(c.value, bool)
        }
        if not thresholds:
            continue
        texts = sources.rule_texts(rule)
        for key, (text, line, column) in texts.items():
            if key == "id":
                continue
            for match in _COMPARED.finditer(_without_placeholders(text)):
                number = float(match.group(1))
                if number in thresholds:
                    continue
                used = ", ".join(render(c) for c in rule.conditions if c.value in thresholds)
                message = (
                    f"rule {rule.id}: its {key} says '{match.group(0)}' but no condition of the"
                    f" rule compares with {match.group(1)} (its thresholds: {used}); update the"
                    " text, or write the fact as a placeholder"
                )
                yield _warning(rule.file, line, column, message)


# "30 days", "30-day", "30d" (in an id: major_breaches_30d), "30 天", "30日".
_DURATION = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*-?\s*(?:days?\b|天|日)|d(?=_|\b|$))", re.IGNORECASE
)


def _durations(text: str) -> list[tuple[str, float]]:
    """The lengths in days ``text`` states, as written and as numbers."""
    return [(m.group(0), float(m.group(1))) for m in _DURATION.finditer(text)]


def _stale_window_days(pack: PolicyPack, sources: _Sources) -> Iterator[Finding]:
    for window in pack.windows:
        if not window.days:
            continue  # a window without a length (consecutive misses) states none
        where = sources.window_texts(window)
        for key, (text, line, column) in where.items():
            # In an id the words are joined by '_': major_breaches_30d says 30 days.
            for written, days in _durations(text.replace("_", " ") if key == "id" else text):
                if days != window.days:
                    message = (
                        f"window {window.id}: its {key} says '{written}' but the window counts"
                        f" {_days(window.days)}; update the {key} or the days"
                    )
                    yield _warning(window.file, line, column, message)


def _stale_rule_days(pack: PolicyPack, sources: _Sources) -> Iterator[Finding]:
    windows = {w.id: w for w in pack.windows}
    for rule in pack.rules:
        lengths = {windows[f].days for f in rule.fact_names if f in windows and windows[f].days}
        thresholds = {
            float(c.value)
            for c in rule.conditions
            if isinstance(c.value, int | float) and not isinstance(c.value, bool)
        }
        if not lengths:
            continue  # only windows have lengths a title can fall behind
        texts = sources.rule_texts(rule)
        for key in ("id", "title", "description"):
            if key not in texts:
                continue
            text, line, column = texts[key]
            for written, days in _durations(_without_placeholders(text)):
                if days in lengths or days in thresholds:
                    continue
                counted = ", ".join(
                    f"{w.id} {_days(w.days)}"
                    for w in pack.windows
                    if w.id in rule.fact_names and w.days
                )
                message = (
                    f"rule {rule.id}: its {key} says '{written}' but its windows count"
                    f" {counted}; update the {key}"
                )
                yield _warning(rule.file, line, column, message)


def _days(days: float) -> str:
    shown = f"{days:g}"
    return f"{shown} day" if days == 1 else f"{shown} days"


def _without_placeholders(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", "", text.replace("{{", "").replace("}}", ""))


class _Sources:
    """The pack's sources parsed again, for positions the model does not keep."""

    def __init__(self, pack: PolicyPack) -> None:
        self._pack = pack
        self._docs: dict[str, SourceDoc | None] = {}

    def doc(self, file: str) -> SourceDoc | None:
        """The parsed file, or None when the pack has no such file."""
        if file not in self._docs:
            text = self._pack.sources.get(file)
            self._docs[file] = parse_yaml(text, file)[0] if text is not None else None
        return self._docs[file]

    def position(self, file: str, path: DocPath, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is in ``file`` (1:1 when the file cannot be read)."""
        doc = self.doc(file)
        return doc.position(path, key=key) if doc is not None else (1, 1)

    def file_defining(self, section: str) -> str | None:
        """The rule file that has the top-level ``section``."""
        for file in self._pack.files:
            doc = self.doc(file)
            if doc is not None and isinstance(doc.data, dict) and section in doc.data:
                return file
        return None

    def rule_texts(self, rule: Rule) -> dict[str, tuple[str, int, int]]:
        """The rule's text fields as written, each with its position."""
        doc = self.doc(rule.file)
        if doc is None or not isinstance(doc.data, dict):
            return {}
        for index, item in enumerate(doc.data.get("rules", [])):
            if isinstance(item, dict) and item.get("id") == rule.id:
                return {
                    key: (item[key], *doc.position(("rules", index, key)))
                    for key in ("id", *_TEXT_KEYS)
                    if isinstance(item.get(key), str)
                }
        return {}

    def window_texts(self, window: Window) -> dict[str, tuple[str, int, int]]:
        """The window's id and description as written, each with its position."""
        doc = self.doc(window.file)
        if doc is None or not isinstance(doc.data, dict):
            return {}
        for index, item in enumerate(doc.data.get("windows", [])):
            if isinstance(item, dict) and item.get("id") == window.id:
                return {
                    key: (item[key], *doc.position(("windows", index, key)))
                    for key in ("id", "description")
                    if isinstance(item.get(key), str)
                }
        return {}
