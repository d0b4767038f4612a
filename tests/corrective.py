"""Corrective-action records (8D) for tests: a plausible record with actions due when asked."""

from __future__ import annotations

from datetime import datetime

from sqm.domain.corrective_records import CorrectiveActionContent, CorrectiveActionItem


def corrective_content(
    *due: datetime, team: tuple[str, ...] = ("王经理", "李工")
) -> CorrectiveActionContent:
    """A record with one action per due date, ``A1``, ``A2``... in order."""
    actions = tuple(
        CorrectiveActionItem(f"A{n}", f"measure {n}", "李工", at) for n, at in enumerate(due, 1)
    )
    return CorrectiveActionContent(
        team=team,
        problem="机房巡检不合格 (failed site inspection)",
        containment="temporary fans, cables checked one by one",
        root_causes=("no labelling standard", "cooling not sized for the load"),
        actions=actions,
        prevention="labelling standard in the site checklist",
    )
