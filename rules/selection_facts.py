"""The facts of the selection stage: a need (需求分析) and the candidate's market research
(市场调研), derived when a supplier is shortlisted or awarded, or time advances over the need.
"""

from __future__ import annotations

from sqm.domain import history
from sqm.domain.errors import PolicyError
from sqm.domain.model import FactValue
from sqm.domain.needs import NeedStatus
from sqm.domain.ports import DecisionContext
from sqm.rules.catalogue import FAR_AWAY_DAYS
from sqm.rules.model import PolicyPack


def selection_facts(pack: PolicyPack, context: DecisionContext) -> dict[str, FactValue]:
    """The need's facts at ``context.now``, and its candidate's unless it is a tick."""
    need, now = context.need, context.now
    if need is None:
        raise PolicyError("the selection stage judges a need; the context names none")
    required_by = need.required_by
    opened = need.opened_at or now
    facts: dict[str, FactValue] = {
        "category": need.category,
        "selection_step": context.selection_step,
        "need_awarded": need.status is NeedStatus.AWARDED,
        "days_to_need_required_by": (
            history.days_between(now, required_by) if required_by else FAR_AWAY_DAYS
        ),
        "days_since_need_opened": history.days_between(opened, now),
        "need_shortlisted": len(need.shortlist),
    }
    facts.update(_research_facts(context))
    return facts


def _research_facts(context: DecisionContext) -> dict[str, FactValue]:
    if context.selection_step == "tick":  # no candidate: nothing to judge of one
        return {
            "market_research_on_file": True,
            "days_since_market_research": 0.0,
            "market_research_references": 0,
        }
    candidate = context.supplier
    researched = candidate.market_research_at
    if researched is None:
        return {
            "market_research_on_file": False,
            "days_since_market_research": FAR_AWAY_DAYS,
            "market_research_references": 0,
        }
    return {
        "market_research_on_file": True,
        "days_since_market_research": history.days_between(researched, context.now),
        "market_research_references": candidate.market_research_references,
    }
