"""Two penalty rules that can fire on the same record charge the supplier twice for it.

Every ``assess_penalty`` decision that fires enters a penalty of its own: a rule stating a
fixed amount for a critical availability breach, written beside PEN-001 (the credit
schedule, for every breach), credits that breach twice. That may be meant (a fine on top of
the credit), but a policy team adding a rule rarely means it, so lint names the pairs. Two
monitoring rules overlap when some alternative of each can hold together, on a kind of
record both can fire on, in a lifecycle state both allow. The deadline check is left out:
one check weighs every overdue duty at once (a milestone, a report), and two penalty rules
firing on it are charging two failures, not one twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import attrs

from sqm.domain.actions import STAGE_STATES
from sqm.domain.model import Action, Stage
from sqm.rules.catalogue import RECORD_KINDS
from sqm.rules.model import Condition, Rule
from sqm.rules.tooling.conditions import Ranges, alternatives, conflict
from sqm.rules.tooling.reach import LIFECYCLE, narrowed, record_kinds

Alternative = tuple[Condition, ...]


@attrs.frozen
class DoubleCharge:
    """``rule`` and ``earlier`` (before it in the pack) can both charge for one record."""

    rule: Rule
    earlier: Rule
    record_kinds: tuple[str, ...]
    """The kinds of record both can fire on."""

    def message(self) -> str:
        """The finding, in words."""
        on = f"the same {' or '.join(self.record_kinds)} record"
        where = f"{self.earlier.file}:{self.earlier.line}"
        return (
            f"rule {self.rule.id} and {self.earlier.id} ({where}) can both fire on {on}, and"
            " each assesses a penalty: the supplier is charged twice for it. If that is not"
            " meant, add a condition that keeps one of them off the other's records"
        )


def double_charges(rules: Sequence[Rule], ranges: Ranges) -> Iterator[DoubleCharge]:
    """Every pair of monitoring penalty rules that can fire on one record, reported on the
    later rule of the pair.
    """
    penalties = [
        r for r in rules if r.action is Action.ASSESS_PENALTY and r.stage is Stage.MONITORING
    ]
    for later_index, rule in enumerate(penalties):
        for earlier in penalties[:later_index]:
            kinds = _shared_records(rule, earlier, ranges)
            if kinds:
                yield DoubleCharge(rule, earlier, kinds)


def _shared_records(rule: Rule, other: Rule, ranges: Ranges) -> tuple[str, ...]:
    """The kinds of record both monitoring rules can fire on (none: they never coincide)."""
    shared: set[str] = set()
    for mine, theirs in itertools.product(alternatives(rule.when), alternatives(other.when)):
        together = (*mine, *theirs)
        if conflict(together, ranges) is not None:
            continue
        if not narrowed(together, LIFECYCLE, STAGE_STATES[rule.stage]):
            continue  # their lifecycle conditions leave no state both fire in
        shared |= record_kinds(together, ranges)
    return tuple(kind for kind in RECORD_KINDS if kind in shared)
