"""The supplier lifecycle: one ``transitions`` machine, defined once, used statelessly.

Suppliers are not held in machines (100,000 models in one machine is slow; one machine per
supplier is heavy). The state string lives with the supplier; :func:`fire` loads it into a
single cursor model, fires the trigger and reads the result back.
"""

from __future__ import annotations

import enum
import threading
from typing import Any

from transitions import Machine, MachineError

from sqm.domain.errors import IllegalTransition
from sqm.domain.model import LifecycleState as S


class Trigger(enum.StrEnum):
    """Every named move of the lifecycle."""

    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    REVOKE_QUALIFICATION = "revoke_qualification"
    SIGN_CONTRACT = "sign_contract"
    OPEN_REVIEW = "open_review"
    CLEAR_REVIEW = "clear_review"
    REQUIRE_REMEDIATION = "require_remediation"
    VERIFY_REMEDIATION = "verify_remediation"
    FAIL_REVIEW = "fail_review"
    MISS_IMPROVEMENT_DEADLINE = "miss_improvement_deadline"
    EXPIRE_CONTRACT = "expire_contract"


# (trigger, source, dest). Termination is reachable from every non-terminal state where the
# process allows it: a disqualified candidate, a failed review, a missed improvement deadline.
# A qualified supplier whose qualification lapses (say, a required certificate expired before a
# contract was signed) returns to candidate and must re-qualify. ``terminated`` is absorbing.
TRANSITIONS: tuple[tuple[Trigger, S, S], ...] = (
    (Trigger.QUALIFY, S.CANDIDATE, S.QUALIFIED),
    (Trigger.DISQUALIFY, S.CANDIDATE, S.TERMINATED),
    (Trigger.REVOKE_QUALIFICATION, S.QUALIFIED, S.CANDIDATE),
    (Trigger.SIGN_CONTRACT, S.QUALIFIED, S.CONTRACTED),
    (Trigger.OPEN_REVIEW, S.CONTRACTED, S.UNDER_REVIEW),
    (Trigger.CLEAR_REVIEW, S.UNDER_REVIEW, S.CONTRACTED),
    (Trigger.REQUIRE_REMEDIATION, S.UNDER_REVIEW, S.REMEDIATION),
    (Trigger.FAIL_REVIEW, S.UNDER_REVIEW, S.TERMINATED),
    (Trigger.VERIFY_REMEDIATION, S.REMEDIATION, S.CONTRACTED),
    (Trigger.MISS_IMPROVEMENT_DEADLINE, S.REMEDIATION, S.TERMINATED),
    # The contract's end date passed: the supplier stays qualified, and a renewal is a new
    # contract (SignContract). A review or remediation under the ended contract ends with it.
    (Trigger.EXPIRE_CONTRACT, S.CONTRACTED, S.QUALIFIED),
    (Trigger.EXPIRE_CONTRACT, S.UNDER_REVIEW, S.QUALIFIED),
    (Trigger.EXPIRE_CONTRACT, S.REMEDIATION, S.QUALIFIED),
)

INITIAL_STATE = S.CANDIDATE

# The sets of states the process treats alike, in one table: a new state is placed here once.
TERMINAL_STATES = frozenset({S.TERMINATED})
"""Absorbing: no move leads out, and no command changes them."""
UNDER_CONTRACT = frozenset({S.CONTRACTED, S.UNDER_REVIEW, S.REMEDIATION})
"""A contract is in force: self-checks, monitoring, reviews and penalties apply."""
TICKED = frozenset({S.QUALIFIED, *UNDER_CONTRACT})
"""States with deadlines, which advancing time (the scheduler's tick) evaluates: candidates
have no deadlines yet and terminated suppliers none left."""
SHORTLISTABLE = frozenset({S.QUALIFIED, S.CONTRACTED})
"""May be shortlisted for a need: passed qualification and not on probation."""
RESEARCHABLE = frozenset({S.CANDIDATE, S.QUALIFIED})
"""Before a contract, when market research about the supplier may be recorded."""


def _machine_kwargs() -> dict[str, Any]:
    return {
        "states": [s.value for s in S],
        "transitions": [
            {"trigger": t.value, "source": src.value, "dest": dst.value}
            for t, src, dst in TRANSITIONS
        ],
        "initial": INITIAL_STATE.value,
        "auto_transitions": False,
        "ignore_invalid_triggers": False,
    }


class _Cursor:
    """The one model object the machine drives; its state is loaded before every trigger."""

    state: str


_cursor = _Cursor()
_machine = Machine(model=_cursor, **_machine_kwargs())
# The cursor is shared; concurrent callers must not interleave set_state and trigger.
_lock = threading.Lock()


def allowed_triggers(state: S) -> tuple[Trigger, ...]:
    """The triggers the lifecycle accepts from ``state``, in definition order."""
    return tuple(t for t, src, _ in TRANSITIONS if src == state)


def fire(state: S, trigger: Trigger) -> S:
    """Return the state ``trigger`` leads to from ``state``.

    Raises :class:`IllegalTransition` (carrying the current state) when the lifecycle does
    not allow it; never a silent no-op.
    """
    with _lock:
        _machine.set_state(state.value, model=_cursor)
        try:
            moved = _cursor.trigger(trigger.value)  # type: ignore[attr-defined]
        except MachineError:
            moved = False
        new_state = S(_cursor.state)
    if not moved:
        allowed = [t.value for t in allowed_triggers(state)]
        raise IllegalTransition(state.value, trigger.value, allowed)
    return new_state


def mermaid() -> str:
    """The lifecycle as a Mermaid ``stateDiagram-v2``, generated from the machine definition."""
    # Imported here: the diagram extension is only needed by the CLI and the docs check.
    from transitions.extensions.diagrams import GraphMachine  # noqa: PLC0415

    class _DiagramModel:
        pass

    model = _DiagramModel()
    GraphMachine(
        model=model, graph_engine="mermaid", title="Supplier lifecycle", **_machine_kwargs()
    )
    source: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return _strip_styling(source)


def _strip_styling(source: str) -> str:
    """Drop the "active state" colouring: the diagram documents the machine, not one supplier."""
    kept = [
        line.rstrip()
        for line in source.splitlines()
        if not line.strip().startswith(("classDef ", "Class "))
    ]
    return "\n".join(kept).strip() + "\n"
