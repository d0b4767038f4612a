"""Checks across the files of a pack, and the engine's limits (refused at load, not at run time).

Single files are checked as they are built (:mod:`sqm.rules.build`); here: rule ids unique across
files, the pack-wide sections (criteria, certificate requirements, objectives, severity tiers,
penalties, improvement) defined once, facts that need criteria, objectives that need tiers,
and the measured limits of durable_rules per stage (see :mod:`sqm.rules.engine`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

from sqm.domain.model import Stage
from sqm.rules.build import FilePart
from sqm.rules.build_segments import standing_errors
from sqm.rules.catalogue import CATALOGUE, FactSpec
from sqm.rules.engine import (
    MAX_MATCHES_PER_MESSAGE,
    MAX_MESSAGE_PROPERTIES,
    RESERVED_CHAINS,
    RESERVED_PROPERTIES,
)
from sqm.rules.errors import PackError
from sqm.rules.model import Condition, ConditionGroup, GroupKind, Rule

PACK_SECTIONS = (
    "criteria",
    "required_certificates",
    "objectives",
    "severity_tiers",
    "penalties",
    "improvement",
    "scorecards",
    "segments",
)
"""Sections a pack defines in one file only."""


def pack_errors(
    parts: Sequence[FilePart], specs: Mapping[str, FactSpec] = CATALOGUE
) -> Iterator[PackError]:
    """Every problem that only shows when the pack's files are seen together."""
    yield from _duplicate_rule_ids(parts)
    for section in PACK_SECTIONS:
        yield from _defined_once(parts, section)
    yield from _criteria_needed(parts, specs)
    yield from _tiers_needed(parts)
    yield from _engine_limits(parts)
    yield from standing_errors(parts)


def _duplicate_rule_ids(parts: Sequence[FilePart]) -> Iterator[PackError]:
    first: dict[str, str] = {}
    for part in parts:
        for index, rule in enumerate(part.doc.data.get("rules", [])):
            path = ("rules", index, "id")
            here = f"{part.doc.file}:{part.doc.position(path)[0]}"
            if rule["id"] in first:
                message = f"duplicate rule id {rule['id']!r}; first defined at {first[rule['id']]}"
                yield part.doc.error(path, message)
            else:
                first[rule["id"]] = here


def _defined_once(parts: Sequence[FilePart], section: str) -> Iterator[PackError]:
    defining = [part for part in parts if section in part.doc.data]
    for part in defining[1:]:
        first = defining[0].doc
        where = f"{first.file}:{first.position((section,), key=True)[0]}"
        message = f"{section} are already defined at {where}; a pack defines them in one file"
        yield part.doc.error((section,), message, key=True)


def _criteria_needed(
    parts: Sequence[FilePart], specs: Mapping[str, FactSpec]
) -> Iterator[PackError]:
    if any(part.criteria for part in parts):
        return
    for rule in (rule for part in parts for rule in part.rules):
        # A fact the catalogue does not know is reported where it is named, not here.
        needing = (name for name in rule.fact_names if name in specs)
        for fact in (name for name in needing if specs[name].needs_criteria):
            message = (
                f"rule {rule.id}: fact {fact!r} needs evaluation criteria; the pack defines none"
            )
            yield PackError(rule.file, rule.line, rule.column, message)


def _tiers_needed(parts: Sequence[FilePart]) -> Iterator[PackError]:
    # Measurements against objectives are classified by the tiers: objectives without them
    # could never be judged.
    if any("severity_tiers" in part.doc.data for part in parts):
        return
    for part in (part for part in parts if "objectives" in part.doc.data):
        message = "objectives need severity tiers to classify misses; the pack defines none"
        yield part.doc.error(("objectives",), message, key=True)


def _engine_limits(parts: Sequence[FilePart]) -> Iterator[PackError]:
    rules = [rule for part in parts for rule in part.rules]
    for stage in Stage:
        chains, facts = RESERVED_CHAINS, set[str]()
        for rule in (rule for rule in rules if rule.stage is stage):
            chains += match_chains(rule.when)
            facts.update(c.fact for c in rule.conditions)
            properties = len(facts) + len(RESERVED_PROPERTIES) + 1  # + the stage property
            if chains > MAX_MATCHES_PER_MESSAGE:
                yield _limit_error(rule, chains, "condition chains", MAX_MATCHES_PER_MESSAGE)
                break
            if properties > MAX_MESSAGE_PROPERTIES:
                yield _limit_error(rule, properties, "message properties", MAX_MESSAGE_PROPERTIES)
                break


def _limit_error(rule: Rule, reached: int, what: str, limit: int) -> PackError:
    # Only the facts a stage's rules compare are posted, so a stage's limit is reached by
    # its rules, never by the catalogue's size or the pack's windows alone.
    remedy = (
        "compare fewer distinct facts in the stage's rules"
        if what == "message properties"
        else "split the stage's rules or simplify their 'any' groups"
    )
    message = (
        f"rule {rule.id} brings stage {rule.stage.value!r} to {reached} {what} (the engine"
        f" adapter's own included), {reached - limit} over the {limit} the rules engine"
        f" handles ({remedy})"
    )
    return PackError(rule.file, rule.line, rule.column, message)


def match_chains(group: ConditionGroup) -> int:
    """How many condition chains the engine may complete for ``group`` on one message.

    ``any`` compiles to one chain per branch (and fires once per true branch), ``all`` to
    every combination of its items' chains: the group's size in disjunctive normal form.
    """
    counts = [1 if isinstance(i, Condition) else match_chains(i) for i in group.items]
    return sum(counts) if group.kind is GroupKind.ANY else math.prod(counts)
