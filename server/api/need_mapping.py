"""Proto <-> domain for needs: requests to need commands, needs and rankings to messages."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime

from sqm.domain.errors import InvalidCommand
from sqm.domain.needs import (
    MAX_SHORTLIST,
    AwardNeed,
    NeedState,
    OpenNeed,
    RankedCandidate,
    Ranking,
    RankShortlist,
    ShortlistSupplier,
    validate_need_command,
)
from sqm.server.api.mapping import (
    in_api_terms,
    need_id_from_name,
    occur_time,
    supplier_id_from_name,
)
from sqm.server.api.process_mapping import sla_objective
from sqm.server.api.proto_values import (
    Violations,
    enum_to_proto,
    money_from_proto,
    money_to_proto,
    optional_time,
    set_time,
    shown,
)
from sqm.server.api.resource_mapping import decisions, objective, supplier_name
from sqm.v1 import needs_pb2 as pb

Clock = Callable[[], datetime]


def need_name(need_id: str) -> str:
    """The resource name of a need."""
    return f"needs/{need_id}"


def need_id(name: str, field: str = "name") -> str:
    """The need id in a resource name, or INVALID_ARGUMENT naming ``field``."""
    bad = Violations()
    found = need_id_from_name(name, field, bad)
    bad.raise_if_any()
    return found


# --- requests ----------------------------------------------------------------------------


def create_need(request: pb.CreateNeedRequest, clock: Clock) -> OpenNeed:
    """Map a CreateNeed request."""
    bad = Violations()
    body = request.need
    # The category and the certificate kinds are checked against the active policy's
    # catalogue with the command.
    category = body.category
    required = list(body.required_certificates)
    objectives = tuple(
        sla_objective(o, f"need.objectives[{index}]", bad)
        for index, o in enumerate(body.objectives)
    )
    budget = money_from_proto(body.budget, "need.budget", bad) if body.HasField("budget") else None
    required_by = optional_time(body, "required_by_time", "need", bad)
    occurred_at = occur_time(request, clock, bad)
    command = OpenNeed(
        request.need_id,
        body.title,
        category,
        occurred_at,
        frozenset(kind for kind in required if kind is not None),
        objectives,
        body.quantity,
        budget,
        required_by,
    )
    if bad.items:  # name the domain's bad fields in the same answer as these
        try:
            validate_need_command(command)
        except InvalidCommand as error:
            for violation in in_api_terms(error, command).violations:
                bad.add(violation.field, violation.description)
    bad.raise_if_any()
    return command


def shortlist_supplier(request: pb.ShortlistSupplierRequest, clock: Clock) -> ShortlistSupplier:
    """Map a ShortlistSupplier request."""
    bad = Violations()
    found = need_id_from_name(request.name, "name", bad)
    supplier = supplier_id_from_name(request.supplier, "supplier", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return ShortlistSupplier(found, supplier, occurred_at)


def rank_shortlist(request: pb.RankShortlistRequest, clock: Clock) -> RankShortlist:
    """Map a RankShortlist request; each candidate named once, every value finite."""
    bad = Violations()
    found = need_id_from_name(request.name, "name", bad)
    if len(request.candidates) > MAX_SHORTLIST:
        bad.add("candidates", f"at most {MAX_SHORTLIST} candidates (a shortlist's maximum)")
    seen: set[str] = set()
    candidates = []
    for index, candidate in enumerate(request.candidates):
        field = f"candidates[{index}]"
        supplier = supplier_id_from_name(candidate.supplier, f"{field}.supplier", bad)
        if supplier in seen:
            bad.add(f"{field}.supplier", f"{shown(supplier)} is given twice")
        seen.add(supplier)
        check_candidate_values(field, candidate.values, bad)
        candidates.append((supplier, dict(candidate.values)))
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return RankShortlist(found, occurred_at, tuple(candidates))


def check_candidate_values(field: str, values: Mapping[str, float], bad: Violations) -> None:
    """Each raw value of a candidate is finite and not negative, named by its criterion
    (``candidates[2].values['price']``), as the ranking needs it.
    """
    for name, value in values.items():
        if not math.isfinite(value):
            bad.add(f"{field}.values[{name!r}]", f"expected a finite number, got {value!r}")
        elif value < 0:
            bad.add(
                f"{field}.values[{name!r}]",
                f"{value!r} is negative; TOPSIS's vector normalisation needs values of 0 or"
                " more (shift the scale so its lowest value is 0)",
            )


def award_need(request: pb.AwardNeedRequest, clock: Clock) -> AwardNeed:
    """Map an AwardNeed request."""
    bad = Violations()
    found = need_id_from_name(request.name, "name", bad)
    supplier = supplier_id_from_name(request.supplier, "supplier", bad)
    occurred_at = occur_time(request, clock, bad)
    bad.raise_if_any()
    return AwardNeed(found, supplier, occurred_at, request.reason)


# --- resources ---------------------------------------------------------------------------


def need(state: NeedState) -> pb.Need:
    """The API view of a need, with its shortlist, rankings, award and notices."""
    message = pb.Need(
        name=need_name(state.need_id),
        title=state.title,
        category=state.category,
        required_certificates=sorted(state.required_certificates),
        state=enum_to_proto(pb.NeedState, state.status),
        shortlist=[supplier_name(s) for s in state.shortlist],
        rankings=[ranking(r) for r in state.rankings],
        ranking_current=state.ranking_is_current,
        awarded_supplier=supplier_name(state.awarded_supplier_id)
        if state.awarded_supplier_id
        else "",
        award_reason=state.award_reason,
        etag=f"v{state.version}",
        objectives=[objective(o) for o in state.objectives],
        quantity=state.quantity,
        notices=decisions(state.notices),
    )
    if state.budget is not None:
        message.budget.CopyFrom(money_to_proto(state.budget))
    set_time(message.required_by_time, state.required_by)
    set_time(message.create_time, state.opened_at)
    set_time(message.update_time, state.updated_at)
    return message


def ranking(value: Ranking) -> pb.NeedRanking:
    """The API view of one ranking of a shortlist."""
    message = pb.NeedRanking(
        number=value.number,
        policy_version=value.policy_version,
        candidates=[candidate_ranking(c) for c in value.candidates],
        methods_agree=value.methods_agree,
        report=list(value.report),
    )
    set_time(message.rank_time, value.ranked_at)
    return message


def candidate_ranking(value: RankedCandidate) -> pb.CandidateRanking:
    """The API view of one candidate's figures in a ranking."""
    return pb.CandidateRanking(
        supplier=supplier_name(value.supplier_id),
        weighted_score=float(value.weighted_score),
        weighted_rank=value.weighted_rank,
        topsis_closeness=float(value.topsis_closeness),
        topsis_rank=value.topsis_rank,
        normalised={k: float(v) for k, v in value.normalised.items()},
        values={k: float(v) for k, v in value.values.items()},
    )
