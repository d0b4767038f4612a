"""Process steps the pack reacts to: failed self-checks, kick-off milestones, scheduled
business reviews.
"""

from __future__ import annotations

from sqm.domain.commands import SubmitSelfCheck
from tests.fakes import DAY, SID, SIGNED_AT, S, run, supplier_in

# --- self-checks ------------------------------------------------------------------------


def test_a_failed_self_check_is_kept_on_the_state_for_the_monitoring_fact() -> None:
    """The latest self-check's result is folded: failed, then passed again."""
    failed = run(supplier_in(S.CONTRACTED), SubmitSelfCheck(SID, False, SIGNED_AT + 5 * DAY))
    assert failed.last_self_check_passed is False
    passed = run(failed, SubmitSelfCheck(SID, True, SIGNED_AT + 6 * DAY))
    assert passed.last_self_check_passed is True
