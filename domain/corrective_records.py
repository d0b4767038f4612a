"""The corrective-action record (8D, 纠正措施): what a supplier answers an improvement plan
with, and how each of its actions is carried out, verified and given more time.

The record extends the improvement plan (改进计划) a review required rather than replacing
it: the plan keeps its deadline and its effectiveness check (a clean window), and the record
holds the eight disciplines: D1 the team, D2 the problem, D3 containment, D4 root causes,
D5/D6 the actions (each with an owner, a due date and a verification), D7 prevention and
D8 closure. Every revision is kept, oldest first, so the history shows what changed.
"""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class CorrectiveActionItem:
    """One action as a revision states it (D5/D6): what is done, by whom, by when."""

    action_id: str
    description: str
    owner: str
    due_at: datetime


@attrs.frozen
class CorrectiveActionContent:
    """What one submission (or revision) of the record says, D1 to D7."""

    team: tuple[str, ...]
    problem: str
    containment: str
    root_causes: tuple[str, ...]
    actions: tuple[CorrectiveActionItem, ...]
    prevention: str = ""


@attrs.frozen
class ActionExtension:
    """A request to move an action's due date, and the operator's decision on it."""

    requested_at: datetime
    due_at: datetime
    """The due date asked for."""
    reason: str
    decided_at: datetime | None = None
    approved: bool | None = None
    """None while the request waits for a decision."""
    note: str = ""


@attrs.frozen
class ActionProgress:
    """One action as it stands: its due date now (after approved extensions), completion,
    verification, extensions asked for, and whether its being overdue was escalated.
    """

    action_id: str
    description: str
    owner: str
    due_at: datetime
    completed_at: datetime | None = None
    completion_note: str = ""
    verified_at: datetime | None = None
    verified_by: str = ""
    verification_note: str = ""
    extensions: tuple[ActionExtension, ...] = ()
    escalated_at: datetime | None = None

    @property
    def extensions_granted(self) -> int:
        """How many extensions of this action were approved."""
        return sum(1 for e in self.extensions if e.approved)

    @property
    def pending_extension(self) -> ActionExtension | None:
        """The extension request still waiting for a decision, if any."""
        last = self.extensions[-1] if self.extensions else None
        return last if last is not None and last.decided_at is None else None

    @property
    def status(self) -> str:
        """``open``, ``completed`` (awaiting verification) or ``verified``."""
        if self.verified_at is not None:
            return "verified"
        return "completed" if self.completed_at is not None else "open"

    def overdue_at(self, now: datetime) -> bool:
        """True when the action is not completed and its due date has passed."""
        return self.completed_at is None and now > self.due_at


@attrs.frozen
class CorrectiveAction:
    """The corrective-action record of the pending (or last) improvement plan."""

    submitted_at: datetime
    revisions: tuple[CorrectiveActionContent, ...]
    """Every submission, oldest first; the last one is in force."""
    actions: tuple[ActionProgress, ...]
    """The actions of the revision in force, with their progress."""
    closed_at: datetime | None = None
    closure_note: str = ""

    @property
    def current(self) -> CorrectiveActionContent:
        """The revision in force."""
        return self.revisions[-1]

    def action(self, action_id: str) -> ActionProgress | None:
        """The action named ``action_id``, if the record has it."""
        return next((a for a in self.actions if a.action_id == action_id), None)


@attrs.frozen
class ExtensionLimits:
    """What a pack allows for extensions of a corrective action's due date (展期): how many
    per action, and how far one may move the date (None: no limit in days).
    """

    max_extensions: int = 0
    max_extension_days: int | None = None
