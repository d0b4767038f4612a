"""``sqm policy diff``: what changed between two packs, rule by rule, in a policy team's words.

    QUAL-001: threshold for weighted_score changed from 70 to 75
    QUAL-004 added: Disqualify a blacklisted candidate (qualification; disqualify when ...)
    criterion price weight 25 -> 20
    required certificates for software: added iso_27001

Only what a pack means is compared: moving a rule down a file changes its line, not the
policy, and is not reported. The other sections are compared key by key and named as the
files write them (``objectives.network_services[availability].target``,
``penalties.service_credits.period_cap_percent``, ``windows[major_breaches_30d].days``), so a
policy team finds the line to read. Sections this module does not know yet are still
compared, generically, field by field, so no change goes unreported.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import attrs

from sqm.domain.model import QualificationChanges
from sqm.domain.pack_catalogue import CertificateKindId, Entry
from sqm.domain.segments import Segment
from sqm.rules.model import Condition, ConditionGroup, PolicyPack, Rule
from sqm.rules.pack_catalogue import DIRECTION_WORDS
from sqm.rules.template import format_value
from sqm.rules.tooling.conditions import render, render_group

_PACK_FIELDS = frozenset(
    {"name", "title", "description", "version", "directory", "files", "sources", "criteria"}
    | {"certificates", "rules", "qualification_changes_apply_to"}
)
_AS_WRITTEN = frozenset(
    {"objectives", "tiers", "credits", "improvement", "windows", "invariants", "calendar"}
    | {"scorecard", "catalogue", "catalogue_file", "segments"}
)
_RULE_FIELDS = frozenset(
    {"id", "title", "description", "stage", "when", "action", "message", "not_fired_message"}
    | {"file", "line", "column", "parameters"}
)


def diff_packs(old: PolicyPack, new: PolicyPack) -> list[str]:
    """One line per change from ``old`` to ``new``; empty when they mean the same."""
    if old.version == new.version:
        return []
    return [
        *_metadata(old, new),
        *_grandfathering(old, new),
        *_files(old, new),
        *_criteria(old, new),
        *_certificates(old, new),
        *_rules(old, new),
        *_generic("", _as_written(old), _as_written(new)),
        *_other_fields(old, new, _PACK_FIELDS | _AS_WRITTEN, ""),
    ]


# --- sections as their files write them ------------------------------------------------------


def _as_written(pack: PolicyPack) -> dict[str, Any]:
    """The pack's sections with the keys of its files: a list item with an id under
    ``[id]``, fields named as in the YAML. Positions (file, line) are left out.
    """
    improvement = pack.improvement
    credits = pack.credits
    return {
        "objectives": {
            "all": _keyed(pack.objectives.common, "objective_id"),
            **{
                category: _keyed(items, "objective_id")
                for category, items in pack.objectives.by_category
            },
        },
        "severity_tiers": {t.metric: _plain(t.tiers) for t in pack.tiers},
        "penalties": {
            "service_credits": None
            if credits is None
            else {
                "percent_of_monthly_fee": _plain(credits.percent_by_severity),
                "repeat_multipliers": _plain(credits.repeat_multipliers),
                "period_cap_percent": _plain(credits.period_cap_percent),
                "contract_cap_percent": _plain(credits.contract_cap_percent),
            }
        },
        "improvement": None
        if improvement is None
        else {
            "plan_due_days": _plain(improvement.plan_due_days),
            "plan_due_in": "business_days" if improvement.business_days else "days",
            "corrective_actions": {
                "max_extensions": improvement.extension_limits.max_extensions,
                "max_extension_days": improvement.extension_limits.max_extension_days,
            },
        },
        "windows": _keyed(pack.windows, "id"),
        "invariants": _keyed(pack.invariants, "id"),
        "calendar": {
            "time_zone": pack.calendar.time_zone,
            "holidays": sorted(str(day) for day in pack.calendar.holidays),
        },
        "scorecards": None if pack.scorecard is None else _plain(pack.scorecard),
        # First match wins: the order is part of what the segments mean.
        "segments": {
            "order": [s.id for s in pack.segments],
            **{f"[{s.id}]": _segment(s) for s in pack.segments},
        },
        "catalogue": _catalogue(pack),
    }


def _catalogue(pack: PolicyPack) -> dict[str, Any]:
    """The catalogue as its file writes it: each section keyed by id."""
    catalogue = pack.catalogue
    return {
        "file": pack.catalogue_file,
        "categories": {f"[{e.id}]": _entry(e) for e in catalogue.categories},
        "certificate_kinds": {f"[{e.id}]": _entry(e) for e in catalogue.certificate_kinds},
        "metrics": {
            f"[{m.id}]": {
                "unit": m.unit,
                "direction": DIRECTION_WORDS[m.direction],
                "minimum": m.minimum,
                "maximum": m.maximum,
                **_entry(m.entry),
            }
            for m in catalogue.metrics
        },
        "document_kinds": {f"[{e.id}]": _entry(e) for e in catalogue.document_kinds},
        "milestone_kinds": {
            f"[{k.id}]": {
                **_entry(k.entry),
                "deliverable": {"zh": k.deliverable_zh, "en": k.deliverable_en},
            }
            for k in catalogue.milestone_kinds
        },
    }


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "name": {"zh": entry.name_zh, "en": entry.name_en},
        "description": {"zh": entry.description_zh, "en": entry.description_en},
    }


_POSITION = frozenset({"file", "line", "column"})


def _segment(segment: Segment) -> dict[str, Any]:
    fee = segment.min_monthly_fee
    return {
        "title": segment.title,
        "categories": list(segment.categories),
        "min_monthly_fee": "" if fee is None else str(fee),  # as the file writes it
        "standings": list(segment.standings),
    }


def _keyed(items: Sequence[Any], key: str) -> dict[str, Any]:
    return {
        f"[{getattr(item, key)}]": {
            name: value
            for name, value in _plain(item).items()
            if name not in _POSITION and name != key
        }
        for item in items
    }


def _metadata(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    for field in ("name", "title"):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            yield f"pack {field} changed from {before!r} to {after!r}"
    if old.description != new.description:
        yield "pack description changed"


GRANDFATHERING_WORDS = {
    QualificationChanges.NEW_EVALUATIONS: "recorded qualifications stand",
    QualificationChanges.QUALIFIED_SUPPLIERS: (
        "suppliers still qualified are evaluated again when the version takes effect"
    ),
}
"""What each ``qualification_changes_apply_to`` means, in a policy team's words."""


def _grandfathering(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    before, after = old.qualification_changes_apply_to, new.qualification_changes_apply_to
    if before != after:
        yield (
            f"qualification_changes_apply_to changed from {before} to {after}:"
            f" {GRANDFATHERING_WORDS[after]}"
        )


def _files(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    for name in new.files:
        if name not in old.files:
            yield f"rule file {name} added"
    for name in old.files:
        if name not in new.files:
            yield f"rule file {name} removed"


def _criteria(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    before = {c.id: c for c in old.criteria}
    after = {c.id: c for c in new.criteria}
    for cid, criterion in after.items():
        was = before.get(cid)
        if was is None:
            yield f"criterion {cid} added (weight {_weight(criterion.weight)})"
            continue
        if was.weight != criterion.weight:
            yield f"criterion {cid} weight {_weight(was.weight)} -> {_weight(criterion.weight)}"
        if was.description != criterion.description:
            yield f"criterion {cid} description changed to {criterion.description!r}"
    for cid, criterion in before.items():
        if cid not in after:
            yield f"criterion {cid} removed (was weight {_weight(criterion.weight)})"


def _weight(weight: Decimal) -> str:
    return format(weight.normalize(), "f")


def _certificates(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    before, after = _requirements(old), _requirements(new)
    for key in dict.fromkeys([*before, *after]):
        was, now = before.get(key, ()), after.get(key, ())
        added = [k for k in now if k not in was]
        removed = [k for k in was if k not in now]
        parts = [
            f"{verb} {', '.join(kinds)}"
            for verb, kinds in (("added", added), ("removed", removed))
            if kinds
        ]
        if parts:
            yield f"required certificates for {key}: {'; '.join(parts)}"


def _requirements(pack: PolicyPack) -> dict[str, tuple[CertificateKindId, ...]]:
    found: dict[str, tuple[CertificateKindId, ...]] = {}
    if pack.certificates.common:
        found["every category"] = pack.certificates.common
    for category, kinds in pack.certificates.by_category:
        found[category] = kinds
    return found


def _rules(old: PolicyPack, new: PolicyPack) -> Iterator[str]:
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    for rid, rule in after.items():
        was = before.get(rid)
        if was is None:
            yield (
                f"{rid} added: {rule.title} ({rule.stage.value}; {_asked(rule)} when"
                f" {render_group(rule.when)})"
            )
        else:
            yield from _rule_changes(was, rule)
    for rid, rule in before.items():
        if rid not in after:
            yield f"{rid} removed: {rule.title}"


def _asked(rule: Rule) -> str:
    """The rule's action with its parameters: ``escalate to 'quality_manager'``."""
    given = " ".join(f"{key} {_shown(value)}" for key, value in rule.parameters if key != "message")
    return f"{rule.action.value} {given}".rstrip()


def _rule_changes(old: Rule, new: Rule) -> Iterator[str]:
    rid = new.id
    for field, words in (("title", "title"), ("stage", "stage"), ("action", "action")):
        before, after = _plain(getattr(old, field)), _plain(getattr(new, field))
        if before != after:
            yield f"{rid}: {words} changed from {_shown(before)} to {_shown(after)}"
    if old.file != new.file:
        yield f"{rid}: moved from {old.file} to {new.file}"
    yield from _parameter_changes(rid, old, new)
    yield from _group_changes(rid, old.when, new.when)
    for field, words in (("message", "message"), ("not_fired_message", "why-not message")):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            yield f"{rid}: {words} changed from {_shown(before)} to {_shown(after)}"
    if old.description != new.description:
        yield f"{rid}: description changed"
    yield from _other_fields(old, new, _RULE_FIELDS, f"{rid}: ")


def _parameter_changes(rid: str, old: Rule, new: Rule) -> Iterator[str]:
    # ``then: {action: remind, reminder: ...}``: each parameter by name.
    before = dict(getattr(old, "parameters", ()))
    after = dict(getattr(new, "parameters", ()))
    for key in dict.fromkeys([*before, *after]):
        if before.get(key) != after.get(key):
            was, now = _shown(before.get(key)), _shown(after.get(key))
            yield f"{rid}: {key} changed from {was} to {now}"


# --- conditions --------------------------------------------------------------------------


def _key(condition: Condition) -> tuple[str, str, Any]:
    value = condition.value
    # 70 and 70.0 are one threshold; a boolean stays a boolean.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return condition.fact, condition.operator.value, float(value) if number else value


def _same_group(old: ConditionGroup, new: ConditionGroup) -> bool:
    if old.kind is not new.kind or len(old.items) != len(new.items):
        return False
    for a, b in zip(old.items, new.items, strict=True):
        if isinstance(a, Condition) and isinstance(b, Condition):
            if _key(a) != _key(b):
                return False
        elif isinstance(a, ConditionGroup) and isinstance(b, ConditionGroup):
            if not _same_group(a, b):
                return False
        else:
            return False
    return True


def _group_changes(rid: str, old: ConditionGroup, new: ConditionGroup) -> Iterator[str]:
    if _same_group(old, new):
        return
    if old.kind is not new.kind:
        yield f"{rid}: conditions changed from {render_group(old)} to {render_group(new)}"
        return
    yield from _condition_changes(rid, _conditions(old), _conditions(new))
    before = Counter(render_group(g) for g in old.items if isinstance(g, ConditionGroup))
    after = Counter(render_group(g) for g in new.items if isinstance(g, ConditionGroup))
    for text in (after - before).elements():
        yield f"{rid}: conditions added: {text}"
    for text in (before - after).elements():
        yield f"{rid}: conditions removed: {text}"


def _conditions(group: ConditionGroup) -> list[Condition]:
    return [item for item in group.items if isinstance(item, Condition)]


def _condition_changes(
    rid: str, old: Sequence[Condition], new: Sequence[Condition]
) -> Iterator[str]:
    old_facts = Counter(c.fact for c in old)
    new_facts = Counter(c.fact for c in new)
    paired = {f for f in old_facts if old_facts[f] == 1 and new_facts[f] == 1}
    for fact in dict.fromkeys(c.fact for c in new):
        if fact not in paired:
            continue
        was = next(c for c in old if c.fact == fact)
        now = next(c for c in new if c.fact == fact)
        if _key(was) == _key(now):
            continue
        if was.operator is now.operator:
            yield (f"{rid}: threshold for {fact} changed from {_value(was)} to {_value(now)}")
        else:
            yield f"{rid}: condition on {fact} changed from {render(was)} to {render(now)}"
    before = Counter(_key(c) for c in old if c.fact not in paired)
    after = Counter(_key(c) for c in new if c.fact not in paired)
    shown = {_key(c): render(c) for c in [*old, *new]}
    for key in (after - before).elements():
        yield f"{rid}: condition added: {shown[key]}"
    for key in (before - after).elements():
        yield f"{rid}: condition removed: {shown[key]}"


def _value(condition: Condition) -> str:
    return render(condition).rsplit(" ", 1)[-1]


# --- everything else, generically -------------------------------------------------------


def _other_fields(old: Any, new: Any, handled: frozenset[str], prefix: str) -> Iterator[str]:
    for field in attrs.fields(type(new)):
        if field.name in handled or not hasattr(old, field.name):
            continue
        before, after = _plain(getattr(old, field.name)), _plain(getattr(new, field.name))
        yield from (f"{prefix}{line}" for line in _generic(field.name, before, after))


def _plain(value: Any) -> Any:
    """Plain data for comparing and showing: attrs -> dict, enums -> values, tuples -> lists,
    and pairs keyed by name (``((minor, 2), (major, 5))``) -> a mapping.
    """
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if _keyed_pairs(value):
        return {str(_scalar(k)): _plain(v) for k, v in value}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return _scalar(value)


def _keyed_pairs(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and bool(value)
        and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in value
        )
        and len({item[0] for item in value}) == len(value)
    )


def _scalar(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return value.normalize()
    return str(value) if isinstance(value, PurePath) else value


def _generic(path: str, before: Any, after: Any) -> Iterator[str]:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before, *after]):
            where = f"{path}{key}" if key.startswith("[") or not path else f"{path}.{key}"
            if key not in before:
                yield f"{where} added: {_shown(after[key])}"
            elif key not in after:
                yield f"{where} removed (was {_shown(before[key])})"
            else:
                yield from _generic(where, before[key], after[key])
        return
    if isinstance(before, list) and isinstance(after, list):
        keyed_before, keyed_after = _by_id(before), _by_id(after)
        if keyed_before is not None and keyed_after is not None:
            yield from _generic(path, keyed_before, keyed_after)
            return
        if len(before) == len(after):
            for index, (a, b) in enumerate(zip(before, after, strict=True)):
                yield from _generic(f"{path}[{index}]", a, b)
            return
    yield f"{path} changed from {_shown(before)} to {_shown(after)}"


def _by_id(items: list[Any]) -> dict[str, Any] | None:
    # Lists of records with an id (objectives, tiers) are compared by id, not position.
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    key = next((k for k in items[0] if k == "id" or k.endswith("_id")), None)
    if key is None or not all(key in i for i in items):
        return None
    ids = [f"[{i[key]}]" for i in items]
    return dict(zip(ids, items, strict=True)) if len(set(ids)) == len(ids) else None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Decimal):
        return _weight(value)
    if isinstance(value, bool | int | float):
        return format_value(value)  # true/false, and 30 rather than 30.0
    if value is None:
        return "nothing"
    return str(value)
