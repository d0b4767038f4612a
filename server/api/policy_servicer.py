"""The PolicyService servicer: thin. Map the request, run policy administration, map back.

Calls run on the application's one worker thread, like commands: an activation is
serialised with the decisions it changes the policy of.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import Stage
from sqm.rules.tooling.lint import Finding, Severity
from sqm.server.api import mapping, pagination, proposal_mapping
from sqm.server.api.errors import translated
from sqm.server.api.proto_values import optional_time, set_time
from sqm.server.api.servicer_base import Context, OnWorker, actor
from sqm.server.app.policy_admin import PolicyAdministration, VersionView
from sqm.server.app.policy_signoff import ChangeResult, PolicySignoff
from sqm.v1 import policy_service_pb2 as api
from sqm.v1 import policy_service_pb2_grpc as api_grpc
from sqm.v1 import resources_pb2

VERSIONS_PAGE = (50, 1000)  # (default, maximum)
VERSION_PREFIX = "policyVersions/"


_SEVERITIES = {
    Severity.ERROR: api.POLICY_PROBLEM_SEVERITY_ERROR,
    Severity.WARNING: api.POLICY_PROBLEM_SEVERITY_WARNING,
}


class PolicyServicer(OnWorker, api_grpc.PolicyServiceServicer):
    """gRPC face of :class:`~sqm.server.app.policy_admin.PolicyAdministration`."""

    def __init__(
        self, admin: PolicyAdministration, executor: Executor, signoff: PolicySignoff
    ) -> None:
        self._admin = admin
        self._executor = executor
        self._signoff = signoff

    @translated
    async def ValidatePolicy(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.ValidatePolicyRequest, context: Context
    ) -> api.ValidatePolicyResponse:
        """Every error and warning of a pack, without activating it."""
        result = await self._run(self._admin.validate, dict(request.files))
        return api.ValidatePolicyResponse(
            valid=result.valid, version=result.version or "", problems=problems(result.findings)
        )

    @translated
    async def ActivatePolicy(  # noqa: N802
        self, request: api.ActivatePolicyRequest, context: Context
    ) -> api.ActivatePolicyResponse:
        """Make a pack the active policy; an invalid pack is refused with located errors."""
        request_id = mapping.request_id(request.request_id)
        files = dict(request.files)
        result = await self._run(self._admin.activate, files, actor(context), request_id)
        response = api.ActivatePolicyResponse(
            policy_version=policy_version(result.version),
            previous_version=result.previous_version,
            warnings=problems(result.warnings),
            actor=result.activation.actor,
        )
        set_time(response.activate_time, result.activation.activated_at)
        return response

    @translated
    async def ListPolicyVersions(  # noqa: N802
        self, request: api.ListPolicyVersionsRequest, context: Context
    ) -> api.ListPolicyVersionsResponse:
        """Every archived version, first archived first."""
        size = pagination.page_size(request.page_size, *VERSIONS_PAGE)
        after = pagination.decode_index(request.page_token, "policyVersions")
        views = await self._run(self._admin.versions)
        page = views[after : after + size]
        more = after + size < len(views)
        token = pagination.encode("policyVersions", after + size) if more else ""
        active = next((v.archived.version for v in views if v.active), "")
        return api.ListPolicyVersionsResponse(
            policy_versions=[policy_version(v) for v in page],
            next_page_token=token,
            active_version=active,
        )

    @translated
    async def GetPolicyVersion(  # noqa: N802
        self, request: api.GetPolicyVersionRequest, context: Context
    ) -> api.GetPolicyVersionResponse:
        """One version with its files."""
        version = _version_from_name(request.name)
        view = await self._run(self._admin.version, version)
        files = await self._run(self._admin.files, version)
        return api.GetPolicyVersionResponse(policy_version=policy_version(view, files))

    @translated
    async def ExplainSupplier(  # noqa: N802
        self, request: api.ExplainSupplierRequest, context: Context
    ) -> api.ExplainSupplierResponse:
        """A version's rules evaluated on a supplier's history; nothing is recorded."""
        bad = mapping.Violations()
        supplier_id = mapping.supplier_id_from_name(request.name, "name", bad)
        stage = _stage(request.stage, bad)
        at = optional_time(request, "time", "", bad)
        bad.raise_if_any()
        result = await self._run(
            self._admin.explain, supplier_id, request.policy_version, at, stage
        )
        response = api.ExplainSupplierResponse(
            policy_version=result.policy_version, decisions=mapping.decisions(result.decisions)
        )
        set_time(response.time, result.at)
        return response

    @translated
    async def ProposePolicy(  # noqa: N802
        self, request: api.ProposePolicyRequest, context: Context
    ) -> api.ProposePolicyResponse:
        """Propose a pack, to take effect once approved, at its time."""
        bad = mapping.Violations()
        request_id = _request_id(request.request_id, bad)
        effective_at = optional_time(request, "effective_time", "", bad)
        bad.raise_if_any()
        result = await self._run(
            self._signoff.propose, dict(request.files), effective_at, actor(context), request_id
        )
        return api.ProposePolicyResponse(
            proposal=_proposal(result),
            warnings=problems(result.warnings),
            events=_events(result),
        )

    @translated
    async def ApprovePolicy(  # noqa: N802
        self, request: api.ApprovePolicyRequest, context: Context
    ) -> api.ApprovePolicyResponse:
        """Approve a pending proposal (never the proposer's own under four eyes)."""
        bad = mapping.Violations()
        number = proposal_mapping.proposal_number(request.name, "name", bad)
        request_id = _request_id(request.request_id, bad)
        bad.raise_if_any()
        result = await self._run(self._signoff.approve, number, actor(context), request_id)
        return api.ApprovePolicyResponse(
            proposal=_proposal(result),
            events=_events(result),
            active_version=result.active_version,
        )

    @translated
    async def SchedulePolicy(  # noqa: N802
        self, request: api.SchedulePolicyRequest, context: Context
    ) -> api.SchedulePolicyResponse:
        """Set when a proposal takes effect; its approvals are asked again."""
        bad = mapping.Violations()
        number = proposal_mapping.proposal_number(request.name, "name", bad)
        effective_at = optional_time(request, "effective_time", "", bad)
        if effective_at is None and not request.HasField("effective_time"):
            bad.add("effective_time", "required: when the version is to take effect")
        request_id = _request_id(request.request_id, bad)
        bad.raise_if_any()
        assert effective_at is not None  # noqa: S101 - a missing time was refused above
        result = await self._run(
            self._signoff.schedule, number, effective_at, actor(context), request_id
        )
        return api.SchedulePolicyResponse(proposal=_proposal(result), events=_events(result))

    @translated
    async def RollbackPolicy(  # noqa: N802
        self, request: api.RollbackPolicyRequest, context: Context
    ) -> api.RollbackPolicyResponse:
        """Roll the active version back, or withdraw the proposal named."""
        bad = mapping.Violations()
        number = proposal_mapping.proposal_number(request.name, "name", bad) if request.name else 0
        request_id = _request_id(request.request_id, bad)
        bad.raise_if_any()
        caller = actor(context)
        if number:
            result = await self._run(self._signoff.cancel, number, caller, request_id)
        else:
            result = await self._run(self._signoff.rollback, caller, request_id)
        return api.RollbackPolicyResponse(
            proposal=_proposal(result),
            events=_events(result),
            active_version=result.active_version,
        )

    @translated
    async def ListPolicyProposals(  # noqa: N802
        self, request: api.ListPolicyProposalsRequest, context: Context
    ) -> api.ListPolicyProposalsResponse:
        """Every proposal, first made first."""
        changes = await self._run(self._signoff.changes)
        return api.ListPolicyProposalsResponse(
            proposals=[proposal_mapping.proposal(p) for p in changes.proposals],
            approvals_required=self._signoff.approvals_required,
        )


def problems(findings: Iterable[Finding]) -> list[api.PolicyProblem]:
    """Findings as API problems."""
    return [
        api.PolicyProblem(
            file=f.file,
            line=f.line,
            column=f.column,
            severity=_SEVERITIES[f.severity],
            message=f.message,
        )
        for f in findings
    ]


def policy_version(view: VersionView, files: dict[str, str] | None = None) -> api.PolicyVersion:
    """The API view of an archived version (with its files when given)."""
    archived = view.archived
    message = api.PolicyVersion(
        name=f"{VERSION_PREFIX}{archived.version}",
        version=archived.version,
        pack_name=archived.name,
        active=view.active,
        activation_count=archived.activation_count,
        files=files or {},
    )
    set_time(message.create_time, archived.saved_at)
    set_time(message.first_activate_time, archived.first_activated_at)
    set_time(message.last_activate_time, archived.last_activated_at)
    return message


def _stage(value: str, bad: mapping.Violations) -> Stage:
    try:
        return Stage(value or Stage.QUALIFICATION.value)
    except ValueError:
        bad.add("stage", f"expected one of {', '.join(s.value for s in Stage)}; got {value!r}")
        return Stage.QUALIFICATION


def _version_from_name(name: str) -> str:
    version = name.removeprefix(VERSION_PREFIX)
    if not name.startswith(VERSION_PREFIX) or not version or "/" in version:
        raise InvalidCommand(
            [FieldViolation("name", f"expected 'policyVersions/{{version}}', got {name!r}")]
        )
    return version


def _request_id(value: str, bad: mapping.Violations) -> str:
    problem = mapping.request_id_problem(value)
    if problem:
        bad.add("request_id", problem)
    return value


def _events(result: ChangeResult) -> list[resources_pb2.SupplierEvent]:
    return [mapping.supplier_event(event) for event in result.events]


def _proposal(result: ChangeResult) -> api.PolicyProposal | None:
    return None if result.proposal is None else proposal_mapping.proposal(result.proposal)
